"""Property tests for one BPE merge step: pair counts, the choice of the pair, the merge.

Corpora are drawn by hypothesis over a small set of symbols, some of them several
characters long (as after earlier merges), so that repeated symbols ("a a a"), pairs
that overlap, and words whose symbols differ but spell the same text are common.  The
oracles are the module docstring written out as plain Python loops.
"""

from __future__ import annotations

import itertools
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from grader.grading.boundary import candidate

bpe = candidate("harness")  # bpe_merges, with corpora sent as lists (tuple keys cannot cross)

SYMBOLS = ["a", "b", "c", "aa", "ab", "ba", "bc", "abc", "</w>", "a</w>"]


@st.composite
def corpora(draw, symbols=SYMBOLS, max_words: int = 6, max_len: int = 7) -> dict:
    """Words of 1 to ``max_len`` symbols, built from runs of one symbol (often 2-4 long)."""

    @st.composite
    def word(draw) -> tuple:
        length, symbols_ = draw(st.integers(1, max_len)), []
        while len(symbols_) < length:
            symbols_ += [draw(st.sampled_from(symbols))] * draw(st.sampled_from([1, 1, 2, 3, 4]))
        return tuple(symbols_[:length])

    words = draw(st.lists(word(), min_size=1, max_size=max_words, unique=True))
    return {w: draw(st.integers(1, 9)) for w in words}


def send(corpus: dict) -> list:
    return [[list(w), f] for w, f in corpus.items()]


def received(words: list) -> dict:
    return {tuple(w): f for w, f in words}


def pairs_in(corpus: dict) -> list:
    return sorted({p for w in corpus for p in itertools.pairwise(w)})


def oracle_counts(corpus: dict) -> Counter:
    counts: Counter = Counter()
    for word, freq in corpus.items():
        for pair in itertools.pairwise(word):
            counts[pair] += freq
    return counts


def oracle_best(counts: dict):
    return min(counts, key=lambda p: (-counts[p], p)) if counts else None


def merge_word(word: tuple, pair: tuple) -> tuple:
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(word[i] + word[i + 1])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def oracle_merge(corpus: dict, pair: tuple) -> dict:
    out: dict = {}
    for word, freq in corpus.items():
        merged = merge_word(word, pair)
        out[merged] = out.get(merged, 0) + freq
    return out


def show(word: tuple) -> str:
    return " ".join(word)


def first_difference(got: dict, want: dict) -> str:
    for word in sorted(set(got) | set(want)):
        if got.get(word) != want.get(word):
            return f"({show(word)}): {got.get(word, 0)}, expected {want.get(word, 0)}"
    return "none"


@st.composite
def corpus_and_pair(draw, collide: bool = False):
    """A corpus and a pair that occurs in it (or, rarely, one that does not); with
    ``collide``, the corpus also holds the merged spelling of one of its words."""
    corpus = draw(corpora())
    pairs = pairs_in(corpus)
    if pairs and draw(st.integers(0, 9)) > 0:
        pair = draw(st.sampled_from(pairs))
    else:
        pair = (draw(st.sampled_from(SYMBOLS)), draw(st.sampled_from(SYMBOLS)))
    if collide:
        changed = [w for w in corpus if merge_word(w, pair) != w]
        if changed:
            merged = merge_word(draw(st.sampled_from(changed)), pair)
            corpus = {**corpus, merged: corpus.get(merged, 0) + draw(st.integers(1, 9))}
    return corpus, pair


@given(corpora())
def test_count_pairs_matches_brute_force(corpus):
    got = {(a, b): n for a, b, n in bpe.count_pairs(send(corpus))}
    want = oracle_counts(corpus)
    for pair in sorted(set(got) | set(want)):
        assert got.get(pair, 0) == want.get(pair, 0), (
            f"pair ({show(pair)}) counted {got.get(pair, 0)} times, expected {want.get(pair, 0)} "
            f"(corpus of {len(corpus)} words)"
        )
    zeros = [p for p, n in got.items() if n == 0]
    assert not zeros, f"pairs listed with a count of 0: {zeros[:3]}"


@given(st.sampled_from(["a", "ab", "x"]), st.integers(2, 9), st.integers(1, 9))
def test_overlapping_occurrences_count_separately(symbol, n, freq):
    word = (symbol,) * n
    got = {(a, b): c for a, b, c in bpe.count_pairs([[list(word), freq], [["b", "c"], 1]])}
    want = (n - 1) * freq
    assert got.get((symbol, symbol), 0) == want, (
        f"the word ({show(word)}) with frequency {freq} contributes "
        f"{got.get((symbol, symbol), 0)} to the pair ({symbol} {symbol}), expected "
        f"{n - 1} occurrences x {freq} = {want}"
    )


