"""`threer kb ...` through the real command: index, search (and its JSON contract), show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from threer.kb.index import SAMPLE_DIR

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture
def kb_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "prompt.md").write_text(
        "---\nid: my-prompt\ntitle: Outlook asks for the password\ntags: [outlook]\n---\n\n"
        "Clear the **Quokka Vault** entries, then sign in once.\n",
        encoding="utf-8",
    )
    (folder / "notes.txt").write_text("Relay notes\n\nThe copier gets 550 5.7.1 on port 25.\n", encoding="utf-8")
    return folder


def test_index_summary_and_warnings(invoke, kb_folder):
    (kb_folder / "broken.md").write_text("---\ntitle: [x\n---\n", encoding="utf-8")
    result = invoke("kb", "index", str(kb_folder))
    assert result.exit_code == 0, result.stderr
    assert "3 added" in result.stdout and "0 skipped" in result.stdout  # a broken front matter is forgiven
    assert "broken.md" in result.stderr and "front matter" in result.stderr and "first heading" in result.stderr
    (kb_folder / "bomb.md").write_text("---\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                                       "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n---\n# Bomb\n", encoding="utf-8")
    again = invoke("kb", "index", str(kb_folder))
    assert "3 unchanged" in again.stdout and "1 skipped" in again.stdout
    assert "bomb.md" in again.stderr and "expand" in again.stderr


def test_index_json(invoke, kb_folder):
    data = json.loads(invoke("kb", "index", str(kb_folder), "--json").stdout)
    assert data["added"] == 2 and data["skipped"] == []


def test_index_missing_path_is_exit_2(invoke, kb_folder):
    result = invoke("kb", "index", str(kb_folder), str(kb_folder / "nope"))
    assert result.exit_code == 2
    assert "No such file or folder" in result.stderr and "nope" in result.stderr


def test_index_without_path_uses_the_config(invoke, kb_folder, threer_env):
    none = invoke("kb", "index")
    assert none.exit_code == 2 and "kb_folders" in none.stderr
    threer_env.config_path.parent.mkdir(parents=True, exist_ok=True)
    threer_env.config_path.write_text(f"kb_folders = [{json.dumps(str(kb_folder))}]\n", encoding="utf-8")
    result = invoke("kb", "index")
    assert result.exit_code == 0 and "2 added" in result.stdout


def test_a_config_folder_that_is_not_there_is_skipped_and_its_articles_kept(invoke, kb_folder, threer_env, tmp_path):
    # a share not mounted today must not take its articles out, nor stop the other folders
    share = tmp_path / "share"
    share.mkdir()
    (share / "vpn.md").write_text("# VPN blocks port 587\n\nThe zorbulax VPN blocks sending.\n", encoding="utf-8")
    threer_env.config_path.parent.mkdir(parents=True, exist_ok=True)
    folders = json.dumps([str(kb_folder), str(share)])
    threer_env.config_path.write_text(f"kb_folders = {folders}\n", encoding="utf-8")
    assert "3 added" in invoke("kb", "index").stdout
    share.rename(tmp_path / "unmounted")
    result = invoke("kb", "index")
    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stderr.split())
    assert f"kb_folders in {threer_env.config_path} names {share}, which does not exist now" in said
    assert "its articles are kept" in said and "0 removed" in result.stdout
    found = json.loads(invoke("kb", "search", "zorbulax", "--json").stdout)["results"]
    assert [r["title"] for r in found][:1] == ["VPN blocks port 587"]
    threer_env.config_path.write_text(f"kb_folders = {json.dumps([str(share)])}\n", encoding="utf-8")
    none = invoke("kb", "index")
    assert none.exit_code == 2 and "None of the kb_folders" in " ".join(none.stderr.split())


def test_search_json_contract(invoke, kb_folder):
    invoke("kb", "index", str(kb_folder))
    result = invoke("kb", "search", "550 5.7.1", "--json", "--limit", "3")
    assert result.exit_code == 0 and result.stderr == ""
    data = json.loads(result.stdout)
    assert list(data) == ["query", "searched_for", "searched_terms", "results"] and data["query"] == "550 5.7.1"
    assert data["searched_for"] is None  # nothing was corrected
    assert data["searched_terms"] == ["550", "5.7.1"]
    assert 1 <= len(data["results"]) <= 3
    for item in data["results"]:
        assert list(item) == ["id", "title", "source", "score", "snippet", "path"]
        assert isinstance(item["id"], str) and isinstance(item["title"], str)
        assert item["source"] in ("kb", "case") and isinstance(item["score"], float)
        assert isinstance(item["snippet"], str) and (item["path"] is None or isinstance(item["path"], str))
        assert "**" not in item["snippet"] and "550" in item["snippet"]  # plain text: highlighting is the terminal's
    scores = [item["score"] for item in data["results"]]
    assert scores == sorted(scores, reverse=True)
    assert data["results"][0]["id"] in {"notes", "kb-0008-ndr-550-5-7-1-relay-denied"}


def test_search_odd_queries_are_fine(invoke):
    for query in ['"', "AND OR NOT", "(((", "✉️", "?!"]:
        result = invoke("kb", "search", query, "--json")
        assert result.exit_code == 0, (query, result.stderr)
        assert json.loads(result.stdout)["query"] == query


def test_search_of_only_punctuation_says_there_was_nothing_to_search_for(invoke):
    result = invoke("kb", "search", "(((")
    assert result.exit_code == 0
    assert result.stdout == "No articles or past cases match '((('; it has no words or codes to search for.\n"


@pytest.mark.parametrize("query", ["hi there can you help please", "the customer says", "AND OR NOT",
                                   "Hello, thanks!"])
def test_search_of_only_common_words_says_there_was_nothing_to_search_for(invoke, query):
    result = invoke("kb", "search", query)
    assert result.exit_code == 0 and result.stderr == ""
    message = " ".join(result.stdout.split())
    assert message.startswith(f"Nothing to search for in {query!r}: it has only words that every article uses")
    assert "threer kb search outlook keeps asking for password" in message
    data = json.loads(invoke("kb", "search", query, "--json").stdout)
    assert data == {"query": query, "searched_for": None, "searched_terms": [], "results": []}


def test_search_json_names_the_words_searched_as_corrected(invoke):
    data = json.loads(invoke("kb", "search", "hi, the customer says outlok keeps asking for pasword", "--json").stdout)
    assert data["searched_terms"] == ["outlook", "asking", "password"]  # "keeps" is a stop word
    assert data["results"] and data["results"][0]["id"] == "kb-0001-outlook-password-prompt"


@pytest.mark.parametrize("args", [[""], ["   "], ["\t\n"], ["", ""], ["", "--json"]])
def test_search_for_nothing_is_a_usage_error(invoke, args):
    result = invoke("kb", "search", *args)
    assert result.exit_code == 2 and result.stdout == ""
    message = " ".join(result.stderr.split())
    assert message.startswith("Error: The search text is empty.") and "threer kb search 0x800CCC0E" in message


def test_search_words_without_quotes_and_source(invoke, kb_folder):
    invoke("kb", "index", str(kb_folder))
    data = json.loads(invoke("kb", "search", "quokka", "vault", "--json", "--source", "kb").stdout)
    assert data["query"] == "quokka vault" and data["results"][0]["id"] == "my-prompt"
    assert json.loads(invoke("kb", "search", "quokka", "--json", "--source", "case").stdout)["results"] == []
    bad = invoke("kb", "search", "x", "--source", "web")
    assert bad.exit_code == 2 and "kb or case" in bad.stderr


def test_search_human_output(invoke, kb_folder):
    invoke("kb", "index", str(kb_folder))
    result = invoke("kb", "search", "quokka vault")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith(" 1. Outlook asks for the password") and "[my-prompt]" in lines[0]
    assert "Quokka Vault" in lines[1] and "**" not in result.stdout
    assert "kb · score" in lines[2] and "prompt.md" in lines[2]
    nothing = invoke("kb", "search", "qqqzzzxx")
    assert nothing.exit_code == 0 and "No articles or past cases match" in nothing.stdout


def test_search_finds_the_sample_kb_on_a_new_install(invoke):
    data = json.loads(invoke("kb", "search", "outlook keeps asking for password", "--json").stdout)
    assert data["results"][0]["id"] == "kb-0001-outlook-password-prompt"
    assert data["results"][0]["path"].startswith(str(SAMPLE_DIR))


def test_show_renders_markdown(invoke, kb_folder):
    invoke("kb", "index", str(kb_folder))
    result = invoke("kb", "show", "my-prompt")
    assert result.exit_code == 0
    assert result.stdout.startswith("Outlook asks for the password")
    assert "my-prompt · article · outlook" in result.stdout
    assert "Quokka Vault" in result.stdout and "**" not in result.stdout
    text = invoke("kb", "show", "notes")
    assert "550 5.7.1" in text.stdout


def test_show_sample_article_on_a_new_install(invoke):
    result = invoke("kb", "show", "kb-0001-outlook-password-prompt")
    assert result.exit_code == 0 and "Outlook keeps asking for a password" in result.stdout


def test_show_unknown_id_is_exit_2(invoke):
    result = invoke("kb", "show", "no-such-article")
    assert result.exit_code == 2
    assert "No article or past case with id 'no-such-article'" in result.stderr and "threer kb search" in result.stderr


@pytest.mark.parametrize("command", ["index", "search", "show", "import"])
def test_every_kb_command_has_help_with_an_example(invoke, command):
    result = invoke("kb", command, "--help")
    assert result.exit_code == 0 and "Example" in result.stdout


def test_kb_alone_shows_help(invoke):
    result = invoke("kb")
    shown = result.stdout + result.stderr
    assert "index" in shown and "search" in shown and "import" in shown


def test_own_article_replacing_a_sample_one_is_announced(invoke, tmp_path):
    folder = tmp_path / "own"
    folder.mkdir()
    own = folder / "hijack.md"
    own.write_text("---\nid: kb-0001-outlook-password-prompt\ntitle: Hijack\n---\n\nOur own steps.\n", encoding="utf-8")
    sample = SAMPLE_DIR / "kb-0001-outlook-password-prompt.md"
    result = invoke("kb", "index", str(folder))
    assert result.exit_code == 0 and "1 added" in result.stdout
    warning = " ".join(result.stderr.split())  # the console may wrap a long line
    assert warning.startswith("Warning:") and "replaces the sample article" in warning
    assert str(own.resolve()) in warning and str(sample) in warning
    assert invoke("kb", "show", "kb-0001-outlook-password-prompt").stdout.startswith("Hijack")
    own.unlink()
    invoke("kb", "index", str(folder))
    assert "Outlook keeps asking" in invoke("kb", "show", "kb-0001-outlook-password-prompt").stdout


def test_own_article_replacing_a_sample_one_is_in_the_json_report(invoke, tmp_path):
    folder = tmp_path / "own"
    folder.mkdir()
    (folder / "x.md").write_text("---\nid: kb-0001-outlook-password-prompt\n---\n# Mine\n", encoding="utf-8")
    result = invoke("kb", "index", str(folder), "--json")
    data = json.loads(result.stdout)
    assert list(data) == ["added", "updated", "unchanged", "removed", "skipped", "warnings", "seconds"]
    assert len(data["warnings"]) == 1 and data["warnings"][0]["path"] == str((folder / "x.md").resolve())
    assert "replaces the sample article" in data["warnings"][0]["message"] and result.stderr == ""


def test_two_files_with_one_id_name_both_in_the_warning(invoke, tmp_path):
    folder = tmp_path / "own"
    folder.mkdir()
    for name in ("b.md", "a.md"):
        (folder / name).write_text(f"---\nid: same\ntitle: From {name}\n---\nText.\n", encoding="utf-8")
    result = invoke("kb", "index", str(folder))
    assert "1 added" in result.stdout and "1 skipped" in result.stdout
    warning = " ".join(result.stderr.split())
    assert f"Skipped {(folder / 'b.md').resolve()}: its id 'same' is already used by {(folder / 'a.md').resolve()}" in warning
    assert invoke("kb", "show", "same").stdout.startswith("From a.md")


def test_warning_paths_with_brackets_are_shown_as_they_are(invoke, tmp_path):
    folder = tmp_path / "[draft]"
    folder.mkdir()
    (folder / "bad.md").write_text("---\ntitle: [x\n---\n", encoding="utf-8")
    result = invoke("kb", "index", str(folder))
    assert "[draft]" in result.stderr


def _resolved_case(env, errors: str) -> str:
    """A past case as the triage makes it: a session resolved, then indexed by case_document."""
    import copy

    from support_sessions import ESCALATION, session_in_memory

    from threer.kb.cases import index_case
    from threer.store import Store
    from threer.triage.actions import case_document

    answers = copy.deepcopy(ESCALATION)
    answers["intake.errors"] = errors
    answers["outcome"] = {"decision": "resolved", "summary": "Password prompt loop after migration",
                          "resolution": "Added the autodiscover CNAME; the prompt stopped."}
    session = session_in_memory(answers)
    with Store(env.db_path) as store:
        index_case(store, session.id, **case_document(session))
    return session.id


def test_show_past_case_one_field_a_line(invoke, threer_env):
    session_id = _resolved_case(threer_env, "Error 0x800CCC0E [bold]\nRemote Server returned '550 5.7.1 relay denied'")
    result = invoke("kb", "show", f"case:{session_id}")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Password prompt loop after migration" and "past case" in lines[1] and lines[2] == ""
    body = lines[3:]
    labels = [line.split(":", 1)[0] for line in body if line and not line.startswith(" ")]
    assert labels == ["Symptom", "Affected", "Errors", "Environment", "DNS", "Resolution"]
    errors = body.index("Errors:       Error 0x800CCC0E [bold]")  # markup-like text shown as written
    assert body[errors + 1] == "              Remote Server returned '550 5.7.1 relay denied'"
    assert "Resolution:   Added the autodiscover CNAME; the prompt stopped." in body
    assert all(line == line.rstrip() for line in lines)


def test_show_past_case_wraps_under_its_value(invoke, threer_env):
    session_id = _resolved_case(threer_env, "word " * 30)
    result = invoke("kb", "show", session_id, env={"COLUMNS": "40"})
    body = result.stdout.splitlines()[3:]
    start = next(i for i, line in enumerate(body) if line.startswith("Errors:"))
    assert body[start + 1].startswith(" " * 14 + "word") and all(len(line) <= 40 for line in body)


# -- review 2 item 1: snippets carry the article's text; only real markup goes ---------------------------

def test_snippets_keep_dns_names_and_placeholders(invoke):
    result = invoke("kb", "search", "selector1._domainkey", "--json", "--limit", "2")
    assert result.exit_code == 0, result.stderr
    snippets = {r["id"]: r["snippet"] for r in json.loads(result.stdout)["results"]}
    dkim = snippets["kb-0004-dkim-signing"]
    assert "selector1._domainkey.example.com" in dkim
    assert "<selector1 target from the Control Panel>" in dkim
    result = invoke("kb", "search", "_dmarc.example.com TXT", "--json", "--limit", "5")
    snippets = {r["id"]: r["snippet"] for r in json.loads(result.stdout)["results"]}
    assert any("_dmarc.example.com" in s for s in snippets.values()), snippets
    assert not any(" dmarc.example.com" in s for s in snippets.values()), snippets
    # on the terminal too (highlighting aside)
    result = invoke("kb", "search", "selector1._domainkey", "--limit", "2", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    assert "selector1._domainkey.example.com" in result.stdout
    assert "<selector1 target from the Control Panel>" in result.stdout


def test_snippets_drop_only_real_markup(invoke, tmp_path: Path):
    folder = tmp_path / "marked"
    folder.mkdir()
    (folder / "wild.md").write_text(
        "---\nid: wildcard-note\ntitle: Wildcard records for the quokka domain\n---\n\n"
        "A **quokka** record at *.quokka.example answers every name; _emphasis_ goes but "
        "_mta-sts.quokka.example keeps its underscore, and <b>bold</b> tags go while <your token> stays.\n",
        encoding="utf-8",
    )
    assert invoke("kb", "index", str(folder)).exit_code == 0
    result = invoke("kb", "search", "quokka wildcard", "--json", "--limit", "1")
    (item,) = json.loads(result.stdout)["results"]
    assert item["id"] == "wildcard-note"
    snippet = item["snippet"]
    assert "A quokka record at *.quokka.example answers every name; emphasis goes" in snippet
    assert "_mta-sts.quokka.example keeps its underscore" in snippet
    assert "bold tags go while <your token> stays." in snippet
    assert "**" not in snippet and "<b>" not in snippet


# -- review 2 item 18: a deleted or moved folder's articles leave the index ---------------------------------

def test_indexing_a_folder_that_is_gone_takes_its_articles_out(invoke, kb_folder, tmp_path):
    assert invoke("kb", "index", str(kb_folder)).exit_code == 0
    assert invoke("kb", "show", "my-prompt").exit_code == 0
    moved = tmp_path / "moved-away"
    kb_folder.rename(moved)
    result = invoke("kb", "index", str(kb_folder))
    assert result.exit_code == 0, result.stderr
    assert "no longer exists: its 2 entries left the index" in result.stderr
    assert "2 removed" in result.stdout
    found = json.loads(invoke("kb", "search", "Quokka Vault", "--json").stdout)["results"]
    assert "my-prompt" not in [r["id"] for r in found]
    assert invoke("kb", "show", "my-prompt").exit_code != 0
    # the sample KB stays, and a path the index never held is still an error
    assert invoke("kb", "show", "kb-0001-outlook-password-prompt").exit_code == 0
    again = invoke("kb", "index", str(kb_folder))
    assert again.exit_code == 2 and "No such file or folder" in again.stderr


def test_a_gone_folder_in_json_says_what_left(invoke, kb_folder, tmp_path):
    assert invoke("kb", "index", str(kb_folder)).exit_code == 0
    kb_folder.rename(tmp_path / "elsewhere")
    doc = json.loads(invoke("kb", "index", str(kb_folder), "--json").stdout)
    assert doc["removed"] == 2
    assert [w["message"] for w in doc["warnings"]] == ["no longer exists: its 2 entries left the index"]


def test_a_file_name_with_a_newline_or_brackets_stays_on_its_warning_line(invoke, tmp_path):
    """A name may hold anything but `/`: it must not make a warning line of its own, nor lose a bracket."""
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "b[x]\nWarning: all fine.md").write_text("---\ntitle: [x\n---\n# B\n\nwords\n", encoding="utf-8")
    result = invoke("kb", "index", str(folder))
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Warning: ")
    assert "b[x]\\nWarning: all fine.md: its front matter" in lines[0]
    listed = invoke("kb", "search", "words")
    assert "b[x]\\nWarning: all fine.md" in listed.stdout
    assert "\nWarning: all fine" not in listed.stdout


def test_a_very_long_article_is_shown_as_plain_text(invoke, tmp_path):
    from threer.cli.kb_viewer import MARKDOWN_LAYOUT_MAX

    folder = tmp_path / "kb"
    folder.mkdir()
    line = "Check the **MX record** and the [guide](https://example.com/mx) first.\n"
    (folder / "long.md").write_text("# Long one\n\n" + line * (MARKDOWN_LAYOUT_MAX // len(line) + 10), encoding="utf-8")
    (folder / "short.md").write_text("# Short one\n\n" + line, encoding="utf-8")
    assert invoke("kb", "index", str(folder)).exit_code == 0
    long = invoke("kb", "show", "long")
    assert long.exit_code == 0, long.stderr
    assert "Shown as plain text" in long.stdout
    assert "Check the MX record and the guide first." in long.stdout and "**" not in long.stdout
    short = invoke("kb", "show", "short")
    assert "Shown as plain text" not in short.stdout and "MX record" in short.stdout and "**" not in short.stdout
