import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threer.domain import DomainError, normalise_domain


@pytest.mark.parametrize(
    ("text", "domain", "note_part"),
    [
        ("contoso.com", "contoso.com", None),
        ("  Contoso.COM. ", "contoso.com", "lower-cased"),
        ("contoso.com.", "contoso.com", "trailing dot"),
        ("Jane.Doe@Contoso.com", "contoso.com", "e-mail address"),
        ("https://mail.contoso.com/owa/?x=1", "mail.contoso.com", "address"),
        ("https://www.contoso.com/", "contoso.com", "www."),
        ("contoso.com/owa", "contoso.com", "path"),
        ("bücher.de", "xn--bcher-kva.de", "ASCII form"),
        ("BÜCHER.de", "xn--bcher-kva.de", "ASCII form"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de", None),
        ("sub.domain.co.uk", "sub.domain.co.uk", None),
    ],
)
def test_normalises(text, domain, note_part):
    result = normalise_domain(text)
    assert result.domain == domain
    if note_part is None:
        assert result.note is None
    else:
        assert note_part in result.note


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("contoso", "no dot"),
        ("contoso .com", "spaces"),
        ("192.0.2.1", "IP address"),
        ("[::1]", "IP address"),
        ("-bad.com", "letters, digits"),
        ("bad_.com", "letters, digits"),
        ("a" * 64 + ".com", "letters, digits"),
        ("x." * 130 + "com", "253"),
        ("a\u3002b.com\u3002\u3002", "empty part"),
        ("contoso.123", "number"),
        ("@contoso.com", "not an e-mail"),
        ("https:///path", "No domain"),
        ("a..b.com", "empty part"),
    ],
)
def test_refuses_with_reason(text, reason):
    with pytest.raises(DomainError) as exc:
        normalise_domain(text)
    assert reason in exc.value.message


def test_unicode_round_trip():
    assert normalise_domain("bücher.de").unicode == "bücher.de"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_gives_a_domain_or_a_clear_error(text):
    try:
        result = normalise_domain(text)
    except DomainError as exc:
        assert exc.message and "\n" not in exc.message
        return
    assert result.domain == result.domain.lower()
    assert result.domain.isascii()
    assert not result.domain.endswith(".")
    assert len(result.domain) <= 253
    assert normalise_domain(result.domain).domain == result.domain  # idempotent
