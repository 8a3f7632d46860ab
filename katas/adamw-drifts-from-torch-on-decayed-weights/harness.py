"""The calls the tests make into the optimizer, in the subject process.

An optimizer and its parameters cannot cross the boundary, so the tests send the param
groups as plain data (each group: its parameters' initial values as tensors, plus any
hyper-parameters it overrides), the optimizer's defaults, and the gradients of every step
(per group, per parameter; None leaves ``.grad`` None for that step).  Each function here
builds ``AdamW`` over fresh ``nn.Parameter``s, runs the steps and returns the parameters'
values (and the update ratios the optimizer reported) after every step.  Nothing here
checks anything: every check is in the tests.
"""

from __future__ import annotations

from typing import Any

import torch
from adamw import AdamW
from torch import nn

Groups = list[dict[str, Any]]  # [{"params": [tensor, ...], "weight_decay": ..., ...}, ...]
Grads = list[list[list[torch.Tensor | None]]]  # [step][group][param]


def _build(groups: Groups, defaults: dict[str, Any]) -> tuple[AdamW, list[list[nn.Parameter]]]:
    params = [[nn.Parameter(value.clone()) for value in group["params"]] for group in groups]
    optimizer = AdamW(
        [{**group, "params": ps} for group, ps in zip(groups, params, strict=True)], **defaults
    )
    return optimizer, params


def _run(optimizer: AdamW, params, grads: Grads, lrs: list[float] | None) -> list[dict]:
    steps = []
    for k, step in enumerate(grads):
        if lrs is not None:
            for group in optimizer.param_groups:
                group["lr"] = lrs[k]
        for ps, gs in zip(params, step, strict=True):
            for p, g in zip(ps, gs, strict=True):
                p.grad = None if g is None else g.clone()
        optimizer.step()
        steps.append(
            {
                "params": [[p.detach().clone() for p in ps] for ps in params],
                "ratios": list(optimizer.last_update_ratios),
            }
        )
    return steps


def run(
    groups: Groups, defaults: dict[str, Any], grads: Grads, lrs: list[float] | None = None
) -> list[dict]:
    """``AdamW(groups, **defaults)`` and one ``step()`` per entry of ``grads`` (``lrs[k]``,
    if given, is written to every group's ``lr`` before step ``k``, as a scheduler does).
    After each step: ``{"params": values per group, "ratios": last_update_ratios}``."""
    optimizer, params = _build(groups, defaults)
    return _run(optimizer, params, grads, lrs)


def run_resumed(
    groups: Groups, defaults: dict[str, Any], grads: Grads, resume_at: int
) -> list[list[torch.Tensor]]:
    """The first ``resume_at`` steps of ``run``, then a new ``AdamW`` over new parameters
    holding the current values, ``load_state_dict`` of the first one's ``state_dict()``,
    and the remaining steps.  Returns the final values per group."""
    optimizer, params = _build(groups, defaults)
    _run(optimizer, params, grads[:resume_at], None)
    saved = optimizer.state_dict()
    current = [
        {**g, "params": [p.detach() for p in ps]} for g, ps in zip(groups, params, strict=True)
    ]
    optimizer, params = _build(current, defaults)
    optimizer.load_state_dict(saved)
    steps = _run(optimizer, params, grads[resume_at:], None)
    return steps[-1]["params"]


def moment_dtypes(groups: Groups, defaults: dict[str, Any], grads: Grads) -> dict[str, list]:
    """After ``run``: each parameter's dtype and its ``exp_avg`` / ``exp_avg_sq`` dtypes."""
    optimizer, params = _build(groups, defaults)
    _run(optimizer, params, grads, None)
    flat = [p for ps in params for p in ps]
    return {
        "params": [p.dtype for p in flat],
        "exp_avg": [optimizer.state[p]["exp_avg"].dtype for p in flat],
        "exp_avg_sq": [optimizer.state[p]["exp_avg_sq"].dtype for p in flat],
    }
