"""Property tests for train.py against a reference loop written here with torch.optim.AdamW.

The training loop is driven with a small stand-in model (embedding -> tanh -> linear, and
its mean cross-entropy; see ``harness._TokenClassifier``), so that it is tested apart from
the GPT and its loss.  Everything runs in float64.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from grader.grading.boundary import candidate

trainer = candidate("harness")  # train.py, run in the subject process

FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile
seeds = st.integers(0, 2**16)
VOCAB, DIM, BATCH, SEQ = 6, 4, 4, 3
LAYERS = [
    ("embed", "Embedding", (VOCAB, DIM)),
    ("act", "Tanh", ()),
    ("head", "Linear", (DIM, VOCAB)),
]
DEFAULTS = {"learning_rate": 3e-3, "min_lr": 3e-4, "warmup_steps": 20, "max_steps": 300,
            "weight_decay": 0.1, "betas": (0.9, 0.95), "grad_clip": 1.0}  # fmt: skip


def classifier(seed: int) -> nn.Sequential:
    """The stand-in model's network in float64, with weights drawn from ``seed``."""
    net = nn.Sequential(OrderedDict((n, getattr(nn, k)(*a)) for n, k, a in LAYERS)).double()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    return net


def batches(seed: int, n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` batches of (x, y) token ids, different from each other and within a batch."""
    gen = torch.Generator().manual_seed(seed + 1)
    return [
        (
            torch.randint(0, VOCAB, (BATCH, SEQ), generator=gen),
            torch.randint(0, VOCAB, (BATCH, SEQ), generator=gen),
        )
        for _ in range(n)
    ]


def reference_lr(step: int, cfg: dict) -> float:
    """Linear warmup to the peak over ``warmup_steps``, cosine to ``min_lr`` at ``max_steps``."""
    peak, floor, warmup = cfg["learning_rate"], cfg["min_lr"], cfg["warmup_steps"]
    if step < warmup:
        return peak * (step + 1) / warmup
    if step >= cfg["max_steps"]:
        return floor
    progress = (step - warmup) / max(1, cfg["max_steps"] - warmup)
    return floor + 0.5 * (1 + math.cos(math.pi * progress)) * (peak - floor)


def reference_training(seed: int, data: list, cfg: dict) -> list[dict]:
    """What training must do: for each batch, the gradient of that batch's mean loss (and
    nothing else), clipped, then one AdamW step; decay on matrices and embeddings only."""
    net = classifier(seed)
    params = list(net.parameters())
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg["weight_decay"]},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ],
        lr=cfg["learning_rate"],
        betas=cfg["betas"],
    )
    steps = []
    for step, (x, y) in enumerate(data):
        for group in optimizer.param_groups:
            group["lr"] = reference_lr(step, {**cfg, "max_steps": len(data)})
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x).flatten(0, 1), y.flatten())
        loss.backward()
        norm = float(nn.utils.clip_grad_norm_(params, cfg["grad_clip"] or math.inf))
        optimizer.step()
        state = {name: p.detach().clone() for name, p in net.named_parameters()}
        steps.append({"loss": loss.item(), "grad_norm": norm, "params": state})
    return steps


def run(seed: int, data: list, cfg: dict) -> list[dict]:
    net = classifier(seed)
    return trainer.train_classifier(LAYERS, net.state_dict(), data, cfg)


# --- training step ---------------------------------------------------------------------


@FAST
@given(seed=seeds, accum=st.sampled_from([1, 2, 4]), n_steps=st.integers(3, 5),
       clip=st.sampled_from([0.0, 0.5]))  # fmt: skip
def test_training_follows_a_reference_adamw_loop(seed, accum, n_steps, clip):
    cfg = {**DEFAULTS, "learning_rate": 0.05, "min_lr": 0.01, "warmup_steps": 2,
           "grad_clip": clip, "grad_accum_steps": accum, "batch_size": BATCH}  # fmt: skip
    data = batches(seed, n_steps)
    got, want = run(seed, data, cfg), reference_training(seed, data, cfg)
    for step, (g, w) in enumerate(zip(got, want, strict=True)):
        for name, p in w["params"].items():
            d = float((g["params"][name] - p).abs().max())
            assert d <= 1e-9, (
                f"grad_accum_steps={accum}, grad_clip={clip}: after step {step} parameter "
                f"'{name}' is {d:.3e} away from AdamW on that step's batch gradient"
            )


@FAST
@given(seed=seeds, accum=st.sampled_from([1, 2, 4]), n_steps=st.integers(2, 4))
def test_each_step_reports_the_norm_of_its_own_batch_gradient(seed, accum, n_steps):
    cfg = {**DEFAULTS, "learning_rate": 0.0, "min_lr": 0.0, "warmup_steps": 0,
           "grad_clip": 0.0, "grad_accum_steps": accum, "batch_size": BATCH}  # fmt: skip
    data = batches(seed, n_steps)
    got, want = run(seed, data, cfg), reference_training(seed, data, cfg)
    for step, (g, w) in enumerate(zip(got, want, strict=True)):
        assert abs(g["grad_norm"] - w["grad_norm"]) <= 1e-9 * max(1.0, w["grad_norm"]), (
            f"grad_accum_steps={accum}, learning rate 0 (the weights never move): step {step} "
            f"reports a gradient norm of {g['grad_norm']:.6f}, but its batch's gradient has "
            f"norm {w['grad_norm']:.6f}"
        )


@FAST
@given(seed=seeds, accum=st.sampled_from([1, 2, 4]), clip=st.sampled_from([0.0, 0.3]))
def test_first_step_is_one_adamw_step_on_the_batch_gradient(seed, accum, clip):
    cfg = {**DEFAULTS, "learning_rate": 0.05, "warmup_steps": 0, "grad_clip": clip,
           "grad_accum_steps": accum, "batch_size": BATCH}  # fmt: skip
    data = batches(seed, 1)
    (got,), (want,) = run(seed, data, cfg), reference_training(seed, data, cfg)
    assert abs(got["loss"] - want["loss"]) <= 1e-10 * max(1.0, want["loss"]), (
        f"grad_accum_steps={accum}: reported loss {got['loss']:.6f}, the batch's mean loss "
        f"is {want['loss']:.6f}"
    )
    for name, p in want["params"].items():
        d = float((got["params"][name] - p).abs().max())
        assert d <= 1e-9, f"grad_accum_steps={accum}: '{name}' is {d:.3e} off after step 0"


def test_learning_rate_warms_up_then_decays_along_the_cosine():
    for cfg in (
        DEFAULTS,
        {**DEFAULTS, "warmup_steps": 0, "max_steps": 7},
        {**DEFAULTS, "warmup_steps": 5, "max_steps": 5, "min_lr": 0.0},
    ):
        steps = list(range(cfg["max_steps"] + 3))
        got = trainer.learning_rates(steps, cfg)
        for step, lr in zip(steps, got, strict=True):
            want = reference_lr(step, cfg)
            assert abs(lr - want) <= 1e-15 + 1e-12 * want, (
                f"warmup_steps={cfg['warmup_steps']}, max_steps={cfg['max_steps']}: "
                f"lr at step {step} is {lr:.6g}, expected {want:.6g}"
            )


def test_weight_decay_applies_to_matrices_and_embeddings_only():
    config = {"vocab_size": 11, "block_size": 8, "n_layer": 2, "n_head": 2, "n_embd": 8}
    names = trainer.gpt_parameter_names(config)
    groups = trainer.optimizer_groups(config)
    listed = [name for g in groups for name in g["params"]]
    assert sorted(listed) == sorted(names), "every trainable parameter must be in one group"
    for group in groups:
        for name in group["params"]:
            matrix = name.endswith("weight") and ".ln_" not in name
            decayed = group["weight_decay"] > 0
            assert decayed == matrix, (
                f"'{name}' has weight_decay {group['weight_decay']}; matrices and embeddings "
                f"are decayed, biases and LayerNorm gains are not"
            )
