"""Checks for the hand-written AdamW against torch.optim, and for its own invariances."""

from __future__ import annotations

from typing import Any

import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from grader.grading.boundary import candidate

adamw = candidate("harness")  # AdamW, built over fresh parameters in the subject process

FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile
SEEDS = st.integers(0, 2**32 - 1)
LRS = st.sampled_from([1e-3, 1e-2, 0.05, 0.1])
BETAS = st.sampled_from([(0.9, 0.999), (0.9, 0.95), (0.8, 0.99)])
DECAYS = st.lists(st.sampled_from([0.0, 0.01, 0.1, 0.3]), min_size=1, max_size=3)
SHAPES = [(3, 4), (5,), (2, 3), (4, 1), (1,)]


def _groups(seed: int, decays: list[float], dtype=torch.float64) -> list[dict[str, Any]]:
    """One param group per entry of ``decays``; 1-3 random tensors of mixed shapes each."""
    g = torch.Generator().manual_seed(seed)
    groups = []
    for i, decay in enumerate(decays):
        count = 1 + (seed + i) % 3
        shapes = [SHAPES[(seed + i + j) % len(SHAPES)] for j in range(count)]
        params = [torch.randn(s, generator=g, dtype=torch.float64).to(dtype) for s in shapes]
        groups.append({"params": params, "weight_decay": decay})
    return groups


def _grads(seed: int, groups: list[dict[str, Any]], steps: int) -> list[list[list[torch.Tensor]]]:
    """Random gradients per step, group and parameter, each tensor with its own scale."""
    g = torch.Generator().manual_seed(seed + 1)
    out = []
    for _ in range(steps):
        step = []
        for group in groups:
            row = []
            for p in group["params"]:
                scale = 10.0 ** float(torch.empty(()).uniform_(-2.0, 1.0, generator=g))
                noise = torch.randn(p.shape, generator=g, dtype=torch.float64)
                row.append((scale * noise).to(p.dtype))
            step.append(row)
        out.append(step)
    return out


def _torch_run(groups, defaults, grads, optimizer=torch.optim.AdamW, lrs=None):
    """Oracle: the same steps with a torch optimizer; values per step, group, parameter."""
    params = [[p.clone().requires_grad_(True) for p in group["params"]] for group in groups]
    opt = optimizer(
        [{**group, "params": ps} for group, ps in zip(groups, params, strict=True)], **defaults
    )
    values = []
    for k, step in enumerate(grads):
        if lrs is not None:
            for group in opt.param_groups:
                group["lr"] = lrs[k]
        for ps, gs in zip(params, step, strict=True):
            for p, grad in zip(ps, gs, strict=True):
                p.grad = None if grad is None else grad.clone()
        opt.step()
        values.append([[p.detach().clone() for p in ps] for ps in params])
    return values


def _worst(got, want) -> tuple[float, int, int]:
    """Largest |got - want| over groups and parameters, with the group and parameter index."""
    worst = (0.0, 0, 0)
    for i, (gs, ws) in enumerate(zip(got, want, strict=True)):
        for j, (a, b) in enumerate(zip(gs, ws, strict=True)):
            worst = max(worst, (float((a - b).abs().max()), i, j))
    return worst


def _decays(groups) -> str:
    return ", ".join(f"{group['weight_decay']:g}" for group in groups)


@FAST
@given(seed=SEEDS, decays=DECAYS, lr=LRS, betas=BETAS, steps=st.integers(2, 5))
def test_trajectory_matches_torch_adamw(seed, decays, lr, betas, steps):
    assume(any(d > 0 for d in decays))
    groups = _groups(seed, decays)
    grads = _grads(seed, groups, steps)
    defaults = {"lr": lr, "betas": betas, "eps": 1e-8}
    ours = adamw.run(groups, defaults, grads)
    want = _torch_run(groups, defaults, grads)
    for k in range(steps):
        err, i, j = _worst(ours[k]["params"], want[k])
        assert err <= 1e-10, (
            f"after step {k + 1} (lr={lr:g}, betas={betas}, group weight decays "
            f"[{_decays(groups)}]) "
            f"parameter {j} of group {i} (weight_decay={groups[i]['weight_decay']:g}) differs "
            f"from torch.optim.AdamW by {err:.3e}"
        )


@FAST
@given(seed=SEEDS, decays=DECAYS, lr=LRS, steps=st.integers(1, 6))
def test_zero_gradients_shrink_weights_by_lr_times_decay(seed, decays, lr, steps):
    groups = _groups(seed, decays)
    zeros = [[[torch.zeros_like(p) for p in group["params"]] for group in groups]] * steps
    ours = adamw.run(groups, {"lr": lr}, zeros)
    for i, group in enumerate(groups):
        factor = (1.0 - lr * group["weight_decay"]) ** steps
        for j, p in enumerate(group["params"]):
            got = ours[-1]["params"][i][j]
            err = float((got - factor * p).abs().max())
            ratio = float(got.norm() / p.norm())
            assert err <= 1e-12, (
                f"{steps} AdamW steps with zero gradients (lr={lr:g}, weight_decay="
                f"{group['weight_decay']:g}) should scale every weight by (1 - lr*wd)^{steps} = "
                f"{factor:.6f}; parameter {j} of group {i} has norm ratio {ratio:.6f} "
                f"(max |diff| {err:.3e})"
            )


