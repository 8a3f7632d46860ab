"""Holdout checks for the optimizer parameter groups (not shown to the candidate)."""

import copy

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_optim_groups import TORCH_NN, _groups, _spec
from torch import nn

from grader.grading.boundary import candidate

optim = candidate("harness")

FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile


class ScaleRMSNorm(nn.Module):
    """RMSNorm whose gain is called ``scale``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))


class Layer(nn.Module):
    """LLaMA/T5/CaiT-style names: nothing here says 'ln_' or 'LayerNorm'."""

    def __init__(self, dim: int, bias: bool) -> None:
        super().__init__()
        self.input_layernorm = ScaleRMSNorm(dim)
        self.q_proj = nn.Linear(dim, dim, bias=bias)
        self.o_proj = nn.Linear(dim, dim, bias=bias)
        self.relative_attention_bias = nn.Embedding(8, 2)
        self.post_attention_layernorm = nn.LayerNorm(dim, bias=bias)
        self.conv = nn.Conv1d(dim, dim, 3, bias=bias)
        self.gamma_1 = nn.Parameter(1e-4 * torch.ones(dim))


class OddModel(nn.Module):
    def __init__(self, n_layer: int, dim: int, bias: bool, tie: bool, freeze: bool) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(11, dim)
        self.layers = nn.ModuleList(Layer(dim, bias) for _ in range(n_layer))
        self.final_norm = ScaleRMSNorm(dim)
        self.logit_scale = nn.Parameter(torch.tensor(2.659))
        self.lm_head = nn.Linear(dim, 11, bias=False)
        if tie:
            self.lm_head.weight = self.embed_tokens.weight
        if freeze:
            self.layers[0].o_proj.weight.requires_grad_(False)


CONSTRUCTORS = {
    **TORCH_NN,
    nn.Conv1d: lambda m: {
        "in_channels": m.in_channels,
        "out_channels": m.out_channels,
        "kernel_size": m.kernel_size,
        "bias": m.bias is not None,
    },
}

MODELS = st.builds(
    OddModel,
    n_layer=st.integers(1, 2),
    dim=st.integers(2, 5),
    bias=st.booleans(),
    tie=st.booleans(),
    freeze=st.booleans(),
)


def _names(model: nn.Module) -> dict[int, str]:
    names: dict[int, list[str]] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        names.setdefault(id(p), []).append(name)
    return {key: " = ".join(value) for key, value in names.items()}


@FAST
@given(model=MODELS, weight_decay=st.sampled_from([0.1, 0.02]))
def test_dimension_rule_holds_whatever_the_names(model, weight_decay):
    names = _names(model)
    groups = _groups(model, weight_decay, CONSTRUCTORS)
    listed = [p for g in groups for p in g["params"]]
    ids = [id(p) for p in listed]
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert len(ids) == len(set(ids)) and set(ids) == trainable, (
        f"groups list {len(ids)} tensors ({len(set(ids))} distinct) but the model has "
        f"{len(trainable)} trainable ones"
    )
    for group in groups:
        for p in group["params"]:
            want = weight_decay if p.ndim >= 2 else 0.0
            assert group["weight_decay"] == want, (
                f"'{names[id(p)]}' {tuple(p.shape)} is in a group with weight_decay="
                f"{group['weight_decay']:g}; a {p.ndim}-dim parameter should get {want:g}"
            )


@FAST
@given(
    model=MODELS,
    seed=st.integers(0, 2**32 - 1),
    lr=st.sampled_from([1e-3, 0.1]),
    weight_decay=st.sampled_from([0.1, 0.5]),
)
def test_adamw_trajectory_matches_hand_built_groups(model, seed, lr, weight_decay):
    model = model.double()
    twin = copy.deepcopy(model)
    trainable = [p for p in twin.parameters() if p.requires_grad]
    reference = torch.optim.AdamW(
        [
            {"params": [p for p in trainable if p.ndim >= 2], "weight_decay": weight_decay},
            {"params": [p for p in trainable if p.ndim < 2], "weight_decay": 0.0},
        ],
        lr=lr,
        betas=(0.9, 0.95),
        eps=1e-8,
    )
    g = torch.Generator().manual_seed(seed)
    pairs = list(zip(model.named_parameters(), twin.parameters(), strict=True))
    grads = []
    for _ in range(3):
        step = [None] * len(pairs)
        for k, ((_, p), q) in enumerate(pairs):
            if p.requires_grad:
                grad = torch.randn(p.shape, generator=g, dtype=p.dtype)
                step[k], q.grad = grad.clone(), grad.clone()
        grads.append(step)
        reference.step()
    config = {"lr": lr, "weight_decay": weight_decay}
    ours = optim.optimizer_steps(_spec(model, CONSTRUCTORS), config, grads)
    for ((name, p), q), value in zip(pairs, ours, strict=True):
        err = float((value - q.detach()).abs().max())
        assert err <= 1e-12, (
            f"after 3 AdamW steps (lr={lr:g}, weight_decay={weight_decay:g}) '{name}' "
            f"{tuple(p.shape)} differs from AdamW with groups split by ndim by {err:.3e}"
        )


class NormTuned(nn.Module):
    """LN-tuning: everything frozen except the normalisation gains and biases."""

    def __init__(self, dim: int, bias: bool) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(11, dim)
        self.norm = nn.LayerNorm(dim, bias=bias)
        self.final_norm = ScaleRMSNorm(dim)
        self.proj = nn.Linear(dim, dim, bias=False)
        for p in (self.embed_tokens.weight, self.proj.weight):
            p.requires_grad_(False)


@FAST
@given(dim=st.integers(2, 5), bias=st.booleans(), weight_decay=st.sampled_from([0.1, 0.3]))
def test_only_gains_trainable_leaves_the_decayed_group_empty(dim, bias, weight_decay):
    model = NormTuned(dim, bias)
    names = _names(model)
    groups = _groups(model, weight_decay, CONSTRUCTORS)
    assert len(groups) == 2, f"expected [decayed, non-decayed] groups, got {len(groups)} groups"
    decayed = [names.get(id(p), "?") for p in groups[0]["params"]]
    assert not decayed, (
        f"only norm gains/biases train, yet the decayed group holds {decayed} "
        f"(weight_decay={groups[0]['weight_decay']:g})"
    )
    zero = [torch.zeros_like(p) if p.requires_grad else None for p in model.parameters()]
    config = {"lr": 0.1, "weight_decay": weight_decay}
    after = optim.optimizer_steps(_spec(model, CONSTRUCTORS), config, [zero])
    for (name, p), value in zip(model.named_parameters(), after, strict=True):
        err = float((value - p.detach()).abs().max())
        assert err == 0.0, f"'{name}' moved by {err:.3e} in a zero-gradient AdamW step"


class Conv1D(nn.Module):
    """Hugging Face GPT-2's projection: an (in, out) weight matrix in a class of its own."""

    def __init__(self, nx: int, nf: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(0.02 * torch.randn(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))


class RawMatrices(nn.Module):
    """Weight matrices outside nn.Linear / nn.Embedding / nn.ConvNd: GPT-2's Conv1D and a
    position table held as a bare nn.Parameter (ViT, minGPT)."""

    def __init__(self, dim: int, n_pos: int, bias: bool) -> None:
        super().__init__()
        self.wte = nn.Embedding(11, dim)
        self.pos_table = nn.Parameter(0.02 * torch.randn(n_pos, dim))
        self.c_attn = Conv1D(dim, 3 * dim)
        self.c_proj = Conv1D(dim, dim)
        self.ln_f = nn.LayerNorm(dim, bias=bias)


@FAST
@given(
    dim=st.integers(2, 5),
    n_pos=st.integers(2, 6),
    bias=st.booleans(),
    weight_decay=st.sampled_from([0.1, 0.3]),
)
def test_matrices_outside_torch_layers_are_decayed(dim, n_pos, bias, weight_decay):
    model = RawMatrices(dim, n_pos, bias)
    names = _names(model)
    for group in _groups(model, weight_decay, CONSTRUCTORS):
        for p in group["params"]:
            want = weight_decay if p.ndim >= 2 else 0.0
            assert group["weight_decay"] == want, (
                f"'{names.get(id(p), '?')}' {tuple(p.shape)} is in a group with weight_decay="
                f"{group['weight_decay']:g}; a {p.ndim}-dim parameter should get {want:g}, "
                f"whichever module class holds it"
            )
