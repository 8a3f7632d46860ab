"""Checks that evaluation is deterministic and leaves the model's modes as it found them."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from grader.grading.boundary import candidate

helpers = candidate("harness")  # the evaluation helpers, on a rebuilt model in the subject

FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile
SEEDS = st.integers(0, 2**32 - 1)
DIMS = {"inputs": 4, "hidden": 6, "classes": 3, "p": 0.5}
NAMES = ["", "backbone", "backbone.0", "backbone.1", "backbone.2", "backbone.3", "head"]
NAMES += ["head.0", "head.1"]


def _classifier(seed: int) -> nn.Module:
    """The harness's model, float64, random weights and non-trivial BatchNorm statistics."""
    g = torch.Generator().manual_seed(seed)
    backbone = nn.Sequential(
        nn.Linear(DIMS["inputs"], DIMS["hidden"]),
        nn.BatchNorm1d(DIMS["hidden"]),
        nn.ReLU(),
        nn.Dropout(DIMS["p"]),
    )
    head = nn.Sequential(nn.Dropout(DIMS["p"]), nn.Linear(DIMS["hidden"], DIMS["classes"]))
    model = nn.Sequential(OrderedDict(backbone=backbone, head=head)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
        bn = model.backbone[1]
        bn.running_mean.copy_(torch.randn(DIMS["hidden"], generator=g, dtype=torch.float64))
        bn.running_var.copy_(0.5 + torch.rand(DIMS["hidden"], generator=g, dtype=torch.float64))
    return model


def _batches(seed: int, sizes: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed + 1)
    return [
        (
            torch.randn(n, DIMS["inputs"], generator=g, dtype=torch.float64),
            torch.randint(0, DIMS["classes"], (n,), generator=g),
        )
        for n in sizes
    ]


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


MODES = st.fixed_dictionaries({name: st.booleans() for name in NAMES})
SIZES = st.lists(st.integers(2, 6), min_size=1, max_size=4)


@FAST
@given(seed=SEEDS, modes=MODES, sizes=SIZES)
def test_evaluate_leaves_every_module_mode_as_found(seed, modes, sizes):
    assume(len(set(modes.values())) == 2)  # a mixed model, e.g. a frozen part in eval mode
    model = _classifier(seed)
    got = helpers.evaluate_in_modes(DIMS, _state(model), modes, _batches(seed, sizes), seed)
    changed = [
        f"{name or 'model'}: {modes[name]} -> {got['modes'][name]}"
        for name in NAMES
        if modes[name] != got["modes"][name]
    ]
    assert not changed, (
        f"evaluate changed the training flag of {len(changed)} module(s) ({', '.join(changed)})"
    )


@FAST
@given(seed=SEEDS, eval_every=st.integers(1, 3), lr=st.sampled_from([0.05, 0.5]))
def test_periodic_evaluation_does_not_change_fine_tuning(seed, eval_every, lr):
    model = _classifier(seed)
    batches = _batches(seed, [5] * 6)
    eval_batches = _batches(seed + 7, [4, 3])
    plain = helpers.fine_tune(DIMS, _state(model), batches, eval_batches, 0, lr)
    with_eval = helpers.fine_tune(DIMS, _state(model), batches, eval_batches, eval_every, lr)
    for name, value in plain["state"].items():
        other = with_eval["state"][name]
        err = float((other.double() - value.double()).abs().max())
        assert err == 0.0, (
            f"fine-tuning 6 steps with evaluate every {eval_every} step(s) ends with a different "
            f"'{name}' than without evaluation (max |diff| {err:.3e})"
        )


@FAST
@given(seed=SEEDS, sizes=SIZES, training=st.booleans())
def test_evaluate_is_deterministic_and_matches_eval_mode(seed, sizes, training):
    model = _classifier(seed)
    batches = _batches(seed, sizes)
    modes = dict.fromkeys(NAMES, training)
    first = helpers.evaluate_in_modes(DIMS, _state(model), modes, batches, seed)
    second = helpers.evaluate_in_modes(DIMS, _state(model), modes, batches, seed + 1)
    model.eval()
    with torch.no_grad():
        logits = [model(x) for x, _ in batches]
    n = sum(sizes)
    pairs = list(zip(logits, (y for _, y in batches), strict=True))
    loss = sum(float(F.cross_entropy(z, y, reduction="sum")) for z, y in pairs)
    acc = sum(int((z.argmax(-1) == y).sum()) for z, y in pairs) / n
    for run in (first, second):
        assert run["num_examples"] == n, f"{run['num_examples']} examples counted, {n} given"
        assert abs(run["loss"] - loss / n) <= 1e-12 * max(1.0, loss / n), (
            f"batch sizes {sizes}: loss {run['loss']:.12f}, the eval-mode model's mean loss per "
            f"example is {loss / n:.12f}"
        )
        assert run["accuracy"] == acc, f"accuracy {run['accuracy']}, eval-mode model {acc}"
        for name, value in model.state_dict().items():
            assert torch.equal(run["state"][name], value), f"evaluate changed the model's '{name}'"


@FAST
@given(seed=SEEDS, n=st.integers(1, 12), batch_size=st.integers(1, 5), training=st.booleans())
def test_predict_proba_matches_eval_mode_for_any_chunk_size(seed, n, batch_size, training):
    model = _classifier(seed)
    ((inputs, _),) = _batches(seed, [n])
    got = helpers.predict_in_modes(
        DIMS, _state(model), dict.fromkeys(NAMES, training), inputs, batch_size
    )
    model.eval()
    with torch.no_grad():
        want = model(inputs).softmax(-1)
    err = float((got["probs"] - want).abs().max())
    assert err <= 1e-12, (
        f"predict_proba(batch_size={batch_size}) on {n} inputs differs from the eval-mode "
        f"model by {err:.3e}"
    )
    assert got["modes"] == dict.fromkeys(NAMES, training), "predict_proba changed the modes"
