"""Standard output and standard error as threer writes them: a failed write is said in words.

Whatever a command prints goes through `sys.stdout` or `sys.stderr`: threer's own writers, rich's
consoles, the prompts, typer's help. `guarded` puts a thin wrapper around both for the length of a run
(threer.cli.entry.main), so that every one of those writers meets the same three cases the same way:

- standard output that cannot take the text (a full disk, `> /dev/full`, an I/O error) stops the
  command with `OutputFailed`, one sentence and exit code 3, instead of an "unexpected error";
- standard output that was closed before threer started (`>&-`; Python then has no `sys.stdout`)
  does the same at the first write, so a command that prints nothing still runs;
- a console whose encoding cannot show a character (`PYTHONIOENCODING=ascii`, an old terminal) gets
  the same text with that character written as an escape (`\\u2026`), never an encoding error.

Each write is flushed at once, so a failure is met by the write that caused it and nothing is left
in a buffer to fail again when Python exits. Standard error is where failures are said, so a failure
there is dropped: there is nowhere left to say it, and the exit code still tells. A reader that went
away (`| head`, BrokenPipeError) is not a failure here: threer.cli.entry ends quietly on it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from threer.errors import ExitStatus, ThreerError


class OutputFailed(ThreerError):
    """Standard output could not take what a command printed (exit 3); what was saved before is kept."""

    exit_status = ExitStatus.INCOMPLETE


def write_text(stream: Any, text: str, *, json: bool = False) -> None:
    """Write text to a text stream; characters its encoding cannot hold are written as escapes: Python's
    (`\\xe9`) in text a person reads, JSON's (`\\u00e9`) in a JSON or TOML document (`json`), so that
    the document still parses to the same value."""
    if json and not text.isascii():
        try:
            text.encode(getattr(stream, "encoding", None) or "ascii")
        except (UnicodeEncodeError, LookupError):
            from threer.safe_text import json_ascii

            text = json_ascii(text)  # tried first: a guarded stream would escape it Python's way
    try:
        stream.write(text)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(encoding, "backslashreplace").decode(encoding))


def _failure(name: str, error: OSError | None) -> OutputFailed:
    if error is None:
        reason = f"{name} is closed"
    else:
        reason = f"{name}: {error.strerror or type(error).__name__}"
    return OutputFailed(
        f"threer could not write its output ({reason}). Anything it saved is kept; "
        "send the output somewhere that can take it (a terminal, a file on a disk with room, a pipe) "
        "and run the command again."
    )


class _Guard:
    """What the two guards share: the stream wrapped, its name in messages, and whether a write failed."""

    def __init__(self, raw: Any, name: str, *, quiet: bool, failed: list[OutputFailed | None] | None = None) -> None:
        self._raw = raw
        self._name = name
        self._quiet = quiet  # standard error: a failure is dropped, never raised
        # the failure met, shared with the binary stream's guard
        self._failed: list[OutputFailed | None] = failed if failed is not None else [None]

    def _call(self, action: Any) -> None:
        failure = self._failed[0]
        if failure is None and self._raw is None:
            failure = self._failed[0] = _failure(self._name, None)
        if failure is not None:
            # the stream failed before: a later write is not tried again (on stderr it is dropped; on stdout
            # it fails the same way, so that a writer that swallowed the first failure still cannot go on)
            if not self._quiet:
                raise failure
            return
        try:
            action()
        except BrokenPipeError:
            raise  # the reader went away: threer.cli.entry ends quietly on it
        except (OSError, ValueError) as error:  # ValueError: the stream was closed under us
            failure = self._failed[0] = _failure(self._name, error if isinstance(error, OSError) else None)
            if not self._quiet:
                raise failure from error

    def flush(self) -> None:
        if self._raw is not None:
            self._call(self._raw.flush)

    def isatty(self) -> bool:
        try:
            return self._raw is not None and bool(self._raw.isatty())
        except (OSError, ValueError):
            return False

    def __getattr__(self, name: str) -> Any:
        # fileno, encoding, errors, mode, ...: the wrapped stream's own, so terminals are recognised
        if self._raw is None:
            if name == "encoding":
                return "utf-8"
            raise AttributeError(name)
        return getattr(self._raw, name)


class GuardedText(_Guard):
    """A text stream (sys.stdout, sys.stderr) whose writes are flushed at once and whose failures are
    said as OutputFailed (or dropped, on standard error)."""

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if not text:
            return 0  # nothing to write is not a write that can fail (click writes "" to learn the stream's kind)

        def write() -> None:
            write_text(self._raw, text)
            self._raw.flush()

        self._call(write)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    @property
    def buffer(self) -> "GuardedBytes":
        # the binary stream under the text one (an .eml ticket is written as bytes), guarded alike
        raw = getattr(self._raw, "buffer", None)
        if raw is None and self._raw is not None:
            raise AttributeError("buffer")
        return GuardedBytes(raw, self._name, quiet=self._quiet, failed=self._failed)


class GuardedBytes(_Guard):
    """The binary stream under a GuardedText."""

    def write(self, data: bytes) -> int:
        if not data:
            return 0

        def write() -> None:
            self._raw.write(data)
            self._raw.flush()

        self._call(write)
        return len(data)


@contextmanager
def guarded() -> Iterator[None]:
    """sys.stdout and sys.stderr guarded for the length of the block, then put back as they were."""
    stdout, stderr = sys.stdout, sys.stderr
    if not isinstance(stdout, _Guard):
        sys.stdout = GuardedText(stdout, "standard output", quiet=False)  # type: ignore[assignment]
    if not isinstance(stderr, _Guard):
        sys.stderr = GuardedText(stderr, "standard error", quiet=True)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = stdout, stderr
