"""How arguments and options read in `--help`: the words a user types, not the framework's types.

Typer 0.29 writes `<str>`, `<list[str]>`, `<float range>` beside every option, braces round a
required argument (`{ID}`) and doubles the brackets of an optional list (`[[PATH]...]...`). threer's
help shows what to type instead: the option's metavar when it has one, else a word for its kind of
value (TEXT, N, NUMBER, PATH, the choices); `ID` for a required argument, `[PATH]...` for an
optional list, as most Unix tools write them.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperOption

_WORDS = {"str": "TEXT", "int": "N", "float": "NUMBER", "path": "PATH", "file": "FILE", "bool": ""}


def _plain_type(param: Any, ctx: Any) -> str | None:
    if param.metavar is not None:
        return param.metavar
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    desc = param.type_descriptor
    if desc.is_choice and desc.choices:
        return "|".join(str(c) for c in desc.choices)
    label = param.bare_type() if hasattr(param, "bare_type") else "str"
    word = _WORDS.get(str(label).lower().split("[")[0].split()[0], "TEXT")
    if getattr(param, "multiple", False) or param.nargs != 1:
        word += "..."
    return word or None


def _argument_name(param: Any) -> str:
    name = param.metavar if param.metavar is not None else param.name.upper()
    name = name.strip("[]{}").removesuffix("...").strip("[]")
    if param.nargs != 1:
        name += "..."
    return name


def _usage_name(param: Any) -> str:
    name = _argument_name(param)
    if param.required:
        return name
    core = name.removesuffix("...")
    return f"[{core}]" + ("..." if name.endswith("...") else "")


def install() -> None:
    """Apply once, before the first help is formatted."""
    TyperOption.display_type_rich = lambda self, ctx: _plain_type(self, ctx)  # type: ignore[method-assign]
    TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]
    TyperArgument._rich_display_name = lambda self: _argument_name(self)  # type: ignore[method-assign]
    TyperArgument._usage_display_name = lambda self: _usage_name(self)  # type: ignore[method-assign]
