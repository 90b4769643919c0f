"""Anything pasted is data: huge, binary, hostile or malformed input gives a partial result that
says what could not be read, and never an exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threer.analyze import _analyze, analyze
from threer.analyze.models import Analysis

SAMPLES = Path(__file__).parent / "samples"
PIECES = [
    "Received: ", "from ", " by ", "(", ")", "[", "]", ";", "Authentication-Results: ", "spf=", "dkim=", "=",
    "DKIM-Signature: ", "d=", "s=", "Return-Path: <>", "From: ", "<", ">", "@", "Date: ", "Status: 5.", "4.",
    "Final-Recipient: rfc822;", "Action: failed", "Diagnostic-Code: smtp;", "Content-Type: multipart/report; boundary=",
    "--", "\n", "\n ", "\t", "550 ", "5.7.1", "This is the mail system at host ", "Remote server returned '",
    "Hi. This is the qmail-send program at ", "-----  The following addresses had", "\"", "\\", "\x00", "\x1b[31m",
    "\u202e", "\ud7ff", "é", "0x800CCC0E", "Content-Transfer-Encoding: base64\n\n", "=?utf-8?b?", "?=",
]


def _check(result: Analysis) -> None:
    assert result.kind in {"bounce", "headers", "text"}
    doc = result.to_json()
    assert set(doc) >= {"kind", "status", "permanent", "recipients", "reporting_mta", "remote_mta", "diagnostic",
                        "hops", "auth", "dkim", "sending_ip", "queries"}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES) | st.text(max_size=12), max_size=60).map("".join))
def test_any_mix_of_mail_syntax_is_read_without_an_exception(text: str) -> None:
    _check(_analyze(text))  # the inner reader, without analyze()'s last-resort guard


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_are_read_without_an_exception(data: bytes) -> None:
    _check(_analyze(data))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(p.name for p in SAMPLES.iterdir())), st.integers(0, 4000), st.binary(max_size=40))
def test_a_damaged_sample_still_gives_a_result(name: str, at: int, junk: bytes) -> None:
    data = (SAMPLES / name).read_bytes()
    _check(_analyze(data[:at] + junk + data[at:]))
    _check(_analyze(data[:at]))  # cut short


def test_huge_input_is_read_in_part_and_says_so() -> None:
    data = (SAMPLES / "postfix.txt").read_bytes() + b"x" * 3_000_000
    result = _analyze(data)
    assert result.status == "5.7.1"
    assert any("only the first 1000 kB" in note for note in result.unreadable)


def test_binary_is_said() -> None:
    result = _analyze(bytes(range(256)) * 100)
    assert result.kind == "text"
    assert "binary data was skipped" in result.unreadable


def test_latin1_bytes_are_read_as_best_they_can_be() -> None:
    data = "This is the mail system at host a.example.\n\n<jos\xe9@b.example>: host mx.b.example[198.51.100.1] said: 550 5.1.1 inconnu\n".encode("latin-1")
    result = _analyze(data)
    assert result.status == "5.1.1"
    assert result.recipients == ["jos\xe9@b.example"] and result.diagnostic == "550 5.1.1 inconnu"
    assert any("not UTF-8" in note for note in result.unreadable)


_EXIM_DE = """This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  jens.maier@g\xe4rtnerei.example
    host mx.gaertnerei.example [198.51.100.62]
    SMTP error from remote mail server after RCPT TO:<jens.maier@g\xe4rtnerei.example>:
    550 5.7.1 Nachricht abgelehnt: Absender \u201eNewsletter\u201c gesperrt \u2013 bitte Postmaster fragen
