"""`threer analyze FILE|-`: the human report and the --json contract (docs/reference/json.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path

SAMPLES = Path(__file__).parent / "samples"

CONTRACT = {
    "version": int, "kind": str, "status": (str, type(None)), "permanent": (bool, type(None)), "recipients": list,
    "reporting_mta": (str, type(None)), "remote_mta": (str, type(None)), "diagnostic": (str, type(None)),
    "hops": list, "auth": list, "dkim": list, "sending_ip": (str, type(None)), "queries": list, "codes": list,
    "unreadable": list, "per_recipient": list,
}


def test_json_contract_for_every_sample(invoke) -> None:
    for sample in sorted(SAMPLES.iterdir()):
        result = invoke("analyze", str(sample), "--json")
        assert result.exit_code == 0, sample
        doc = json.loads(result.stdout)
        for key, kind in CONTRACT.items():
            assert isinstance(doc[key], kind), (sample.name, key)
        assert doc["version"] == 1
        assert doc["kind"] in {"bounce", "headers", "text"}
        for hop in doc["hops"]:
            assert set(hop) >= {"from", "by", "at", "delay_s"}
            assert hop["delay_s"] is None or isinstance(hop["delay_s"], int)
        for verdict in doc["auth"]:
            assert set(verdict) >= {"method", "result", "domain"}
        for sig in doc["dkim"]:
            assert set(sig) == {"d", "s"}
        assert result.stderr == ""


def test_stdin_text_that_is_neither_gives_kind_text_with_its_codes(invoke) -> None:
    result = invoke("analyze", "-", "--json", input="The customer sees 0x8004010F and then 5.7.708 in OWA.\n")
    doc = json.loads(result.stdout)
    assert (doc["kind"], doc["codes"], doc["status"], doc["recipients"]) == ("text", ["0x8004010F", "5.7.708"], None, [])


def test_human_report_of_a_bounce(invoke) -> None:
    result = invoke("analyze", str(SAMPLES / "postfix.txt"), env={"COLUMNS": "80"})
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith("Bounce (Postfix) · permanent failure\n")
    assert "5.7.1: a permanent failure" in out
    assert "554 5.7.1 <accounts@tailspin.example>: Relay access denied" in " ".join(out.split())
    assert "Search with: 554 5.7.1 · 5.7.1 · Relay access denied" in out
    assert all(len(line) <= 80 for line in out.splitlines())


def test_human_report_of_headers_keeps_host_names_whole_at_80_columns(invoke) -> None:
    out = invoke("analyze", str(SAMPLES / "headers-to-m365.txt"), env={"COLUMNS": "80"}).stdout
    assert "    by   AM6PEPF00004E19.mail.protection.outlook.com\n" in out
    assert "+2 h 35 min" in out
    assert "198.51.100.201" in out


def test_pasted_markup_and_escapes_are_printed_as_text(invoke, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"This is the mail system at host [bold]x[/].\n\n<u@b.example>: host mx[198.51.100.1] said: "
                    b"550 5.1.1 \x1b[2J[link=file:///etc]boom[/link]\n")
    result = invoke("analyze", str(bad))
    assert result.exit_code == 0
    assert "[bold]x[/]" in result.stdout and "[link=file:///etc]boom[/link]" in result.stdout
    assert "\x1b" not in result.stdout


def test_binary_file_gives_a_result_and_says_what_was_not_read(invoke, tmp_path: Path) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)) * 50)
    result = invoke("analyze", str(blob))
    assert result.exit_code == 0
    assert "Not read: " in result.stdout and "binary data was skipped" in result.stdout


def test_missing_file_and_folder_are_bad_input(invoke, tmp_path: Path) -> None:
    result = invoke("analyze", str(tmp_path / "nope.eml"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr
    result = invoke("analyze", str(tmp_path))
    assert result.exit_code == 2 and "is a folder" in result.stderr


HOSTILE = "fixed \x1b[2J\x1b]0;pwn\x07 \x9b31m \u202eevil \u200b\u2066x\x7f"


def test_no_control_or_bidi_character_reaches_the_terminal_or_the_json(invoke, tmp_path: Path) -> None:
    from threer.safe_text import UNSAFE

    bounce = tmp_path / "hostile.txt"
    bounce.write_text("This is the mail system at host mx.a.example.\n\n<u@b.example>: host mx.b.example[198.51.100.1] "
                      f"said: 550 5.1.1 {HOSTILE}\n", encoding="utf-8")
    for args in ([], ["--json"]):
        result = invoke("analyze", str(bounce), *args)
        assert result.exit_code == 0
        assert UNSAFE.search(result.stdout) is None, result.stdout
        assert "evil" in result.stdout
    assert "evil" in json.loads(invoke("analyze", str(bounce), "--json").stdout)["diagnostic"]


def test_a_huge_file_says_how_much_of_its_real_size_was_read(invoke, tmp_path: Path) -> None:
    big = tmp_path / "random.bin"
    big.write_bytes(os.urandom(30_000_000))  # 30 MB: more than stdin is counted to, and than was once read
    result = invoke("analyze", str(big), "--json")
    assert result.exit_code == 0
    assert "only the first 1000 kB of 30000 kB were read" in json.loads(result.stdout)["unreadable"]


def test_huge_stdin_is_counted_up_to_a_cap(invoke) -> None:
    small = invoke("analyze", "-", "--json", input="x" * 3_000_000)
    assert "only the first 1000 kB of 3000 kB were read" in json.loads(small.stdout)["unreadable"]
    huge = invoke("analyze", "-", "--json", input="x" * 25_000_000)
    assert "only the first 1000 kB of over 20000 kB were read" in json.loads(huge.stdout)["unreadable"]


def test_a_report_with_two_recipients_shows_each_worst_first(invoke) -> None:
    out = invoke("analyze", str(SAMPLES / "dsn-two-recipients.dsn"), env={"COLUMNS": "100"}).stdout
    assert out.startswith("Bounce (a standard delivery report (RFC 3464)) · permanent failure\n")
    each = out[out.index("Each recipient"):]
    assert each.index("billing@northwind-freight.example: 5.7.1 · permanent failure · Action: failed") < each.index(
        "ops@northwind-freight.example: 4.4.1 · delayed, still being tried · Action: delayed")
    assert "550 5.7.1 message rejected by content filter" in each


def test_a_4xx_given_up_on_reads_as_failed_not_temporary(invoke) -> None:
    for name in ("postfix-returned-4xx.eml", "exchange-expired.txt"):
        result = invoke("analyze", str(SAMPLES / name), env={"COLUMNS": "100"})
        assert "· failed after retrying (given up)\n" in result.stdout.split("\n", 1)[0] + "\n", name
        assert "keeps trying" not in result.stdout
        assert json.loads(invoke("analyze", str(SAMPLES / name), "--json").stdout)["permanent"] is True


def test_a_bounce_forwarded_as_an_attachment_is_read_and_said_so(invoke) -> None:
    result = invoke("analyze", str(SAMPLES / "forwarded-as-attachment.eml"), env={"COLUMNS": "120"})
    assert result.stdout.startswith("Bounce (Exchange Online / Microsoft 365) · permanent failure\n")
    assert "read from    the attached message (a bounce forwarded as an attachment)" in result.stdout
    assert "billing@harbour-bakery.example" in result.stdout and "damaged" not in result.stdout
