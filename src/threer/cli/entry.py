"""The `threer` program's entry point, and how an exception a command raises becomes a message and an exit code.

Scripts and monitoring jobs run `threer check-dns DOMAIN --json` over and over, and a technician runs
`threer kb search WORDS` while the customer waits; most of such a short run went to importing the CLI
framework (typer, and with it pydantic) before any question was asked. So the entry point reads a
check-dns or kb search command line itself when it can read it exactly as the typer app does, and runs
the command (`threer.cli.check_dns.run`, `threer.cli.kb_search.run`) without typer. Every other command line
(another command, `--help`, `--version`, an option it does not know, a value the typer app would
convert or refuse in its own words) goes to the typer app in threer.cli.app, which gives the help and
the usage errors. Both ways run the same command function and turn its exceptions into messages and
exit codes with the same function, `exit_status_for`; tests/test_entry.py runs command lines both ways.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from typing import Any

from threer.errors import ExitStatus, ThreerError

# check-dns's options as the typer command declares them (threer.cli.check_dns.register): option ->
# keyword of threer.cli.check_dns.run. tests/test_entry.py checks that the two lists agree.
FLAGS = {"--json": "as_json", "--fixes": "fixes", "--propagation": "propagation", "--dns-only": "dns_only",
         "--diff": "diff"}
VALUES = {"--from": "from_file", "--profile": "profile", "--timeout": "timeout", "--ca-bundle": "ca_bundle",
          "--smtp-port": "smtp_port"}
REPEATED = {"--dkim-selector": "dkim_selector", "--nameserver": "nameserver", "--ip": "ips"}

# values read here only in these plain forms; any other is the typer app's to convert or refuse
_NUMBER = re.compile(r"[0-9]{1,10}(?:\.[0-9]{0,10})?")
_PORT = re.compile(r"[0-9]{1,5}")


def _options(rest: list[str], flags: Any, valued: Any, *, dash_value: bool,
             no_equals: frozenset[str] = frozenset()) -> list[tuple[str | None, str | None]] | None:
    """The tokens of a command line's rest as the typer app reads them: (None, word) for an argument,
    (option, None) for one of `flags`, (option, value) for one of `valued` (`--opt VALUE` or `--opt=VALUE`);
    None when the typer app must read it (--help, --, a short option joined to its value, an unknown option,
    a missing value). `dash_value`: "-" may be an option's value (check-dns reads "-" as standard input)."""
    items: list[tuple[str | None, str | None]] = []
    at = 0
    while at < len(rest):
        token = rest[at]
        at += 1
        if not token.startswith("-") or token == "-":
            items.append((None, token))
            continue
        option, equals, value = token.partition("=")
        if option in flags and not equals:
            items.append((option, None))
            continue
        if option not in valued or (equals and option in no_equals):
            return None
        if not equals:
            if at >= len(rest) or (rest[at].startswith("-") and not (dash_value and rest[at] == "-")):
                return None  # a missing value, or one the typer app may read otherwise
            value = rest[at]
            at += 1
        items.append((option, value))
    return items


def read_check_dns(args: list[str]) -> tuple[bool, dict[str, Any]] | None:
    """(--debug, the keywords of check_dns.run) for a plain `[--debug] check-dns ...` command line, or
    None when the typer app must read it (anything else, or anything here not plainly understood)."""
    debug = False
    if args[:1] == ["--debug"]:
        debug, args = True, args[1:]
    if args[:1] != ["check-dns"] or len(args) < 2:  # `check-dns` alone shows its help
        return None
    items = _options(args[1:], FLAGS, VALUES.keys() | REPEATED.keys(), dash_value=True)
    if items is None:
        return None
    words: dict[str, Any] = {"domains": [], "from_file": None, "profile": None, "ca_bundle": None, "timeout": 5.0,
                             "smtp_port": 25, **{key: False for key in FLAGS.values()},
                             **{key: [] for key in REPEATED.values()}}
    given: set[str] = set()
    for option, value in items:
        if option is None:
            words["domains"].append(value)
        elif value is None:
            words[FLAGS[option]] = True
        elif option in REPEATED:
            words[REPEATED[option]].append(value)
        elif option in given:
            return None  # given twice: the typer app decides which counts
        else:
            given.add(option)
            if option == "--timeout":
                if _NUMBER.fullmatch(value) is None:
                    return None
                words["timeout"] = float(value)
            elif option == "--smtp-port":
                if _PORT.fullmatch(value) is None or not 1 <= int(value) <= 65535:
                    return None
                words["smtp_port"] = int(value)
            else:
                words[VALUES[option]] = value
    words["domains"] = words["domains"] or None  # as typer passes an argument given no value
    return debug, words


# kb search's options as the typer command declares them (threer.cli.kb.search_command): option ->
# keyword of threer.cli.kb_search.run. tests/test_entry.py checks these against the typer command too.
SEARCH_FLAGS = {"--json": "as_json"}
SEARCH_VALUES = {"--limit": "limit", "-n": "limit", "--source": "source"}
SEARCH_LIMIT = (1, 200)  # the command's min and max: a limit outside is the typer app's to refuse
_LIMIT = re.compile(r"[0-9]{1,3}")


