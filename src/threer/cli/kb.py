"""`threer kb`: index article folders, search articles and past cases, show one, import a support site.

Only argument checking and rendering live here; the work is in threer.kb. Heavy
modules (rich among them) are imported inside the commands, so `threer --help` and
`threer kb search` start fast, and `--json` runs never import rich.
"""

from __future__ import annotations

from typing import Any, List, Optional

import typer

from threer.cli.app import app_context
from threer.cli.output import emit_json, emit_text, print_warning, stderr_console, stdout_console
from threer.errors import BadInput

kb_app = typer.Typer(
    help=(
        "The local knowledge base: your articles, the bundled sample articles and past cases.\n\n"
        "Example:\n\n  threer kb search \"outlook keeps asking for password\""
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    app.add_typer(kb_app, name="kb")


def _store(ctx: typer.Context) -> Any:
    from threer.store import open_store

    return open_store(app_context(ctx).env).kb_index()  # the KB index, with the team's past cases


def _emit_json(document: Any) -> None:
    emit_json(document)


def _config_folders_there(folders: list[str], config_path: Any) -> list[str]:
    """The config's kb_folders that exist now. One that does not (a share not mounted, a folder moved) is
    skipped with a warning and its articles are kept: only a PATH given on the command line takes a
    folder's articles out. None there at all is BadInput."""
    from pathlib import Path

    from threer.safe_text import display_path

    there = []
    for folder in folders:
        if Path(folder).expanduser().exists():
            there.append(folder)
            continue
        print_warning(f"kb_folders in {display_path(config_path)} names {display_path(folder)}, which does not exist "
                      "now (a share not mounted, or a folder moved?); it is skipped and its articles are kept. Take "
                      f"it out of kb_folders, or run `threer kb index {display_path(folder)}` to remove its articles.")
    if not there:
        raise BadInput(f"None of the kb_folders in {display_path(config_path)} exists now; nothing was indexed. "
                       "Check the folders (`threer config show`), or give a PATH to index.")
    return there


@kb_app.command("index")
def index_command(
    ctx: typer.Context,
    paths: Optional[List[str]] = typer.Argument(
        None, metavar="[PATH]...", help="Article files or folders. Default: kb_folders from the config."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON document on stdout."),
) -> None:
    """Index Markdown, HTML and text articles; only new or changed files are read again.

    Files that cannot be used (binary, not UTF-8, broken front matter, over 5 MB) are
    skipped with a warning; files deleted from an indexed folder leave the index.

    Example:

      threer kb index ~/support/articles ~/support/faq.html
    """
    from threer.config import load_config
    from threer.kb.index import ensure_sample_kb, index_paths

    env = app_context(ctx).env
    targets: list[str] = list(paths or [])
    if not targets:
        targets = [str(p) for p in load_config(env.config_path).kb_folders]
        if not targets:
            raise BadInput(
                "No folders to index. Give a PATH (`threer kb index ~/articles`) or set kb_folders "
                "(`threer config set kb_folders ~/articles`)."
            )
        targets = _config_folders_there(targets, env.config_path)
    console = stderr_console()
    with _store(ctx) as store:
        ensure_sample_kb(store)
        if console.is_terminal and not as_json:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(
                TextColumn("Indexing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=console, transient=True,
            ) as bar:
                task = bar.add_task("index", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                report = index_paths(store, targets, progress=progress)
        else:
            report = index_paths(store, targets)
    if as_json:
        _emit_json(report.to_json())
        return
    from threer.safe_text import one_line

    # one line each, whatever a file name holds (a newline in a name must not make a line of its own)
    for skipped in report.skipped:
        print_warning(one_line(f"Skipped {skipped.path}: {skipped.reason}."))
    for warning in report.warnings:
        print_warning(one_line(f"{warning.path}: {warning.message}."))
    files = report.indexed + len(report.skipped)
    stdout_console().print(
        f"Indexed {files} file{'s' if files != 1 else ''}: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.removed} removed, {len(report.skipped)} skipped "
        f"({report.seconds:.1f} s).",
        soft_wrap=True,
    )


@kb_app.command("search")
def search_command(
    ctx: typer.Context,
    query: List[str] = typer.Argument(..., metavar="QUERY", help="What the customer says, an error text or code."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document on stdout."),
    limit: int = typer.Option(10, "--limit", "-n", min=1, max=200, help="At most this many results."),
    source: Optional[str] = typer.Option(None, "--source", metavar="kb|case", help="Only articles, or only past cases."),
) -> None:
    """Search the articles and past cases, best match first.

    Any text works as a query; error codes such as 0x800CCC0E or 550 5.7.1 match exactly.
    An empty query is refused (exit 2); one of only common words ("hi there, can you help")
    finds nothing and says so.

    Examples:

      threer kb search outlook keeps asking for password

      threer kb search "550 5.7.1" --json --limit 3
    """
    from threer.cli.kb_search import run

    run(app_context(ctx).env, query, as_json=as_json, limit=limit, source=source)


@kb_app.command("show")
def show_command(
    ctx: typer.Context,
    doc_id: str = typer.Argument(..., metavar="ID", help="An id from `threer kb search` (or a session id)."),
) -> None:
    """Show one article or past case.

    Example:

      threer kb show kb-0001-outlook-password-prompt
    """
    from threer.cli.kb_viewer import show_document
    from threer.kb.documents import find_document
    from threer.kb.search import prepare_kb

    with _store(ctx) as store:
        prepare_kb(store)
        doc = find_document(store, doc_id)
    show_document(stdout_console(), doc, page=False)


@kb_app.command("remove")
def remove_command(
    ctx: typer.Context,
    ids: list[str] = typer.Argument(..., metavar="ID...", help="Imported pages' ids (web:HOST/PATH), or web:HOST/* "
                                    "for every page of a site."),
    as_json: bool = typer.Option(False, "--json", help="Print the ids removed as one JSON document on stdout."),
) -> None:
    """Take imported pages out of the knowledge base: pages that left your site, or a whole site.

    Nothing is removed unless every ID names a page. Articles from your files leave the index when
    their file is deleted and `threer kb index` runs; past cases, with their session.

    Examples:

    \b
      threer kb remove web:support.example.net/articles/old-vpn-guide
      threer kb remove 'web:support.example.net/*'
    """
    from threer.kb.importer import remove_pages
    from threer.kb.search import prepare_kb

    with _store(ctx) as store:
        prepare_kb(store)
        removed = remove_pages(store, ids)
    if as_json:
        _emit_json({"version": 1, "removed": removed})
        return
    from threer.safe_text import one_line

    listed = "".join(f"\n  {one_line(doc_id)}" for doc_id in removed)
    emit_text(f"Removed {len(removed)} imported page{'s' if len(removed) != 1 else ''}:{listed}")


@kb_app.command("import")
def import_command(
    ctx: typer.Context,
    url: str = typer.Argument(..., help="An article page, or a sitemap.xml listing the articles."),
    concurrency: int = typer.Option(4, "--concurrency", min=1, max=32, help="Pages fetched at once."),
    timeout: float = typer.Option(10.0, "--timeout", min=0.1, help="Seconds allowed for each page."),
    max_pages: int = typer.Option(2000, "--max-pages", min=1, help="Import at most this many pages."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON document on stdout."),
) -> None:
    """Import articles from your support site over HTTP(S): one page, or every page of a sitemap.

    Only pages on the same site are fetched; a redirect to another site counts as failed.
    Running it again updates changed pages and leaves unchanged ones alone.

    Examples:

    \b
      threer kb import https://support.example.net/sitemap.xml
      threer kb import https://support.example.net/articles/outlook-password-prompt
    """
    from threer.errors import ExitStatus
    from threer.kb.importer import import_url

    console = stderr_console()
    with _store(ctx) as store:
        if console.is_terminal and not as_json:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            with Progress(TextColumn("Importing"), BarColumn(), MofNCompleteColumn(), console=console, transient=True) as bar:
                task = bar.add_task("import", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                report = import_url(store, url, concurrency=concurrency, timeout=timeout, max_pages=max_pages,
                                    progress=progress)
        else:
            report = import_url(store, url, concurrency=concurrency, timeout=timeout, max_pages=max_pages)
    imported = report.added + report.updated + report.unchanged
    if as_json:
        _emit_json(report.to_json())
    else:
        from rich.markup import escape

        for failed in report.failed:
            print_warning(escape(f"Failed {failed.url}: {failed.reason}."))
        stdout_console().print(
            f"Imported {imported} of {report.pages} page{'s' if report.pages != 1 else ''} from {report.url}: "
            f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
            + (f"{report.repeated} repeated, " if report.repeated else "")
            + f"{len(report.failed)} failed ({report.seconds:.1f} s).",
            soft_wrap=True,
            markup=False,
        )
        if report.left_out:
            print_warning(f"The sitemap lists {report.pages + report.left_out} pages: the {report.left_out} after the "
                          f"first {report.pages} were not imported (--max-pages {max_pages}).")
    if report.failed and imported == 0:
        if not as_json:
            from threer.cli.output import print_error

            print_error(f"Nothing could be imported from {report.url}; the failures are listed above.")
        raise typer.Exit(int(ExitStatus.INCOMPLETE))
