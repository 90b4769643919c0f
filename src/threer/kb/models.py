"""What the knowledge base returns: search results, indexing and import reports, documents."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class SearchResult(BaseModel):
    """One match, best first. `snippet` is plain text; `highlights` are the matched words in it.

    `highlights` ((start, end) offsets into the snippet) is for a terminal to colour; it
    is left out of the JSON document, which carries no markup.
    """

    id: str
    title: str
    source: Literal["kb", "case"]
    score: float
    snippet: str
    path: str | None = None  # file path, page URL, or None for a past case
    highlights: list[tuple[int, int]] = Field(default_factory=list, exclude=True)


class SkippedFile(BaseModel):
    path: str
    reason: str


class IndexWarning(BaseModel):
    """A file that was indexed, with something its author should know (it replaced a sample article)."""

    path: str
    message: str


class IndexReport(BaseModel):
    """What one `kb index` run did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[SkippedFile] = Field(default_factory=list)
    warnings: list[IndexWarning] = Field(default_factory=list)
    seconds: float = 0.0

    @property
    def indexed(self) -> int:
        return self.added + self.updated + self.unchanged


class FailedPage(BaseModel):
    url: str
    reason: str


class ImportReport(BaseModel):
    """What one `kb import` run did."""

    url: str
    pages: int = 0  # pages the run tried (one page, or every page of the sitemap)
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[FailedPage] = Field(default_factory=list)
    seconds: float = 0.0


class KbDocument(BaseModel):
    """An article, imported page or past case as stored."""

    id: str
    title: str
    source: Literal["kb", "case"]
    origin: Literal["file", "sample", "web", "case"]
    tags: list[str] = Field(default_factory=list)
    body: str
    format: Literal["markdown", "text"] = "markdown"
    path: str | None = None
    domain: str | None = None
    indexed_at: str
