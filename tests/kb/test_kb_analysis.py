"""The analysis reads a text piece by piece (whitespace-separated, cached): the terms must be
exactly those of the token pattern run over the whole text, whatever the text."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threer.kb.analysis import TOKEN_RE, shadow, term, terms

_PIECES = st.sampled_from(["Outlook,", "(0x800CCC0E).", "5.7.1", "550", "can't", "don\u2019t", "e-mail", "Café",
                           "naïve", "ΑΘΗΝΑ", "straße", "x_y", "1.2.", ".5", "a.b", "''", "\u00a0", "\u2028", "\x1c",
                           "\u200b", "\u0301", "ﬁle", "½", "\t", "\n", " ", "  ", "__init__", "v2.0.1-beta"])
_TEXT = st.one_of(st.text(max_size=200), st.lists(_PIECES, max_size=40).map("".join))


def _reference(text: str) -> list[str]:
    return [t for t in (term(token) for token in TOKEN_RE.findall(text)) if t]


@settings(max_examples=500, deadline=None)
@given(_TEXT)
def test_terms_match_the_token_pattern_over_the_whole_text(text):
    assert terms(text) == _reference(text)
    assert shadow(text) == " ".join(_reference(text))


def test_known_pieces():
    assert terms("Outlook, (0x800CCC0E). See 5.7.1 - can't\u00a0send") == [
        "outlook", "0x800ccc0e", "see", "5_7_1", "cant", "send"]


def test_the_english_stemmer_loaded_alone_stems_as_the_package_does():
    import snowballstemmer

    from threer.kb.analysis import _english_stemmer

    alone, package = _english_stemmer(), snowballstemmer.stemmer("english")
    words = ["syncing", "synced", "policy", "policies", "receiving", "autodiscover", "passwords", "generously",
             "quarantined", "forwarding", "attachments", "undeliverable", "sign", "signing", "authentication"]
    assert [alone.stemWord(w) for w in words] == [package.stemWord(w) for w in words]
    assert term("Syncing") == package.stemWord("syncing")


@pytest.mark.parametrize("for_reading", [False, True])
def test_entities_strikethrough_and_footnotes_are_read_as_text(for_reading):
    from threer.kb.analysis import markdown_to_text

    body = ("Quota &amp; archive &lt;tenant&gt;&nbsp;limits, ~~old server~~ new server.\n"
            "Set it in the portal[^1].\n\n[^1]: The admin portal, under Settings.\n")
    text = markdown_to_text(body, for_reading=for_reading)
    assert "Quota & archive <tenant> limits, old server new server." in text
    assert "Set it in the portal." in text and "The admin portal, under Settings." in text
    assert not any(mark in text for mark in ("&amp;", "&lt;", "&nbsp;", "~~", "[^", "\xa0"))
    assert markdown_to_text("a ~~ b ~~ c") == "a ~~ b ~~ c"  # marks not round words are text
