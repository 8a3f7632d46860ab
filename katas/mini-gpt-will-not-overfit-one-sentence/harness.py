"""The calls the tests make into the mini-GPT codebase, in the subject process.

Models, optimizers, configs and samplers cannot cross the boundary, so each function here
builds them from plain data (a config as a dict, weights as a state dict the test drew,
token lists, layer descriptions), calls the code under test and returns tensors, numbers
and dicts.  Two stand-in models live here because some components are tested apart from
the GPT: ``_TokenClassifier`` (an ``nn.Sequential`` and its cross-entropy, for the training
loop) and ``_Bigram`` (a fixed next-token logit table, for sampling).  Nothing here checks
anything: every expected value and every assertion is in the tests.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from data import CharTokenizer, WindowSampler
from model import GPT, CausalSelfAttention, GPTConfig
from model import lm_loss as _lm_loss
from sample import generate
from torch import Tensor, nn
from train import TrainConfig, configure_optimizer, lr_at, train

Layers = Sequence[tuple[str, str, Sequence[Any]]]  # (name, torch.nn class name, args)


def attention(config: dict, params: dict[str, Tensor], x: Tensor, train: bool = False) -> Tensor:
    """``CausalSelfAttention(GPTConfig(**config))`` holding ``params``, in ``x``'s dtype
    (eval mode, or train mode if ``train``), applied to ``x``."""
    layer = CausalSelfAttention(GPTConfig(**config)).to(x.dtype)
    layer.load_state_dict(params)
    with torch.no_grad():
        return layer.train(train)(x)


def attention_input_gradients(config: dict, params: dict[str, Tensor], x: Tensor) -> Tensor:
    """``(T, *x.shape)``: entry ``t`` is the gradient of ``output[:, t].sum()`` with respect
    to the input ``x`` (eval mode)."""
    layer = CausalSelfAttention(GPTConfig(**config)).to(x.dtype).eval()
    layer.load_state_dict(params)
    x = x.detach().clone().requires_grad_(True)
    out = layer(x)
    return torch.stack(
        [torch.autograd.grad(out[:, t].sum(), x, retain_graph=True)[0] for t in range(x.size(1))]
    )


def _gpt(config: dict, params: dict[str, Tensor], train: bool) -> GPT:
    model = GPT(GPTConfig(**config)).double()
    model.load_state_dict(params)
    return model.train(train)


def embed(config: dict, params: dict[str, Tensor], idx: Tensor, train: bool = False) -> Tensor:
    """``GPT(GPTConfig(**config)).embed(idx)`` in float64 with ``params``."""
    with torch.no_grad():
        return _gpt(config, params, train).embed(idx)


def gpt_forward(
    config: dict, params: dict[str, Tensor], idx: Tensor, targets: Tensor | None = None
) -> dict[str, Tensor | None]:
    """``GPT(GPTConfig(**config))(idx, targets)`` in float64 and eval mode with ``params``:
    ``{"logits": ..., "loss": ...}``."""
    with torch.no_grad():
        logits, loss = _gpt(config, params, False)(idx, targets)
    return {"logits": logits, "loss": loss}


def gpt_parameter_names(config: dict) -> list[str]:
    """``GPT(GPTConfig(**config)).named_parameters()`` names, in order."""
    return [name for name, _ in GPT(GPTConfig(**config)).named_parameters()]


def lm_loss(logits: Tensor, targets: Tensor, **kwargs: Any) -> dict[str, Tensor]:
    """``model.lm_loss(logits, targets, **kwargs)`` and its gradient with respect to the
    logits: ``{"loss": ..., "grad": ...}``."""
    logits = logits.detach().clone().requires_grad_(True)
    loss = _lm_loss(logits, targets, **kwargs)
    (grad,) = torch.autograd.grad(loss, logits, allow_unused=True)
    return {"loss": loss.detach(), "grad": grad}


class _TokenClassifier(nn.Module):
    """Stand-in model for the training loop: ``nn.Sequential`` over token ids, returning
    ``(logits, mean cross-entropy against y)`` as ``GPT.forward`` does."""

    def __init__(self, layers: Layers, state: dict[str, Tensor]) -> None:
        super().__init__()
        modules = OrderedDict((name, getattr(nn, kind)(*args)) for name, kind, args in layers)
        self.net = nn.Sequential(modules).double()
        self.net.load_state_dict(state)

    def forward(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        logits = self.net(x)
        if y is None:
            return logits, None
        return logits, F.cross_entropy(logits.flatten(0, 1), y.flatten())


def train_classifier(
    layers: Layers, state: dict[str, Tensor], batches: Sequence[tuple[Tensor, Tensor]], cfg: dict
) -> list[dict[str, Any]]:
    """``train(model, batches, TrainConfig(**cfg))`` on the stand-in model, with
    ``max_steps = len(batches)`` and ``batches()`` returning them in order.  Per step: the
    ``StepStats`` fields and the parameters after it (``net.<name>``)."""
    model = _TokenClassifier(layers, state)
    queue = iter(batches)
    before: list[dict[str, Tensor]] = []  # the parameters as each step receives its batch

    def next_batch() -> tuple[Tensor, Tensor]:
        before.append({k: p.detach().clone() for k, p in model.net.named_parameters()})
        return next(queue)

    history = train(model, next_batch, TrainConfig(**{**cfg, "max_steps": len(batches)}))
    after = [*before[1:], {k: p.detach().clone() for k, p in model.net.named_parameters()}]
    return [
        {"step": s.step, "lr": s.lr, "loss": s.loss, "grad_norm": s.grad_norm, "params": params}
        for s, params in zip(history, after, strict=True)
    ]


def learning_rates(steps: Sequence[int], cfg: dict) -> list[float]:
    """``lr_at(step, TrainConfig(**cfg))`` for each step."""
    return [lr_at(step, TrainConfig(**cfg)) for step in steps]


def optimizer_groups(config: dict) -> list[dict[str, Any]]:
    """``configure_optimizer(GPT(GPTConfig(**config)), TrainConfig())``'s parameter groups:
    the names of their parameters (as ``named_parameters`` calls them) and weight decay."""
    model = GPT(GPTConfig(**config))
    names = {id(p): name for name, p in model.named_parameters()}
    optimizer = configure_optimizer(model, TrainConfig())
    return [
        {"params": [names[id(p)] for p in g["params"]], "weight_decay": g["weight_decay"]}
        for g in optimizer.param_groups
    ]


def tokenize(corpus: str, text: str) -> dict[str, Any]:
    """``CharTokenizer(corpus)``: its vocabulary, ``encode(text)`` and the decoded ids."""
    tokenizer = CharTokenizer(corpus)
    ids = tokenizer.encode(text)
    return {"chars": tokenizer.chars, "ids": ids, "decoded": tokenizer.decode(ids)}


def sample_windows(
    tokens: list[int], block_size: int, batch_size: int, seed: int, n_batches: int
) -> list[tuple[Tensor, Tensor]]:
    """``n_batches`` calls of ``WindowSampler(tokens, block_size, batch_size, seed)``."""
    sampler = WindowSampler(tokens, block_size, batch_size, seed)
    return [sampler() for _ in range(n_batches)]


class _Bigram(nn.Module):
    """Stand-in model for sampling: logits at each position are ``table[token]``; records
    the length of every context it is given."""

    def __init__(self, table: Tensor, block_size: int) -> None:
        super().__init__()
        self.table = table
        self.config = GPTConfig(block_size=block_size, vocab_size=table.size(0))
        self.context_lengths: list[int] = []

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> tuple[Tensor, None]:
        self.context_lengths.append(idx.size(1))
        return self.table[idx], None


def generate_bigram(
    table: Tensor,
    block_size: int,
    prompt: Tensor,
    max_new_tokens: int,
    seed: int | None = None,
    train_mode: bool = False,
    **sampling: Any,
) -> dict[str, Any]:
    """``generate`` on the bigram stand-in (``sampling``: temperature, top_k), with a
    generator seeded by ``seed`` if given: the tokens, the context lengths the model saw,
    and whether it was in train mode afterwards."""
    model = _Bigram(table, block_size).train(train_mode)
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    out = generate(model, prompt, max_new_tokens, generator=generator, **sampling)
    return {"tokens": out, "context_lengths": model.context_lengths, "training": model.training}
