"""`threer kb search` itself, its options already read: by the typer command (threer.cli.kb), or by the
entry point (threer.cli.entry), which reads a plain `kb search` command line without importing typer.

A technician searches while the customer waits, so this module imports neither typer nor pydantic: the
config is read as check-dns reads it (threer.config_plain, which hands anything but a plain file to
threer.config, so a bad config is refused in the same words), and rich only for terminal output.
"""

from __future__ import annotations

from typing import Any

from threer.cli.output import emit_json, print_warning, stdout_console
from threer.errors import BadInput
from threer.safe_text import argument_text

EMPTY_QUERY = (
    "The search text is empty. Type what the customer says or the error they see, for example "
    "`threer kb search outlook keeps asking for password` or `threer kb search 0x800CCC0E`."
)


def run(env: Any, query: list[str], *, as_json: bool = False, limit: int = 10, source: str | None = None) -> None:
    """Search and print the results (one JSON document with `as_json`)."""
    from threer.config_plain import read_for_checks
    from threer.kb.search import search_outcome
    from threer.kb.thesaurus import partner_thesaurus_path
    from threer.store import open_store

    if source is not None and source not in ("kb", "case"):
        raise BadInput(f"--source takes kb or case, not {source!r}.")
    text, mangled = argument_text(" ".join(query))
    if mangled:
        print_warning("The search text has bytes that are not UTF-8 (is the terminal set to another encoding?); "
                      "they were left out of the search.")
    if not text.strip():  # an unset shell variable, most likely: say so rather than find nothing
        raise BadInput(EMPTY_QUERY)
    config = read_for_checks(env.config_path)
    with open_store(env, config).kb_index() as store:  # the KB index, with the team's past cases
        outcome = search_outcome(store, text, limit=limit, source=source,
                                 thesaurus_file=partner_thesaurus_path(env.config_path))
    if as_json:
        emit_json({"query": text, "searched_for": outcome.plan.searched_for,
                   "searched_terms": outcome.plan.searched_words,
                   "results": [r.to_json() for r in outcome.results]})
        return
    _print(text, outcome)


def _print(text: str, outcome: Any) -> None:
    from rich.padding import Padding
    from threer.safe_rich import Text

    from threer.safe_text import one_line

    console = stdout_console()
    results = outcome.results
    if outcome.plan.searched_for:
        console.print(Text(f"Searched for: {outcome.plan.searched_for}", style="italic"), soft_wrap=True)
    if not results and outcome.plan.nothing_to_search:
        console.print(
            f"Nothing to search for in {text!r}: it has only words that every article uses (greetings, "
            "'please', 'the customer says'). Add what goes wrong or the error text, for example "
            "`threer kb search outlook keeps asking for password`.", soft_wrap=True, markup=False,
        )
        return
    if not results:
        from threer.kb.search import parse_query

        why = "" if parse_query(text).concepts else "; it has no words or codes to search for"
        console.print(f"No articles or past cases match {text!r}{why}.", soft_wrap=True, markup=False)
        return
    for number, result in enumerate(results, 1):
        head = Text(f"{number:>2}. ")
        head.append(one_line(result.title), style="bold")
        head.append(f"  [{one_line(result.id)}]", style="cyan")
        console.print(head, soft_wrap=True)
        console.print(Padding(highlighted(result.snippet, result.highlights), (0, 0, 0, 4)))
        where = f"{result.source} · score {result.score:.2f}"
        if result.path:
            where += f" · {one_line(result.path)}"
        console.print(Text("    " + where, style="dim"), soft_wrap=True)  # a path is copied whole: never wrapped


def highlighted(snippet: str, spans: list[tuple[int, int]]) -> Any:
    """A rich Text of a snippet with its matched words in a highlight style."""
    from threer.safe_rich import Text

    text = Text(snippet)
    for start, end in spans:
        text.stylize("bold yellow", start, end)
    return text
