"""`kb import` against hostile sites: javascript: redirects, endless sitemap indexes, resets, big sitemaps."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Response

from threer.kb.importer import SITEMAP_MAX_BYTES, import_url
from threer.store import Store

PAGE = "<html><head><title>{t}</title></head><body><main><h1>{t}</h1><p>outlook password prompt {t}</p></main></body></html>"


def urlset(urls):
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<url><loc>{u}</loc></url>" for u in urls) + "</urlset>")


def index(urls):
    return ('<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<sitemap><loc>{u}</loc></sitemap>" for u in urls) + "</sitemapindex>")


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "kb.db") as s:
        s._kb_ready = True
        yield s


def test_a_javascript_redirect_skips_that_page_only(httpserver: HTTPServer, store):
    httpserver.expect_request("/sitemap.xml").respond_with_data(
        urlset([httpserver.url_for("/good"), httpserver.url_for("/js"), httpserver.url_for("/data")]),
        content_type="application/xml")
    httpserver.expect_request("/good").respond_with_data(PAGE.format(t="Good"), content_type="text/html")
    httpserver.expect_request("/js").respond_with_response(Response(status=302, headers={"Location": "javascript:alert(1)"}))
    httpserver.expect_request("/data").respond_with_response(Response(status=301, headers={"Location": "data:text/html,x"}))
    report = import_url(store, httpserver.url_for("/sitemap.xml"), timeout=5)
    assert report.added == 1
    reasons = {f.url.rsplit("/", 1)[-1]: f.reason for f in report.failed}
    assert "not a web address" in reasons["js"] and "skipped" in reasons["js"]
    assert "data" in reasons["data"] or "not a web address" in reasons["data"]


def test_an_endless_chain_of_sitemap_indexes_is_exit_3(httpserver: HTTPServer, invoke):
    for n in range(10):
        httpserver.expect_request(f"/s{n}.xml").respond_with_data(index([httpserver.url_for(f"/s{n + 1}.xml")]),
                                                                  content_type="application/xml")
    result = invoke("kb", "import", httpserver.url_for("/s0.xml"))
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert "nest deeper than 3 levels" in result.stderr


def test_a_sitemap_of_20_mb_is_read(httpserver: HTTPServer, store):
    filler = "".join(f"<url><loc>{httpserver.url_for('/nothing')}?n={n}</loc></url>" for n in range(1))
    pad = "<!-- " + "x" * (20 * 1024 * 1024) + " -->"
    body = urlset([httpserver.url_for("/a")]).replace("</urlset>", pad + filler + "</urlset>")
    assert 5 * 1024 * 1024 < len(body) < SITEMAP_MAX_BYTES
    httpserver.expect_request("/big.xml").respond_with_data(body, content_type="application/xml")
    httpserver.expect_request("/a").respond_with_data(PAGE.format(t="A"), content_type="text/html")
    httpserver.expect_request("/nothing").respond_with_data("no", status=404)
    report = import_url(store, httpserver.url_for("/big.xml"), timeout=20)
    assert report.added == 1


def test_a_page_over_its_own_cap_is_still_refused(httpserver: HTTPServer, store):
    httpserver.expect_request("/huge").respond_with_data("<html><body>" + "x" * (6 * 1024 * 1024) + "</body></html>",
                                                         content_type="text/html")
    report = import_url(store, httpserver.url_for("/huge"), timeout=20)
    assert report.added == 0 and "larger than 5 MB" in report.failed[0].reason


def _resetting_server():
    """A loopback server that sends headers and half a body, then resets the connection (RST)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n<html><body>half")
                time.sleep(0.1)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            finally:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, stop, thread


def test_a_connection_reset_mid_body_fails_at_once(store):
    listener, stop, thread = _resetting_server()
    try:
        port = listener.getsockname()[1]
        started = time.monotonic()
        report = import_url(store, f"http://127.0.0.1:{port}/page", timeout=30)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert report.added == 0 and report.failed
    assert elapsed < 10  # not the 30 s timeout
