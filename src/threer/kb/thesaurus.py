"""The help-desk thesaurus: words and phrases that mean the same thing, applied to queries.

The built-in groups are data (`thesaurus.toml` beside this module); a partner extends
them with a file of the same form in threer's config folder (`thesaurus.toml` next to
`config.toml`). A query that holds a phrase of a group also searches the group's other
phrases (and its `implies` terms), with less weight than the words typed. Nothing of
the thesaurus is in the index, so editing the file needs no re-index.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from threer.errors import BadInput
from threer.kb.analysis import STOP_WORDS, terms

BUILTIN_PATH = Path(__file__).with_name("thesaurus.toml")
FILE_NAME = "thesaurus.toml"
MAX_FILE_BYTES = 1024 * 1024
MAX_GROUPS = 5000
MAX_PHRASE_TERMS = 6
_GROUP_KEYS = frozenset({"words", "implies"})

Phrase = tuple[str, ...]


@dataclass(frozen=True)
class Group:
    words: tuple[Phrase, ...]
    implies: tuple[Phrase, ...] = ()


@dataclass
class Thesaurus:
    """Groups, and an index from a phrase's first term to the phrases that start with it."""

    groups: list[Group] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    _first: dict[str, list[tuple[Phrase, int]]] = field(default_factory=dict, repr=False)
    _vocabulary: set[str] | None = field(default=None, repr=False)
    unsaved_key: str | None = field(default=None, repr=False)

    def add(self, group: Group) -> None:
        index = len(self.groups)
        self.groups.append(group)
        self._vocabulary = None
        for phrase in group.words:
            self._first.setdefault(phrase[0], []).append((phrase, index))
            self._first[phrase[0]].sort(key=lambda entry: -len(entry[0]))

    def find(self, seq: list[str]) -> list[tuple[int, int, int]]:
        """(start, end, group) of every phrase found in a term sequence, longest first, left to right.

        A term may start phrases of several groups ("mail" is e-mail; "mail loop" a loop):
        each group is reported once, at the longest phrase of it found at that position.
        """
        found: list[tuple[int, int, int]] = []
        for i, t in enumerate(seq):
            seen: set[int] = set()
            for phrase, group in self._first.get(t, ()):
                if group in seen:
                    continue
                size = len(phrase)
                if size == 1 or tuple(seq[i : i + size]) == phrase:
                    found.append((i, i + size, group))
                    seen.add(group)
        return found

    def save_to(self, conn: object) -> None:
        """Keep the analysed groups in the database for the next process (after a search that went well)."""
        if self.unsaved_key is not None:
            _to_cache(conn, self.unsaved_key, self)
            self.unsaved_key = None

    def knows(self, t: str) -> bool:
        """Whether a term is a word of some group (so it is a real word, spelt right)."""
        if self._vocabulary is None:
            self._vocabulary = {w for g in self.groups for p in (*g.words, *g.implies) for w in p}
        return t in self._vocabulary

    def expansions(self, group: int, typed: Phrase) -> list[Phrase]:
        """The phrases searched besides `typed` when it matched `group`."""
        g = self.groups[group]
        return [p for p in (*g.words, *g.implies) if p != typed]


def _phrases(value: object, where: str, key: str) -> tuple[Phrase, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{where}: `{key}` must be a list of words or phrases in quotes")
    phrases: list[Phrase] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{where}: every entry of `{key}` must be a word or phrase in quotes, not {item!r}")
        phrase = tuple(terms(item))
        if not phrase:
            raise ValueError(f"{where}: {item!r} has no letters or digits to search for")
        if all(t in STOP_WORDS for t in phrase):
            raise ValueError(f"{where}: {item!r} is only common words (like 'the', 'not'); it would match almost "
                             "everything")
        if len(phrase) > MAX_PHRASE_TERMS:
            raise ValueError(f"{where}: {item!r} is longer than {MAX_PHRASE_TERMS} words; use a shorter phrase")
        if phrase not in phrases:
            phrases.append(phrase)
    return tuple(phrases)


def parse_thesaurus(text: str, source: str, into: Thesaurus | None = None) -> Thesaurus:
    """Read groups from TOML text; ValueError names the entry that is wrong and why."""
    thesaurus = into if into is not None else Thesaurus()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"it is not valid TOML ({exc})") from None
    unknown = set(data) - {"group"}
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r}; the file holds only [[group]] entries")
    groups = data.get("group", [])
    if not isinstance(groups, list) or any(not isinstance(g, dict) for g in groups):
        raise ValueError("`group` must be written as [[group]] entries")
    if len(groups) > MAX_GROUPS:
        raise ValueError(f"it has {len(groups)} groups; at most {MAX_GROUPS} are read")
    for number, entry in enumerate(groups, 1):
        where = f"group {number}"
        extra = set(entry) - _GROUP_KEYS
        if extra:
            raise ValueError(f"{where}: unknown key {sorted(extra)[0]!r} (a group has `words` and optional `implies`)")
        if "words" not in entry:
            raise ValueError(f"{where}: `words` is missing")
        words = _phrases(entry["words"], where, "words")
        implies = _phrases(entry["implies"], where, "implies") if "implies" in entry else ()
        if len(words) < 2 and not implies:
            raise ValueError(f"{where}: give at least two words, or `implies`, for the group to do anything")
        thesaurus.add(Group(words=words, implies=implies))
    thesaurus.sources.append(source)
    return thesaurus