@st.composite
def pair_counts(draw) -> list:
    """[left, right, count] triples with small counts (ties are the rule), in random order."""
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(SYMBOLS), st.sampled_from(SYMBOLS)),
            min_size=1,
            max_size=12,
            unique=True,
        )
    )
    counts = [[a, b, draw(st.integers(1, 3))] for a, b in pairs]
    return draw(st.permutations(counts))


@given(pair_counts())
def test_best_pair_is_the_most_frequent_with_ties_to_the_smallest(counts):
    as_dict = {(a, b): n for a, b, n in counts}
    got = bpe.best_pair(counts)
    want = oracle_best(as_dict)
    tied = sorted(p for p, n in as_dict.items() if n == as_dict[want])
    assert got is not None and tuple(got) == want, (
        f"best_pair chose {got} (count {as_dict.get(tuple(got)) if got else None}); the "
        f"highest count is {as_dict[want]}, held by {[show(p) for p in tied][:6]}: expected "
        f"({show(want)}), the one that sorts first"
    )


def test_best_pair_of_no_pairs_is_none():
    got = bpe.best_pair([])
    assert got is None, f"best_pair of no pairs returned {got}, expected None"


@given(corpus_and_pair())
def test_merge_matches_the_left_to_right_reference(case):
    corpus, pair = case
    got = received(bpe.merge_pair(send(corpus), list(pair))["merged"])
    want = oracle_merge(corpus, pair)
    assert got == want, (
        f"merging ({show(pair)}) in {len(corpus)} words: first difference at "
        f"{first_difference(got, want)}"
    )


@given(corpus_and_pair())
def test_merge_keeps_each_spelling_and_removes_the_pair(case):
    corpus, pair = case
    got = received(bpe.merge_pair(send(corpus), list(pair))["merged"])

    def spellings(c: dict) -> Counter:
        out: Counter = Counter()
        for word, freq in c.items():
            out["".join(word)] += freq
        return out

    before, after = spellings(corpus), spellings(got)
    assert before == after, (
        f"merging ({show(pair)}) changed the text: spelling frequencies "
        f"{dict(sorted((before - after).items())[:3])} before became "
        f"{dict(sorted((after - before).items())[:3])}"
    )
    left = oracle_counts(got).get(pair, 0)
    assert left == 0, f"after merging ({show(pair)}), {left} occurrences of it are left"


@given(corpus_and_pair(collide=True))
def test_words_that_become_identical_are_combined(case):
    corpus, pair = case
    got = bpe.merge_pair(send(corpus), list(pair))["merged"]
    words = [tuple(w) for w, _ in got]
    repeated = sorted(w for w, n in Counter(words).items() if n > 1)
    assert not repeated, f"merging ({show(pair)}) left ({show(repeated[0])}) as several entries"
    want = oracle_merge(corpus, pair)
    assert received(got) == want, (
        f"merging ({show(pair)}) where a merged word already exists: first difference at "
        f"{first_difference(received(got), want)}"
    )


@given(corpora(symbols=["a", "b", "c", "</w>"], max_words=8, max_len=8), st.integers(1, 8))
def test_learned_merges_follow_the_contract_step_by_step(corpus, num_merges):
    got = bpe.learn_merges(send(corpus), num_merges)
    want_corpus, want_merges = dict(corpus), []
    for _ in range(num_merges):
        pair = oracle_best(oracle_counts(want_corpus))
        if pair is None:
            break
        want_merges.append(pair)
        want_corpus = oracle_merge(want_corpus, pair)
    got_merges = [tuple(p) for p in got["merges"]]
    for step, (g, w) in enumerate(zip(got_merges, want_merges, strict=False)):
        assert g == w, (
            f"merge {step + 1} of {num_merges}: learned ({show(g)}), expected ({show(w)})"
        )
    assert len(got_merges) == len(want_merges), (
        f"learned {len(got_merges)} merges, expected {len(want_merges)}"
    )
    assert received(got["corpus"]) == want_corpus, (
        f"after {len(want_merges)} merges: first difference at "
        f"{first_difference(received(got['corpus']), want_corpus)}"
    )


def test_corpus_from_text_spells_words_with_an_end_marker():
    got = received(bpe.corpus_from_text(["low low lower", "newest low"]))
    want = {
        ("l", "o", "w", "</w>"): 3,
        ("l", "o", "w", "e", "r", "</w>"): 1,
        ("n", "e", "w", "e", "s", "t", "</w>"): 1,
    }
    assert got == want, f"corpus_from_text gave {first_difference(got, want)}"
