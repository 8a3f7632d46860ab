"""The calls the tests make into the accumulating trainer, in the subject process.

The trainer takes a model, an optimizer and ``TokenBatch`` objects, and leaves its result
in the parameters and their ``.grad``; none of that can cross the boundary.  So the tests
send the model as plain data, the layers of an ``nn.Sequential`` (name, ``torch.nn``
class, constructor arguments) and its state dict, plus the batches as ``(input_ids,
labels)`` tensors.  Each function here rebuilds the model, runs the trainer and returns
what it reported together with the parameters and gradients it left.  Nothing here checks
anything: every check is in the tests.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from grad_accumulation import AccumulatingTrainer, TokenBatch
from torch import nn

Layers = Sequence[tuple[str, str, Sequence[Any]]]  # (name, torch.nn class name, args)
Batch = tuple[torch.Tensor, torch.Tensor]  # (input_ids, labels)


def _model(layers: Layers, state: dict[str, torch.Tensor]) -> nn.Module:
    """``nn.Sequential`` of ``layers``, in float64 like the tests' models, holding ``state``."""
    model = nn.Sequential(
        OrderedDict((name, getattr(nn, kind)(*args)) for name, kind, args in layers)
    )
    model.double().load_state_dict(state)
    return model


def _grads(model: nn.Module) -> dict[str, torch.Tensor | None]:
    return {
        name: None if p.grad is None else p.grad.clone() for name, p in model.named_parameters()
    }


def accumulate_gradients(
    layers: Layers,
    state: dict[str, torch.Tensor],
    batch: Batch,
    micro_batch_size: int,
    **trainer_kwargs: Any,
) -> dict[str, Any]:
    """``AccumulatingTrainer(model, SGD(lr=0), micro_batch_size, **trainer_kwargs)
    .accumulate_gradients(TokenBatch(*batch))`` on a model with no gradients yet: the
    reported loss and token count, and each parameter's ``.grad`` by name."""
    model = _model(layers, state)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    trainer = AccumulatingTrainer(model, optimizer, micro_batch_size, **trainer_kwargs)
    loss, num_tokens = trainer.accumulate_gradients(TokenBatch(*batch))
    return {"loss": loss, "num_tokens": num_tokens, "grads": _grads(model)}


def accumulate_batches(
    layers: Layers,
    state: dict[str, torch.Tensor],
    batches: Sequence[Batch],
    micro_batch_size: int,
    **trainer_kwargs: Any,
) -> dict[str, Any]:
    """``accumulate_gradients`` on each of ``batches`` in turn, with no zeroing in between,
    on a model with no gradients yet: what each call reported, and each parameter's
    ``.grad`` by name after the last one."""
    model = _model(layers, state)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    trainer = AccumulatingTrainer(model, optimizer, micro_batch_size, **trainer_kwargs)
    reported = [trainer.accumulate_gradients(TokenBatch(*batch)) for batch in batches]
    return {"reported": reported, "grads": _grads(model)}


def train(
    layers: Layers,
    state: dict[str, torch.Tensor],
    batches: Sequence[Batch],
    micro_batch_size: int,
    optimizer: str,
    lr: float,
    **trainer_kwargs: Any,
) -> list[dict[str, Any]]:
    """``trainer.step(TokenBatch(*batch))`` for each batch, with ``optimizer`` (a
    ``torch.optim`` class name) at learning rate ``lr``.  After each step: the
    ``StepResult``'s fields, and each parameter's value and ``.grad`` by name."""
    model = _model(layers, state)
    optim = getattr(torch.optim, optimizer)(model.parameters(), lr=lr)
    trainer = AccumulatingTrainer(model, optim, micro_batch_size, **trainer_kwargs)
    steps = []
    for batch in batches:
        result = trainer.step(TokenBatch(*batch))
        steps.append(
            {
                "loss": result.loss,
                "num_tokens": result.num_tokens,
                "grad_norm": result.grad_norm,
                "params": {name: p.detach().clone() for name, p in model.named_parameters()},
                "grads": _grads(model),
            }
        )
    return steps
