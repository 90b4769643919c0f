"""Ingest: each format, titles and ids, and every kind of bad file (skipped with a reason)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threer.kb.analysis import markdown_to_text, terms
from threer.kb.index import index_paths
from threer.kb.ingest import MAX_FILE_BYTES, IngestError, parse_bytes, parse_html, parse_markdown, parse_text
from threer.store import Store

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "kb.db") as s:
        yield s


def _row(store: Store, doc_id: str):
    return store.conn.execute("SELECT * FROM kb_documents WHERE doc_id = ?", (doc_id,)).fetchone()


def test_markdown_front_matter():
    doc = parse_markdown("---\nid: kb-1\ntitle: Outlook asks again\ntags: [outlook, sign-in]\n---\n\n# Heading\n\nBody text.\n", "x.md")
    assert (doc.doc_id, doc.title, doc.tags) == ("kb-1", "Outlook asks again", ["outlook", "sign-in"])
    assert doc.body.startswith("# Heading")
    assert "Body text." in doc.text and "#" not in doc.text


def test_markdown_tags_as_text_and_numbers():
    doc = parse_markdown("---\nid: 42\ntags: dns, mx ,  spf\n---\nText", "n.md")
    assert doc.doc_id == "42" and doc.tags == ["dns", "mx", "spf"] and doc.title == "N"


def test_markdown_without_front_matter_titled_by_heading_or_name():
    assert parse_markdown("Intro line\n\n## Android phone stops *syncing*\n\ntext", "a.md").title == "Android phone stops syncing"
    assert parse_markdown("Setext title\n============\n\ntext", "a.md").title == "Setext title"
    assert parse_markdown("just words", "mailbox_size-notes.md").title == "Mailbox size notes"


@pytest.mark.parametrize(
    "text",
    [
        "---\ntitle: [unclosed\n---\nbody",
        "---\n- a\n- list\n---\nbody",
        "---\ntitle: x\nbody without an end",
        "---\n\tbad: tab\n---\n",
    ],
)
def test_broken_front_matter_is_indexed_with_its_first_heading_and_a_warning(text):
    doc = parse_markdown(text + "\n\n# Mail stops on the VPN\n\nReconnect first.", "bad.md")
    assert doc.title == "Mail stops on the VPN" and "Reconnect first." in doc.text
    assert doc.doc_id is None and doc.tags == []
    assert len(doc.warnings) == 1 and "front matter" in doc.warnings[0] and "first heading" in doc.warnings[0]


def _billion_laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        prev, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{name}: &{name} [" + ",".join(f"*{prev}" for _ in range(9)) + "]")
    return "---\ntitle: laughs\n" + "\n".join(lines) + "\ntags: *i\n---\n# Laughs\n\nbody"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (_billion_laughs(), "aliases"),
        ("---\ntitle: big\nnotes: '" + "x" * (70 * 1024) + "'\n---\n# Big\n", "larger than 64 kB"),
        ("---\ntitle: deep\nx: " + "[" * 5000 + "]" * 5000 + "\n---\n# Deep\n", "nests deeper"),
    ],
)
def test_hostile_front_matter_is_refused_at_once(text, reason):
    import time

    started = time.perf_counter()
    with pytest.raises(IngestError, match=reason):
        parse_markdown(text, "hostile.md")
    assert time.perf_counter() - started < 1.0  # refused before anything expands


def test_hostile_front_matter_is_skipped_and_the_rest_of_the_folder_indexes(store, tmp_path):
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "bomb.md").write_text(_billion_laughs(), encoding="utf-8")
    (folder / "broken.md").write_text("---\ntitle: [oops\n---\n# Scanner relay\n\n550 5.7.1 from the copier", encoding="utf-8")
    (folder / "good.md").write_text("---\nid: good\n---\n# Good\n\nfine", encoding="utf-8")
    report = index_paths(store, [folder])
    assert report.added == 2
    assert [Path(s.path).name for s in report.skipped] == ["bomb.md"] and "aliases" in report.skipped[0].reason
    assert [Path(w.path).name for w in report.warnings] == ["broken.md"]
    assert _row(store, "broken")["title"] == "Scanner relay"


def test_html_keeps_title_headings_text_and_drops_chrome():
    doc = parse_bytes((CORPUS / "support-page.html").read_bytes(), "html", "support-page.html")
    assert doc.title == "Resetting a mailbox password"
    assert doc.tags == ["password", "reset", "webmail"]
    assert "## After the reset" in doc.body and "- Update the password" in doc.body
    assert "Control Panel & then" in doc.text and "Credential Manager" in doc.text
    for word in ("scriptonlytoken", "styleonlytoken", "navonlytoken", "headeronlytoken", "footeronlytoken"):
        assert word not in doc.text


def test_html_without_main_and_with_title_only():
    html = "<html><head><title>Page &amp; title</title></head><body><p>One<br>two<p>three</body></html>"
    doc = parse_html(html, "p.html")
    assert doc.title == "Page & title"
    assert doc.body.split("\n\n") == ["One", "two", "three"]


def test_html_article_header_is_kept_and_pre_is_fenced():
    html = "<header>site</header><article><header><h1>Real title</h1></header><pre>line 1\n  line 2</pre></article>"
    doc = parse_html(html, "p.html")
    assert doc.title == "Real title"
    assert "```\nline 1\n  line 2\n```" in doc.body
    assert "site" not in doc.text


def test_plain_text_titled_by_first_line():
    doc = parse_text("\n\nMX changes and TTL\n\nbody", "x.txt")
    assert doc.title == "MX changes and TTL" and doc.format == "text"
    assert parse_text("x" * 300, "long-line.txt").title == "Long line"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"caf\xe9 cr\xe8me", "not UTF-8"),
        (b"x" * (MAX_FILE_BYTES + 1), "larger than 5 MB"),
    ],
)
def test_bad_bytes(data, reason):
    with pytest.raises(IngestError, match=reason):
        parse_bytes(data, "text", "f.txt")


def test_bom_and_utf16_are_read():
    assert parse_bytes(b"\xef\xbb\xbfHello", "text", "f.txt").title == "Hello"
    assert parse_bytes("Grüße".encode("utf-16"), "text", "f.txt").title == "Grüße"


def test_markdown_to_text_strips_markup():
    md = "# Title\n\nSee [the guide](https://x.example/a) and ![logo](l.png).\n\n- **bold** item\n\n```\ncode 5.7.1\n```\n| a | b |\n|---|---|\n"
    text = markdown_to_text(md)
    assert "the guide" in text and "https" not in text and "logo" in text
    assert "**" not in text and "code 5.7.1" in text and "```" not in text and "---" not in text


def test_index_corpus_every_format(store):
    report = index_paths(store, [p for p in CORPUS.iterdir() if p.name != "README.md"])
    assert report.skipped == [] and report.added == 14
    assert _row(store, "corpus-operators")["title"] == "Rule conditions: AND, OR and NOT"
    assert _row(store, "android-sync")["title"] == "Android phone stops syncing"
    assert _row(store, "mailbox_size_notes")["title"] == "Mailbox size notes"
    assert _row(store, "mx-ttl-notes")["format"] == "text"
    assert _row(store, "support-page")["title"] == "Resetting a mailbox password"


def test_bad_files_are_skipped_with_their_names_and_the_rest_index(store, tmp_path):
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "good.md").write_text("---\nid: good\n---\n# Good\n\nfine", encoding="utf-8")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    (folder / "latin1.md").write_bytes(b"caf\xe9")
    (folder / "broken.md").write_text("---\ntitle: [oops\n---\nbody", encoding="utf-8")
    (folder / "huge.txt").write_bytes(b"a " * (MAX_FILE_BYTES // 2 + 10))
    (folder / "image.png").write_bytes(b"\x89PNG")  # not an article type: ignored, not skipped
    (folder / ".hidden.md").write_text("# hidden", encoding="utf-8")
    report = index_paths(store, [folder])
    assert report.added == 2  # good.md, and broken.md with a warning
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {"binary.txt", "latin1.md", "huge.txt"}
    assert "binary" in reasons["binary.txt"] and "UTF-8" in reasons["latin1.md"] and "5 MB" in reasons["huge.txt"]
    assert [Path(w.path).name for w in report.warnings] == ["broken.md"]


def test_explicit_file_of_any_suffix_is_read_as_text(store, tmp_path):
    path = tmp_path / "notes.log"
    path.write_text("Greylisting notes\n\nretry later", encoding="utf-8")
    report = index_paths(store, [path])
    assert report.added == 1 and _row(store, "notes")["title"] == "Greylisting notes"


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_in_every_format(text):
    for parse in (parse_markdown, parse_html, parse_text):
        try:
            doc = parse(text, "any.md")
        except IngestError:
            continue
        assert isinstance(doc.title, str) and doc.title
        terms(doc.text)


_FM_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=30)
_FM_VALUE = st.one_of(
    _FM_TEXT,
    _FM_TEXT.map(lambda t: f'"{t}"'),
    _FM_TEXT.map(lambda t: f"'{t}'"),
    st.sampled_from(["yes", "No", "null", "~", "0x10", "1.5", "2026-01-02", "2026-02-30", "2026-01-02 10:30:00",
                     "1_000", "0o17", ".inf", "-.5e3", "+12", "NULL", "Off", "5.7.1", "a: b", "x #c", "'q'", "[a, b]",
                     "[a, 1, yes]", "[]", "[a,, b]", "[a: b]", "http://x.example/a", "C++", "-x", "?", "é", '"a: b"',
                     '"it\'s"', "'it''s'", '"tab\\t"', '"x" # c', "''", '""', '"yes"', "'5.7.1'"]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["id", "title", "tags", "yes", "x-y", "1"]), _FM_VALUE), max_size=4))
def test_fast_front_matter_reader_agrees_with_yaml(lines):
    import yaml

    from threer.kb.ingest import _simple_yaml

    raw = "\n".join(f"{key}: {value}" for key, value in lines)
    fast = _simple_yaml(raw)
    if fast is None:
        return  # left to YAML
    assert fast == (yaml.safe_load(raw) or {})


def test_an_id_or_tags_of_the_wrong_shape_are_said_not_dropped_or_shown_as_python():
    doc = parse_markdown("---\nid: [1, 2]\ntitle: Odd\ntags: [vpn, [outlook, mac], {d: e}, 7]\n---\n# Odd\nText.\n",
                         "odd.md")
    assert doc.doc_id is None  # the file's path gives its id
    assert doc.tags == ["vpn", "outlook", "mac", "7"]  # nested lists read as tags; a table is no tag
    assert "its id is a list or a table, not one text; the file's path is its id" in doc.warnings
    assert any("`key: value` table, which is no tag" in w for w in doc.warnings)
    assert not any("{" in t or "[" in t for t in doc.tags)


@pytest.mark.parametrize("meta, body, text", [
    (b'<meta charset="windows-1252">', "Caf\u00e9 \u2013 r\u00e9sum\u00e9".encode("cp1252"), "Caf\u00e9 \u2013 r\u00e9sum\u00e9"),
    (b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-2">', "\u0141\u00f3d\u017a".encode("iso-8859-2"),
     "\u0141\u00f3d\u017a"),
    (b'<meta charset="utf-16">', "na\u00efve".encode("utf-8"), "na\u00efve"),  # an ASCII-based page is not UTF-16
    (b'<meta charset="no-such-charset">', "na\u00efve".encode("utf-8"), "na\u00efve"),
])
def test_an_html_file_is_read_in_the_charset_its_meta_declares(tmp_path, store, meta, body, text):
    """A saved page from an older help centre says its own charset; it was skipped as 'not UTF-8'."""
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "page.html").write_bytes(b"<html><head>" + meta + b"<title>Page</title></head><body><p>" + body
                                       + b"</p></body></html>")
    report = index_paths(store, [folder])
    assert report.added == 1 and not report.skipped
    assert text in _row(store, "page")["body"]


def test_an_html_file_that_its_declared_charset_cannot_decode_is_skipped_with_it_named(tmp_path, store):
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "page.html").write_bytes(b'<meta charset="windows-1252"><p>\x81\x8d</p>')
    report = index_paths(store, [folder])
    assert report.added == 0 and "cannot be decoded as windows-1252" in report.skipped[0].reason
