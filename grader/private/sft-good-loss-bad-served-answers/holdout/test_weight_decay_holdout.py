"""Holdout checks of the AdamW groups (not shown to the candidate): other vector
parameters than norm gains and biases, layers named differently, deeper TinyLMs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from test_sft_train import FAST, SEEDS, TINY_LM, TRAIN_CONFIG, check_decay_by_shape, sft

OTHER_STACKS = st.sampled_from(
    [
        [("emb", "Embedding", (6, 4)), ("gain", "model.RMSNorm", (4,)), ("out", "Linear", (4, 3))],
        [("fc", "Linear", (4, 4)), ("slope", "PReLU", (4,)), ("head", "Linear", (4, 2))],
        [("fc", "Linear", (3, 4)), ("bn", "BatchNorm1d", (4,)), ("head", "Linear", (4, 2))],
        [("fc", "Linear", (3, 4)), ("gn", "GroupNorm", (2, 4)), ("head", "Linear", (4, 2))],
        [("emb", "Embedding", (6, 4)), ("ln", "LayerNorm", (4,)), ("normalizer", "Linear", (4, 4))],
        [("0", "Embedding", (6, 4)), ("1", "RMSNorm", (4,)), ("2", "Linear", (4, 3, False))],
    ]
)


@FAST
@given(layers=OTHER_STACKS, weight_decay=st.sampled_from([0.01, 0.1]))
def test_any_vector_parameter_is_left_undecayed(layers, weight_decay):
    described = sft.stack_param_groups(layers, weight_decay)
    kinds = " -> ".join(f"{name}: {kind}" for name, kind, _ in layers)
    check_decay_by_shape(described, weight_decay, f"param_groups of {kinds}")


@FAST
@given(seed=SEEDS, n_layers=st.integers(1, 4), lr=st.sampled_from([1e-4, 0.03]))
def test_deeper_tiny_lm_steps_on_zero_gradients(seed, n_layers, lr):
    config = {**TINY_LM, "n_layers": n_layers, "d_model": 4}
    train_config = {**TRAIN_CONFIG, "lr": lr}
    got = sft.tiny_lm_step_on_zero_gradients(config, seed, train_config)
    decay = TRAIN_CONFIG["weight_decay"]
    for name, before in got["before"].items():
        factor = 1 - lr * decay if before.dim() >= 2 else 1.0
        err = float((got["after"][name] - factor * before).abs().max())
        assert err <= 1e-12, (
            f"TinyLM with {n_layers} blocks, lr={lr}: a step on zero gradients moved '{name}' "
            f"(shape {tuple(before.shape)}) {err:.3e} away from {factor:g} times its value"
        )


MATRICES_IN_OTHER_LAYERS = [
    [("emb", "Embedding", (6, 4)), ("attn", "MultiheadAttention", (4, 2)), ("o", "Linear", (4, 3))],
    [("conv", "Conv1d", (4, 4, 3)), ("gn", "GroupNorm", (2, 4)), ("head", "Linear", (4, 2))],
    [("emb", "Embedding", (6, 4)), ("rnn", "GRU", (4, 4)), ("head", "Linear", (4, 3))],
]


def test_matrices_outside_linear_and_embedding_layers_are_decayed():
    for layers in MATRICES_IN_OTHER_LAYERS:
        described = sft.stack_param_groups(layers, 0.1)
        kinds = " -> ".join(f"{name}: {kind}" for name, kind, _ in layers)
        check_decay_by_shape(described, 0.1, f"param_groups of {kinds}")
