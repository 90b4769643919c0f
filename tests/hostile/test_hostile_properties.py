"""The standing hostile-input suite: any input to a parser or a command gives a result or a plain error.

A fixed example budget per property (`BUDGET`) keeps the whole file to a few seconds; hypothesis
remembers failing examples between runs, and every case the fault run found is a regression test
in the other files of tests/hostile/.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threer.errors import BadInput, ThreerError
from threer.safe_text import UNSAFE

BUDGET = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)

# text a hostile source sends: controls, bidi, brackets, quotes, URL and YAML syntax, bytes that are not UTF-8
HOSTILE_CHARS = st.sampled_from(list("\x00\x07\x1b\x7f\x9b\u202e\u200b\ufeff\udcff[]{}<>&*!|:=\"'#%@/\\.-\n\t ")
                                + ["http://", "https://[", "]", "javascript:", "&a", "*a", "- ", "---\n", "a", "é"])
HOSTILE_TEXT = st.lists(HOSTILE_CHARS, max_size=40).map("".join) | st.text(max_size=60)


@BUDGET
@given(HOSTILE_TEXT)
def test_domains(text):
    from threer.domain import DomainError, normalise_domain

    try:
        result = normalise_domain(text)
    except DomainError:
        return
    assert result.domain.isascii() and "." in result.domain


@BUDGET
@given(HOSTILE_TEXT, st.sampled_from([".json", ".yaml", ".toml", ".txt"]))
def test_answers_files(tmp_path_factory, text, suffix):
    from threer.triage.answers_file import load_answers_file

    path = tmp_path_factory.mktemp("answers") / f"a{suffix}"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    try:
        assert isinstance(load_answers_file(path), dict)
    except BadInput:
        pass


@BUDGET
@given(HOSTILE_TEXT)
def test_config_files(tmp_path_factory, text):
    from threer.config import load_config

    path = tmp_path_factory.mktemp("config") / "config.toml"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    try:
        load_config(path)
    except BadInput:
        pass


@BUDGET
@given(HOSTILE_TEXT)
def test_domain_lists(tmp_path_factory, text):
    from threer.cli.check_dns import collect_domains

    path = tmp_path_factory.mktemp("from") / "list.txt"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    try:
        names, _notes = collect_domains([], str(path))
    except BadInput:
        return
    assert all(name.isascii() for name in names)


@BUDGET
@given(st.binary(max_size=300) | HOSTILE_TEXT.map(lambda t: t.encode("utf-8", "surrogateescape")),
       st.sampled_from(["markdown", "html", "text"]))
def test_kb_files(data, kind):
    from threer.kb.ingest import IngestError, parse_bytes

    try:
        parsed = parse_bytes(data, kind, "article.md")
    except IngestError:
        return
    assert isinstance(parsed.title, str)


@pytest.fixture(scope="module")
def kb_store(tmp_path_factory):
    from threer.store import Store

    with Store(tmp_path_factory.mktemp("kb") / "threer.db") as store:
        yield store


@BUDGET
@given(HOSTILE_TEXT)
def test_queries(kb_store, text):
    from threer.kb.search import search

    try:
        search(kb_store, text, limit=3)
    except ThreerError:
        pass


@BUDGET
@given(st.binary(max_size=400) | HOSTILE_TEXT.map(lambda t: t.encode("utf-8", "surrogateescape")),
       st.sampled_from(["application/xml", "text/html", "text/plain", "text/markdown", "application/octet-stream", ""]))
def test_http_bodies(data, media):
    import httpx

    from threer.kb.importer import _Failed, _Fetched, _parse_page, _sitemap

    fetched = _Fetched(httpx.URL("http://127.0.0.1/sitemap.xml"), media, None, data)
    try:
        _sitemap(fetched, 1_000_000)
        _parse_page(fetched)
    except _Failed:
        pass


COMMANDS = [
    ["check-dns", "--dns-only", "--timeout", "0.2", "--nameserver", "127.0.0.1:9"],
    ["kb", "search"],
    ["kb", "show"],
    ["sessions", "show"],
    ["ticket"],
]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.sampled_from(COMMANDS), st.lists(HOSTILE_TEXT.filter(lambda t: not t.startswith("-")), min_size=1, max_size=2))
def test_cli_entry_points(invoke, command, args):
    result = invoke(*command, *args)
    assert result.exit_code in (0, 1, 2, 3), result.stderr
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr, result.stderr
    for output in (result.stdout, result.stderr):
        assert UNSAFE.search(output) is None, output


def test_json_documents_round_trip(invoke, tmp_path):
    # the one JSON writer keeps every character of outside text exact
    folder = tmp_path / "kb"
    folder.mkdir()
    title = "Outlook \x1b[2J \u202e \x9b \udcff"
    (folder / "a.md").write_bytes(f"# {title}\n\noutlook prompt\n".encode("utf-8", "surrogateescape"))
    invoke("kb", "index", str(folder))
    result = invoke("kb", "search", "outlook prompt", "--json")
    assert UNSAFE.search(result.stdout) is None
    assert json.loads(result.stdout)["results"]
    Path(tmp_path / "out.json").write_text(result.stdout, encoding="utf-8")
