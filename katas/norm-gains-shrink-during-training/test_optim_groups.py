"""Checks for the optimizer parameter groups on small GPT-style models."""

from collections.abc import Callable

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from grader.grading.boundary import candidate

optim = candidate("harness")  # the optimizer set-up, run on a copy of the model in the subject

FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def _norm(kind: str, dim: int, bias: bool) -> nn.Module:
    return RMSNorm(dim) if kind == "rmsnorm" else nn.LayerNorm(dim, bias=bias)


class Block(nn.Module):
    def __init__(self, dim: int, bias: bool, norm: str) -> None:
        super().__init__()
        self.ln_1 = _norm(norm, dim, bias)
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.proj = nn.Linear(dim, dim, bias=bias)
        self.ln_2 = _norm(norm, dim, bias)
        self.mlp = nn.Sequential(
            nn.Linear(dim, 4 * dim, bias=bias), nn.GELU(), nn.Linear(4 * dim, dim, bias=bias)
        )


class TinyGPT(nn.Module):
    def __init__(self, n_layer: int, dim: int, bias: bool, norm: str, tie: bool, freeze: bool):
        super().__init__()
        self.wte = nn.Embedding(13, dim)
        self.wpe = nn.Embedding(8, dim)
        self.blocks = nn.ModuleList(Block(dim, bias, norm) for _ in range(n_layer))
        self.ln_f = _norm(norm, dim, bias)
        self.lm_head = nn.Linear(dim, 13, bias=False)
        if tie:
            self.lm_head.weight = self.wte.weight
        if freeze:
            self.wpe.weight.requires_grad_(False)


MODELS = st.builds(
    TinyGPT,
    n_layer=st.integers(1, 3),
    dim=st.integers(2, 6),
    bias=st.booleans(),
    norm=st.sampled_from(["layernorm", "rmsnorm"]),
    tie=st.booleans(),
    freeze=st.booleans(),
)
DECAYS = st.sampled_from([0.1, 0.01, 0.3])


def _names(model: nn.Module) -> dict[int, str]:
    """id(parameter) -> all the names it is registered under (tied weights have several)."""
    names: dict[int, list[str]] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        names.setdefault(id(p), []).append(name)
    return {key: " = ".join(value) for key, value in names.items()}


def _group_of(groups: list[dict]) -> dict[int, float]:
    return {id(p): g["weight_decay"] for g in groups for p in g["params"]}


# How to construct each torch.nn class the models use, from one of its instances.
TORCH_NN: dict[type, Callable[[nn.Module], dict]] = {
    nn.Linear: lambda m: {
        "in_features": m.in_features,
        "out_features": m.out_features,
        "bias": m.bias is not None,
    },
    nn.LayerNorm: lambda m: {
        "normalized_shape": list(m.normalized_shape),
        "eps": m.eps,
        "elementwise_affine": m.elementwise_affine,
        "bias": m.bias is not None,
    },
    nn.Embedding: lambda m: {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim},
    nn.GELU: lambda m: {"approximate": m.approximate},
    nn.Sequential: lambda m: {},
    nn.ModuleList: lambda m: {},
}


def _params(model: nn.Module) -> list[nn.Parameter]:
    """The model's distinct parameters, in ``named_parameters()`` order."""
    return list({id(p): p for _, p in model.named_parameters(remove_duplicate=False)}.values())


def _spec(model: nn.Module, constructors: dict = TORCH_NN) -> dict:
    """``model`` as plain data, for the harness to rebuild it in the subject process: each
    module's path, class name and (for torch.nn classes) constructor arguments; each
    distinct parameter's paths (tied weights have several), value and requires_grad."""
    modules = []
    for path, module in model.named_modules():
        kind = type(module)
        if kind.__module__.startswith("torch.nn") and kind not in constructors:
            raise TypeError(f"no constructor arguments known for {kind.__qualname__}")
        kwargs = constructors[kind](module) if kind in constructors else None
        modules.append([path, kind.__name__, kwargs])
    paths: dict[int, list[str]] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        paths.setdefault(id(p), []).append(name)
    params = [[paths[id(p)], p.detach(), p.requires_grad] for p in _params(model)]
    return {"modules": modules, "params": params}


def _groups(model: nn.Module, weight_decay: float, constructors: dict = TORCH_NN) -> list[dict]:
    """``build_param_groups(model, weight_decay)``, run on the model rebuilt in the subject
    process, with each group's parameters mapped back to this model's own tensors (one the
    model does not have becomes a new tensor, foreign to it)."""
    params = _params(model)
    return [
        {**group, "params": [torch.empty(0) if i is None else params[i] for i in group["params"]]}
        for group in optim.param_groups(_spec(model, constructors), weight_decay)
    ]


