"""threer's analysed terms as PostgreSQL text search values.

PostgreSQL is never asked to analyse text: a document's three analysed columns
(threer.kb.analysis.index_text: the same stemming and folding as the SQLite index) become
one tsvector literal, each term with its positions and a weight label per field (title A,
tags B, body D). Fields are one position apart, so a phrase never runs from one field into
the next, as in FTS5's columns. A query's alternatives become a tsquery of the same terms:
`'a' | 'b' <-> 'c'`.

PostgreSQL's limits: positions above 16383 are clamped and a term keeps at most 256
positions; a term over 2,047 bytes cannot be a lexeme (left out). Articles are far inside
these limits; a pasted log in a past case may not be (its terms still match, its counts
are capped).
"""

from __future__ import annotations

MAX_POSITION = 16383
MAX_POSITIONS = 256  # per lexeme
MAX_LEXEME_BYTES = 2046
MAX_TSVECTOR_BYTES = 900_000  # PostgreSQL refuses a tsvector over 1 MB
FIELD_LABELS = ("A", "B", "")  # title, tags, body (D is the unlabelled default)


def quote_lexeme(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def lengths(columns: tuple[str, str, str]) -> tuple[int, int, int]:
    """Each field's length in terms (FTS5's column sizes)."""
    return len(columns[0].split()), len(columns[1].split()), len(columns[2].split())


def tsvector_text(columns: tuple[str, str, str]) -> str:
    """The tsvector literal of analysed (title, tags, body) columns, with positions and field labels."""
    positions: dict[str, list[str]] = {}
    position = 0
    for field, text in enumerate(columns):
        label = FIELD_LABELS[field]
        for term in text.split():
            position += 1
            spots = positions.get(term)
            if spots is None:
                spots = positions[term] = []
            if len(spots) < MAX_POSITIONS:
                spots.append(f"{min(position, MAX_POSITION)}{label}")
        position += 1  # a gap between fields
    parts: list[str] = []
    size = 0
    for term, spots in positions.items():
        size += len(term.encode("utf-8")) + 2 * len(spots) + 8
        if len(term.encode("utf-8")) > MAX_LEXEME_BYTES or size > MAX_TSVECTOR_BYTES:
            continue
        parts.append(quote_lexeme(term) + ":" + ",".join(dict.fromkeys(spots)))
    return " ".join(parts)


def single_text(text: str) -> str:
    """The tsvector literal of one analysed column (feedback issues)."""
    return tsvector_text(("", "", text))


def tsquery_text(alternatives: list[tuple[str, ...]], weights: str = "") -> str:
    """A tsquery matching a row that holds any alternative (a term sequence: a phrase)."""
    pieces = []
    for alt in alternatives:
        lexemes = [quote_lexeme(t) + (":" + weights if weights else "") for t in alt]
        pieces.append(lexemes[0] if len(lexemes) == 1 else "(" + " <-> ".join(lexemes) + ")")
    return " | ".join(pieces)
