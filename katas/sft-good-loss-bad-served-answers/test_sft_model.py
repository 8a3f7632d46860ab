"""The model (``sft_model.py``) and the serving-path evaluation (``sft_evaluate.py``).

TinyLM is built in the subject from a config dict and a seed, in float64, eval mode.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading.boundary import candidate

sft = candidate("harness")  # TinyLM and the evaluation helpers, run in the subject process

FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile
SEEDS = st.integers(0, 2**31 - 1)
PAD, BOS, EOS = 0, 1, 2
ALPHABET = "abcdefgh :\n"
CONFIG = {"vocab_size": 3 + len(ALPHABET), "max_seq_len": 16, "d_model": 8, "n_heads": 2}


def random_ids(seed: int, rows: int, seq_len: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, CONFIG["vocab_size"], (rows, seq_len), generator=g)


@FAST
@given(seed=SEEDS, seq_len=st.integers(2, 12), data=st.data())
def test_logits_at_a_position_ignore_later_tokens(seed, seq_len, data):
    t = data.draw(st.integers(0, seq_len - 2), label="t")
    ids = random_ids(seed, 2, seq_len)
    changed = ids.clone()
    changed[:, t + 1 :] = random_ids(seed + 1, 2, seq_len - t - 1)
    a = sft.tiny_lm_logits(CONFIG, seed, ids)[:, : t + 1]
    b = sft.tiny_lm_logits(CONFIG, seed, changed)[:, : t + 1]
    gap = float((a - b).abs().max())
    assert gap <= 1e-12, f"changing the tokens after position {t} moved logits 0..{t} by {gap:.3e}"


@FAST
@given(seed=SEEDS, seq_len=st.integers(1, 10), pad=st.integers(1, 5))
def test_right_padding_leaves_the_real_logits_unchanged(seed, seq_len, pad):
    ids = random_ids(seed, 1, seq_len)
    padded = torch.cat([ids, torch.full((1, pad), PAD)], dim=1)
    a = sft.tiny_lm_logits(CONFIG, seed, ids)
    b = sft.tiny_lm_logits(CONFIG, seed, padded)[:, :seq_len]
    gap = float((a - b).abs().max())
    assert gap <= 1e-12, f"{pad} padding tokens after {seq_len} real ones moved them by {gap:.3e}"


@FAST
@given(seed=SEEDS, dim=st.integers(1, 16), scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_rms_norm_matches_torch(seed, dim, scale):
    g = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(3, dim, generator=g, dtype=torch.float64)
    weight = torch.randn(dim, generator=g, dtype=torch.float64)
    got = sft.rms_norm(x, weight)
    want = F.rms_norm(x, (dim,), weight, eps=1e-6)
    gap = float((got - want).abs().max() / want.abs().max())
    assert gap <= 1e-12, f"dim={dim}, scale {scale:g}: RMSNorm is {gap:.3e} (relative) off torch"


@FAST
@given(seed=SEEDS, prompt=st.text(ALPHABET, min_size=0, max_size=6),
       response=st.text(ALPHABET, min_size=0, max_size=5))  # fmt: skip
def test_response_nll_scores_response_and_eos_after_the_served_prompt(seed, prompt, response):
    context = [BOS, *(3 + ALPHABET.index(c) for c in prompt)]
    target = [*(3 + ALPHABET.index(c) for c in response), EOS]
    logits = sft.tiny_lm_logits(CONFIG, seed, torch.tensor([context + target[:-1]]))[0]
    log_probs = logits[len(context) - 1 :].log_softmax(dim=-1)
    want = -float(log_probs[torch.arange(len(target)), torch.tensor(target)].mean())
    got = sft.serving_path(CONFIG, seed, ALPHABET, prompt, response)
    assert math.isclose(got["response_nll"], want, rel_tol=1e-9), (
        f"response_nll({prompt!r}, {response!r}) is {got['response_nll']:.6f}; the mean "
        f"negative log-likelihood of the response and EOS after BOS + prompt is {want:.6f}"
    )
    ids = list(context)
    for _ in range(4):
        next_id = int(sft.tiny_lm_logits(CONFIG, seed, torch.tensor([ids]))[0, -1].argmax())
        if next_id == EOS:
            break
        ids.append(next_id)
    greedy = "".join(ALPHABET[i - 3] for i in ids[len(context) :] if i >= 3)
    assert got["generated"] == greedy, (
        f"generate({prompt!r}) gave {got['generated']!r}, greedy decoding from BOS + prompt "
        f"gives {greedy!r}"
    )
