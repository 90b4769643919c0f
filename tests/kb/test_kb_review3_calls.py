"""Call-style queries and exact bounce codes on a knowledge base nobody on the team wrote (review 3, items 9 and 10).

tests/kb/review3/ is the reviewer's KB as they indexed it (their articles bf-001 to bf-016, with
their front matter, one of them with a number for an id and for its tags), searched here beside
the bundled sample KB, as a partner's install has both, among 1,000 articles from kb-eval's
generator (../shared/kb-eval, as tests/kb/test_kb_eval_ranking.py uses it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from threer.config import Config
from threer.kb.index import ensure_sample_kb, index_paths
from threer.kb.search import search
from threer.store import Store
from threer.triage.actions import DefaultActions
from threer.triage.evidence import analyse_errors

REPO = Path(__file__).resolve().parents[2]
KB_EVAL = Path(os.environ.get("THREER_KB_EVAL") or REPO.parent / "shared" / "kb-eval")
REVIEW_KB = Path(__file__).parent / "review3"
DISTRACTORS = 1000

pytestmark = pytest.mark.skipif(
    not (KB_EVAL / "gen_kb.py").is_file(),
    reason=f"kb-eval is not at {KB_EVAL} (put the shared folder beside the repository, or set THREER_KB_EVAL)",
)

# the reviewer's answers file (answers/harbour-escalate.yaml): intake.issue and intake.errors, as typed
HARBOUR_ISSUE = (
    "Mail to some law-firm customers bounces since the move to the hosted service.\n"
    'Sam says "it\'s every order to Greenleaf" \u2013 they get a bounce mentioning SPF.\n'
)
HARBOUR_NDR = """Delivery has failed to these recipients or groups:

orders@greenleaf-law.example
Your message couldn't be delivered. The email was rejected because the sender's domain failed an authentication check.

Diagnostic information for administrators:

Generating server: LO2P265MB1234.GBRP265.PROD.OUTLOOK.COM

orders@greenleaf-law.example
Remote server returned '550 5.7.23 The message was rejected because of Sender Policy Framework violation -> ip=127.0.30.25'
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    distractors = tmp_path_factory.mktemp("distractors")
    subprocess.run([sys.executable, str(KB_EVAL / "gen_kb.py"), "--n", str(DISTRACTORS), "--out", str(distractors)],
                   check=True, capture_output=True)
    with Store(tmp_path_factory.mktemp("review3") / "threer.db") as s:
        ensure_sample_kb(s)
        report = index_paths(s, [REVIEW_KB, distractors])
        assert report.added >= DISTRACTORS + 15
        yield s


def research_prior(store: Store, issue: str, errors: str) -> list[str]:
    """The ids research.prior shows for an issue and pasted error text, as the triage searches them."""
    sources = [[issue], analyse_errors(errors)["queries"]]  # as threer.triage.engine.research_query_groups
    result = DefaultActions(store, Config()).prior(sources)
    return [m["id"] for m in result.fields["matches"]]


def test_research_prior_puts_the_article_with_the_bounces_exact_code_first(store):
    # item 9: the issue alone ranks other bounce articles first; the NDR's "550 5.7.23" is bf-008's tag
    assert search(store, "550 5.7.23", limit=1)[0].id == "bf-008-spf-fail-550-5-7-23"
    shown = research_prior(store, HARBOUR_ISSUE, HARBOUR_NDR)
    assert shown[0] == "bf-008-spf-fail-550-5-7-23"
    assert len(shown) == len(set(shown)) == 5


def test_research_prior_lists_matches_by_the_fused_score_it_shows(store):
    result = DefaultActions(store, Config()).prior([HARBOUR_ISSUE, analyse_errors(HARBOUR_NDR)["queries"]])
    scores = [m["score"] for m in result.fields["matches"]]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    assert [r.id for r in result.detail] == [m["id"] for m in result.fields["matches"]]


def test_a_symptom_search_and_an_unrelated_code_search_each_keep_their_best_in_the_merge(store):
    # an error text that shares nothing with the issue: its exact code's articles lead (found by all four
    # of its searches), and the issue's best match still comes next, not pushed out by the code's neighbours
    issue = "Outlook for Mac keeps asking for keychain access"
    shown = research_prior(store, issue, "Remote server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'")
    assert set(shown[:2]) == {"bf-011-550-5-1-1-recipient-unknown", "kb-0007-ndr-550-5-1-1-recipient-unknown"}
    assert shown[2] == search(store, issue, limit=1)[0].id


def test_an_exact_code_found_by_the_error_text_beats_an_unrelated_issue_match_of_equal_strength(store):
    # the code's article is found by the code searches and the diagnostic alike
    shown = research_prior(store, "customer cannot send to a law firm", HARBOUR_NDR)
    assert shown[0] == "bf-008-spf-fail-550-5-7-23"
