"""Holdout checks for the evaluation helpers (not shown to the candidate)."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_evaluation import DIMS, MODES, NAMES, _batches, _classifier, _state

from grader.grading.boundary import candidate

helpers = candidate("harness")

FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile
SEEDS = st.integers(0, 2**32 - 1)


@FAST
@given(seed=SEEDS, modes=MODES, batch_size=st.integers(1, 4))
def test_predict_proba_leaves_every_module_mode_as_found(seed, modes, batch_size):
    assume(len(set(modes.values())) == 2)
    model = _classifier(seed)
    ((inputs, _),) = _batches(seed, [5])
    got = helpers.predict_in_modes(DIMS, _state(model), modes, inputs, batch_size)
    changed = [name or "model" for name in NAMES if got["modes"][name] != modes[name]]
    assert not changed, f"predict_proba changed the training flag of {changed}"


@FAST
@given(seed=SEEDS)
def test_model_in_eval_mode_stays_in_eval_mode(seed):
    model = _classifier(seed)
    modes = dict.fromkeys(NAMES, False)
    got = helpers.evaluate_in_modes(DIMS, _state(model), modes, _batches(seed, [3, 2]), seed)
    flipped = [name or "model" for name in NAMES if got["modes"][name]]
    assert not flipped, f"evaluating a model in eval mode put {flipped} in train mode"


@FAST
@given(seed=SEEDS, eval_every=st.integers(1, 2))
def test_fine_tuning_keeps_the_backbone_frozen_in_eval_mode(seed, eval_every):
    model = _classifier(seed)
    got = helpers.fine_tune(
        DIMS, _state(model), _batches(seed, [4] * 4), _batches(seed + 3, [3]), eval_every, 0.1
    )
    backbone = [n for n in NAMES if n.startswith("backbone") and got["modes"][n]]
    head = [n or "model" for n in NAMES if not n.startswith("backbone") and not got["modes"][n]]
    assert not backbone and not head, (
        f"after fine-tuning with evaluate every {eval_every} step(s): backbone modules in train "
        f"mode {backbone}, other modules in eval mode {head}"
    )
