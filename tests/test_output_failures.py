"""Standard output that cannot take what threer prints: closed (`>&-`), full (`> /dev/full`), or unable to
encode a character (`PYTHONIOENCODING=ascii`). Each is one sentence and an exit code, never an
"unexpected error" or a traceback, and nothing saved is lost.

Every case runs `threer` as a real process with its standard output set up as a shell would: fd 1 closed
before the program starts, or opened on /dev/full (Linux's device whose every write fails with ENOSPC).
The kb search and check-dns lines run both ways (the entry point's plain path and the typer app), since
the two ways print through different code.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support_dnsserver import DnsTestServer
from support_prompter import COMPLETE_ANSWERS, PARTNER
from support_sessions import complete_session, make_session, ESCALATION, write_partner_config

from threer.cli.streams import GuardedText, OutputFailed, guarded
from threer.errors import ExitStatus
from threer.store import Store
from threer.triage.steps import STEPS

ZONE = Path(__file__).parent / "zones" / "t-triage.zone"
THROUGH_TYPER = "import sys; sys.argv = ['threer', *sys.argv[1:]]; from threer.cli.app import run_app; run_app()"
FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not FULL.exists(), reason="this system has no /dev/full")

STEP_IDS = {step.id for step in STEPS}
CLOSED_SENTENCE = "threer could not write its output (standard output is closed)"
FULL_SENTENCE = "threer could not write its output (standard output: No space left on device)"


def threer(*args: str, stdout: str = "closed", typer: bool = False, env: dict[str, str] | None = None,
           stderr: str = "pipe") -> subprocess.CompletedProcess[bytes]:
    """Run threer with standard output `closed`, `full` (/dev/full) or `pipe`; stderr likewise."""
    argv = [sys.executable, "-c", THROUGH_TYPER, *args] if typer else [sys.executable, "-m", "threer", *args]
    environment = {**os.environ, **(env or {})}

    opened: list[int] = []

    def target(kind: str) -> int | None:
        if kind == "full":
            opened.append(os.open(FULL, os.O_WRONLY))
            return opened[-1]
        return subprocess.PIPE if kind == "pipe" else None  # closed: inherited here, closed in the child

    closing = [fd for fd, kind in ((1, stdout), (2, stderr)) if kind == "closed"]

    def close_fds() -> None:  # in the child, before threer starts: as the shell's `>&-` does
        for fd in closing:
            os.close(fd)

    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=target(stdout), stderr=target(stderr),
                              env=environment, timeout=120, preexec_fn=close_fds if closing else None)
    finally:
        for fd in opened:
            os.close(fd)


def said(done: subprocess.CompletedProcess[bytes]) -> str:
    return done.stderr.decode("utf-8")


def assert_one_sentence(done: subprocess.CompletedProcess[bytes], sentence: str) -> None:
    err = said(done)
    assert done.returncode == ExitStatus.INCOMPLETE, err
    assert sentence in err, err
    assert "unexpected error" not in err and "Traceback" not in err, err
    assert err.count("Error:") == 1, err


@pytest.fixture(scope="module")
def dns():
    with DnsTestServer(zone_files=[ZONE]) as server:
        yield server


@pytest.fixture
def indexed(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "cafe.md").write_text("---\nid: own-cafe\ntitle: Outlook at the café \u2014 Wi\u2011Fi login page\n---\n"
                                    "At the caf\u00e9, Outlook cannot connect until the Wi\u2011Fi login page is "
                                    "accepted \u2026 then it syncs.\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "threer", "kb", "index", str(folder)], capture_output=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


# -- standard output closed ------------------------------------------------------------------------------


@pytest.mark.parametrize("typer", [False, True], ids=["plain", "typer"])
@pytest.mark.parametrize("args", [("kb", "search", "outlook", "password", "--json"), ("kb", "search", "outlook")])
def test_kb_search_with_stdout_closed(args: tuple[str, ...], typer: bool) -> None:
    assert_one_sentence(threer(*args, stdout="closed", typer=typer), CLOSED_SENTENCE)


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("kb", "--help"), ("sessions", "list")])
def test_other_commands_with_stdout_closed(args: tuple[str, ...]) -> None:
    assert_one_sentence(threer(*args, stdout="closed"), CLOSED_SENTENCE)


def test_a_command_that_prints_nothing_still_runs_with_stdout_closed(tmp_path: Path) -> None:
    # `kb index` says what it did on stderr only; closing stdout takes nothing from it
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "a.md").write_text("# Autodiscover fails\n\nThe CNAME is missing.\n", encoding="utf-8")
    done = threer("kb", "index", str(folder), stdout="closed")
    if done.returncode == ExitStatus.INCOMPLETE:  # it printed a summary on stdout: said, and the index is kept
        assert_one_sentence(done, CLOSED_SENTENCE)
    else:
        assert done.returncode == 0, said(done)
    found = subprocess.run([sys.executable, "-m", "threer", "kb", "search", "autodiscover", "--json"],
                           capture_output=True, text=True, timeout=120)
    assert found.returncode == 0, found.stderr
    assert any(r["title"] == "Autodiscover fails" for r in json.loads(found.stdout)["results"])


# -- standard output full --------------------------------------------------------------------------------


@needs_dev_full
@pytest.mark.parametrize("typer", [False, True], ids=["plain", "typer"])
@pytest.mark.parametrize("args", [("kb", "search", "outlook", "password", "--json"), ("kb", "search", "outlook"),
                                  ("check-dns", "--help")])
def test_stdout_full_both_ways(args: tuple[str, ...], typer: bool) -> None:
    assert_one_sentence(threer(*args, stdout="full", typer=typer), FULL_SENTENCE)


@needs_dev_full
@pytest.mark.parametrize("args", [("--help",), ("--version",), ("sessions", "list"), ("config", "show")])
def test_typer_commands_with_stdout_full(args: tuple[str, ...], threer_env) -> None:
    complete_session(Store(threer_env.db_path))  # so that `sessions list` has a row to print
    assert_one_sentence(threer(*args, stdout="full"), FULL_SENTENCE)


@needs_dev_full
@pytest.mark.parametrize("form", ["text", "markdown", "json", "eml"])
def test_a_ticket_to_a_full_stdout_is_said_and_can_be_written_again(form: str, threer_env, tmp_path: Path) -> None:
    write_partner_config(threer_env.config_path)
    session_id = complete_session(Store(threer_env.db_path))
    done = threer("ticket", session_id, "--format", form, stdout="full")
    assert_one_sentence(done, FULL_SENTENCE)
    again = threer("ticket", session_id, "--format", form, stdout="pipe")
    assert again.returncode == 0, said(again)
    assert b"Contoso" in again.stdout


@needs_dev_full
def test_both_streams_full_ends_in_the_exit_code_alone() -> None:
    done = threer("kb", "search", "outlook", stdout="full", stderr="full")
    assert done.returncode == ExitStatus.INCOMPLETE
    assert done.stderr is None  # nothing to read: stderr was /dev/full too; and no crash changed the code


@needs_dev_full
def test_a_triage_whose_output_cannot_be_written_keeps_every_answer(tmp_path: Path, dns, threer_env) -> None:
    answers = {"partner": PARTNER, **COMPLETE_ANSWERS}
    answers["intake.customer"] = {"name": "Contoso Ltd", "domain": "contoso-triage.test"}
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers), encoding="utf-8")
    host, port = dns.address
    done = threer("triage", "--no-input", "--profile", "none", "--dns-only", "--dns-timeout", "3", "--nameserver",
                  f"{host}:{port}", "--answers", str(path), stdout="full")
    assert_one_sentence(done, FULL_SENTENCE)
    sessions = Store(threer_env.db_path).list_sessions()
    assert len(sessions) == 1
    listed = subprocess.run([sys.executable, "-m", "threer", "sessions", "show", sessions[0]["id"], "--json"],
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    steps = json.loads(listed.stdout)["steps"]
    assert {"intake.customer", *(key for key in COMPLETE_ANSWERS if key in STEP_IDS)} <= set(steps)
    assert "Contoso Ltd" in json.dumps(steps["intake.customer"])


# -- a console that cannot encode a character ------------------------------------------------------------


@pytest.mark.parametrize("typer", [False, True], ids=["plain", "typer"])
def test_an_ascii_console_gets_escapes_not_an_error(indexed: None, typer: bool) -> None:
    done = threer("kb", "search", "outlook", "café", "wifi", stdout="pipe", typer=typer,
                  env={"PYTHONIOENCODING": "ascii"})
    assert done.returncode == 0, said(done)
    out = done.stdout.decode("ascii")  # every byte is ASCII
    assert "Outlook at the caf\\xe9" in out
    assert "\\u2014" in out


@pytest.mark.parametrize("typer", [False, True], ids=["plain", "typer"])
@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_json_on_a_console_that_cannot_encode_stays_json(indexed: None, typer: bool, encoding: str) -> None:
    # Python's escapes (\xe9) are not JSON: a document gets JSON's (\u00e9) and parses to the same value
    done = threer("kb", "search", "outlook", "café", "wifi", "€", "--json", stdout="pipe", typer=typer,
                  env={"PYTHONIOENCODING": encoding})
    assert done.returncode == 0, said(done)
    document = json.loads(done.stdout.decode(encoding))
    assert document["query"] == "outlook café wifi €"
    assert any(r["title"] == "Outlook at the café — Wi‑Fi login page" for r in document["results"])


def test_check_dns_on_an_ascii_console_warns_in_escapes_and_its_json_parses(dns) -> None:
    host, port = dns.address
    done = threer("check-dns", "café.contoso-triage.test", "--json", "--dns-only", "--profile", "none",
                  "--nameserver", f"{host}:{port}", "--timeout", "3", stdout="pipe", env={"PYTHONIOENCODING": "ascii"})
    assert done.returncode in (0, 1, 3), said(done)
    document = json.loads(done.stdout.decode("ascii"))
    assert document["domains"][0]["domain"] == "xn--caf-dma.contoso-triage.test"
    assert "converted 'caf\\xe9.contoso-triage.test'" in done.stderr.decode("ascii")


def test_an_ascii_console_shows_a_table_of_non_ascii_names(threer_env) -> None:
    make_session(Store(threer_env.db_path), {**ESCALATION, "intake.customer": {"name": "Société Générale",
                                                                              "domain": "societe.test"}})
    done = threer("sessions", "list", stdout="pipe", env={"PYTHONIOENCODING": "ascii", "COLUMNS": "200"})
    assert done.returncode == 0, said(done)
    assert "Soci\\xe9t\\xe9 G\\xe9n\\xe9rale" in done.stdout.decode("ascii")


def test_an_ascii_stderr_gets_escapes_too(tmp_path: Path) -> None:
    done = threer("ticket", "nosuch-café", stdout="pipe", env={"PYTHONIOENCODING": "ascii"})
    assert done.returncode == ExitStatus.USAGE
    err = done.stderr.decode("ascii")
    assert "nosuch-caf\\xe9" in err and "unexpected" not in err


# -- the guard itself ------------------------------------------------------------------------------------


class Failing(io.StringIO):
    """A text stream whose flush fails as a full disk does."""

    def flush(self) -> None:
        raise OSError(28, "No space left on device")


def test_a_failed_write_fails_again_so_a_writer_that_swallowed_it_cannot_go_on() -> None:
    guard = GuardedText(Failing(), "standard output", quiet=False)
    with pytest.raises(OutputFailed, match="No space left on device"):
        guard.write("one\n")
    try:
        guard.write("two\n")
    except OutputFailed as again:
        assert again.exit_status == ExitStatus.INCOMPLETE
    else:
        pytest.fail("the second write after a failure went through")


def test_the_guard_on_stderr_drops_what_it_cannot_write() -> None:
    guard = GuardedText(Failing(), "standard error", quiet=True)
    assert guard.write("Error: something\n") == len("Error: something\n")
    guard.flush()


def test_empty_and_binary_writes_are_told_apart_as_a_text_stream_does() -> None:
    raw = Failing()
    guard = GuardedText(raw, "standard output", quiet=False)
    assert guard.write("") == 0  # nothing written, so nothing failed
    with pytest.raises(TypeError):
        guard.write(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(OutputFailed):
        guard.write("text")


def test_guarded_puts_the_streams_back() -> None:
    before = (sys.stdout, sys.stderr)
    with guarded():
        assert isinstance(sys.stdout, GuardedText) and isinstance(sys.stderr, GuardedText)
        assert sys.stdout.encoding == before[0].encoding
        with guarded():  # nested: not wrapped twice
            assert sys.stdout._raw is before[0]  # type: ignore[attr-defined]
    assert (sys.stdout, sys.stderr) == before


def test_a_closed_stdout_guard_raises_at_the_first_write_only() -> None:
    guard = GuardedText(None, "standard output", quiet=False)
    guard.flush()  # a flush with nothing written is not a write
    assert guard.isatty() is False and guard.encoding == "utf-8"
    with pytest.raises(OutputFailed, match="standard output is closed"):
        guard.write("x")


def test_json_ascii_escapes_parse_to_the_same_value() -> None:
    from threer.safe_text import json_ascii

    document = json.dumps({"name": "Société \u2014 \U0001f600", "plain": "ok"}, ensure_ascii=False)
    escaped = json_ascii(document)
    assert escaped.isascii() and "\\ud83d\\ude00" in escaped
    assert json.loads(escaped) == json.loads(document)
