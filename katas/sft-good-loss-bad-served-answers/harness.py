"""The calls the tests make into the SFT codebase, in the subject process.

Tokenizers, collators, models, trainers and optimizers cannot cross the boundary, so each
function here builds them from plain data (an alphabet, examples as ``(prompt,
response)`` pairs, a model config as a dict, a model as a list of ``torch.nn`` layers with
a state dict, tensors the test drew), calls the candidate's code and returns plain data:
tensors, numbers, strings, lists and dicts.  Nothing here checks anything: every expected
value and every assertion is in the tests.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import sft_evaluate as evaluate
import sft_model as model_module
import torch
from sft_data import Batch, CharTokenizer, Example, SFTCollator
from sft_model import ModelConfig, TinyLM
from sft_train import SFTTrainer, TrainConfig, build_optimizer, param_groups
from torch import Tensor, nn

Layers = Sequence[tuple[str, str, Sequence[Any]]]  # (name, class name, constructor args)


# --- data --------------------------------------------------------------------------------


def encode(alphabet: str, text: str, **kwargs: Any) -> list[int]:
    """``CharTokenizer(alphabet).encode(text, **kwargs)``."""
    return CharTokenizer(alphabet).encode(text, **kwargs)


def decode(alphabet: str, ids: list[int]) -> str:
    return CharTokenizer(alphabet).decode(ids)


def collate(
    alphabet: str, examples: Sequence[tuple[str, str]], max_length: int | None = None
) -> dict[str, Tensor]:
    """``SFTCollator(CharTokenizer(alphabet), max_length)`` on ``Example(prompt, response)``
    for each pair: the batch's tensors by name."""
    batch = SFTCollator(CharTokenizer(alphabet), max_length)([Example(*e) for e in examples])
    return {
        "input_ids": batch.input_ids,
        "labels": batch.labels,
        "attention_mask": batch.attention_mask,
    }


# --- models ------------------------------------------------------------------------------


def _layer_class(kind: str) -> type[nn.Module]:
    """``"Linear"`` -> ``torch.nn.Linear``; ``"model.RMSNorm"`` -> the kata's own class."""
    if kind.startswith("model."):
        return getattr(model_module, kind.removeprefix("model."))
    return getattr(nn, kind)


def _stack(layers: Layers, state: dict[str, Tensor] | None = None) -> nn.Module:
    """``nn.Sequential`` of ``layers`` in float64, holding ``state`` when given."""
    stack = nn.Sequential(
        OrderedDict((name, _layer_class(kind)(*args)) for name, kind, args in layers)
    ).double()
    if state is not None:
        stack.load_state_dict(state)
    return stack


def _tiny_lm(config: dict, seed: int, dtype: torch.dtype = torch.float64) -> TinyLM:
    torch.manual_seed(seed)
    return TinyLM(ModelConfig(**config)).to(dtype)


def tiny_lm_logits(config: dict, seed: int, input_ids: Tensor) -> Tensor:
    """Eval-mode logits of ``TinyLM(ModelConfig(**config))`` initialised under ``seed``."""
    lm = _tiny_lm(config, seed).eval()
    with torch.no_grad():
        return lm(input_ids)


def rms_norm(x: Tensor, weight: Tensor, eps: float = 1e-6) -> Tensor:
    """``model.RMSNorm`` with gain ``weight`` applied to ``x`` (in ``x``'s dtype)."""
    norm = model_module.RMSNorm(x.shape[-1], eps).to(x.dtype)
    with torch.no_grad():
        norm.weight.copy_(weight)
        return norm(x)


def serving_path(
    config: dict, seed: int, alphabet: str, prompt: str, response: str
) -> dict[str, Any]:
    """``evaluate.response_nll`` and ``evaluate.generate`` (4 new tokens) on the model of
    ``tiny_lm_logits``."""
    lm, tokenizer = _tiny_lm(config, seed), CharTokenizer(alphabet)
    return {
        "response_nll": evaluate.response_nll(lm, tokenizer, prompt, response),
        "generated": evaluate.generate(lm, tokenizer, prompt, max_new_tokens=4),
    }


# --- training ----------------------------------------------------------------------------


def _grads(module: nn.Module) -> dict[str, Tensor | None]:
    return {n: None if p.grad is None else p.grad.clone() for n, p in module.named_parameters()}


