"""The calls the tests make into the optimizer set-up, in the subject process.

``build_param_groups`` and ``configure_optimizer`` take a model and answer with parameter
objects and an optimizer, none of which can cross the boundary.  So the tests send the
model as plain data (``_build``): its modules, each with its path and class, and its
parameters, each a tensor with every path it is registered under (tied weights have
several) and whether it trains.  The model is rebuilt with the same structure: ``torch.nn``
classes are constructed from the arguments sent, other classes become modules of a class
of the same name, then every parameter is the tensor sent.  What comes back refers to
parameters by their index in that list.  Nothing here checks anything: every check is in
the tests.
"""

from __future__ import annotations

from typing import Any

import torch
from optim_groups import OptimizerConfig, build_param_groups, configure_optimizer
from torch import nn

Spec = dict[
    str, list
]  # {"modules": [[path, class, kwargs | None]], "params": [[paths, value, trains]]}


def _build(spec: Spec) -> tuple[nn.Module, list[nn.Parameter]]:
    """The model ``spec`` describes, and its distinct parameters in the order sent."""
    classes: dict[str, type[nn.Module]] = {}
    modules: dict[str, nn.Module] = {}
    for path, kind, kwargs in spec["modules"]:  # parents before children
        if kwargs is None:
            module = classes.setdefault(kind, type(kind, (nn.Module,), {}))()
        else:
            module = getattr(nn, kind)(**kwargs)
        if path:
            parent, _, name = path.rpartition(".")
            modules[parent].add_module(name, module)
        modules[path] = module
    params = []
    for paths, value, trains in spec["params"]:
        param = nn.Parameter(value, requires_grad=trains)
        for path in paths:
            owner, _, name = path.rpartition(".")
            modules[owner].register_parameter(name, param)
        params.append(param)
    return modules[""], params


def param_groups(spec: Spec, weight_decay: float) -> list[dict[str, Any]]:
    """``build_param_groups(model, weight_decay)``: each group's ``weight_decay``, its
    ``params`` as indices into ``spec["params"]`` (None for a tensor that is not one of the
    model's) and its ``param_names``."""
    model, params = _build(spec)
    index = {id(p): i for i, p in enumerate(params)}
    return [
        {
            "weight_decay": group["weight_decay"],
            "params": [index.get(id(p)) for p in group["params"]],
            "param_names": list(group.get("param_names", [])),
        }
        for group in build_param_groups(model, weight_decay)
    ]


def optimizer_steps(
    spec: Spec, config: dict[str, Any], grads: list[list[torch.Tensor | None]]
) -> list[torch.Tensor]:
    """``configure_optimizer(model, OptimizerConfig(**config))``, then one ``step()`` per
    entry of ``grads`` after setting each parameter's ``.grad`` (None: left as it is).
    Returns the parameters' values, in the order sent."""
    model, params = _build(spec)
    optimizer = configure_optimizer(model, OptimizerConfig(**config))
    for step in grads:
        for param, grad in zip(params, step, strict=True):
            if grad is not None:
                param.grad = grad
        optimizer.step()
    return [param.detach() for param in params]


def optimizer_settings(spec: Spec, config: dict[str, Any]) -> dict[str, Any]:
    """``configure_optimizer(model, OptimizerConfig(**config))``: the optimizer's classes
    (its type and its bases, by qualified name) and each parameter group's
    hyper-parameters and number of tensors."""
    model, _ = _build(spec)
    optimizer = configure_optimizer(model, OptimizerConfig(**config))
    return {
        "classes": [f"{cls.__module__}.{cls.__qualname__}" for cls in type(optimizer).__mro__],
        "param_groups": [
            {
                "lr": group["lr"],
                "betas": tuple(group["betas"]),
                "eps": group["eps"],
                "weight_decay": group["weight_decay"],
                "num_params": len(group["params"]),
            }
            for group in optimizer.param_groups
        ],
    }