@FAST
@given(
    seed=SEEDS,
    decays=DECAYS,
    lr=LRS,
    scale=st.sampled_from([1e-3, 0.1, 10.0, 1e3]),
    steps=st.integers(2, 4),
)
def test_update_invariant_to_gradient_scale(seed, decays, lr, scale, steps):
    assume(any(d > 0 for d in decays))
    groups = _groups(seed, decays)
    grads = _grads(seed, groups, steps)
    scaled = [[[scale * g for g in row] for row in step] for step in grads]
    defaults = {"lr": lr, "eps": 0.0}  # with eps = 0 Adam's direction ignores the gradient scale
    base = adamw.run(groups, defaults, grads)
    other = adamw.run(groups, defaults, scaled)
    err, i, j = _worst(other[-1]["params"], base[-1]["params"])
    assert err <= 1e-10, (
        f"with eps=0, multiplying every gradient by {scale:g} changed the parameters after "
        f"{steps} steps by up to {err:.3e} (parameter {j} of group {i}, weight_decay="
        f"{groups[i]['weight_decay']:g}, lr={lr:g})"
    )


@FAST
@given(seed=SEEDS, n_groups=st.integers(1, 3), lr=LRS, betas=BETAS, steps=st.integers(2, 5))
def test_without_weight_decay_matches_torch_adam(seed, n_groups, lr, betas, steps):
    groups = _groups(seed, [0.0] * n_groups)
    grads = _grads(seed, groups, steps)
    defaults = {"lr": lr, "betas": betas, "eps": 1e-8}
    ours = adamw.run(groups, defaults, grads)
    want = _torch_run(groups, {**defaults, "weight_decay": 0.0}, grads, torch.optim.Adam)
    for k in range(steps):
        err, i, j = _worst(ours[k]["params"], want[k])
        assert err <= 1e-10, (
            f"weight_decay=0 everywhere: after step {k + 1} (lr={lr:g}, betas={betas}) "
            f"parameter {j} of group {i} differs from torch.optim.Adam by {err:.3e}"
        )


@FAST
@given(seed=SEEDS, decays=DECAYS, lr=LRS, steps=st.integers(1, 4))
def test_update_ratios_report_the_applied_change(seed, decays, lr, steps):
    groups = _groups(seed, decays)
    grads = _grads(seed, groups, steps)
    ours = adamw.run(groups, {"lr": lr}, grads)
    before = [group["params"] for group in groups]
    for k, result in enumerate(ours):
        assert len(result["ratios"]) == len(groups), (
            f"step {k + 1}: {len(result['ratios'])} update ratios for {len(groups)} param groups"
        )
        for i, (old, new) in enumerate(zip(before, result["params"], strict=True)):
            change = sum(float((b - a).square().sum()) for a, b in zip(old, new, strict=True))
            weight = sum(float(a.square().sum()) for a in old)
            want = (change / weight) ** 0.5
            got = result["ratios"][i]
            assert abs(got - want) <= 1e-9 * max(want, 1e-3), (
                f"step {k + 1}, group {i}: reported update ratio {got:.9f}, but the RMS of the "
                f"change divided by the RMS of the weights before the step is {want:.9f}"
            )
        before = result["params"]


@FAST
@given(seed=SEEDS, decays=DECAYS, lr=LRS, steps=st.integers(2, 5), data=st.data())
def test_resuming_from_state_dict_continues_the_same_trajectory(seed, decays, lr, steps, data):
    resume_at = data.draw(st.integers(1, steps - 1), label="resume_at")
    groups = _groups(seed, decays)
    grads = _grads(seed, groups, steps)
    defaults = {"lr": lr, "betas": (0.9, 0.95)}
    straight = adamw.run(groups, defaults, grads)[-1]["params"]
    resumed = adamw.run_resumed(groups, defaults, grads, resume_at)
    err, i, j = _worst(resumed, straight)
    assert err <= 1e-12, (
        f"saving the optimizer after step {resume_at} of {steps} and loading it into a new one "
        f"changed parameter {j} of group {i} by {err:.3e}"
    )


@FAST
@given(seed=SEEDS, decays=DECAYS, lr=LRS, late=st.integers(1, 3))
def test_parameters_without_gradient_are_skipped(seed, decays, lr, late):
    """A parameter whose .grad is None is neither moved nor decayed, and its step count
    does not advance: joining late is the same as starting late."""
    groups = _groups(seed, decays)
    grads = _grads(seed, groups, late + 2)
    for step in grads[:late]:
        step[0][0] = None  # the first parameter of group 0 has no gradient for `late` steps
    ours = adamw.run(groups, {"lr": lr}, grads)
    first = groups[0]["params"][0]
    for k in range(late):
        err = float((ours[k]["params"][0][0] - first).abs().max())
        assert err == 0.0, (
            f"parameter 0 of group 0 (weight_decay={groups[0]['weight_decay']:g}) has no "
            f"gradient at step {k + 1}, yet it moved by {err:.3e}"
        )
    alone = [{**groups[0], "params": [first]}]
    later = adamw.run(alone, {"lr": lr}, [[[step[0][0]]] for step in grads[late:]])
    err = float((ours[-1]["params"][0][0] - later[-1]["params"][0][0]).abs().max())
    assert err <= 1e-12, (
        f"a parameter with no gradient for its first {late} steps ends {err:.3e} away from the "
        f"same parameter trained only on the later steps: skipped steps should not count"
    )
