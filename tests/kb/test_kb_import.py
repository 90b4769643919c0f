"""`kb import` against real local HTTP servers: pages, sitemaps, 404, timeout, huge pages, redirects."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Response

from threer.errors import BadInput
from threer.kb.importer import import_url
from threer.kb.search import search
from threer.store import Store

PAGE = """<html><head><title>{title} - Partner Help</title><meta name="keywords" content="{tags}"></head>
<body><nav>menu navonlytoken</nav><main><h1>{title}</h1><p>{text}</p></main><footer>footer</footer></body></html>"""


def page(title: str, text: str, tags: str = "outlook") -> str:
    return PAGE.format(title=title, text=text, tags=tags)


def sitemap(urls: list[str]) -> str:
    entries = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'


def _running(host: str):
    srv = HTTPServer(host=host, port=0, threaded=True)
    srv.start()
    yield srv
    srv.clear()
    if srv.is_running():
        srv.stop()


# Started once per module (stopping a server takes half a second), cleared after each test.
@pytest.fixture(scope="module")
def _site():
    yield from _running("127.0.0.1")


@pytest.fixture(scope="module")
def _other_site():
    yield from _running("localhost")


@pytest.fixture
def server(_site):
    yield _site
    _site.clear()


@pytest.fixture
def other_server(_other_site):
    """A second site: `localhost` is another host name than 127.0.0.1."""
    yield _other_site
    _other_site.clear()


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "kb.db") as s:
        s._kb_ready = True  # only imported pages in these searches
        yield s


def html(srv: HTTPServer, path: str, body: str) -> None:
    srv.expect_request(path).respond_with_data(body, content_type="text/html; charset=utf-8")


def test_one_page(server, store):
    html(server, "/kb/prompt", page("Outlook asks for a password", "Clear Credential Manager entries."))
    url = server.url_for("/kb/prompt")
    report = import_url(store, url)
    assert (report.pages, report.added, report.failed) == (1, 1, [])
    result = search(store, "credential manager")[0]
    assert result.title == "Outlook asks for a password" and result.path == url
    assert result.id == "web:127.0.0.1/kb/prompt"
    assert search(store, "navonlytoken") == []


def test_reimport_is_unchanged_then_updated(server, store):
    html(server, "/a", page("Alpha", "first text"))
    url = server.url_for("/a")
    import_url(store, url)
    assert import_url(store, url).unchanged == 1
    server.clear()
    html(server, "/a", page("Alpha", "second text with quokka"))
    assert import_url(store, url).updated == 1
    assert search(store, "quokka")[0].id == "web:127.0.0.1/a"


def test_sitemap_with_a_404_and_a_foreign_entry(server, store):
    html(server, "/one", page("DKIM selectors", "publish both selectors"))
    html(server, "/two", page("SPF include", "one include for the provider"))
    server.expect_request("/gone").respond_with_data("missing", status=404)
    urls = [server.url_for("/one"), server.url_for("/two"), server.url_for("/gone"), "http://elsewhere.invalid/x"]
    server.expect_request("/sitemap.xml").respond_with_data(sitemap(urls), content_type="application/xml")
    report = import_url(store, server.url_for("/sitemap.xml"), concurrency=2)
    assert (report.pages, report.added) == (4, 2)
    reasons = {f.url: f.reason for f in report.failed}
    assert "404" in reasons[server.url_for("/gone")]
    assert "another site" in reasons["http://elsewhere.invalid/x"]
    assert search(store, "selectors")[0].title == "DKIM selectors"


def test_sitemap_index_and_gzip(server, store):
    html(server, "/p1", page("Quota", "mailbox full"))
    html(server, "/p2", page("Rules", "server side rules"))
    server.expect_request("/s1.xml").respond_with_data(sitemap([server.url_for("/p1")]), content_type="text/xml")
    server.expect_request("/s2.xml.gz").respond_with_data(
        gzip.compress(sitemap([server.url_for("/p2")]).encode()), content_type="application/gzip"
    )
    index = (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{server.url_for('/s1.xml')}</loc></sitemap>"
        f"<sitemap><loc>{server.url_for('/s2.xml.gz')}</loc></sitemap></sitemapindex>"
    )
    server.expect_request("/sitemap_index.xml").respond_with_data(index, content_type="application/xml")
    report = import_url(store, server.url_for("/sitemap_index.xml"))
    assert (report.pages, report.added, report.failed) == (2, 2, [])


def test_timeout(server, store):
    def slow(_request):
        time.sleep(1.5)
        return Response(page("Slow", "late"), content_type="text/html")

    server.expect_request("/slow").respond_with_handler(slow)
    html(server, "/fast", page("Fast", "quick"))
    server.expect_request("/sitemap.xml").respond_with_data(
        sitemap([server.url_for("/slow"), server.url_for("/fast")]), content_type="application/xml"
    )
    started = time.monotonic()
    report = import_url(store, server.url_for("/sitemap.xml"), timeout=0.4)
    assert time.monotonic() - started < 1.4
    assert report.added == 1
    assert [f.url for f in report.failed] == [server.url_for("/slow")]
    assert "within 0.4 s" in report.failed[0].reason


def test_huge_pages_are_refused(server, store):
    big = "<p>" + "word " * (1_100_000) + "</p>"  # over 5 MB
    server.expect_request("/declared").respond_with_data(big, content_type="text/html")
    server.expect_request("/streamed").respond_with_response(
        Response((chunk for chunk in [big[:3_000_000], big[3_000_000:]]), content_type="text/html")
    )
    for path in ("/declared", "/streamed"):
        report = import_url(store, server.url_for(path))
        assert report.added == 0 and "larger than 5 MB" in report.failed[0].reason


def test_redirects_same_site_followed_other_site_failed(server, other_server, store):
    html(server, "/new-home", page("Moved article", "relocated content"))
    server.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/new-home"})
    html(other_server, "/theirs", page("Foreign", "not ours"))
    server.expect_request("/away").respond_with_data("", status=302, headers={"Location": other_server.url_for("/theirs")})
    moved = import_url(store, server.url_for("/old"))
    assert moved.added == 1 and search(store, "relocated")[0].path == server.url_for("/new-home")
    away = import_url(store, server.url_for("/away"))
    assert away.added == 0 and "redirects to another site (localhost)" in away.failed[0].reason
    assert other_server.log == []  # never fetched


def test_not_an_article(server, store):
    server.expect_request("/logo.png").respond_with_data(b"\x89PNG\r\n", content_type="image/png")
    report = import_url(store, server.url_for("/logo.png"))
    assert "not an article page" in report.failed[0].reason


def test_plain_text_and_markdown_pages(server, store):
    server.expect_request("/notes.txt").respond_with_data("Greylisting notes\n\nretry later", content_type="text/plain")
    server.expect_request("/a.md").respond_with_data("---\ntitle: MD page\n---\nbody words", content_type="text/markdown")
    assert import_url(store, server.url_for("/notes.txt")).added == 1
    assert import_url(store, server.url_for("/a.md")).added == 1
    assert search(store, "greylisting")[0].title == "Greylisting notes"


def test_unreachable_site(store):
    report = import_url(store, "http://127.0.0.1:9/kb", timeout=2)
    assert report.added == 0 and "cannot connect" in report.failed[0].reason


@pytest.mark.parametrize("url", ["", "support.example.net", "ftp://x.example/a", "http://", "javascript:alert(1)"])
def test_bad_urls_are_bad_input(store, url):
    with pytest.raises(BadInput, match="not a web address"):
        import_url(store, url)


def test_cli_import_summary_json_and_exit_codes(server, invoke):
    html(server, "/a", page("Autodiscover", "CNAME record for autodiscover"))
    result = invoke("kb", "import", server.url_for("/a"))
    assert result.exit_code == 0, result.stderr
    assert "1 added" in result.stdout
    again = invoke("kb", "import", server.url_for("/a"), "--json")
    data = json.loads(again.stdout)
    assert data["unchanged"] == 1 and data["failed"] == []
    found = json.loads(invoke("kb", "search", "autodiscover cname", "--json").stdout)["results"]
    assert server.url_for("/a") in [r["path"] for r in found[:3]]  # the page is searchable beside the sample KB
    server.expect_request("/gone").respond_with_data("no", status=404)
    missing = invoke("kb", "import", server.url_for("/gone"))
    assert missing.exit_code == 3 and "404" in missing.stderr and "Error:" in missing.stderr
    bad = invoke("kb", "import", "not a url")
    assert bad.exit_code == 2 and "not a web address" in bad.stderr


def test_kb_remove_takes_pages_out_and_refuses_what_it_cannot(server, invoke):
    # pages that left the site: one by id, then the rest of the site; a typo or an article removes nothing
    for path, title in (("/docs/vpn", "Outlook offline over the VPN"), ("/docs/printer", "Printer zorbulax jam"),
                        ("/faq", "Zorbulax questions")):
        server.expect_request(path).respond_with_data(page(title, f"{title} and the zorbulax gateway."),
                                                      content_type="text/html")
        assert invoke("kb", "import", server.url_for(path)).exit_code == 0

    def pages() -> set[str]:
        found = json.loads(invoke("kb", "search", "zorbulax", "--json", "--limit", "50").stdout)["results"]
        return {r["id"] for r in found if r["id"].startswith("web:")}

    assert pages() == {"web:127.0.0.1/docs/vpn", "web:127.0.0.1/docs/printer", "web:127.0.0.1/faq"}
    for refused, said, code in (
        (["web:127.0.0.1/docs/vpn", "web:127.0.0.1/docs/nope"], "No imported page has the id", 2),
        (["kb-0001-outlook-password-prompt"], "is not an imported page", 2),
        (["case:20240304-GLDN"], "threer sessions delete", 2),
    ):
        result = invoke("kb", "remove", *refused)
        assert result.exit_code == code and said in result.stderr, result.stderr
        assert len(pages()) == 3  # nothing was removed
    one = invoke("kb", "remove", "web:127.0.0.1/docs/vpn")
    assert one.exit_code == 0 and one.stdout == "Removed 1 imported page:\n  web:127.0.0.1/docs/vpn\n"
    assert pages() == {"web:127.0.0.1/docs/printer", "web:127.0.0.1/faq"}
    folder = invoke("kb", "remove", "web:127.0.0.1/docs/*", "--json")
    assert folder.exit_code == 0 and json.loads(folder.stdout) == {"version": 1, "removed": ["web:127.0.0.1/docs/printer"]}
    assert pages() == {"web:127.0.0.1/faq"}
    shown = invoke("kb", "show", "web:127.0.0.1/docs/printer")
    assert shown.exit_code == 2
    assert invoke("kb", "remove", "web:127.0.0.1/FAQ").exit_code == 2  # a path's case is the page's own
    assert invoke("kb", "remove", "web:127.0.0.1/*").exit_code == 0 and pages() == set()
    again = invoke("kb", "import", server.url_for("/faq"), "--json")  # a page removed can be imported again
    assert json.loads(again.stdout)["added"] == 1


def test_a_sitemap_entry_with_a_fragment_is_the_page_and_an_empty_page_fails(server, store):
    server.expect_request("/a/plain").respond_with_data(page("Plain page", "Text of the zorbulax page."),
                                                        content_type="text/html")
    server.expect_request("/a/empty").respond_with_data("", content_type="text/html")
    server.expect_request("/sitemap.xml").respond_with_data(
        sitemap([server.url_for("/a/plain"), server.url_for("/a/plain") + "#setup", server.url_for("/a/empty")]),
        content_type="application/xml")
    report = import_url(store, server.url_for("/sitemap.xml"))
    assert (report.pages, report.added, report.unchanged) == (2, 1, 0)  # the #setup entry is the same page
    assert [(f.url, f.reason) for f in report.failed] == [(server.url_for("/a/empty"), "the page is empty")]
    stored = store.conn.execute("SELECT path FROM kb_documents WHERE origin = 'web'").fetchall()
    assert [r[0] for r in stored] == [server.url_for("/a/plain")]
    single = import_url(store, server.url_for("/a/plain") + "#setup")  # a page given with a fragment
    assert single.unchanged == 1
    assert [r[0] for r in store.conn.execute("SELECT path FROM kb_documents WHERE origin = 'web'")] == [
        server.url_for("/a/plain")]


def test_kb_remove_reads_a_host_in_any_case_and_a_path_as_it_is():
    from threer.kb.importer import _lower_host

    assert _lower_host("web:Support.Example.NET/Docs/*") == "web:support.example.net/Docs/*"
    assert _lower_host("web:HOST") == "web:host"


def test_an_entry_that_leads_to_a_page_already_imported_is_repeated_not_unchanged(server, store):
    html(server, "/new-home", page("Moved article", "relocated quarvex content"))
    html(server, "/guide/", page("Guide", "setup guide text"))
    server.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/new-home"})
    server.expect_request("/guide").respond_with_data(page("Guide", "setup guide text"), content_type="text/html")
    server.expect_request("/sitemap.xml").respond_with_data(
        sitemap([server.url_for(p) for p in ("/old", "/new-home", "/guide/", "/guide")]), content_type="application/xml")
    first = import_url(store, server.url_for("/sitemap.xml"), concurrency=1)
    # four entries, two pages: each stored once, the other entry of each counted as repeated
    assert (first.pages, first.added, first.updated, first.unchanged, first.repeated, first.failed) == (4, 2, 0, 0, 2, [])
    assert first.to_json()["repeated"] == 2
    ids = sorted(r[0] for r in store.conn.execute("SELECT doc_id FROM kb_documents WHERE origin = 'web'"))
    assert ids == ["web:127.0.0.1/guide", "web:127.0.0.1/new-home"]
    again = import_url(store, server.url_for("/sitemap.xml"), concurrency=3)
    assert (again.added, again.updated, again.unchanged, again.repeated) == (0, 0, 2, 2)


def test_kb_import_summary_names_repeated_entries_only_when_there_are_some(server, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from threer.cli.app import app

    monkeypatch.setenv("THREER_HOME", str(tmp_path / "home"))
    html(server, "/new-home", page("Moved article", "relocated content"))
    server.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/new-home"})
    server.expect_request("/sitemap.xml").respond_with_data(
        sitemap([server.url_for("/old"), server.url_for("/new-home")]), content_type="application/xml")
    run = CliRunner().invoke(app, ["kb", "import", server.url_for("/sitemap.xml")])
    assert run.exit_code == 0, run.output
    assert "Imported 1 of 2 pages" in run.stdout and "1 added, 0 updated, 0 unchanged, 1 repeated, 0 failed" in run.stdout
    single = CliRunner().invoke(app, ["kb", "import", server.url_for("/new-home")])
    assert "1 unchanged, 0 failed" in single.stdout and "repeated" not in single.stdout


def _index(locations: list[str]) -> str:
    entries = "".join(f"<sitemap><loc>{u}</loc></sitemap>" for u in locations)
    return f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'


@pytest.mark.parametrize("kind, reason", [
    ("empty", "the sitemap lists no pages"),
    ("loop", "the sitemap index leads to no page"),
])
def test_a_sitemap_that_leads_to_no_page_is_a_failure(server, invoke, kind, reason):
    """Nothing imported is no success: a cron job must see the sitemap is empty or refers back to itself."""
    body = sitemap([]) if kind == "empty" else _index([server.url_for("/sitemap.xml")])
    server.expect_request("/sitemap.xml").respond_with_data(body, content_type="application/xml")
    result = invoke("kb", "import", server.url_for("/sitemap.xml"))
    assert result.exit_code == 3
    assert reason in result.stderr and "Nothing could be imported" in result.stderr
    data = json.loads(invoke("kb", "import", server.url_for("/sitemap.xml"), "--json").stdout)
    assert data["pages"] == 0 and len(data["failed"]) == 1 and reason in data["failed"][0]["reason"]


def test_pages_beyond_max_pages_are_left_out_not_failed(server, invoke):
    for n in range(5):
        html(server, f"/p{n}", page(f"Article {n}", f"text number {n}"))
    server.expect_request("/sitemap.xml").respond_with_data(
        sitemap([server.url_for(f"/p{n}") for n in range(5)]), content_type="application/xml")
    result = invoke("kb", "import", server.url_for("/sitemap.xml"), "--max-pages", "3")
    assert result.exit_code == 0, result.stderr
    assert "Imported 3 of 3 pages" in result.stdout and "3 added, 0 updated, 0 unchanged, 0 failed" in result.stdout
    assert "The sitemap lists 5 pages: the 2 after the first 3 were not imported (--max-pages 3)." in \
        " ".join(result.stderr.split())
    assert "Failed" not in result.stderr
    data = json.loads(invoke("kb", "import", server.url_for("/sitemap.xml"), "--max-pages", "3", "--json").stdout)
    assert (data["pages"], data["unchanged"], data["left_out"], data["failed"]) == (3, 3, 2, [])
