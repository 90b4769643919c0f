"""The rich console every threer console is: outside text never reaches the terminal raw.

Kept apart from threer.cli.output so that a run that prints no rich output (`--json`) never imports rich.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.text import Span

from threer.safe_rich import Text

from threer.safe_text import UNSAFE, is_safe, visible



def safe_text(text: Text) -> Text:
    """A copy of a rich Text whose unsafe characters are shown visibly, its styles kept in place."""
    plain = text.plain
    if is_safe(plain):
        return text
    offsets = [0] * (len(plain) + 1)  # old offset -> new offset
    pieces: list[str] = []
    at = 0
    position = 0
    for match in UNSAFE.finditer(plain):
        for index in range(at, match.start()):
            offsets[index] = position
            position += 1
        pieces.append(plain[at : match.start()])
        shown = visible(match.group())
        offsets[match.start()] = position
        position += len(shown)
        pieces.append(shown)
        at = match.end()
    for index in range(at, len(plain) + 1):
        offsets[index] = position
        position += 1
    pieces.append(plain[at:])
    spans = [Span(offsets[s.start], offsets[min(s.end, len(plain))], s.style) for s in text.spans]
    return Text(
        "".join(pieces), style=text.style, justify=text.justify, overflow=text.overflow, no_wrap=text.no_wrap,
        end=text.end, tab_size=text.tab_size, spans=spans,
    )


class SafeConsole(Console):
    """A rich Console that never lets outside text reach the terminal raw.

    Strings are made safe before markup is read and layout is done (so tables stay aligned);
    rich Text objects likewise; and every text segment is checked once more just before it is
    written, for renderables that build their text inside (Syntax, custom ones).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # rich reads `:name:` as an emoji code: a customer's ":warning: 0x800CCC0E" must print as typed
        kwargs.setdefault("emoji", False)
        super().__init__(*args, **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(visible(text), **kwargs)

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        if isinstance(renderable, Text):
            renderable = safe_text(renderable)
        return super().render(renderable, options)

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(
            segment if segment.control or is_safe(segment.text) else Segment(visible(segment.text), segment.style)
            for segment in buffer
        )
