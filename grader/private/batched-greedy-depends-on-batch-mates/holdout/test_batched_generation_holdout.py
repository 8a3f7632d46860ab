"""Holdout properties for batched greedy decoding, never shown to the candidate: batch
composition and order, other model shapes, long generations, real tokens equal to pad_id."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st
from test_batched_generation import (
    FAST,
    MAX_LEN,
    VOCAB,
    lm,
    make_model,
    prompt_batches,
    reference_generate,
    seeds,
)


@FAST
@given(seed=seeds, prompts=prompt_batches(min_size=1, max_size=3, max_len=4),
       extra=st.integers(5, 8), n_new=st.integers(2, 5))  # fmt: skip
def test_adding_a_longer_prompt_leaves_the_others_unchanged(seed, prompts, extra, n_new):
    config, params = make_model(seed)
    longer = [(t % (VOCAB - 1)) + 1 for t in range(seed, seed + extra)]
    before = lm.generate(config, params, prompts, n_new)
    after = lm.generate(config, params, [*prompts, longer], n_new)
    for row, prompt in enumerate(prompts):
        assert after[row] == before[row], (
            f"adding a {extra}-token prompt to the batch changed the continuation of prompt "
            f"{row} ({len(prompt)} tokens) from {before[row][len(prompt) :]} to "
            f"{after[row][len(prompt) :]}"
        )


@FAST
@given(seed=seeds, prompts=prompt_batches(min_size=3, max_size=4), n_new=st.integers(2, 5))
def test_permuting_the_batch_permutes_the_continuations(seed, prompts, n_new):
    config, params = make_model(seed)
    order = torch.randperm(len(prompts), generator=torch.Generator().manual_seed(seed)).tolist()
    out = lm.generate(config, params, prompts, n_new)
    permuted = lm.generate(config, params, [prompts[i] for i in order], n_new)
    for j, i in enumerate(order):
        assert permuted[j] == out[i], (
            f"prompt {i} continues as {out[i][len(prompts[i]) :]} in one batch order and as "
            f"{permuted[j][len(prompts[i]) :]} in another"
        )


@FAST
@given(seed=seeds, n_layers=st.sampled_from([1, 3]), n_heads=st.sampled_from([1, 4]),
       prompts=prompt_batches(max_size=3), n_new=st.integers(2, 5))  # fmt: skip
def test_other_model_shapes_match_reference_greedy_decoding(
    seed, n_layers, n_heads, prompts, n_new
):
    config, params = make_model(seed, n_layers=n_layers, n_heads=n_heads)
    out = lm.generate(config, params, prompts, n_new)
    for row, prompt in enumerate(prompts):
        want = reference_generate(config, params, prompt, n_new)
        assert out[row] == want, (
            f"n_layers={n_layers}, n_heads={n_heads}: prompt {row} ({len(prompt)} tokens) "
            f"continues as {out[row][len(prompt) :]}, the reference gives {want[len(prompt) :]}"
        )


@FAST
@given(seed=seeds, short=st.integers(1, 3), long=st.integers(6, 10))
def test_long_generations_of_padded_rows_match_reference(seed, short, long):
    config, params = make_model(seed)
    gen = torch.Generator().manual_seed(seed)
    prompts = [torch.randint(1, VOCAB, (n,), generator=gen).tolist() for n in (short, long)]
    n_new = MAX_LEN - long
    out = lm.generate(config, params, prompts, n_new)
    want = reference_generate(config, params, prompts[0], n_new)
    assert out[0] == want, (
        f"a {short}-token prompt padded to {long} continues as {out[0][short:]} over {n_new} "
        f"tokens; the reference gives {want[short:]}"
    )


@FAST
@given(seed=seeds, prompts=prompt_batches(max_size=3), n_new=st.integers(2, 4))
def test_real_tokens_equal_to_pad_id_are_still_real(seed, prompts, n_new):
    config, params = make_model(seed)
    prompts = [[0, *p] for p in prompts]  # token 0 is pad_id, used here as a real token
    out = lm.generate(config, params, prompts, n_new)
    for row, prompt in enumerate(prompts):
        want = reference_generate(config, params, prompt, n_new)
        assert out[row] == want, (
            f"prompt {row} starting with token 0 (= pad_id) continues as "
            f"{out[row][len(prompt) :]}; the reference gives {want[len(prompt) :]}"
        )