"""


def test_a_few_8bit_bytes_without_a_charset_keep_every_detail() -> None:
    # Windows-1252 text: four bytes that are not UTF-8 in a bounce otherwise ASCII
    result = _analyze(_EXIM_DE.encode("cp1252"))
    assert result.recipients == ["jens.maier@g\xe4rtnerei.example"]
    assert result.diagnostic == ("550 5.7.1 Nachricht abgelehnt: Absender \u201eNewsletter\u201c gesperrt \u2013 "
                                 "bitte Postmaster fragen")
    assert result.unreadable == ["some bytes were not UTF-8 and were read as Windows-1252"]
    # the same mixed with UTF-8 (a forward that added UTF-8 text above it): both read
    mixed = "Weitergeleitet von J\xfcrgen:\n\n".encode() + _EXIM_DE.encode("cp1252")
    assert _analyze(mixed).recipients == ["jens.maier@g\xe4rtnerei.example"]


@pytest.mark.parametrize("encoding", ["quoted-printable", "base64", "8bit"])
def test_a_mime_part_without_a_declared_charset_is_read_whole(encoding: str) -> None:
    import base64
    import quopri

    body = _EXIM_DE.encode("latin-1", "replace").replace(b"?", b'"')
    encoded = {"quoted-printable": quopri.encodestring(body), "base64": base64.encodebytes(body), "8bit": body}[encoding]
    data = (b"From: Mail Delivery System <Mailer-Daemon@mail.contoso.example>\nSubject: Mail delivery failed\n"
            b"MIME-Version: 1.0\nContent-Type: text/plain\nContent-Transfer-Encoding: " + encoding.encode()
            + b"\n\n" + encoded)
    result = _analyze(data)
    assert result.recipients == ["jens.maier@g\xe4rtnerei.example"]
    assert result.diagnostic is not None and "\ufffd" not in result.diagnostic
    assert result.diagnostic.startswith("550 5.7.1 Nachricht abgelehnt: Absender")
    assert len(result.unreadable) == 1 and "Windows-1252" in result.unreadable[0]


def test_a_declared_charset_is_used() -> None:
    import base64

    body = "Delivery to the following recipient failed permanently:\n\n     ma\u0142gorzata@sklep.example\n\n" \
           "The response from the remote server was:\n550 5.1.1 Skrzynka nie istnieje (\u017c\u0105danie odrzucone)\n"
    data = ("MIME-Version: 1.0\nSubject: Delivery Status Notification (Failure)\n"
            "Content-Type: text/plain; charset=iso-8859-2\nContent-Transfer-Encoding: base64\n\n"
            + base64.encodebytes(body.encode("iso-8859-2")).decode())
    result = _analyze(data)
    assert result.diagnostic == "550 5.1.1 Skrzynka nie istnieje (\u017c\u0105danie odrzucone)"
    assert result.unreadable == []


def test_escape_sequences_never_reach_the_result() -> None:
    text = "Received: from a.example ([198.51.100.9]) by \x1b]0;owned\x07b.example; Tue, 1 Dec 2026 10:00:00 +0000\nFrom: x@a.example\n"
    doc = str(_analyze(text).to_json())
    assert "\x1b" not in doc and "\x07" not in doc


def test_thousands_of_received_headers_are_capped() -> None:
    text = "".join(f"Received: from h{i}.example ([198.51.100.{i % 250}]) by h{i + 1}.example; Tue, 1 Dec 2026 10:00:00 +0000\n"
                   for i in range(5000)) + "From: a@b.example\n"
    result = _analyze(text)
    assert len(result.hops) == 100
    assert any("only the newest 100 of 5000" in note for note in result.unreadable)


def test_deeply_nested_mime_is_cut_not_crashed() -> None:
    parts = "".join(f"Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n" for i in range(40))
    result = analyze("MIME-Version: 1.0\n" + parts + "Content-Type: text/plain\n\n550 5.1.1 user unknown\n")
    _check(result)
    assert "550" in result.codes or result.unreadable


def test_malformed_dates_and_addresses_give_partial_results() -> None:
    text = ("Received: from a ([999.1.1.1]) by b; not a date\nReceived: from c by d; Tue, 99 Foo 2026 99:99 +9999\n"
            "Return-Path: <<<@@>\nFrom: \"unterminated <x@\nDate: yesterday\n")
    result = _analyze(text)
    assert result.kind == "headers"
    assert [h.at for h in result.hops] == [None, None]
    assert any("no readable date" in n for n in result.unreadable)
    assert any("Date header" in n for n in result.unreadable)
