"""The bundled sample KB, its known-answer queries and the ranking corpus are well formed.

These check content only (front matter, ids, lengths, cross-references); the search
engine's ranking over them is tested elsewhere.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from pathlib import Path

import frontmatter
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTICLES = ROOT / "src" / "threer" / "kb" / "articles"
KNOWN_ANSWERS = ROOT / "tests" / "kb" / "known_answers.toml"
CORPUS = ROOT / "tests" / "kb" / "corpus"
SAMPLE_KB_DOC = ROOT / "docs" / "reference" / "sample-kb.md"

ID_PATTERN = re.compile(r"kb-\d{4}-[a-z0-9]+(?:-[a-z0-9]+)*")
KINDS = {"exact-code", "paraphrase", "title-words", "pasted-ndr", "short"}
# Codes a technician pastes: enhanced status codes, Outlook hex errors, sign-in error codes.
# An IP address such as 203.0.113.7 is not a status code, hence the look-arounds.
CODE = re.compile(r"(?<![\d.])\d\.\d{1,3}\.\d{1,3}(?![\d.])|\b0x[0-9a-f]{8}\b|\baadsts\d+\b", re.I)

ARTICLE_PATHS = sorted(ARTICLES.glob("*.md"))


def _load(path: Path) -> frontmatter.Post:
    return frontmatter.load(str(path))


def _known_answers() -> list[dict]:
    with KNOWN_ANSWERS.open("rb") as f:
        return tomllib.load(f)["query"]


def _article_texts() -> dict[str, str]:
    texts = {}
    for path in ARTICLE_PATHS:
        post = _load(path)
        texts[post["id"]] = f"{post['title']}\n{' '.join(post['tags'])}\n{post.content}"
    return texts


def test_there_are_at_least_32_articles_and_only_markdown():
    assert len(ARTICLE_PATHS) >= 32
    assert {p.suffix for p in ARTICLES.iterdir() if p.is_file()} == {".md"}


@pytest.mark.parametrize("path", ARTICLE_PATHS, ids=[p.stem for p in ARTICLE_PATHS])
def test_article_front_matter_and_shape(path: Path):
    post = _load(path)
    assert set(post.metadata) == {"id", "title", "tags"}
    assert ID_PATTERN.fullmatch(post["id"]), post["id"]
    assert post["id"] == path.stem, "the file is named after its id"
    assert isinstance(post["title"], str) and post["title"].strip()
    tags = post["tags"]
    assert isinstance(tags, list) and tags
    assert all(isinstance(t, str) and t == t.lower() and t.strip() == t for t in tags), tags
    assert len(set(tags)) == len(tags)
    words = len(post.content.split())
    assert 250 <= words <= 700, f"{words} words"
    assert "## When to escalate" in post.content
    assert re.search(r"^1\. ", post.content, re.M), "numbered steps"


def test_article_ids_and_titles_are_unique():
    posts = [_load(p) for p in ARTICLE_PATHS]
    ids = Counter(p["id"] for p in posts)
    titles = Counter(p["title"].lower() for p in posts)
    assert [i for i, n in ids.items() if n > 1] == []
    assert [t for t, n in titles.items() if n > 1] == []
    numbers = Counter(i.split("-")[1] for i in ids)
    assert [n for n, c in numbers.items() if c > 1] == [], "each NNNN is used once"


def test_cross_references_point_at_existing_articles():
    ids = set(_article_texts())
    for path in ARTICLE_PATHS:
        for ref in re.findall(r"\bkb-\d{4}-[a-z0-9-]*[a-z0-9]", path.read_text(encoding="utf-8")):
            assert ref in ids, f"{path.name} refers to {ref}"
        for short in re.findall(r"\bkb-(\d{4})\b(?!-)", path.read_text(encoding="utf-8")):
            assert any(i.startswith(f"kb-{short}-") for i in ids), f"{path.name} refers to kb-{short}"


def test_known_answers_are_well_formed():
    queries = _known_answers()
    ids = set(_article_texts())
    assert len(queries) >= 60
    assert len({q["text"] for q in queries}) == len(queries), "no duplicate query texts"
    for q in queries:
        assert set(q) <= {"text", "expected", "also_ok", "kind"}, q
        assert q["text"].strip(), q
        assert q["kind"] in KINDS, q
        assert q["expected"] in ids, q
        assert all(other in ids for other in q.get("also_ok", [])), q
        assert q["expected"] not in q.get("also_ok", []), q


def test_known_answers_cover_every_kind_and_most_articles():
    queries = _known_answers()
    kinds = Counter(q["kind"] for q in queries)
    assert set(kinds) == KINDS
    assert kinds["paraphrase"] >= 20
    expected = {q["expected"] for q in queries}
    assert expected == set(_article_texts()), "every article is the answer to at least one query"


def test_codes_in_code_queries_appear_in_the_expected_article():
    texts = {k: v.lower() for k, v in _article_texts().items()}
    for q in _known_answers():
        if q["kind"] not in {"exact-code", "pasted-ndr"}:
            continue
        for code in CODE.findall(q["text"]):
            assert code.lower() in texts[q["expected"]], f"{code} of {q['text']!r}"


def test_corpus_readme_lists_every_corpus_file():
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    files_section = readme.split("## Files", 1)[1].split("\n## ", 1)[0]
    files = {p.name for p in CORPUS.iterdir() if p.is_file() and p.name != "README.md"}
    listed = set(re.findall(r"^\| `([^`]+)` \|", files_section, re.M))
    assert files == listed
    assert 10 <= len(files) <= 15
    suffixes = Counter(p.rsplit(".", 1)[-1] for p in files)
    assert suffixes["html"] == 1 and suffixes["txt"] == 1


def test_corpus_markdown_front_matter_parses_and_ids_are_unique():
    ids = []
    for path in sorted(CORPUS.glob("*.md")):
        if path.name == "README.md":
            continue
        post = _load(path)
        if post.metadata:
            assert set(post.metadata) == {"id", "title", "tags"}, path.name
            ids.append(post["id"])
    assert len(ids) == len(set(ids))
    assert not any(ID_PATTERN.fullmatch(i) for i in ids), "corpus ids never collide with bundled ones"


def test_sample_kb_doc_lists_every_article():
    doc = SAMPLE_KB_DOC.read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(kb-\d{4}-[^`]+)` \|", doc, re.M))
    assert listed == set(_article_texts())


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[2] / "src" / "threer" / "kb" / "articles").glob("*.md")),
                         ids=lambda p: p.name[:7])
def test_no_article_renders_a_menu_path_as_a_quote(path: Path):
    """A wrapped line that starts with `>` (Control Panel > Mail > ...) turns into a quote block."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt().parse(frontmatter.loads(path.read_text(encoding="utf-8")).content)
    assert not [t for t in tokens if t.type == "blockquote_open"], path.name
