"""Showing a knowledge-base article or past case in full: `threer kb show`, and from inside a triage.

On a terminal a document longer than the screen is paged (rich's pager, `less` where
there is one), so a technician can read an article during a call and come back to the
prompt where they left it. Everything shown goes through threer's sanitising console.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


# Laying Markdown out (rich's parser and renderer) takes about 4 s a megabyte: above this, an article is
# shown as its plain reading text, which takes a fraction of that (a 5 MB article: 21 s before)
MARKDOWN_LAYOUT_MAX = 200_000


def render_document(console: Any, doc: Any) -> None:
    """Title, id and tags, then the body: Markdown rendered, a past case as labelled fields."""
    from rich.markdown import Markdown
    from threer.safe_rich import Text

    console.print(Text(doc.title, style="bold"), soft_wrap=True)
    meta = f"{doc.id} · {'past case' if doc.source == 'case' else 'article'}"
    if doc.tags:
        meta += " · " + ", ".join(doc.tags)
    if doc.path:
        meta += f" · {doc.path}"
    console.print(Text(meta, style="dim"), soft_wrap=True)
    console.print()
    if doc.source == "case":
        for line in case_lines(doc.body, console):
            console.print(line, soft_wrap=True)  # wrapped already, under its own column
    elif doc.format == "markdown" and len(doc.body) > MARKDOWN_LAYOUT_MAX:
        from threer.kb.analysis import reading_text

        console.print(Text(f"Shown as plain text: at {len(doc.body) // 1000:,} kB the article is too long to lay out "
                           "as Markdown.", style="dim"), soft_wrap=True)
        console.print()
        console.print(Text(reading_text(doc.body, doc.format)), soft_wrap=True)
    elif doc.format == "markdown":
        console.print(Markdown(doc.body))
    else:
        console.print(Text(doc.body), soft_wrap=True)


def case_lines(body: str, console: Any) -> list[Any]:
    """A past case as lines: each label, its value beside it, wrapped under itself, every line break kept."""
    from threer.safe_rich import Text

    from threer.kb.cases import case_fields

    fields = case_fields(body)
    labels = [len(label) + 1 for label, _ in fields if label]
    indent = max(labels) + 2 if labels else 0
    room = max(20, console.width - indent)
    lines = []
    for label, value in fields:
        head: Any = Text(f"{label}:", style="bold") if label else Text()
        for line in value.split("\n"):
            pieces = Text(line).wrap(console, room, overflow="fold") if line.strip() else [Text()]
            for piece in pieces:
                piece.rstrip()
                lines.append(Text.assemble(head, " " * (indent - len(head)), piece) if piece.plain else head)
                head = Text()
    return lines


def show_document(console: Any, doc: Any, *, page: bool = True) -> None:
    """The document in full; paged when `page` and the console is a terminal."""
    if page and console.is_terminal:
        pager = StyledPager()
        with console.pager(pager, styles=pager.shows_styles):
            render_document(console, doc)
    else:
        render_document(console, doc)


class StyledPager:
    """Rich's pager, but readable: `less` shows colour codes as raw `ESC[…m` text unless told -R.

    When the user has set neither PAGER nor LESS, the pager is `less -R` (LESS=-R given to that process
    only) and the page keeps its styles; with a PAGER or LESS of their own, or without `less`, their
    pager gets the page without styles, so no code is ever shown as text.
    """

    def __init__(self, environ: Any = None) -> None:
        import os
        import shutil

        self.environ = dict(os.environ if environ is None else environ)
        own = bool(self.environ.get("PAGER") or self.environ.get("MANPAGER") or "LESS" in self.environ)
        self.less = None if own else shutil.which("less", path=self.environ.get("PATH"))
        self.shows_styles = self.less is not None

    def command(self) -> tuple[list[str], dict[str, str]] | None:
        """The pager run for a styled page, and its environment; None: the user's own pager."""
        if self.less is None:
            return None
        return [self.less], {**self.environ, "LESS": "-R"}

    def show(self, content: str) -> None:
        import pydoc
        import subprocess

        run = self.command()
        if run is None:
            pydoc.pager(content)
            return
        argv, env = run
        try:
            subprocess.run(argv, input=content, text=True, env=env, check=False, errors="replace")
        except (OSError, KeyboardInterrupt):
            pass  # the page was shown as far as it went; the prompt comes back


def document_reader(store: Any, console: Any) -> Callable[[str], None]:
    """What the triage prompts call to open a suggested article or past case by id."""

    def read(doc_id: str) -> None:
        from threer.errors import NotFound
        from threer.kb.documents import find_document

        try:
            doc = find_document(store, doc_id)
        except NotFound as exc:
            from threer.safe_rich import Text

            console.print(Text(str(exc), style="yellow"), soft_wrap=True)
            return
        show_document(console, doc)

    return read
