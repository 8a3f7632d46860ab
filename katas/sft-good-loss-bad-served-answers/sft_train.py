"""Supervised fine-tuning: the loss, gradient accumulation, AdamW groups and the run.

The objective of an optimizer step is the next-token cross-entropy averaged over every
target token of the global batch (a target is a label that is not ``IGNORE_INDEX``,
scored from the logits one position earlier).  A global batch of ``batch_size`` rows is
processed ``micro_batch_size`` rows at a time; accumulating the micro-batches must give
the gradient of that objective, whatever ``micro_batch_size`` is.

    python sft_train.py  # trains TinyLM on the toy tasks and prints the training log
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from sft_data import IGNORE_INDEX, Batch, CharTokenizer, SFTCollator, make_examples
from sft_evaluate import evaluate_examples
from sft_model import ModelConfig, TinyLM
from torch import Tensor, nn


@dataclass(frozen=True)
class TrainConfig:
    lr: float = 3e-3
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    batch_size: int = 32  # rows per optimizer step
    micro_batch_size: int = 8  # rows per forward/backward pass
    max_grad_norm: float | None = 1.0
    steps: int = 600
    warmup_steps: int = 30
    seed: int = 0


def causal_lm_loss(logits: Tensor, labels: Tensor, reduction: str = "mean") -> Tensor:
    """Cross-entropy of ``logits[:, t]`` (``(B, T, V)``) against ``labels[:, t + 1]``.

    ``IGNORE_INDEX`` labels are skipped; ``"mean"`` averages over target tokens and
    ``"sum"`` adds them up.
    """
    return F.cross_entropy(
        logits[:, :-1].flatten(0, 1),
        labels[:, 1:].flatten(),
        ignore_index=IGNORE_INDEX,
        reduction=reduction,
    )


def num_target_tokens(labels: Tensor) -> int:
    """How many labels ``causal_lm_loss`` scores."""
    return int((labels[:, 1:] != IGNORE_INDEX).sum())


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: ``[decayed, not decayed]``, each trainable parameter in exactly one.

    Matrices (linear weights, embeddings) get ``weight_decay``; vectors and scalars
    (biases, normalisation gains, other per-channel parameters) get none.  Frozen
    parameters are left out.
    """
    decay, no_decay = [], []
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            if name == "bias" or isinstance(module, nn.LayerNorm | nn.RMSNorm):
                no_decay.append(param)
            else:
                decay.append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    groups = param_groups(model, config.weight_decay)
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas)


def warmup_cosine(config: TrainConfig):
    """Multiplier of the learning rate at each step: linear warm-up, cosine decay to 10%."""

    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        return 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


@dataclass
class StepStats:
    loss: float  # mean loss per target token of the global batch
    num_tokens: int  # target tokens in the global batch
    grad_norm: float | None = None  # before clipping, when clipping


class SFTTrainer:
    """Optimizer steps on global batches, ``micro_batch_size`` rows at a time.

    ``model`` maps ``(B, T)`` token ids to ``(B, T, V)`` logits.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        config: TrainConfig,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    ) -> None:
        self.model, self.optimizer, self.config = model, optimizer, config
        self.scheduler = scheduler

    def accumulate_gradients(self, batch: Batch) -> tuple[float, int]:
        """Add the gradient of the batch objective to ``.grad``, one micro-batch at a time.

        Returns the objective's value (mean loss per target token) and the token count.
        """
        micro_batches = batch.split(self.config.micro_batch_size)
        total_loss, num_tokens = 0.0, 0
        for micro in micro_batches:
            loss = causal_lm_loss(self.model(micro.input_ids), micro.labels)
            (loss / len(micro_batches)).backward()
            total_loss += loss.item() / len(micro_batches)
            num_tokens += num_target_tokens(micro.labels)
        return total_loss, num_tokens

    def train_step(self, batch: Batch) -> StepStats:
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss, num_tokens = self.accumulate_gradients(batch)
        grad_norm = None
        if self.config.max_grad_norm is not None:
            norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm)
            grad_norm = float(norm)
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        return StepStats(loss, num_tokens, grad_norm)

    @torch.no_grad()
    def evaluate(self, batches: list[Batch]) -> float:
        """Mean loss per target token over ``batches``."""
        self.model.eval()
        total, count = 0.0, 0
        for batch in batches:
            total += float(causal_lm_loss(self.model(batch.input_ids), batch.labels, "sum"))
            count += num_target_tokens(batch.labels)
        return total / max(count, 1)


def main(config: TrainConfig = TrainConfig()) -> TinyLM:
    torch.manual_seed(config.seed)
    tokenizer = CharTokenizer()
    collate = SFTCollator(tokenizer, max_length=64)
    train_set, eval_set = make_examples(4096, seed=1), make_examples(256, seed=2)
    model = TinyLM(ModelConfig(vocab_size=tokenizer.vocab_size))
    optimizer = build_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(config))
    trainer = SFTTrainer(model, optimizer, config, scheduler)
    eval_batches = [collate(eval_set[i : i + 64]) for i in range(0, len(eval_set), 64)]
    for step in range(config.steps):
        start = step * config.batch_size % len(train_set)
        stats = trainer.train_step(collate(train_set[start : start + config.batch_size]))
        if (step + 1) % 100 == 0:
            print(
                f"step {step + 1:4d}  train loss {stats.loss:.3f}  "
                f"eval loss {trainer.evaluate(eval_batches):.3f}  grad norm {stats.grad_norm:.2f}"
            )
    metrics = evaluate_examples(model, tokenizer, eval_set)
    print(
        f"serving path: response_nll {metrics['response_nll']:.3f}  "
        f"exact match {metrics['exact_match']:.1%}  sample {metrics['sample']!r}"
    )
    return model


if __name__ == "__main__":
    main()
