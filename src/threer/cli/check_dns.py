"""`threer check-dns` (owned by the DNS-checks work; a placeholder until it lands)."""

import typer


def register(app: typer.Typer) -> None:
    pass
