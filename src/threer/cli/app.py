"""The `threer` root command: global options, sub-command registration, error handling."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from threer import __version__
from threer.cli.output import print_error
from threer.env import Environment
from threer.errors import ExitStatus, ThreerError


@dataclass
class AppContext:
    env: Environment
    debug: bool = False


def app_context(ctx: typer.Context) -> AppContext:
    root = ctx.find_root()
    if not isinstance(root.obj, AppContext):
        root.obj = AppContext(env=Environment.from_os())
    return root.obj


# click's usage errors quote what was typed (`No such command '\x1b]0;…'`); they are shown through the sanitiser
_CLICK_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
_USAGE_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


class _VisibleWriter:
    """A text stream that shows control characters visibly, for click's own messages."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        from threer.safe_text import visible

        return self._stream.write(visible(text))

    def flush(self) -> None:
        self._stream.flush()


def _plain_words(exc: Any) -> None:
    """An option's value that failed the framework's check (`--limit 0`) is said in plain words, the way
    threer says a bad config value: "must be at least 1, not 0", never "Input should be greater than or
    equal to 1"."""
    from pydantic import ValidationError

    from threer.errors import validation_problems

    cause = exc.__cause__
    if not isinstance(cause, ValidationError) or not hasattr(exc, "message"):
        return
    what = validation_problems(cause, with_location=False)[0]
    errors = cause.errors()
    kind = errors[0].get("type", "") if errors else ""
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        what += f", not {errors[0].get('input')}"
    exc.message = what


# Each command's module, in the order `threer --help` lists them. A run imports only the module of the
# command it runs (each module's `register(app)` adds its command); `--help` imports them all.
COMMAND_MODULES = {
    "triage": "threer.cli.triage",
    "analyze": "threer.cli.analyze",
    "ticket": "threer.cli.ticket",
    "report": "threer.cli.report",
    "check-dns": "threer.cli.check_dns",
    "sessions": "threer.cli.sessions",
    "kb": "threer.cli.kb",
    "config": "threer.cli.config",
    "db": "threer.cli.db",
}


def load_command(name: str) -> Any:
    """The click command `name` built from its module, the way typer builds the commands of the root."""
    import importlib

    module = importlib.import_module(COMMAND_MODULES[name])
    holder = typer.Typer(rich_markup_mode=None, add_completion=False, pretty_exceptions_enable=False)
    holder.callback()(_no_options)  # a callback makes typer build a group, whatever the module adds
    module.register(holder)
    return typer.main.get_command(holder).commands[name]  # type: ignore[attr-defined]


def _no_options() -> None:
    """The stand-in group's callback (never run)."""


class ThreerGroup(TyperGroup):
    """Turns every ThreerError, Ctrl-C and unexpected exception into a sentence and an exit code.

    It is the root group: its commands are loaded when asked for (`get_command`), not at start-up."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMAND_MODULES, *(name for name in self.commands if name not in COMMAND_MODULES)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in COMMAND_MODULES:
            command = self.commands[cmd_name] = load_command(cmd_name)
        return command

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        # typer's own "Did you mean" sees only the commands loaded so far; this one sees them all
        try:
            return super().resolve_command(ctx, args)
        except _USAGE_ERROR as exc:
            from difflib import get_close_matches

            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches and not self.get_command(ctx, args[0]):
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {', '.join(repr(m) for m in matches)}?"
            raise

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _CLICK_ERROR as exc:
            _plain_words(exc)
            exc.show(file=_VisibleWriter(sys.stderr))
            sys.exit(exc.exit_code)
        except typer.Abort:
            print_error("Aborted.")
            sys.exit(1)
        except ThreerError as exc:  # met before a command ran: --help or --version could not be written
            from threer.cli.entry import exit_status_for

            debug = "--debug" in (sys.argv[1:] if args is None else list(args)) or bool(os.environ.get("THREER_DEBUG"))
            sys.exit(exit_status_for(exc, debug=debug, env=None))
        sys.exit(result if isinstance(result, int) else 0)

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - the last line of defence
            from threer.cli.entry import exit_status_for

            env = getattr(ctx.find_root().obj, "env", None)
            raise typer.Exit(exit_status_for(exc, debug=_debug(ctx), env=env)) from None


def _debug(ctx: typer.Context) -> bool:
    obj = ctx.find_root().obj
    return bool(getattr(obj, "debug", False)) or bool(os.environ.get("THREER_DEBUG"))


from threer.cli import help_format

help_format.install()

app = typer.Typer(
    cls=ThreerGroup,
    name="threer",
    help="Replicate, Review, Research: triage hosted e-mail problems, check mail DNS, write escalation tickets.",
    epilog=("Examples:\n\n\b\n"
            "  threer triage --customer-domain contoso.com\n"
            "  threer check-dns contoso.com\n"
            "  threer analyze bounce.eml\n"
            "  threer ticket 20261126-7K3P --format markdown\n\n"
            "Each command has its own --help, with examples."),
    no_args_is_help=True,
    add_completion=False,
    suggest_commands=False,  # ThreerGroup.resolve_command suggests, from every command, loaded or not
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"threer {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Replicate, Review, Research: triage hosted e-mail problems, check mail DNS, write escalation tickets."""
    ctx.obj = AppContext(env=Environment.from_os(), debug=debug)


def run_app() -> None:
    """The typer app over sys.argv: every command line the entry point (threer.cli.entry) does not run itself."""
    from threer.cli.streams import guarded

    with guarded():  # as threer.cli.entry.main guards them (once: the guard is not put on twice)
        try:
            app(prog_name="threer")
        except KeyboardInterrupt:  # Ctrl-C outside a command (while parsing)
            sys.exit(int(ExitStatus.INTERRUPTED))


def main() -> None:
    """The program (kept here for callers of `threer.cli.app:main`): threer.cli.entry.main."""
    from threer.cli.entry import main as entry_main

    entry_main()
