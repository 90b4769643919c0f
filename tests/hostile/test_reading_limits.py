"""Limits while reading: devices, FIFOs, deep nesting, YAML aliases, URLs and file names as data.

Every case from the fault run that ended in exit 3 (or never ended) is here, and each must be a
plain message with exit 2 or a skipped item with a warning.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from threer.errors import BadInput
from threer.files import MAX_DEPTH, load_json, load_toml, load_yaml, read_user_text

NO_TRACE = ("Traceback", "unexpected error")


def plain_error(result, *words: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.startswith("Error: ")
    assert not any(w in result.stderr for w in NO_TRACE)
    for word in words:
        assert word in result.stderr


@pytest.mark.parametrize("args", [
    ("check-dns", "--from", "/dev/zero"),
    ("triage", "--no-input", "--answers", "/dev/zero"),
    ("check-dns", "--profile", "/dev/zero", "contoso.test"),
])
def test_dev_zero_is_refused_at_once(invoke, args):
    started = time.monotonic()
    result = invoke(*args)
    plain_error(result, "device")
    assert time.monotonic() - started < 10  # not after reading gigabytes


def test_dev_zero_as_the_config(invoke):
    plain_error(invoke("config", "show", env={"THREER_CONFIG": "/dev/zero"}), "device")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_without_a_writer_does_not_hang(invoke, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = invoke("check-dns", "--from", str(fifo))
    assert result.exit_code == 2  # read as empty: "no domain to check"


def test_the_cap_stops_the_read(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * 2_000)
    with pytest.raises(BadInput, match="over 1 KB"):
        read_user_text(big, "domain list", fix="split it", max_bytes=1_000)


@pytest.mark.parametrize("name,text", [
    ("deep.json", "[" * 5000 + "]" * 5000),
    ("deep.toml", "a = " + "[" * 5000 + "]" * 5000),
    ("deep.yaml", "[" * 5000 + "]" * 5000),
    ("deep-block.yaml", "".join(" " * i + "- \n" for i in range(1000))),
    ("inline.toml", "a = " + "{b = " * 3000 + "1" + "}" * 3000),
])
def test_deep_nesting_in_answers_files_is_a_plain_error(invoke, tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    plain_error(invoke("triage", "--no-input", "--answers", str(path)), f"nested deeper than {MAX_DEPTH} levels")


def test_deep_nesting_in_the_config(invoke, threer_env):
    threer_env.config_path.parent.mkdir(parents=True, exist_ok=True)
    threer_env.config_path.write_text("kb_folders = " + "[" * 5000 + "]" * 5000, encoding="utf-8")
    plain_error(invoke("config", "show"), "nested deeper")


def test_a_yaml_alias_bomb_is_refused_quickly(invoke, tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        lines.append(f"{chr(97 + level)}: &{chr(97 + level)} [" + ", ".join([f"*{chr(96 + level)}"] * 9) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    started = time.monotonic()
    plain_error(invoke("triage", "--no-input", "--answers", str(path)), "not valid YAML")
    assert time.monotonic() - started < 10


def test_loaders_keep_ordinary_documents():
    assert load_json('{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    assert load_toml("[a]\nb = [1, 2]\n") == {"a": {"b": [1, 2]}}
    assert load_yaml("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}
    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert load_json(nested) is not None  # just inside the limit


@pytest.mark.parametrize("bad", ["http://]", "https://[x]/", "http://[::1", "https://[x]:99/owa"])
def test_broken_urls_as_domains(invoke, tmp_path, bad):
    plain_error(invoke("check-dns", bad), "No domain found")
    listing = tmp_path / "list.txt"
    listing.write_text(f"contoso.test\n{bad}\n", encoding="utf-8")
    plain_error(invoke("check-dns", "--from", str(listing)), "line 2")
    answers = tmp_path / "a.json"
    answers.write_text(json.dumps({"intake.customer": {"name": "X", "domain": bad}}), encoding="utf-8")
    plain_error(invoke("triage", "--no-input", "--answers", str(answers)))


@pytest.mark.parametrize("bad", ["http://]", "https://[x]/"])
def test_broken_urls_as_customer_domain(invoke, bad):
    plain_error(invoke("triage", "--no-input", "--customer-domain", bad))


@pytest.mark.parametrize("args", [
    ("kb", "show", "\udcff"),
    ("sessions", "show", "\udcff"),
    ("sessions", "delete", "\udcff", "--yes"),
    ("ticket", "\udcff"),
])
def test_arguments_that_are_not_utf8(invoke, args, threer_env):
    from threer.store import Store

    Store(threer_env.db_path).close()
    result = invoke(*args)
    plain_error(result, "\\xff")


def test_a_100_kb_id_is_not_echoed_whole(invoke):
    result = invoke("kb", "show", "a" * 100_000)
    plain_error(result)
    assert len(result.stderr) < 400


def test_a_file_name_that_is_not_utf8_is_skipped_with_a_warning(invoke, tmp_path):
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\n\nOutlook password prompt\n", encoding="utf-8")
    os.mkdir(os.path.join(os.fsencode(folder), b"sub\xff"))
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.md"), "w", encoding="utf-8") as fh:
        fh.write("# Cafe\n\ntext\n")
    result = invoke("kb", "index", str(folder))
    assert result.exit_code == 0, result.stderr
    assert "caf\\xe9.md: its name is not UTF-8" in result.stderr and "sub\\xff" in result.stderr
    named = invoke("kb", "index", os.fsdecode(os.path.join(os.fsencode(folder), b"caf\xe9.md")))
    plain_error(named, "caf\\xe9.md", "not UTF-8")


def test_business_hours_start_as_a_number(invoke, threer_env):
    threer_env.config_path.parent.mkdir(parents=True, exist_ok=True)
    threer_env.config_path.write_text("[business_hours]\nstart = 9\n", encoding="utf-8")
    plain_error(invoke("config", "show"), "business_hours.start", '"09:00"')
    threer_env.config_path.write_text('[business_hours]\nstart = "09:00Z"\n', encoding="utf-8")
    plain_error(invoke("config", "show"), "without a zone")


def test_a_line_of_50000_quote_marks_indexes_quickly(tmp_path):
    from threer.kb.ingest import parse_markdown

    started = time.monotonic()
    parsed = parse_markdown(">" * 50_000 + " quoted\n\n" + "# " * 20_000 + "x\n", "deep.md")
    assert time.monotonic() - started < 5  # was 35 s: the heading patterns backtracked quadratically
    assert parsed.title


def test_headings_are_still_found():
    from threer.kb.ingest import parse_markdown

    assert parse_markdown("# Outlook asks again #\n\ntext", "x.md").title == "Outlook asks again"
    assert parse_markdown("intro\n\n## C# tips\n", "x.md").title == "C# tips"
    assert parse_markdown("Setext title\n=====\n\nbody", "x.md").title == "Setext title"
    assert parse_markdown("#hashtag only\n", "x-name.md").title != "hashtag only"
