"""AdamW for the pre-training loop, with per-group update statistics.

The update rule, hyper-parameters and param-group semantics are those of
``torch.optim.AdamW`` (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"), so
that tuned hyper-parameters and checkpoints move between the two.  For a parameter ``p``
with gradient ``g`` at its step ``t``, with ``lr``, ``betas``, ``eps`` and ``weight_decay``
taken from its param group::

    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    p = p - lr * (m_hat / (sqrt(v_hat) + eps) + weight_decay * p)

with ``m_hat = m / (1 - beta1**t)`` and ``v_hat = v / (1 - beta2**t)``, and ``p`` on the
right the value before the step.  Two things are added for the trainer:

* the moments are kept in at least float32 whatever the parameter dtype, and the update
  is computed in that dtype before it is written back (bf16 weights, fp32 moments);
* after each ``step``, ``last_update_ratios[i]`` is the RMS of the change applied to the
  parameters of group ``i`` divided by their RMS before the step; the trainer logs it to
  catch a group whose learning rate is too high.

Parameters whose ``.grad`` is None are skipped entirely (no decay, no step counted), as in
torch.  The state dict has torch's layout (``step``, ``exp_avg``, ``exp_avg_sq``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor


def _moment_dtype(dtype: torch.dtype) -> torch.dtype:
    """Dtype of the moment buffers and of the update arithmetic (bf16/fp16 -> fp32)."""
    return torch.promote_types(dtype, torch.float32)


class AdamW(torch.optim.Optimizer):
    """Adam with decoupled weight decay, per-group hyper-parameters and update statistics."""

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        if lr < 0.0:
            raise ValueError(f"invalid learning rate {lr}")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"invalid betas {betas}")
        if eps < 0.0 or weight_decay < 0.0:
            raise ValueError(f"invalid eps {eps} or weight_decay {weight_decay}")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)
        self.last_update_ratios: list[float] = []

    def _state(self, p: Tensor) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            dtype = _moment_dtype(p.dtype)
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(p, dtype=dtype)
            state["exp_avg_sq"] = torch.zeros_like(p, dtype=dtype)
        return state

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        ratios = []
        for group in self.param_groups:
            lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            update_sq, weight_sq = 0.0, 0.0
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("AdamW does not support sparse gradients")
                state = self._state(p)
                state["step"] += 1
                t = int(state["step"].item())
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                param = p.detach().to(exp_avg.dtype)
                grad = p.grad.to(exp_avg.dtype)
                if weight_decay != 0.0:
                    grad = grad.add(param, alpha=weight_decay)

                exp_avg.lerp_(grad, 1.0 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
                bias_correction1 = 1.0 - beta1**t
                bias_correction2 = 1.0 - beta2**t
                denom = (exp_avg_sq.sqrt() / math.sqrt(bias_correction2)).add_(eps)
                step_size = lr / bias_correction1
                update = exp_avg.div(denom).mul_(-step_size)

                update_sq += float(update.square().sum())
                weight_sq += float(param.square().sum())
                p.copy_(param + update)
            ratios.append(math.sqrt(update_sq / weight_sq) if weight_sq > 0.0 else 0.0)
        self.last_update_ratios = ratios
        return loss
