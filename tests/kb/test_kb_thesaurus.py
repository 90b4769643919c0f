"""The thesaurus as data: the built-in groups, a partner's file beside the config, and its checks."""

from __future__ import annotations

import json

import pytest

from threer.errors import BadInput
from threer.kb.thesaurus import load_thesaurus, parse_thesaurus


def test_the_builtin_thesaurus_is_valid_and_general():
    thesaurus = load_thesaurus()
    assert len(thesaurus.groups) > 100
    calendar = next(g for g in thesaurus.groups if ("diari",) in g.words)
    assert ("calendar",) in calendar.words
    pst = next(g for g in thesaurus.groups if ("pst",) in g.words)
    assert ("person", "folder", "file") in pst.words  # "personal folders file", analysed


def test_a_phrase_expands_to_its_group_and_implies_one_way():
    thesaurus = load_thesaurus()
    found = thesaurus.find(["my", "pixel", "handset"])
    groups = {thesaurus.groups[g].words[0] for _, _, g in found}
    assert ("pixel",) in groups and ("phone",) in groups
    android = next(g for _, _, g in found if thesaurus.groups[g].words[0] == ("pixel",))
    assert ("android",) in thesaurus.expansions(android, ("pixel",))
    # android does not imply pixel
    assert not any(("pixel",) in thesaurus.expansions(g, ("android",)) for _, _, g in thesaurus.find(["android"]))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[[group]]\nwords = ["hex"]\n', "at least two words"),
        ('[[group]]\nwords = ["the", "hosted exchange"]\n', "only common words"),
        ('[[group]]\nwords = "hex, hosted exchange"\n', "must be a list"),
        ('[[group]]\nwords = ["hex", 3]\n', "in quotes"),
        ('[[group]]\nword = ["hex", "hosted exchange"]\n', "unknown key 'word'"),
        ('synonyms = []\n', "unknown key 'synonyms'"),
        ('[[group]\nwords = ["a", "b"]\n', "not valid TOML"),
        ('[[group]]\nwords = ["one two three four five six seven", "x"]\n', "longer than 6 words"),
    ],
)
def test_a_bad_group_is_refused_with_the_reason(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_thesaurus(text, "test")


def test_a_partner_file_extends_the_builtin_groups(tmp_path):
    path = tmp_path / "thesaurus.toml"
    path.write_text('[[group]]\nwords = ["hex", "hosted exchange"]\n', encoding="utf-8")
    thesaurus = load_thesaurus(path)
    assert len(thesaurus.groups) == len(load_thesaurus().groups) + 1 and str(path) in thesaurus.sources
    path.write_text('[[group]]\nwords = ["hex"]\n', encoding="utf-8")
    with pytest.raises(BadInput, match="thesaurus.toml cannot be used: group 1"):
        load_thesaurus(path)
    assert load_thesaurus(tmp_path / "absent.toml").sources == ["built-in"]


def test_kb_search_uses_the_partners_thesaurus(invoke, threer_env, tmp_path):
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "hx.md").write_text("---\nid: hx-setup\n---\n# Hosted Exchange account setup\n\nUse autodiscover.",
                                  encoding="utf-8")
    invoke("kb", "index", str(folder))
    before = json.loads(invoke("kb", "search", "zorblat", "--json").stdout)["results"]
    threer_env.config_path.parent.mkdir(parents=True, exist_ok=True)
    (threer_env.config_path.parent / "thesaurus.toml").write_text(
        '[[group]]\nwords = ["zorblat", "hosted exchange"]\n', encoding="utf-8")
    after = json.loads(invoke("kb", "search", "zorblat", "--json").stdout)["results"]
    assert "hx-setup" not in [r["id"] for r in before]  # the articles never say zorblat
    assert after[0]["id"] == "hx-setup"  # the partner's group says it is hosted exchange
    (threer_env.config_path.parent / "thesaurus.toml").write_text('[[group]]\nwords = ["zorblat"]\n', encoding="utf-8")
    bad = invoke("kb", "search", "zorblat")
    assert bad.exit_code == 2 and "thesaurus.toml cannot be used" in bad.stderr and "Traceback" not in bad.stderr