def _batch(tensors: dict[str, Tensor]) -> Batch:
    return Batch(tensors["input_ids"], tensors["labels"], tensors["attention_mask"])


def accumulate_gradients(
    layers: Layers, state: dict[str, Tensor], batch: dict[str, Tensor], micro_batch_size: int
) -> dict[str, Any]:
    """``SFTTrainer(stack, SGD(lr=0), TrainConfig(micro_batch_size=...))
    .accumulate_gradients(batch)`` on a model with no gradients yet: the reported loss and
    token count, and each parameter's ``.grad`` by name."""
    stack = _stack(layers, state)
    config = TrainConfig(micro_batch_size=micro_batch_size)
    trainer = SFTTrainer(stack, torch.optim.SGD(stack.parameters(), lr=0.0), config)
    loss, num_tokens = trainer.accumulate_gradients(_batch(batch))
    return {"loss": loss, "num_tokens": num_tokens, "grads": _grads(stack)}


def sgd_train(
    layers: Layers,
    state: dict[str, Tensor],
    batches: Sequence[dict[str, Tensor]],
    micro_batch_size: int,
    lr: float,
    max_grad_norm: float | None = None,
) -> list[dict[str, Any]]:
    """``trainer.train_step(batch)`` for each batch with plain ``torch.optim.SGD(lr)`` and
    no scheduler.  After each step: the ``StepStats`` fields and the parameters by name."""
    stack = _stack(layers, state)
    config = TrainConfig(micro_batch_size=micro_batch_size, max_grad_norm=max_grad_norm)
    trainer = SFTTrainer(stack, torch.optim.SGD(stack.parameters(), lr=lr), config)
    steps = []
    for batch in batches:
        stats = trainer.train_step(_batch(batch))
        params = {name: p.detach().clone() for name, p in stack.named_parameters()}
        steps.append({**vars(stats), "params": params})
    return steps


def _describe_groups(module: nn.Module, groups: list[dict]) -> dict[str, Any]:
    names = {id(p): name for name, p in module.named_parameters()}
    return {
        "groups": [
            {
                "names": [names.get(id(p), "<not a parameter of the model>") for p in g["params"]],
                "weight_decay": g.get("weight_decay"),
            }
            for g in groups
        ],
        "shapes": {name: list(p.shape) for name, p in module.named_parameters()},
        "trainable": [name for name, p in module.named_parameters() if p.requires_grad],
    }


def stack_param_groups(
    layers: Layers, weight_decay: float, frozen: Sequence[str] = ()
) -> dict[str, Any]:
    """``param_groups(stack, weight_decay)`` with the parameters named in ``frozen`` set to
    ``requires_grad=False``: each group's parameter names and weight decay, plus every
    parameter's shape and the trainable ones."""
    stack = _stack(layers)
    for name, param in stack.named_parameters():
        param.requires_grad_(name not in frozen)
    return _describe_groups(stack, param_groups(stack, weight_decay))


def tiny_lm_optimizer(config: dict, train_config: dict) -> dict[str, Any]:
    """``build_optimizer(TinyLM(ModelConfig(**config)), TrainConfig(**train_config))``: its
    groups (as ``stack_param_groups``) and each group's hyper-parameters."""
    lm = _tiny_lm(config, seed=0)
    optimizer = build_optimizer(lm, TrainConfig(**train_config))
    described = _describe_groups(lm, optimizer.param_groups)
    for group, described_group in zip(optimizer.param_groups, described["groups"], strict=True):
        described_group.update(lr=group["lr"], betas=list(group["betas"]), eps=group["eps"])
    return described


def tiny_lm_step_on_zero_gradients(config: dict, seed: int, train_config: dict) -> dict:
    """One step of ``build_optimizer(model, TrainConfig(**train_config))`` with every
    gradient zero: the parameters before and after, by name."""
    lm = _tiny_lm(config, seed)
    optimizer = build_optimizer(lm, TrainConfig(**train_config))
    before = {name: p.detach().clone() for name, p in lm.named_parameters()}
    for param in lm.parameters():
        param.grad = torch.zeros_like(param)
    optimizer.step()
    return {"before": before, "after": {n: p.detach().clone() for n, p in lm.named_parameters()}}
