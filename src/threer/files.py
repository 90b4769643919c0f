"""Reading a file the user named (answers, profiles, domain lists, the config): the text, or one
plain sentence saying what is wrong with it and what to do."""

from __future__ import annotations

from pathlib import Path

from threer.errors import BadInput


def read_user_text(path: Path, what: str, *, fix: str, max_bytes: int | None = None) -> str:
    """The UTF-8 text (a BOM is dropped) of the file a user named as `what`, e.g. "answers file".

    `fix` ends each message with what to do about it, e.g. "give a JSON, YAML or TOML file".
    """
    try:
        if path.is_dir():
            raise BadInput(f"The {what} {path} is a folder; {fix}.")
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"The {what} {path} does not exist; {fix}.") from None
    except OSError as exc:
        raise BadInput(f"Cannot read the {what} {path} ({exc.strerror or exc}).") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise BadInput(f"The {what} {path} is over {max_bytes // 1_000_000} MB; {fix}.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput(f"The {what} {path} is not UTF-8 text; save it as UTF-8, or {fix}.") from None