def read_kb_search(args: list[str]) -> tuple[bool, dict[str, Any]] | None:
    """(--debug, the keywords of kb_search.run) for a plain `[--debug] kb search WORDS... [options]`
    command line, or None when the typer app must read it (as read_check_dns)."""
    debug = False
    if args[:1] == ["--debug"]:
        debug, args = True, args[1:]
    if args[:2] != ["kb", "search"] or len(args) < 3:  # `kb search` alone: the typer app's usage error
        return None
    items = _options(args[2:], SEARCH_FLAGS, SEARCH_VALUES, dash_value=False, no_equals=frozenset({"-n"}))
    if items is None:
        return None
    words: dict[str, Any] = {"query": [], "as_json": False, "limit": 10, "source": None}
    given: set[str] = set()
    for option, value in items:
        if option is None:
            words["query"].append(value)
        elif value is None:
            words[SEARCH_FLAGS[option]] = True
        else:
            keyword = SEARCH_VALUES[option]
            if keyword in given:
                return None  # given twice: the typer app decides which counts
            given.add(keyword)
            if keyword == "limit":
                if _LIMIT.fullmatch(value) is None or not SEARCH_LIMIT[0] <= int(value) <= SEARCH_LIMIT[1]:
                    return None
                words["limit"] = int(value)
            else:
                words[keyword] = value
    if not words["query"]:
        return None  # options only: the typer app says the query is missing
    return debug, words


def main() -> None:
    if hasattr(signal, "SIGPIPE"):
        # `threer ... | head`: end quietly when the reader goes away, as other Unix tools do
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    from threer.cli.streams import guarded

    with guarded():  # a failed write to stdout said in words, an unencodable character escaped
        _main()


def _main() -> None:
    try:
        plain = read_check_dns(sys.argv[1:])
        search = None if plain is not None else read_kb_search(sys.argv[1:])
    except KeyboardInterrupt:  # Ctrl-C while reading the command line
        sys.exit(int(ExitStatus.INTERRUPTED))
    if plain is not None:
        debug, words = plain
        sys.exit(run_check_dns(words, debug=debug))
    if search is not None:
        debug, words = search
        sys.exit(run_kb_search(words, debug=debug))
    from threer.cli.app import run_app

    run_app()


def run_check_dns(words: dict[str, Any], *, debug: bool) -> int:
    """check-dns without typer, its exceptions handled as the typer app handles them."""

    def check(env: Any) -> int:
        from threer.cli.check_dns import run

        return run(env, **words)

    return _run_plain(check, debug=debug)


def run_kb_search(words: dict[str, Any], *, debug: bool) -> int:
    """kb search without typer, its exceptions handled as the typer app handles them."""

    def search(env: Any) -> int:
        from threer.cli.kb_search import run

        run(env, **words)
        return int(ExitStatus.OK)

    return _run_plain(search, debug=debug)


def _run_plain(command: Any, *, debug: bool) -> int:
    env = None
    try:
        from threer.env import Environment

        env = Environment.from_os()
        return int(command(env))
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - every failure said in words (exit_status_for)
        return exit_status_for(exc, debug=debug or bool(os.environ.get("THREER_DEBUG")), env=env)


def exit_status_for(exc: BaseException, *, debug: bool, env: Any) -> int:
    """Say what went wrong on stderr and give the exit code: a ThreerError in its own words, Ctrl-C as
    130, a reader gone away (`| head`) quietly, a database failure in its words, anything else as an
    unexpected error (with the traceback only under --debug)."""
    from threer.cli.output import print_error

    if isinstance(exc, ThreerError):
        print_error(exc.message)
        if debug:
            _traceback(exc)
        return int(exc.exit_status)
    if isinstance(exc, KeyboardInterrupt):
        print_error("Interrupted. Everything answered so far is saved.")
        return int(ExitStatus.INTERRUPTED)
    if isinstance(exc, BrokenPipeError):
        # the reader went away (`| head`) where SIGPIPE is not the default (Windows, embedding): end quietly
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return int(ExitStatus.OK)
    # sqlite3 is imported by the commands that use the store; a run that never imported it met no such error
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is not None and isinstance(exc, sqlite3.DatabaseError) and env is not None:
        # a storage failure met outside a write (damage found while reading): its own words
        from threer.store import storage_error

        error = storage_error(exc, env.db_path)
        if error is not None:
            if debug:
                _traceback(exc)
            print_error(error.message)
            return int(error.exit_status)
    if debug:
        _traceback(exc)
    else:
        print_error(
            f"threer stopped on an unexpected error ({type(exc).__name__}: {exc}). "
            "Run it again with --debug for the details, and report them."
        )
    return int(ExitStatus.INCOMPLETE)


def _traceback(exc: BaseException) -> None:
    import traceback

    traceback.print_exception(exc)
