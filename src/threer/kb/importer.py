"""`threer kb import URL`: fetch articles from a partner's support site into the KB.

The URL is one article page, or a sitemap (`<urlset>`, or a `<sitemapindex>` of
sitemaps; gzip is fine) whose pages are fetched a few at a time. Only pages on the
same site (the same host name, `www.` aside) are fetched: a sitemap entry or a
redirect pointing elsewhere is counted as failed, never followed. Every page has a
time limit and a size limit (5 MB a page; 50 MB a sitemap, as sitemaps.org allows). A
redirect to javascript:, data: or another site skips that page with a reason; sitemap
indexes nested past 3 levels are reported, so an endless chain ends in exit 3. Pages are stored in the database (id `web:HOST/PATH`,
path = the page URL); an unchanged page is left alone on the next import.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from threer.errors import BadInput
from threer.safe_text import clipped, quoted
from threer.kb.ingest import (MAX_FILE_BYTES, IngestError, ParsedDocument, declared_charset, decode, parse_html, parse_markdown,
                              parse_text)
from threer.kb.models import FailedPage, ImportReport

MAX_REDIRECTS = 5
MAX_SITEMAPS = 50
MAX_SITEMAP_DEPTH = 3
# sitemaps.org: a sitemap may list 50,000 URLs and be 50 MB (52,428,800 bytes) uncompressed
SITEMAP_MAX_BYTES = 52_428_800

ProgressFn = Callable[[int, int], None]


class _Failed(Exception):
    """This page could not be imported; the message says why."""


@dataclass
class _Fetched:
    url: Any  # httpx.URL after redirects
    content_type: str
    charset: str | None
    data: bytes


def _site(host: str) -> str:
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def _check_url(url: str) -> Any:
    import httpx

    text = url.strip()
    try:
        parsed = httpx.URL(text)
    except (httpx.InvalidURL, TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise BadInput(
            f"{url!r} is not a web address. Give the full URL of an article or of the sitemap, "
            "such as https://support.example.net/sitemap.xml."
        )
    return parsed


def _doc_id(url: Any) -> str:
    path = url.path.rstrip("/")
    query = f"?{url.query.decode()}" if url.query else ""
    return f"web:{url.host.lower()}{path}{query}"


def remove_pages(store: Any, wanted: list[str]) -> list[str]:
    """Take imported pages out of the index: each of `wanted` is a page's id (`web:HOST/PATH`) or every
    page under a site or folder (`web:HOST/*`, `web:HOST/docs/*`). The ids removed, sorted.

    Nothing is removed unless every one of `wanted` names at least one imported page: a typo in one
    of them is BadInput (NotFound), the others are left, and it can be run again."""
    from threer.errors import NotFound
    from threer.kb.backend import is_team_index

    for item in wanted:
        if not item.startswith("web:"):
            if item.lower().startswith("case:"):
                raise BadInput(f"{quoted(item)} is a past case: it leaves the index with its session, "
                               "`threer sessions delete ID` (or `threer sessions purge`).")
            raise BadInput(f"{quoted(item)} is not an imported page (their ids start with web:). An article from your "
                           "files leaves the index when its file is deleted or moved and `threer kb index` runs; "
                           "a sample article stays (give a file of yours its id to replace it).")
    # a page's id holds its host in lower case (_doc_id): `web:Support.Example.net/*` names the same pages
    wanted = [_lower_host(item) for item in wanted]
    team = is_team_index(store)
    pages: dict[str, Any] = dict(store.page_ids() if team else store.conn.execute(
        "SELECT doc_id, rowid FROM kb_documents WHERE origin = 'web'").fetchall())
    chosen: set[str] = set()
    for item in wanted:
        if item.endswith("/*"):
            prefix = item[:-1]
            found = {doc_id for doc_id in pages if doc_id.startswith(prefix) or doc_id == prefix[:-1]}
        else:
            found = {item} if item in pages else set()
        if not found:
            raise NotFound(f"No imported page has the id {quoted(item)}; nothing was removed. `threer kb search WORDS "
                           "--json` shows pages' ids; `web:HOST/*` names every page of a site.")
        chosen |= found
    removed = sorted(chosen)
    if team:
        store.remove_pages([pages[doc_id] for doc_id in removed])
    else:
        from threer.kb.documents import delete_rowid

        with store.transaction() as cur:
            for doc_id in removed:
                delete_rowid(cur, pages[doc_id])
    return removed


def _lower_host(page_id: str) -> str:
    host, slash, rest = page_id[len("web:"):].partition("/")
    return f"web:{host.lower()}{slash}{rest}"


async def _fetch(client: Any, url: Any, site: str, *, timeout: float, max_bytes: int) -> _Fetched:
    import httpx

    try:
        async with asyncio.timeout(timeout):
            for _hop in range(MAX_REDIRECTS + 1):
                async with client.stream("GET", url) as response:
                    if response.is_redirect:
                        location = response.headers.get("location", "")
                        try:
                            target = response.url.join(location)
                        except (httpx.InvalidURL, ValueError, TypeError):
                            raise _Failed(f"it redirects to {clipped(location, 60)!r}, which is not a web address") from None
                        if target.scheme not in ("http", "https"):
                            raise _Failed(f"it redirects to a {target.scheme or 'non-web'}: address; not followed")
                        if _site(target.host) != site:
                            raise _Failed(f"it redirects to another site ({target.host or location}); not followed")
                        url = target
                        continue
                    if response.status_code >= 400:
                        raise _Failed(f"the server answered {response.status_code} {response.reason_phrase}".rstrip())
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > max_bytes:
                        raise _Failed(f"it is larger than {max_bytes // (1024 * 1024)} MB")
                    chunks, size = [], 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise _Failed(f"it is larger than {max_bytes // (1024 * 1024)} MB")
                        chunks.append(chunk)
                    content_type = response.headers.get("content-type", "")
                    media = content_type.split(";", 1)[0].strip().lower()
                    charset = None
                    match = re.search(r"charset\s*=\s*\"?([^;\"\s]+)", content_type, re.I)
                    if match:
                        charset = match.group(1)
                    return _Fetched(response.url, media, charset, b"".join(chunks))
            raise _Failed(f"it redirects more than {MAX_REDIRECTS} times")
    except TimeoutError:
        raise _Failed(f"no complete answer within {timeout:g} s") from None
    except httpx.TimeoutException:
        raise _Failed(f"no complete answer within {timeout:g} s") from None
    except httpx.ConnectError as exc:
        raise _Failed(f"cannot connect ({exc or 'connection refused'})") from None
    except httpx.HTTPError as exc:
        raise _Failed(f"the download failed ({type(exc).__name__}: {exc})") from None
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
        # httpx builds the next request of a redirect even when not following it: `Location: javascript:…`
        # fails there, before the answer reaches the check above
        raise _Failed(f"its answer points to something that is not a web address, such as a redirect to "
                      f"javascript: ({exc}); skipped") from None


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    if not data.startswith(b"\x1f\x8b"):
        return data
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = inflater.decompress(data, max_bytes + 1)
    except (zlib.error, gzip.BadGzipFile):
        raise _Failed("it is a broken gzip file") from None
    if len(out) > max_bytes:
        raise _Failed(f"it is larger than {max_bytes // (1024 * 1024)} MB unpacked")
    return out


def _sitemap(fetched: _Fetched, max_bytes: int) -> tuple[str, list[str]] | None:
    """("urlset" | "sitemapindex", locations) when the answer is a sitemap, else None."""
    looks_xml = "xml" in fetched.content_type or fetched.url.path.lower().endswith((".xml", ".xml.gz"))
    if not looks_xml:
        return None
    data = _gunzip(fetched.data, max_bytes)
    head = data[:4096].lower()
    if b"<urlset" not in head and b"<sitemapindex" not in head:
        return None
    if b"<!doctype" in data.lower() or b"<!entity" in data.lower():
        raise _Failed("the sitemap declares a DTD or entities, which sitemaps never need")
    import xml.etree.ElementTree as ElementTree

    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise _Failed(f"the sitemap is not valid XML ({exc})") from None
    kind = root.tag.rsplit("}", 1)[-1]
    if kind not in ("urlset", "sitemapindex"):
        return None
    locations = []
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == "loc" and element.text and element.text.strip():
            locations.append(element.text.strip())
    return kind, locations


def _parse_page(fetched: _Fetched) -> ParsedDocument:
    if not fetched.data.strip():
        raise _Failed("the page is empty")
    media = fetched.content_type
    path = fetched.url.path.lower()
    name = fetched.url.path.rstrip("/").rsplit("/", 1)[-1] or fetched.url.host
    if media in ("text/markdown", "text/x-markdown") or path.endswith((".md", ".markdown")):
        kind = "markdown"
    elif media in ("text/html", "application/xhtml+xml") or (not media and path.endswith((".html", ".htm"))):
        kind = "html"
    elif media == "text/plain" or (not media and path.endswith(".txt")):
        kind = "text"
    else:
        raise _Failed(f"it is not an article page (content type {media or 'unknown'})")
    charset = fetched.charset
    if charset is None and kind == "html":
        charset = declared_charset(fetched.data)
    try:
        text = decode(fetched.data, charset=charset)
    except IngestError as exc:
        if "binary" in str(exc):
            raise _Failed(str(exc)) from None
        text = fetched.data.decode("utf-8", "replace")  # the web is lenient; so is this
    try:
        if kind == "markdown":
            return parse_markdown(text, name)
        if kind == "html":
            return parse_html(text, name)
        return parse_text(text, name)
    except IngestError as exc:
        raise _Failed(str(exc)) from None


def _save(store: Any, url: Any, doc: ParsedDocument, report: ImportReport, saved: set[str]) -> None:
    """Store one fetched page; `saved` holds the ids this run has stored (a second entry that leads to one
    of them is `repeated`, not a page of its own)."""
    doc_id = _doc_id(url)
    if doc_id in saved:
        report.repeated += 1
        return
    _store_page(store, doc_id, url, doc, report)
    saved.add(doc_id)  # (not when it failed: a later entry for the page may still be stored)


def _store_page(store: Any, doc_id: str, url: Any, doc: ParsedDocument, report: ImportReport) -> None:
    from threer.kb.documents import put_document

    from threer.kb.backend import is_team_index

    if url.fragment:
        url = url.copy_with(fragment=None)  # the page's address, as it is kept and shown
    digest = hashlib.sha256("\0".join([doc.title, ",".join(doc.tags), doc.body]).encode()).hexdigest()
    if is_team_index(store):  # the team database's index (threer.kb.pg)
        outcome = store.save_page(doc_id=doc_id, url=str(url), doc=doc, digest=digest)
        if outcome == "taken":
            raise _Failed(f"its id {doc_id!r} is already used by an article")
        setattr(report, outcome, getattr(report, outcome) + 1)
        return
    with store.transaction() as cur:
        row = cur.execute("SELECT rowid, origin, content_hash FROM kb_documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is not None and row[1] != "web":
            raise _Failed(f"its id {doc_id!r} is already used by an article")
        if row is not None and row[2] == digest:
            cur.execute("UPDATE kb_documents SET path = ? WHERE rowid = ?", (str(url), row[0]))
            report.unchanged += 1
            return
        put_document(
            cur,
            doc_id=doc_id,
            source="kb",
            origin="web",
            title=doc.title,
            tags=doc.tags,
            body=doc.body,
            fmt=doc.format,
            path=str(url),
            content_hash=digest,
            replace_rowid=row[0] if row is not None else None,
        )
        if row is None:
            report.added += 1
        else:
            report.updated += 1


async def _run(
    store: Any, start: Any, report: ImportReport, *, concurrency: int, timeout: float, max_pages: int,
    max_bytes: int, progress: ProgressFn | None,
) -> None:
    import httpx

    from threer import __version__

    site = _site(start.host)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"User-Agent": f"threer/{__version__} (knowledge base import)"}
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(timeout), follow_redirects=False, limits=limits, headers=headers, trust_env=False
    ) as client:
        try:
            first = await _fetch(client, start, site, timeout=timeout, max_bytes=max(max_bytes, SITEMAP_MAX_BYTES))
            sitemap = _sitemap(first, SITEMAP_MAX_BYTES)
            if sitemap is None and len(first.data) > max_bytes:
                raise _Failed(f"it is larger than {max_bytes // (1024 * 1024)} MB")
        except _Failed as exc:
            report.pages = 1
            report.failed.append(FailedPage(url=str(start), reason=str(exc)))
            return
        if sitemap is None:
            report.pages = 1
            _import_fetched(store, first, report, set())
            if progress:
                progress(1, 1)
            return

        pages: list[str] = []
        seen_sitemaps = {str(first.url)}
        looped = False
        queue = [(sitemap, 0)]
        while queue:
            (kind, locations), depth = queue.pop(0)
            for location in locations:
                if kind == "urlset":
                    location = location.split("#", 1)[0]  # a fragment names a place in a page, not another page
                    if location and location not in pages:
                        pages.append(location)
                    continue
                if location in seen_sitemaps:
                    looped = True  # an index that lists itself, or a sitemap already read
                    continue
                if depth + 1 > MAX_SITEMAP_DEPTH:
                    report.failed.append(FailedPage(
                        url=location, reason=f"sitemap indexes nest deeper than {MAX_SITEMAP_DEPTH} levels here; not followed"))
                    continue
                if len(seen_sitemaps) >= MAX_SITEMAPS:
                    report.failed.append(FailedPage(
                        url=location, reason=f"more than {MAX_SITEMAPS} sitemaps; the rest were not read"))
                    continue
                seen_sitemaps.add(location)
                try:
                    target = _check_url(location)
                    if _site(target.host) != site:
                        raise _Failed(f"the sitemap is on another site ({target.host}); not followed")
                    nested = _sitemap(await _fetch(client, target, site, timeout=timeout, max_bytes=SITEMAP_MAX_BYTES),
                                      SITEMAP_MAX_BYTES)
                    if nested is None:
                        raise _Failed("it is not a sitemap")
                    queue.append((nested, depth + 1))
                except (_Failed, BadInput) as exc:
                    report.failed.append(FailedPage(url=location, reason=str(exc)))

        if not pages and not report.failed:
            # nothing to import is no success: a cron job must see that the sitemap is empty or broken
            report.failed.append(FailedPage(url=str(start), reason=(
                "the sitemap index leads to no page: each sitemap it lists is one already read (itself, or one "
                "listing it back)" if looped else "the sitemap lists no pages")))
        if len(pages) > max_pages:
            report.left_out = len(pages) - max_pages  # not tried, so neither failed nor counted among the pages
            pages = pages[:max_pages]
        report.pages = len(pages)
        semaphore = asyncio.Semaphore(concurrency)
        done = 0
        saved: set[str] = set()  # ids of the pages stored so far (each saved in one step of the loop, no await)

        async def one(location: str) -> None:
            nonlocal done
            try:
                try:
                    target = _check_url(location)
                except BadInput:
                    raise _Failed("it is not a web address") from None
                if _site(target.host) != site:
                    raise _Failed(f"it is on another site ({target.host}); not fetched")
                async with semaphore:
                    fetched = await _fetch(client, target, site, timeout=timeout, max_bytes=max_bytes)
                _import_fetched(store, fetched, report, saved, requested=location)
            except _Failed as exc:
                report.failed.append(FailedPage(url=location, reason=str(exc)))
            finally:
                done += 1
                if progress:
                    progress(done, len(pages))

        await asyncio.gather(*(one(location) for location in pages))


def _import_fetched(store: Any, fetched: _Fetched, report: ImportReport, saved: set[str], *,
                    requested: str | None = None) -> None:
    try:
        doc = _parse_page(fetched)
        _save(store, fetched.url, doc, report, saved)
    except _Failed as exc:
        report.failed.append(FailedPage(url=requested or str(fetched.url), reason=str(exc)))


def import_url(
    store: Any,
    url: str,
    *,
    concurrency: int = 4,
    timeout: float = 10.0,
    max_pages: int = 2000,
    max_bytes: int = MAX_FILE_BYTES,
    progress: ProgressFn | None = None,
) -> ImportReport:
    """Import one page, or every page of a sitemap, from `url`; return what was added, updated, failed."""
    start = _check_url(url)
    if concurrency < 1:
        raise BadInput("--concurrency must be at least 1.")
    if timeout <= 0:
        raise BadInput("--timeout must be more than 0 seconds.")
    from threer.kb.documents import ensure_analyzer

    ensure_analyzer(store)
    report = ImportReport(url=str(start))
    started = perf_counter()
    asyncio.run(
        _run(store, start, report, concurrency=concurrency, timeout=timeout, max_pages=max_pages,
             max_bytes=max_bytes, progress=progress)
    )
    report.failed.sort(key=lambda f: f.url)
    report.seconds = round(perf_counter() - started, 3)
    return report
