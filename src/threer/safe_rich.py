"""rich's Text as threer uses it: a control character in outside text is shown, never dropped.

rich's Text takes BEL, backspace, VT, FF and CR out of every string it is made from or given
(`rich.text` calls `rich.control.strip_control_codes`), silently and before any console sees it: a
DMARC tag "pwned\\x07x" printed as "pwnedx", naming text the record does not hold. Every threer
module that builds a Text imports it from here, so that by then the names the module calls shows them
instead, as `threer.safe_text.visible` shows every other unsafe character (`\\x07`; a CRLF line end
stays a line end). The consoles (threer.cli.safe_console) then escape the rest.
"""

from __future__ import annotations

import rich.text
from rich.text import Text

_DROPPED = {code: f"\\x{code:02x}" for code in (7, 8, 11, 12, 13)}


def shown_not_dropped(text: str) -> str:
    """The text with the control characters rich would drop written as escapes."""
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return text.translate(_DROPPED)


rich.text.strip_control_codes = shown_not_dropped  # type: ignore[assignment]

__all__ = ["Text", "shown_not_dropped"]
