"""Customer-level train/validation splits for the payment-risk tables.

Each row of a risk table is one customer-month (features at the end of the month, label: a
missed payment in the next month), so a customer contributes up to a few dozen rows.  A model
that has seen some months of a customer recognises that customer in the others, so validation
rows have to come from customers the model never trained on: every split here keeps customers
whole, with all rows of a customer on the same side.

``groups`` holds the customer id of each row of the table (ints or strings, any sortable
labels).  Customers are held out at random with a seeded generator, so the same
``(groups, seed)`` always gives the same split.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Customers:
    """The distinct customer ids of a table, sorted, with where their rows are."""

    ids: np.ndarray  # (n_customers,) sorted distinct ids
    first_row: np.ndarray  # (n_customers,) index of each customer's first row in the table
    n_rows: np.ndarray  # (n_customers,) rows per customer

    @classmethod
    def of(cls, groups: np.ndarray) -> Customers:
        ids, first_row, n_rows = np.unique(groups, return_index=True, return_counts=True)
        return cls(ids, first_row, n_rows)

    def __len__(self) -> int:
        return len(self.ids)

    def rows_of(self, chosen: np.ndarray, n_table_rows: int) -> np.ndarray:
        """Boolean mask over the table's rows: True on every row of the ``chosen`` customers
        (indices into ``ids``)."""
        mask = np.zeros(n_table_rows, dtype=bool)
        for customer in chosen:
            start = self.first_row[customer]
            mask[start : start + self.n_rows[customer]] = True
        return mask


def _as_groups(groups: np.ndarray | list) -> np.ndarray:
    groups = np.asarray(groups)
    if groups.ndim != 1 or len(groups) == 0:
        raise ValueError(f"groups must be a non-empty 1-d array, got shape {groups.shape}")
    return groups


def customer_split(
    groups: np.ndarray | list, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Hold out ``round(val_fraction * n_customers)`` customers (at least one, and at least one
    left for training) for validation.

    Returns ``(train_idx, val_idx)``: sorted row indices that partition ``range(len(groups))``;
    every row of a held-out customer is in ``val_idx`` and no other row is.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    groups = _as_groups(groups)
    customers = Customers.of(groups)
    if len(customers) < 2:
        raise ValueError(f"need at least 2 customers to split, got {len(customers)}")
    n_val = min(max(round(val_fraction * len(customers)), 1), len(customers) - 1)
    rng = np.random.default_rng(seed)
    held_out = rng.choice(len(customers), size=n_val, replace=False)
    in_val = customers.rows_of(held_out, len(groups))
    return np.flatnonzero(~in_val), np.flatnonzero(in_val)


def customer_folds(
    groups: np.ndarray | list, n_folds: int, seed: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """K-fold cross-validation over customers: ``(train_idx, val_idx)`` for each of ``n_folds``
    folds.  Customers are dealt to folds in a seeded random order, round robin, so fold sizes
    differ by at most one customer; each customer is validated in exactly one fold and every
    row of the table is in the validation indices of exactly one fold."""
    groups = _as_groups(groups)
    customers = Customers.of(groups)
    if not 2 <= n_folds <= len(customers):
        raise ValueError(f"n_folds must be in [2, {len(customers)}], got {n_folds}")
    order = np.random.default_rng(seed).permutation(len(customers))
    for fold in range(n_folds):
        in_val = customers.rows_of(order[fold::n_folds], len(groups))
        yield np.flatnonzero(~in_val), np.flatnonzero(in_val)


@dataclass(frozen=True)
class SplitSummary:
    rows: int
    customers: int
    positive_rate: float


def summarize(groups: np.ndarray, y: np.ndarray, idx: np.ndarray) -> SplitSummary:
    """Rows, distinct customers and label rate of the rows ``idx`` (for the training logs)."""
    groups, y = np.asarray(groups), np.asarray(y)
    rate = float(y[idx].mean()) if len(idx) else float("nan")
    return SplitSummary(len(idx), len(np.unique(groups[idx])), rate)
