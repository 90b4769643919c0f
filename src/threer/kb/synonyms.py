"""Help-desk vocabulary: words and phrases a customer or technician uses for the same thing.

A query that holds any phrase of a group searches for every phrase of that group
(as one query concept: matching any of them counts once). Groups are kept narrow on
purpose: a synonym that is only sometimes right pulls wrong articles up.
"""

from __future__ import annotations

from functools import lru_cache

SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("sign in", "signin", "sign on", "log in", "login", "logon", "log on", "credentials",
     "credential prompt", "password prompt", "authentication prompt", "keeps asking for password",
     "asks for password", "asking for password"),
    ("sign out", "signout", "log out", "logout", "logged out", "signed out"),
    ("junk", "spam", "junk mail", "junk folder", "spam folder", "junk e-mail"),
    ("bounce", "bounced", "bounce back", "bounceback", "ndr", "non-delivery report", "non delivery report",
     "nondelivery", "undeliverable", "delivery failure", "delivery status notification", "dsn",
     "returned mail", "mail delivery failed"),
    ("calendar", "meeting", "appointment", "invite", "invitation", "meeting request"),
    ("mobile", "phone", "iphone", "ipad", "android", "smartphone", "activesync", "tablet"),
    ("mailbox full", "quota", "storage full", "over quota", "out of space", "mailbox size", "storage limit"),
    ("out of office", "ooo", "automatic replies", "automatic reply", "auto reply", "autoreply",
     "auto-reply", "vacation reply", "vacation message", "away message"),
    ("forward", "forwarding", "auto forward", "autoforward", "redirect"),
    ("ost", "offline cache", "offline data file", "offline folder file", "cached mode"),
    ("pst", "personal folders", "archive file", "outlook data file"),
    ("autodiscover", "auto discover", "auto-discover", "automatic setup", "account setup", "autoconfig"),
    ("owa", "outlook web access", "outlook on the web", "outlook web app", "webmail", "web mail"),
    ("email", "e-mail", "mail"),
    ("mac", "macos", "macbook", "os x", "osx", "apple mail"),
    ("entourage", "outlook for mac", "outlook 2011"),
    ("slow", "sluggish", "lag", "laggy", "hangs", "freezes", "not responding", "performance"),
    ("disconnected", "offline", "trying to connect", "not connecting", "cannot connect", "connection lost"),
    ("recover", "restore", "undelete", "retrieve", "recoverable items", "deleted items"),
    ("missing", "disappeared", "vanished", "gone", "lost"),
    ("rule", "rules", "inbox rule", "mail rule", "message rule"),
    ("shared mailbox", "team mailbox", "group mailbox", "shared inbox", "generic mailbox"),
    ("full access", "delegate", "delegation", "mailbox permissions", "send as", "send on behalf"),
    ("contacts", "address book", "gal", "global address list"),
    ("autocomplete", "auto complete", "auto-complete", "nickname cache", "suggested contacts"),
    ("certificate", "cert", "ssl certificate", "security alert", "security warning", "certificate warning"),
    ("spoofing", "spoofed", "spoof", "impersonation", "forged sender", "fake sender"),
    ("phishing", "phish", "scam", "suspicious email"),
    ("password reset", "reset password", "forgot password", "forgotten password", "change password",
     "password change", "password expired", "expired password"),
    ("locked out", "lockout", "account locked", "account disabled", "blocked sign in"),
    ("mfa", "2fa", "two-factor", "two factor", "multi-factor", "multifactor", "verification code",
     "authenticator"),
    ("attachment too large", "message too large", "message size", "size limit", "file too big",
     "attachment limit", "too big to send", "552"),
    ("not receiving", "no incoming", "not getting emails", "stopped receiving", "inbound mail",
     "no new mail", "incoming mail"),
    ("cannot send", "can't send", "unable to send", "stuck in outbox", "outbox", "not sending",
     "outgoing mail"),
    ("dmarc", "dmarc policy", "dmarc report"),
    ("dkim", "dkim signature", "domainkeys"),
    ("spf", "sender policy framework", "spf record"),
    ("mx", "mx record", "mail exchanger"),
    ("dns", "dns record", "dns records", "zone file", "txt record"),
    ("relay", "relaying", "relay denied", "smarthost", "smart host"),
    ("signature", "email signature", "disclaimer"),
    ("migration", "migrate", "import mailbox", "move mailbox", "imap migration"),
    ("imap", "pop", "pop3", "pop3s", "imaps"),
    ("smtp", "smtp auth", "outgoing server", "outbound server"),
    ("sync", "syncing", "synchronise", "synchronize", "synchronization", "synchronisation", "not updating"),
    ("search", "find", "instant search", "search index", "indexing"),
    ("duplicate", "duplicates", "duplicated", "double", "twice"),
)