@FAST
@given(model=MODELS, weight_decay=DECAYS)
def test_groups_cover_each_trainable_parameter_once(model, weight_decay):
    names = _names(model)
    groups = _groups(model, weight_decay)
    seen: dict[int, int] = {}
    for gi, group in enumerate(groups):
        for p in group["params"]:
            assert id(p) not in seen, (
                f"parameter '{names.get(id(p), '?')}' is listed twice (groups {seen[id(p)]} "
                f"and {gi}); AdamW would update it twice per step"
            )
            seen[id(p)] = gi
        for k, name in enumerate(group.get("param_names", [])):
            registered = names.get(id(group["params"][k]), "?").split(" = ")
            assert name in registered, (
                f"group {gi} names its parameter {k} '{name}', but that tensor is "
                f"registered as {registered}"
            )
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    missing = sorted(names[i] for i in trainable - set(seen))
    frozen = sorted(names.get(i, "?") for i in set(seen) - trainable)
    assert not missing, f"trainable parameters missing from every group: {missing}"
    assert not frozen, f"frozen (or foreign) parameters put into a group: {frozen}"


@FAST
@given(model=MODELS, weight_decay=DECAYS)
def test_vectors_and_scalars_get_no_decay(model, weight_decay):
    names = _names(model)
    decay_of = _group_of(_groups(model, weight_decay))
    wrong = [
        f"{names[id(p)]} {tuple(p.shape)}: weight_decay={decay_of[id(p)]:g}"
        for p in model.parameters()
        if id(p) in decay_of and p.ndim < 2 and decay_of[id(p)] != 0.0
    ]
    assert not wrong, (
        f"{len(wrong)} parameter(s) with fewer than 2 dims (biases, norm gains) would be "
        f"decayed; they must be in a group with weight_decay=0: {wrong}"
    )


@FAST
@given(model=MODELS, weight_decay=DECAYS)
def test_matrices_and_embeddings_get_the_requested_decay(model, weight_decay):
    names = _names(model)
    decay_of = _group_of(_groups(model, weight_decay))
    wrong = [
        f"{names[id(p)]} {tuple(p.shape)}: weight_decay={decay_of[id(p)]:g}"
        for p in model.parameters()
        if id(p) in decay_of and p.ndim >= 2 and decay_of[id(p)] != weight_decay
    ]
    assert not wrong, (
        f"{len(wrong)} parameter(s) with 2 or more dims should get weight_decay="
        f"{weight_decay:g}: {wrong}"
    )


@FAST
@given(
    model=MODELS,
    weight_decay=DECAYS,
    lr=st.sampled_from([1e-3, 0.05, 0.5]),
)
def test_adamw_step_with_zero_grads_only_shrinks_matrices(model, weight_decay, lr):
    model = model.double()
    names = _names(model)
    params = _params(model)
    before = {id(p): p.detach().clone() for p in model.parameters()}
    zero_grads = [torch.zeros_like(p) if p.requires_grad else None for p in params]
    config = {"lr": lr, "weight_decay": weight_decay}
    values = optim.optimizer_steps(_spec(model), config, [zero_grads])
    after = {id(p): value for p, value in zip(params, values, strict=True)}
    for p in model.parameters():
        old = before[id(p)]
        if p.requires_grad and p.ndim >= 2:
            expected, rule = old * (1.0 - lr * weight_decay), "shrink by 1 - lr*wd"
        else:
            expected, rule = old, "stay unchanged"
        err = float((after[id(p)] - expected).abs().max())
        assert err <= 1e-12, (
            f"after one AdamW step (lr={lr:g}, weight_decay={weight_decay:g}) with zero "
            f"gradients, '{names[id(p)]}' {tuple(p.shape)} should {rule}, but it is off by "
            f"{err:.3e} (max |entry| {float(old.abs().max()):.3f})"
        )


def test_configure_optimizer_follows_the_config():
    model = TinyGPT(n_layer=2, dim=4, bias=True, norm="layernorm", tie=True, freeze=False)
    config = {"lr": 3e-4, "weight_decay": 0.05, "betas": (0.8, 0.99), "eps": 1e-6}
    optimizer = optim.optimizer_settings(_spec(model), config)  # fields of OptimizerConfig
    adamw = f"{torch.optim.AdamW.__module__}.{torch.optim.AdamW.__qualname__}"
    assert adamw in optimizer["classes"], (  # isinstance(optimizer, torch.optim.AdamW)
        f"expected torch.optim.AdamW, got {optimizer['classes'][0].rsplit('.', 1)[-1]}"
    )
    for i, group in enumerate(optimizer["param_groups"]):
        got = (group["lr"], tuple(group["betas"]), group["eps"])
        assert got == (config["lr"], config["betas"], config["eps"]), (
            f"group {i} has (lr, betas, eps) = {got}, config says "
            f"{(config['lr'], config['betas'], config['eps'])}"
        )
    decays = sorted(
        {group["weight_decay"] for group in optimizer["param_groups"] if group["num_params"]}
    )
    assert decays == [0.0, config["weight_decay"]], (
        f"expected one group with weight_decay=0 and one with {config['weight_decay']}, "
        f"got weight decays {decays}"
    )
