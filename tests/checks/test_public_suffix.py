"""The organisational domain from the few rules that apply is the publicsuffixlist package's answer
from the whole list: for every rule of the list, names at, under and beside it, in Unicode and punycode."""

from __future__ import annotations

import pytest
from publicsuffixlist import PSLFILE, PublicSuffixList

from threer.checks.dmarc import organisational_domain
from threer.checks.public_suffix import private_suffix


@pytest.fixture(scope="module")
def whole_list() -> PublicSuffixList:
    return PublicSuffixList()


def _rules() -> list[str]:
    with open(PSLFILE, encoding="utf-8") as source:
        lines = [line.split(" ")[0].strip() for line in source]
    return [line for line in lines if line and not line.startswith("//")]


def _names_around(rule: str) -> list[str]:
    base = rule.lstrip("!")
    base = base[2:] if base.startswith("*.") else base
    names = [base, f"shop.{base}", f"a.shop.{base}", f"b.a.shop.{base}", base.split(".", 1)[-1]]
    try:
        puny = base.encode("idna").decode("ascii")
    except UnicodeError:
        puny = None
    if puny and puny != base:
        names += [puny, f"shop.{puny}", f"a.shop.{puny}"]
    return names


def test_every_rule_of_the_list_gives_the_packages_answer(whole_list) -> None:
    rules = _rules()
    assert len(rules) > 5000  # the list the package ships, not an empty file
    kinds = {"exact": 0, "wildcard": 0, "exception": 0, "idn": 0}
    differences = []
    for rule in rules:
        kinds["exception" if rule.startswith("!") else "wildcard" if rule.startswith("*.") else "exact"] += 1
        kinds["idn"] += not rule.isascii()
        for name in _names_around(rule):
            if private_suffix(name) != whole_list.privatesuffix(name):
                differences.append((name, private_suffix(name), whole_list.privatesuffix(name)))
    assert differences == []
    assert all(kinds.values()), kinds  # each kind of rule was compared


@pytest.mark.parametrize(("name", "expected"), [
    ("mail.contoso.com", "contoso.com"),
    ("reports.example.co.uk", "example.co.uk"),
    ("www.city.kobe.jp", "city.kobe.jp"),  # city.kobe.jp is an exception to the *.kobe.jp wildcard
    ("a.b.kobe.jp", "a.b.kobe.jp"),  # under the wildcard: b.kobe.jp is public
    ("user.github.io", "user.github.io"),  # a private-section suffix
    ("contoso.unknown-tld", "contoso.unknown-tld"),
    ("Mail.Contoso.COM.", "contoso.com"),
])
def test_organisational_domain(name: str, expected: str) -> None:
    assert organisational_domain(name) == expected


def test_a_name_that_is_a_public_suffix_or_not_a_name_is_its_own() -> None:
    assert organisational_domain("co.uk") == "co.uk"
    assert organisational_domain("a..b.com") == "a..b.com"
    assert private_suffix("a..b.com") is None
