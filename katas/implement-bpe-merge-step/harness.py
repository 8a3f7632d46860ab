"""The calls the tests make into ``bpe_merges``, in the subject process.

Corpora are dicts keyed by tuples of symbols, which cannot cross the boundary (only
string-keyed dicts can): the tests send a corpus as a list of ``[symbols, frequency]``
entries and pair counts as ``[left, right, count]`` triples, and each function here
rebuilds the dict (in the order given), calls the module and returns its answer in the
same form, sorted.  Nothing here checks anything: every check, and every reference
computation, is in the tests.
"""

from __future__ import annotations

import bpe_merges


def _corpus(words: list) -> dict:
    return {tuple(symbols): freq for symbols, freq in words}


def _words(corpus: dict) -> list:
    return sorted([list(word), freq] for word, freq in corpus.items())


def count_pairs(words: list) -> list:
    """``count_pairs(corpus)`` as sorted ``[left, right, count]`` triples."""
    return sorted([a, b, n] for (a, b), n in bpe_merges.count_pairs(_corpus(words)).items())


def best_pair(counts: list) -> list | None:
    """``best_pair({(left, right): count, ...})``, the dict built in the order given."""
    pair = bpe_merges.best_pair({(a, b): n for a, b, n in counts})
    return None if pair is None else list(pair)


def merge_pair(words: list, pair: list) -> dict:
    """``merge_pair(corpus, pair)``: ``{"merged": <the new corpus>, "input": <the corpus
    passed in, as it is after the call>}``."""
    corpus = _corpus(words)
    merged = bpe_merges.merge_pair(corpus, tuple(pair))
    return {"merged": _words(merged), "input": _words(corpus)}


def learn_merges(words: list, num_merges: int) -> dict:
    """``learn_merges(corpus, num_merges)``: the merges in order and the final corpus."""
    merges, corpus = bpe_merges.learn_merges(_corpus(words), num_merges)
    return {"merges": [list(p) for p in merges], "corpus": _words(corpus)}


def corpus_from_text(texts: list[str]) -> list:
    """``corpus_from_text(texts)`` as sorted entries."""
    return _words(bpe_merges.corpus_from_text(texts))
