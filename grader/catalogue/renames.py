"""Kata ids that named the fix, renamed in 0.2.0 to name the symptom a user observes.

The old ids keep working for one release: the CLI accepts them with a note, markers in git
history that name them count for the new id, and leaderboard results, publish history and local
state recorded under them are read under the new id.  Remove the table in 0.3.0.
"""

RENAMED: dict[str, str] = {
    "causal-lm-label-shift": "sft-loss-collapses-model-echoes-input",
    "causal-mask-future-leak": "tiny-lm-near-zero-loss-generates-nonsense",
    "grad-accum-normalization": "loss-changes-with-micro-batch-size",
    "group-kfold-leakage": "same-patient-in-train-and-validation",
    "kv-cache-position-offset": "cached-generation-drifts-from-uncached",
    "layernorm-variance": "layernorm-drifts-on-narrow-layers",
    "padding-mask-polarity": "embeddings-change-with-batch-padding",
    "pca-no-centering": "pca-changes-when-data-is-shifted",
    "perplexity-mean-of-means": "perplexity-depends-on-eval-batch-size",
    "scaler-fit-before-split": "train-features-change-with-test-rows",
    "top-p-sampling": "nucleus-sampling-collapses-to-greedy",
    "weight-decay-param-groups": "norm-gains-shrink-during-training",
}


def current_id(kata_id: str) -> str:
    """The id ``kata_id`` has today (itself unless it is an old id)."""
    return RENAMED.get(kata_id, kata_id)


def renamed_note(old: str) -> str:
    return f"note: kata {old!r} is now {RENAMED[old]!r}; the old id works until the next release"
