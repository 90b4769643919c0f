"""What the knowledge base returns: search results, indexing and import reports, documents.

Plain dataclasses, not pydantic models: every value here is made by threer's own code, never read
from outside, so there is nothing to validate, and `threer kb search` need not import pydantic
(building its models cost more than a search at 100,000 articles). `to_json()` gives what a
`--json` document carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class SearchResult:
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
    highlights: list[tuple[int, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "source": self.source, "score": float(self.score),
                "snippet": self.snippet, "path": self.path}


@dataclass
class SkippedFile:
    path: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "reason": self.reason}


@dataclass
class IndexWarning:
    """A file that was indexed, with something its author should know (it replaced a sample article)."""

    path: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "message": self.message}


@dataclass
class IndexReport:
    """What one `kb index` run did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    warnings: list[IndexWarning] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def indexed(self) -> int:
        return self.added + self.updated + self.unchanged

    def to_json(self) -> dict[str, Any]:
        return {"added": self.added, "updated": self.updated, "unchanged": self.unchanged, "removed": self.removed,
                "skipped": [s.to_json() for s in self.skipped], "warnings": [w.to_json() for w in self.warnings],
                "seconds": float(self.seconds)}


@dataclass
class FailedPage:
    url: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "reason": self.reason}


@dataclass
class ImportReport:
    """What one `kb import` run did."""

    url: str
    pages: int = 0  # pages the run tried (one page, or every page of the sitemap)
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    # entries that turned out to be a page this run had imported already (a redirect to it, or its address
    # written another way: /a and /a/): imported once, counted here and not again as unchanged
    repeated: int = 0
    failed: list[FailedPage] = field(default_factory=list)
    seconds: float = 0.0
    left_out: int = 0  # pages the sitemap lists beyond --max-pages: not tried

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "pages": self.pages, "added": self.added, "updated": self.updated,
                "unchanged": self.unchanged, "repeated": self.repeated, "failed": [f.to_json() for f in self.failed],
                "left_out": self.left_out, "seconds": float(self.seconds)}


@dataclass
class KbDocument:
    """An article, imported page or past case as stored."""

    id: str
    title: str
    source: Literal["kb", "case"]
    origin: Literal["file", "sample", "web", "case"]
    body: str
    indexed_at: str
    tags: list[str] = field(default_factory=list)
    format: Literal["markdown", "text"] = "markdown"
    path: str | None = None
    domain: str | None = None
