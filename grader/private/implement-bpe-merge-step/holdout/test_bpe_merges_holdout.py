"""Holdout properties for the BPE merge step (not shown to the candidate): bigger corpora,
runs of one symbol, ties between pairs that share a prefix, pairs that do not occur, the
argument left untouched, and training on text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from test_bpe_merges import (
    corpora,
    corpus_and_pair,
    first_difference,
    oracle_best,
    oracle_counts,
    oracle_merge,
    received,
    send,
    show,
)

from grader.grading.boundary import candidate

bpe = candidate("harness")


@given(corpora(max_words=20, max_len=14))
def test_bigger_corpora_count_and_merge_like_the_reference(corpus):
    got = {(a, b): n for a, b, n in bpe.count_pairs(send(corpus))}
    want = oracle_counts(corpus)
    assert got == dict(want), f"{len(corpus)} words: pair counts differ from the brute force"
    pair = oracle_best(want)
    if pair is not None:
        merged = received(bpe.merge_pair(send(corpus), list(pair))["merged"])
        expected = oracle_merge(corpus, pair)
        assert merged == expected, (
            f"{len(corpus)} words, merging ({show(pair)}): first difference at "
            f"{first_difference(merged, expected)}"
        )


@given(st.sampled_from(["a", "ab", "</w>"]), st.integers(2, 12), st.integers(1, 5))
def test_runs_of_one_symbol_merge_in_non_overlapping_pairs(symbol, n, freq):
    word = (symbol,) * n
    got = received(bpe.merge_pair([[list(word), freq]], [symbol, symbol])["merged"])
    want = {(symbol * 2,) * (n // 2) + (symbol,) * (n % 2): freq}
    assert got == want, (
        f"merging ({symbol} {symbol}) in a run of {n}: got {[show(w) for w in got]}, "
        f"expected {[show(w) for w in want]}"
    )


@given(st.permutations([["a", "bc", 4], ["ab", "c", 4], ["a", "b", 4], ["b", "c", 1]]))
def test_ties_between_pairs_that_share_a_prefix(counts):
    got = bpe.best_pair(counts)
    assert got == ["a", "b"], (
        f"counts {[(a, b, n) for a, b, n in counts]}: chose {got}, expected ('a', 'b'), which "
        "sorts before ('a', 'bc') and ('ab', 'c')"
    )


@given(corpora())
def test_merging_a_pair_that_does_not_occur_changes_nothing(corpus):
    pair = ("zz", "zz")
    got = received(bpe.merge_pair(send(corpus), list(pair))["merged"])
    assert got == corpus, f"merging an absent pair changed {first_difference(got, corpus)}"


@given(corpus_and_pair(collide=True))
def test_merge_leaves_its_argument_untouched(case):
    corpus, pair = case
    answer = bpe.merge_pair(send(corpus), list(pair))
    after = received(answer["input"])
    assert after == corpus, (
        f"merge_pair modified the corpus it was given: {first_difference(after, corpus)}"
    )


@given(
    st.lists(
        st.text(alphabet="aabbc", min_size=1, max_size=9),
        min_size=1,
        max_size=12,
    ),
    st.integers(1, 12),
)
def test_training_on_text_follows_the_contract(words, num_merges):
    from_text = received(bpe.corpus_from_text([" ".join(words)]))
    got = bpe.learn_merges(send(from_text), num_merges)
    corpus, merges = dict(from_text), []
    for _ in range(num_merges):
        pair = oracle_best(oracle_counts(corpus))
        if pair is None:
            break
        merges.append(pair)
        corpus = oracle_merge(corpus, pair)
    got_merges = [tuple(p) for p in got["merges"]]
    assert got_merges == merges, (
        f"{len(from_text)} distinct words, {num_merges} merges: learned "
        f"{[show(p) for p in got_merges]}, expected {[show(p) for p in merges]}"
    )
    assert received(got["corpus"]) == corpus, "the final corpus differs from the reference"
