"""The call the tests make into the feature builder, in the subject process.

``build_features`` takes a ``FeatureSpec`` dataclass, which cannot cross the boundary, so
the tests send its fields as a dict.  Nothing here checks anything: every check is in the
tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from lag_features import FeatureSpec, build_features


def build(
    target: np.ndarray,
    observed: dict[str, np.ndarray],
    known: dict[str, np.ndarray],
    spec: dict[str, Any],
) -> dict[str, Any]:
    """``build_features(target, observed, known, FeatureSpec(**spec))`` as
    ``{"features": matrix, "names": column names}``."""
    fields = {
        key: tuple(value) if isinstance(value, list) else value for key, value in spec.items()
    }
    features, names = build_features(target, observed, known, FeatureSpec(**fields))
    return {"features": np.asarray(features), "names": list(names)}
