"""The snippet window: the sliding count gives the window a direct count of each window gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from threer.kb.snippets import SNIPPET_CHARS, _best_start

TERMS = ["outlook", "password", "prompt", "keep", "ask", "0x800ccc0e", "sync", "iphone"]


def counted(hits: list[tuple[int, int, str]], group_of: dict[str, int], typed: frozenset[str]) -> int:
    """Each window counted afresh: the definition `_best_start` must agree with."""
    best_key, start, last = (-1, -1, -1), 0, 0
    for i, (h_start, _, _) in enumerate(hits[:200]):
        last = max(last, i)
        while last + 1 < len(hits) and hits[last + 1][0] < h_start + SNIPPET_CHARS:
            last += 1
        window = hits[i : last + 1]
        key = (len({group_of.get(t, -1) for _, _, t in window}), sum(t in typed for _, _, t in window), len(window))
        if key > best_key:
            best_key, start = key, h_start
    return start


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=260),
    words=st.lists(st.sampled_from(TERMS), min_size=260, max_size=260),
    groups=st.dictionaries(st.sampled_from(TERMS), st.integers(min_value=0, max_value=3)),
    typed=st.frozensets(st.sampled_from(TERMS)),
)
def test_the_sliding_window_picks_the_start_a_fresh_count_picks(gaps, words, groups, typed):
    hits, at = [], 0
    for gap, word in zip(gaps, words):
        at += gap
        hits.append((at, at + len(word), word))
    assert _best_start(hits, groups, typed) == counted(hits, groups, typed)


def test_hits_past_the_200th_still_count_in_the_windows_that_reach_them():
    """Windows start at one of the first 200 hits (the 200th is at 1990) but hold any hit after it."""
    hits = sorted([(i * 10, i * 10 + 4, "sync") for i in range(230)] + [(2155, 2161, "iphone")])
    groups = {"sync": 0, "iphone": 1}
    assert _best_start(hits, groups, frozenset()) == counted(hits, groups, frozenset()) == 1940
