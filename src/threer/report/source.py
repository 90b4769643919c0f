"""Reading what the report needs from the store: every session, and when each KB article was indexed."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from threer.report.compute import Article
from threer.store_api import SessionStore
from threer.triage.engine import load_session
from threer.triage.session import TriageSession


def load_sessions(store: SessionStore) -> list[TriageSession]:
    return [load_session(store, row["id"]) for row in store.list_sessions()]


def load_articles(store: Any) -> dict[str, Article]:  # the KB index: SessionStore.kb_index()
    """The indexed articles, and the bundled sample ones even where no search has indexed them yet."""
    articles = {doc_id: Article(origin="sample", indexed_at=None) for doc_id in sample_article_ids()}
    from threer.kb.documents import article_dates

    articles.update({doc_id: Article(origin=origin, indexed_at=_when(at)) for doc_id, origin, at in article_dates(store)})
    return articles


_FRONT_ID = re.compile(r"^id:\s*[\"']?([^\s\"']+)", re.MULTILINE)


def sample_article_ids() -> list[str]:
    from threer.kb.index import SAMPLE_DIR

    ids = []
    for path in sorted(SAMPLE_DIR.glob("*.md")):
        head = path.read_text(encoding="utf-8").split("\n---", 1)[0]
        found = _FRONT_ID.search(head)
        if found:
            ids.append(found.group(1))
    return ids


def _when(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
