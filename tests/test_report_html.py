"""`threer report --html` in a real headless browser: the page renders, its numbers are the JSON's, it
needs nothing from the network, and no script from session text runs."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from support_chromium import chromium, dump_dom
from support_report import HOSTILE, report_store
from support_sessions import write_partner_config

from threer.env import Environment
from threer.store import Store

ARGS = ("--since", "2024-03-01", "--until", "2024-03-29", "--by", "technician")


_VOID = {"meta", "link", "br", "img", "input", "hr", "col", "wbr", "source", "area", "base", "embed"}


class _Dom(HTMLParser):
    """The page as the browser left it: title, data-metric values, week rows, elements by tag."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: dict[str, str] = {}
        self.weeks: dict[str, dict[str, str]] = {}
        self.tags: list[str] = []
        self.attributes: list[str] = []  # every attribute name
        self.title = ""
        self.text: list[str] = []
        self._stack: list[tuple[str, dict[str, str | None]]] = []
        self._week: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]
        if tag in _VOID:
            return
        self._stack.append((tag, a))
        if a.get("data-week-row"):
            self._week = a["data-week-row"]
            self.weeks[self._week] = {}

    def handle_endtag(self, tag: str) -> None:
        while self._stack and self._stack.pop()[0] != tag:
            pass
        if tag == "tr":
            self._week = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if not self._stack:
            return
        tag, a = self._stack[-1]
        if tag == "title" and any(t == "head" for t, _ in self._stack):  # the page's, not an SVG tooltip
            self.title += data
        metric = a.get("data-metric")
        if metric:
            value = a.get("data-value") or data.strip()
            if self._week is not None:
                self.weeks[self._week][metric] = value
            else:
                self.metrics[metric] = value


@pytest.fixture
def page(invoke, threer_env: Environment, tmp_path: Path) -> tuple[Path, dict]:
    write_partner_config(threer_env.config_path)
    with Store(threer_env.db_path) as store:
        report_store(store)
    target = tmp_path / "report.html"
    result = invoke("report", *ARGS, "--json", "--html", str(target))
    assert result.exit_code == 0, result.stderr
    assert f"Report written to {target}" in result.stderr
    return target, json.loads(result.stdout)


def test_the_page_renders_with_the_numbers_of_the_json(page: tuple[Path, dict]) -> None:
    target, doc = page
    dom = _Dom()
    dom.feed(dump_dom(target))
    assert dom.title.startswith("threer escalation report 2024-03-01 to 2024-03-29")
    totals = doc["totals"]
    for key in ("sessions", "resolved", "escalated", "open"):
        assert int(dom.metrics[f"totals.{key}"]) == totals[key]
    assert json.loads(dom.metrics["totals.escalation_rate"]) == totals["escalation_rate"]
    assert int(dom.metrics["avoidable.count"]) == len(doc["avoidable"]) == 2
    assert int(dom.metrics["overdue.count"]) == len(doc["overdue"])
    assert list(dom.weeks) == [w["week"] for w in doc["weeks"]]
    for week in doc["weeks"]:
        shown = dom.weeks[week["week"]]
        assert int(shown["sessions"]) == week["sessions"] and int(shown["escalated"]) == week["escalated"]
        assert json.loads(shown["escalation_rate"]) == week["escalation_rate"]  # null for a week none was closed
    assert dom.tags.count("svg") == 2  # the weekly rate and the categories
    assert dom.tags.count("rect") >= len(doc["weeks"]) + len(doc["categories"])


def test_the_page_draws(page: tuple[Path, dict], tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    chromium(page[0], f"--screenshot={shot}", "--window-size=1000,1400")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a drawn page, not an empty one


def test_no_script_from_session_text_runs(page: tuple[Path, dict]) -> None:
    target, _doc = page
    raw = target.read_text(encoding="utf-8")
    for html in (raw, dump_dom(target)):  # as written, and as the browser left it
        dom = _Dom()
        dom.feed(html)
        assert "script" not in dom.tags and "img" not in dom.tags
        assert not [name for name in dom.attributes if name.lower().startswith("on")]
    assert "PWNED" not in dom.title
    # the hostile technician name and typed article are on the page, as text
    assert HOSTILE.replace("\x1b", "\\x1b") in "".join(dom.text)


def test_the_browser_would_run_an_unescaped_payload(tmp_path: Path) -> None:
    """The check above can fail: the same payload, not escaped, does change the title in this browser."""
    bad = tmp_path / "bad.html"
    bad.write_text(f"<!DOCTYPE html><html><head><title>ok</title></head><body>{HOSTILE}</body></html>",
                   encoding="utf-8")
    dom = _Dom()
    dom.feed(dump_dom(bad))
    assert dom.title == "PWNED"


def test_the_page_needs_nothing_from_outside(page: tuple[Path, dict]) -> None:
    raw = page[0].read_text(encoding="utf-8")
    dom = _Dom()
    dom.feed(raw)
    assert not {"src", "href", "xlink:href", "srcset", "action"} & {name.lower() for name in dom.attributes}
    assert not {"script", "link", "iframe", "object", "embed", "img"} & set(dom.tags)
    assert "@import" not in raw and "url(" not in raw
    assert "Content-Security-Policy" in raw and "default-src 'none'" in raw


def test_without_chromium_the_browser_tests_skip_saying_how_to_get_it(monkeypatch, tmp_path: Path) -> None:
    from support_chromium import chromium_path

    monkeypatch.setenv("PATH", str(tmp_path))  # a folder with no browser in it
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        chromium_path()
