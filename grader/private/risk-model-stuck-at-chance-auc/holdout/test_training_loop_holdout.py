"""Holdout checks of the training loop (never shown to the candidate): fresh orders epoch
after epoch, a float32 logistic regression, integer labels and skewed weights."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from test_risk_trainer import (
    FAST,
    SEEDS,
    config,
    dataset,
    oracle_loss,
    pipeline,
    random_state,
    row_lookup,
)


@FAST
@given(seed=SEEDS, n=st.integers(10, 50), batch_size=st.integers(1, 20))
def test_epochs_draw_fresh_orders_and_keep_rows_whole(seed, n, batch_size):
    X, y, w = dataset(seed, n, 3)
    where = row_lookup(X)
    epochs = pipeline.epoch_batches(
        torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(w), batch_size, seed % 997, 4
    )
    orders = []
    for e, batches in enumerate(epochs):
        order = []
        for xb, yb, wb in batches:
            for row, label, weight in zip(xb, yb.tolist(), wb.tolist(), strict=True):
                r = where.get(row.numpy().tobytes(), -1)
                assert r >= 0 and label == y[r] and weight == w[r], (
                    f"epoch {e + 1}: a row comes with another row's label or weight"
                )
                order.append(r)
        assert sorted(order) == list(range(n)), f"epoch {e + 1} does not visit each row once"
        assert order != list(range(n)), f"epoch {e + 1} visits the rows in table order"
        assert order not in orders, f"epoch {e + 1} repeats the order of an earlier epoch"
        orders.append(order)


@FAST
@given(seed=SEEDS, n=st.integers(4, 40), d=st.integers(1, 5))
def test_float32_logistic_regression_matches_adamw(seed, n, d):
    X, y, w = dataset(seed, n, d)
    state64 = random_state(seed, d, 0)
    state = {k: v.float() for k, v in state64.items()}
    cfg = config(0, batch_size=n, epochs=4, lr=0.1)
    got = pipeline.train(cfg, X, y, w, state, torch.float32)
    params = {k: v.clone().requires_grad_(True) for k, v in state.items()}
    optimizer = torch.optim.AdamW(list(params.values()), lr=0.1, weight_decay=0.01)
    Xt, yt, wt = (torch.from_numpy(a).float() for a in (X, y, w))
    for epoch in range(4):
        loss = oracle_loss(params, Xt, yt, wt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        assert abs(got["losses"][epoch] - loss.item()) <= 1e-5, (
            f"float32, epoch {epoch + 1}: loss {got['losses'][epoch]:.6f}, expected "
            f"{loss.item():.6f}"
        )
    for name, p in params.items():
        assert got["state"][name].dtype == torch.float32, f"'{name}' is no longer float32"
        gap = float((got["state"][name] - p.detach()).abs().max())
        assert gap <= 1e-4, f"float32 logistic regression: '{name}' off AdamW by {gap:.3e}"


@FAST
@given(
    seed=SEEDS, n=st.integers(5, 60), batch_size=st.integers(2, 9), hidden=st.sampled_from([0, 5])
)
def test_integer_labels_and_skewed_weights_in_the_epoch_loss(seed, n, batch_size, hidden):
    X, y, w = dataset(seed, n, 2)
    w = w**4
    state = random_state(seed, 2, hidden)
    cfg = config(hidden, lr=0.0, batch_size=batch_size, epochs=3)
    got = pipeline.train(cfg, X, y.astype(np.int64), w, state)
    want = oracle_loss(state, *(torch.from_numpy(a) for a in (X, y, w))).item()
    for epoch, loss in enumerate(got["losses"]):
        assert abs(loss - want) <= 1e-9, (
            f"lr=0, batch_size={batch_size}: epoch {epoch + 1} reports {loss:.6f}, the weighted "
            f"BCE of the model is {want:.6f}"
        )