_cache: dict[tuple[str, int, int] | None, Thesaurus] = {}


def _from_cache(conn: object, key: str) -> Thesaurus | None:
    """The analysed groups stored by an earlier process (stemming every phrase again costs more)."""
    import json
    import sqlite3

    try:
        row = conn.execute("SELECT value FROM kb_meta WHERE key = 'thesaurus'").fetchone()  # type: ignore[attr-defined]
        if row is None:
            return None
        data = json.loads(row[0])
        if data.get("key") != key:
            return None
        thesaurus = Thesaurus(sources=list(data["sources"]))
        for words, implies in data["groups"]:
            thesaurus.add(Group(words=tuple(tuple(p) for p in words), implies=tuple(tuple(p) for p in implies)))
        return thesaurus
    except (sqlite3.Error, ValueError, KeyError, TypeError):
        return None


def _to_cache(conn: object, key: str, thesaurus: Thesaurus) -> None:
    import json
    import sqlite3

    value = json.dumps({"key": key, "sources": thesaurus.sources,
                        "groups": [[list(map(list, g.words)), list(map(list, g.implies))] for g in thesaurus.groups]})
    try:
        conn.execute(  # type: ignore[attr-defined]
            "INSERT INTO kb_meta (key, value) VALUES ('thesaurus', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (value,))
    except sqlite3.Error:
        pass  # a read-only or busy database: the next process analyses the file again


def load_thesaurus(partner_file: Path | None = None, *, conn: object = None) -> Thesaurus:
    """The built-in groups, extended by the partner's file when it exists.

    A partner file that cannot be used is a BadInput naming the file and the entry.
    Results are cached per file state, so a long-running process sees edits; with `conn`
    (threer's database, outside a transaction) the analysed groups are also kept in the
    database for the next process.
    """
    key: tuple[str, int, int] | None = None
    if partner_file is not None:
        try:
            info = partner_file.stat()
        except FileNotFoundError:
            partner_file = None
        except OSError as exc:
            raise BadInput(f"The thesaurus {partner_file} cannot be read ({exc.strerror}). "
                           "Fix its permissions or move it away.") from None
        else:
            key = (str(partner_file), info.st_size, info.st_mtime_ns)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    builtin = BUILTIN_PATH.read_text(encoding="utf-8")
    stored_key = None
    if conn is not None:
        import hashlib

        from threer.kb.analysis import analyzer_signature

        stored_key = hashlib.sha256(f"{analyzer_signature()}\0{builtin}\0{key}".encode()).hexdigest()
        stored = _from_cache(conn, stored_key)
        if stored is not None:
            _cache[key] = stored
            return stored
    thesaurus = parse_thesaurus(builtin, "built-in")
    if partner_file is not None:
        if key is not None and key[1] > MAX_FILE_BYTES:
            raise BadInput(f"The thesaurus {partner_file} is larger than 1 MB. Keep it to help-desk word groups.")
        try:
            text = partner_file.read_text(encoding="utf-8")
            parse_thesaurus(text, str(partner_file), into=thesaurus)
        except UnicodeDecodeError:
            raise BadInput(f"The thesaurus {partner_file} is not UTF-8 text. Save it as UTF-8.") from None
        except OSError as exc:
            raise BadInput(f"The thesaurus {partner_file} cannot be read ({exc.strerror}).") from None
        except ValueError as exc:
            raise BadInput(f"The thesaurus {partner_file} cannot be used: {exc}. "
                           "See docs/reference/config.md for its form.") from None
    if len(_cache) > 8:
        _cache.clear()
    _cache[key] = thesaurus
    if conn is not None and stored_key is not None:
        thesaurus.unsaved_key = stored_key  # the caller keeps it with `save_to(conn)` once its work went well
    return thesaurus


def partner_thesaurus_path(config_path: Path) -> Path:
    """Where a partner's thesaurus lives: beside the config file."""
    return config_path.parent / FILE_NAME
