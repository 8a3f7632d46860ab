"""Training loop for the mini-GPT: AdamW, warmup + cosine schedule, gradient accumulation,
gradient clipping.

``python train.py`` is the smoke test we run after touching the model: a two-layer GPT
must memorise one sentence (training loss near zero within a few hundred steps), and
greedy decoding from the sentence's first characters must then recite the rest of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

Batch = tuple[Tensor, Tensor]  # (x, y), both (B, T): inputs and aligned next-token targets


@dataclass
class TrainConfig:
    max_steps: int = 300
    batch_size: int = 8
    grad_accum_steps: int = 1  # micro-batches per optimizer step; must divide the batch size
    learning_rate: float = 3e-3  # peak, reached at the end of warmup
    min_lr: float = 3e-4  # floor of the cosine decay
    warmup_steps: int = 20
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0  # max global gradient norm; 0 disables clipping
    log_interval: int = 50


@dataclass
class StepStats:
    step: int
    lr: float
    loss: float  # mean training loss of the step's batch
    grad_norm: float  # global gradient norm before clipping


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate of optimizer step ``step`` (0-based): linear warmup to the peak over
    ``warmup_steps`` steps, then cosine decay to ``min_lr`` at ``max_steps``."""
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    if step >= cfg.max_steps:
        return cfg.min_lr
    progress = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (
        cfg.learning_rate - cfg.min_lr
    )


def configure_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices and embeddings (``ndim >= 2``) and none on
    biases and norm gains; frozen parameters are left out, tied ones appear once."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, betas=cfg.betas)


def train_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, batch: Batch, cfg: TrainConfig
) -> tuple[float, float]:
    """One optimizer step on ``batch``.

    ``model(x, y)`` must return ``(logits, mean loss)``.  The batch is split into
    ``cfg.grad_accum_steps`` equal micro-batches whose gradients add up to the gradient
    of the whole batch's mean loss; the update is driven by that gradient alone, clipped
    by ``nn.utils.clip_grad_norm_`` to a global norm of ``cfg.grad_clip``.
    Returns the batch's mean loss and the
    gradient norm before clipping.
    """
    model.train()
    x, y = batch
    if x.size(0) % cfg.grad_accum_steps:
        raise ValueError(f"batch of {x.size(0)} does not split into {cfg.grad_accum_steps}")
    micro_batches = list(
        zip(x.chunk(cfg.grad_accum_steps), y.chunk(cfg.grad_accum_steps), strict=True)
    )
    total_loss = 0.0
    for micro_x, micro_y in micro_batches:
        _, loss = model(micro_x, micro_y)
        (loss / len(micro_batches)).backward()
        total_loss += loss.item() / len(micro_batches)
    max_norm = cfg.grad_clip if cfg.grad_clip > 0 else math.inf
    grad_norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    return total_loss, float(grad_norm)


def train(
    model: nn.Module,
    batches: Callable[[], Batch],
    cfg: TrainConfig,
    log: Callable[[str], None] | None = None,
) -> list[StepStats]:
    """``cfg.max_steps`` optimizer steps, each on a fresh ``batches()``; the statistics of
    every step, logged every ``cfg.log_interval`` steps and at the last one."""
    optimizer = configure_optimizer(model, cfg)
    optimizer.zero_grad(set_to_none=True)
    history = []
    for step in range(cfg.max_steps):
        lr = lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss, grad_norm = train_step(model, optimizer, batches(), cfg)
        history.append(StepStats(step, lr, loss, grad_norm))
        if log is not None and (step % cfg.log_interval == 0 or step == cfg.max_steps - 1):
            log(f"step {step:4d} | loss {loss:.4f} | grad norm {grad_norm:8.4f} | lr {lr:.2e}")
    return history


def main() -> None:
    from data import CharTokenizer, WindowSampler
    from model import GPT, GPTConfig
    from sample import complete

    sentence = "the quick brown fox jumps over the lazy dog"
    torch.manual_seed(0)
    tokenizer = CharTokenizer(sentence)
    cfg = TrainConfig()
    sampler = WindowSampler(tokenizer.encode(sentence), 64, cfg.batch_size, seed=0)
    model = GPT(GPTConfig(block_size=64, vocab_size=tokenizer.vocab_size))
    print(f"{model.num_params():,} parameters, vocabulary of {tokenizer.vocab_size}")
    train(model, sampler, cfg, log=print)
    for prompt in ("t", "the quick", "the quick brown fox jumps"):
        print(repr(prompt), "->", repr(complete(model, tokenizer, prompt, len(sentence))))


if __name__ == "__main__":
    main()
