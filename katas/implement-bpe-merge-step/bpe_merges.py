"""Byte-pair-encoding training for the tokenizer (Sennrich et al., 2016), one merge at a time.

The corpus is a word-frequency table: each word is a tuple of symbols (non-empty strings
without whitespace), at first its characters and an end-of-word marker, mapped to how many
times the word occurs (a positive int).  One merge step:

* counts every adjacent pair of symbols over the corpus, each occurrence weighted by its
  word's frequency; overlapping occurrences count separately, so ``("a", "a", "a")`` with
  frequency 3 contributes 6 to the pair ``("a", "a")``;
* picks the most frequent pair; ties go to the pair that sorts first as a tuple of strings
  (Python's ordering: ``("a", "b") < ("a", "bc") < ("ab", "c")``), so training does not
  depend on the order of the table;
* merges it in every word: scanning left to right, each occurrence of the pair that does
  not overlap an occurrence already merged becomes one symbol (the two strings joined):
  ``("a", "a", "a")`` becomes ``("aa", "a")`` and ``("a", "a", "a", "a")`` ``("aa", "aa")``;
* words that become identical are one entry whose frequency is the sum of theirs.

The functions return new tables and never modify their arguments.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable

Word = tuple[str, ...]
Pair = tuple[str, str]
Corpus = dict[Word, int]

END_OF_WORD = "</w>"


def corpus_from_text(texts: Iterable[str], end_of_word: str = END_OF_WORD) -> Corpus:
    """Whitespace-split ``texts`` into words, each spelled as its characters plus
    ``end_of_word``, with its number of occurrences."""
    counts = Counter(word for text in texts for word in text.split())
    return {(*word, end_of_word): n for word, n in counts.items()}


def count_pairs(corpus: Corpus) -> Counter[Pair]:
    """Frequency-weighted counts of adjacent symbol pairs (overlaps count separately);
    only pairs that occur are in the result."""
    raise NotImplementedError


def best_pair(pair_counts: dict[Pair, int]) -> Pair | None:
    """The most frequent pair, ties to the pair that sorts first; None when there is none."""
    raise NotImplementedError


def merge_pair(corpus: Corpus, pair: Pair) -> Corpus:
    """A new corpus with every non-overlapping occurrence of ``pair`` merged, left to right,
    and words that became identical combined."""
    raise NotImplementedError


def merge_step(corpus: Corpus) -> tuple[Pair | None, Corpus]:
    """One BPE step: the pair merged (None when every word is a single symbol) and the
    corpus after it."""
    pair = best_pair(count_pairs(corpus))
    if pair is None:
        return None, dict(corpus)
    return pair, merge_pair(corpus, pair)


def learn_merges(corpus: Corpus, num_merges: int) -> tuple[list[Pair], Corpus]:
    """Up to ``num_merges`` steps; stops early once no pair is left.  Returns the merges
    in the order they were learned (their rank) and the final corpus."""
    if num_merges < 0:
        raise ValueError(f"num_merges must be >= 0, got {num_merges}")
    merges: list[Pair] = []
    for _ in range(num_merges):
        pair, corpus = merge_step(corpus)
        if pair is None:
            break
        merges.append(pair)
    return merges, corpus


def vocabulary(corpus: Corpus) -> dict[str, int]:
    """Symbol frequencies of a corpus (what the tokenizer's vocabulary file lists)."""
    counts: Counter[str] = Counter()
    for word, freq in corpus.items():
        for symbol in word:
            counts[symbol] += freq
    return dict(counts)


def encode_word(word: str, merges: list[Pair], end_of_word: str = END_OF_WORD) -> Word:
    """Segment a new word with learned merges: repeatedly merge the adjacent pair with the
    lowest rank (earliest learned) until no learned pair is left."""
    ranks = {pair: i for i, pair in enumerate(merges)}
    symbols = [*word, end_of_word]
    while len(symbols) > 1:
        pairs = [(ranks.get(p, len(ranks)), i) for i, p in enumerate(itertools.pairwise(symbols))]
        rank, i = min(pairs)
        if rank == len(ranks):
            break
        symbols[i : i + 2] = [symbols[i] + symbols[i + 1]]
    return tuple(symbols)
