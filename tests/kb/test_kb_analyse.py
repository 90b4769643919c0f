"""documents.analyse, the indexer's single pass over a document, gives what the separate steps give."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from threer.kb.analysis import index_text
from threer.kb.documents import analyse
from threer.kb.impact import top_terms
from threer.kb.ingest import parse_bytes
from threer.kb.phrases import PhraseSet, builtin_phrases, indexed_columns
from threer.kb.spelling import spell_terms

ARTICLES = Path(__file__).resolve().parents[2] / "src" / "threer" / "kb" / "articles"


def pair_counting(phrases: PhraseSet, analysed: str) -> str:
    """The joined terms by counting every place each phrase starts (the plain way)."""
    words = analysed.split()
    found = Counter(
        phrase for phrase in phrases.phrases for at in range(len(words)) if tuple(words[at : at + len(phrase)]) == phrase
    )
    return " ".join("__".join(phrase) for phrase in sorted(found) for _ in range(found[phrase]))


def test_one_pass_gives_the_columns_impact_list_and_spelling_words_of_the_separate_steps():
    paths = sorted(ARTICLES.glob("*.md"))
    assert len(paths) > 20
    for path in paths:
        doc = parse_bytes(path.read_bytes(), "markdown", path.name)
        analysed = analyse(doc.title, doc.tags, doc.text)
        columns = indexed_columns(doc.title, doc.tags, doc.text)
        assert analysed.columns == columns, path.name
        assert analysed.impact == top_terms(columns), path.name
        assert analysed.spelling() == spell_terms(columns[:3]), path.name
        known = set(list(analysed.spelling())[:5])
        assert analysed.spelling(known) == spell_terms(columns[:3], known), path.name
        for column in index_text(doc.title, doc.tags, doc.text):
            assert builtin_phrases().column(column) == pair_counting(builtin_phrases(), column), path.name


def test_phrases_overlapping_repeated_and_at_the_end_are_each_counted():
    phrases = PhraseSet([("e", "mail"), ("e", "mail", "e"), ("mail", "e", "mail"), ("sign", "in")])
    for text in ["e mail e mail e", "mail e mail e mail", "sign in sign in", "sign", "in sign", "e mail e", ""]:
        assert phrases.column(text) == pair_counting(phrases, text), text
