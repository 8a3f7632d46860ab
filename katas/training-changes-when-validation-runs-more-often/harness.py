"""The calls the tests make into the evaluation helpers, in the subject process.

A model cannot cross the boundary, so the tests send its sizes, its state dict and the mode
(``training`` flag) of each of its modules by name; each function here rebuilds the same
small classifier (``_classifier``: a BatchNorm/dropout backbone and a dropout head), sets
the modes, calls the helper and returns plain data: the result, the modes afterwards and
the state dict afterwards.  Nothing here checks anything: every check is in the tests.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
import torch.nn.functional as F
from evaluation import evaluate, freeze_, predict_proba
from torch import nn

Dims = dict[str, Any]  # {"inputs": int, "hidden": int, "classes": int, "p": float}
Batch = tuple[torch.Tensor, torch.Tensor]


def _classifier(dims: Dims, state: dict[str, torch.Tensor]) -> nn.Module:
    backbone = nn.Sequential(
        nn.Linear(dims["inputs"], dims["hidden"]),
        nn.BatchNorm1d(dims["hidden"]),
        nn.ReLU(),
        nn.Dropout(dims["p"]),
    )
    head = nn.Sequential(nn.Dropout(dims["p"]), nn.Linear(dims["hidden"], dims["classes"]))
    model = nn.Sequential(OrderedDict(backbone=backbone, head=head)).double()
    model.load_state_dict(state)
    return model


def _modes(model: nn.Module) -> dict[str, bool]:
    return {name: module.training for name, module in model.named_modules()}


def _set_modes(model: nn.Module, modes: dict[str, bool]) -> None:
    for name, module in model.named_modules():
        module.training = modes[name]


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def evaluate_in_modes(dims: Dims, state, modes: dict[str, bool], batches: list[Batch], seed: int):
    """``evaluate(model, batches)`` with each module's ``training`` flag set from ``modes``
    (``torch.manual_seed(seed)`` first): the result's fields, modes and state after."""
    model = _classifier(dims, state)
    _set_modes(model, modes)
    torch.manual_seed(seed)
    result = evaluate(model, batches)
    return {
        "loss": result.loss,
        "accuracy": result.accuracy,
        "num_examples": result.num_examples,
        "modes": _modes(model),
        "state": _state(model),
    }


def predict_in_modes(dims: Dims, state, modes: dict[str, bool], inputs, batch_size: int):
    """``predict_proba(model, inputs, batch_size)`` with the modes set from ``modes``: the
    probabilities and the modes after."""
    model = _classifier(dims, state)
    _set_modes(model, modes)
    torch.manual_seed(0)
    return {"probs": predict_proba(model, inputs, batch_size), "modes": _modes(model)}


def fine_tune(dims: Dims, state, batches: list[Batch], eval_batches, eval_every: int, lr: float):
    """The fine-tuning loop: ``model.train()``, ``freeze_(model.backbone)``, SGD on the head,
    ``torch.manual_seed(step)`` before each step, and ``evaluate(model, eval_batches)``
    after every ``eval_every``-th step (0: never).  Returns the final state and modes."""
    model = _classifier(dims, state)
    model.train()
    freeze_(model.backbone)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
    for step, (inputs, labels) in enumerate(batches, start=1):
        torch.manual_seed(step)
        optimizer.zero_grad()
        F.cross_entropy(model(inputs), labels).backward()
        optimizer.step()
        if eval_every and step % eval_every == 0:
            evaluate(model, eval_batches)
    return {"state": _state(model), "modes": _modes(model)}