GROUP_PREFIX = "syn_"  # never a real term: "_" only ever joins digits in one (5_7_1)


def group_token(index: int) -> str:
    """The term indexed wherever any phrase of group `index` occurs."""
    return f"{GROUP_PREFIX}{index}"


_table: dict[tuple[str, ...], int] | None = None


def synonym_phrases() -> dict[tuple[str, ...], int]:
    """Each phrase of every group, as its tuple of terms, mapped to its (first) group's index."""
    global _table
    if _table is None:
        from threer.kb.analysis import terms

        table: dict[tuple[str, ...], int] = {}
        for index, group in enumerate(SYNONYM_GROUPS):
            for phrase in group:
                key = tuple(terms(phrase))
                if key:
                    table.setdefault(key, index)
        _table = table
    return _table


def export_table() -> str:
    """The analysed phrase table as JSON, so a new process need not stem every phrase again."""
    import json

    return json.dumps({"signature": synonyms_signature(), "phrases": [[list(k), g] for k, g in synonym_phrases().items()]})


def import_table(text: str) -> bool:
    """Use a table from `export_table` if it was made from these groups; True if it was (or could be)."""
    import json

    global _table
    try:
        data = json.loads(text)
        if data.get("signature") != synonyms_signature():
            return False
        if _table is None:
            _table = {tuple(k): int(g) for k, g in data["phrases"]}
    except (ValueError, TypeError, KeyError, AttributeError):
        return False
    return True


@lru_cache(maxsize=1)
def _by_first_term() -> dict[str, list[tuple[tuple[str, ...], int]]]:
    """first term -> [(phrase, group)], longest phrase first."""
    index: dict[str, list[tuple[tuple[str, ...], int]]] = {}
    for phrase, group in synonym_phrases().items():
        index.setdefault(phrase[0], []).append((phrase, group))
    for entries in index.values():
        entries.sort(key=lambda entry: -len(entry[0]))
    return index


def find_groups(terms: list[str]) -> list[tuple[int, int, int]]:
    """(start, end, group) of each synonym phrase in a term sequence: longest first, left to right.

    Indexing and query parsing both use this, so they find the same phrases.
    """
    first = _by_first_term()
    found = []
    next_free = 0
    for i, t in enumerate(terms):
        if i < next_free:
            continue
        entries = first.get(t)
        if entries is None:
            continue
        for phrase, group in entries:
            size = len(phrase)
            if size == 1 or tuple(terms[i : i + size]) == phrase:
                found.append((i, i + size, group))
                next_free = i + size
                break
    return found


@lru_cache(maxsize=1)
def _index_tables() -> tuple[dict[str, int], dict[str, list[tuple[str, frozenset[str], int]]]]:
    """(one-term phrase -> group, first term -> [(" a b ", its terms, group)] for longer phrases)."""
    singles: dict[str, int] = {}
    longer: dict[str, list[tuple[str, frozenset[str], int]]] = {}
    for phrase, group in synonym_phrases().items():
        if len(phrase) == 1:
            singles[phrase[0]] = group
        else:
            longer.setdefault(phrase[0], []).append((" " + " ".join(phrase) + " ", frozenset(phrase), group))
    return singles, longer


def group_tokens(terms: list[str], joined: str | None = None) -> list[str]:
    """A group token for every occurrence of a synonym phrase in a document's terms.

    Built for speed at index time (set and string operations, no loop over every
    term); unlike `find_groups` it may count a term inside a longer phrase twice
    ("junk mail" is junk, and mail is e-mail), which only widens what a group finds.
    `joined` is `" ".join(terms)` when the caller has it already.
    """
    from collections import Counter

    singles, longer = _index_tables()
    counts = Counter(terms)
    tokens: list[str] = []
    for t in counts.keys() & singles.keys():
        tokens.extend([group_token(singles[t])] * counts[t])
    padded = None
    starts = counts.keys() & longer.keys()
    present = set(counts) if starts else set()
    for first in starts:
        for phrase, words, group in longer[first]:
            if not words <= present:
                continue  # a word of the phrase is missing: no need to look for it
            if padded is None:
                padded = f" {joined if joined is not None else ' '.join(terms)} "
            found = padded.count(phrase)
            if found:
                tokens.extend([group_token(group)] * found)
    return tokens


@lru_cache(maxsize=None)
def group_alternatives(index: int) -> tuple[tuple[str, ...], ...]:
    """The term tuples of one group."""
    return tuple(phrase for phrase, group in synonym_phrases().items() if group == index)


@lru_cache(maxsize=1)
def synonyms_signature() -> str:
    """Changes whenever the groups change (the index holds their group tokens)."""
    import hashlib

    return hashlib.sha256(repr(SYNONYM_GROUPS).encode()).hexdigest()[:12]
