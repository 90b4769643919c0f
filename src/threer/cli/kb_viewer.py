"""Showing a knowledge-base article or past case in full: `threer kb show`, and from inside a triage.

On a terminal a document longer than the screen is paged (rich's pager, `less` where
there is one), so a technician can read an article during a call and come back to the
prompt where they left it. Everything shown goes through threer's sanitising console.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def render_document(console: Any, doc: Any) -> None:
    """Title, id and tags, then the body: Markdown rendered, a past case as labelled fields."""
    from rich.markdown import Markdown
    from rich.text import Text

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
    elif doc.format == "markdown":
        console.print(Markdown(doc.body))
    else:
        console.print(Text(doc.body), soft_wrap=True)


def case_lines(body: str, console: Any) -> list[Any]:
    """A past case as lines: each label, its value beside it, wrapped under itself, every line break kept."""
    from rich.text import Text

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
        with console.pager(styles=True):
            render_document(console, doc)
    else:
        render_document(console, doc)


def document_reader(store: Any, console: Any) -> Callable[[str], None]:
    """What the triage prompts call to open a suggested article or past case by id."""

    def read(doc_id: str) -> None:
        from threer.errors import NotFound
        from threer.kb.documents import get_document

        try:
            doc = get_document(store.conn, doc_id)
        except NotFound as exc:
            from rich.text import Text

            console.print(Text(str(exc), style="yellow"), soft_wrap=True)
            return
        show_document(console, doc)

    return read
