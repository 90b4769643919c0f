"""`threer kb` (owned by the knowledge-base work; a placeholder until it lands)."""

import typer


def register(app: typer.Typer) -> None:
    pass
