"""The shipped AMD model: gradient-boosted trees stored as plain JSON, evaluated in numpy.

Artifact format (``format: "amd-gbt"``, ``version: 1``)::

    {"format": "amd-gbt", "version": 1, "name": "amd-v1", "features": [...],
     "init": float, "learning_rate": float,
     "trees": {"feature": [[...]], "threshold": [[...]], "left": [[...]],
               "right": [[...]], "value": [[...]]},      # padded to the same node count
     "config": {"machine_threshold": ..., ...},           # DetectorConfig overrides
     "meta": {...}}                                       # seed, corpus, scores

``P(machine) = sigmoid(init + learning_rate * sum(tree leaf values))``. No pickle, no code:
loading parses numbers only.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from amd_model.api import DetectorConfig
from amd_model.errors import ModelError
from amd_model.features import TIMING_FEATURES

FORMAT = "amd-gbt"
FORMAT_VERSION = 1
ARTIFACT_DIR = Path(__file__).resolve().parent / "artifacts"
DEFAULT_ARTIFACT = ARTIFACT_DIR / "amd_v1.json"
"""The model the detector loads by default."""


@dataclass(frozen=True)
class Model:
    """Boosted trees over ``TIMING_FEATURES``; ``predict`` gives P(machine)."""

    features: tuple[str, ...]
    init: float
    learning_rate: float
    feature: npt.NDArray[np.intp]
    threshold: npt.NDArray[np.float64]
    left: npt.NDArray[np.intp]
    right: npt.NDArray[np.intp]
    value: npt.NDArray[np.float64]
    depth: int
    config: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    _base: npt.NDArray[np.intp] = field(init=False, repr=False)
    _feat: npt.NDArray[np.intp] = field(init=False, repr=False)
    _thr: npt.NDArray[np.float64] = field(init=False, repr=False)
    _left: npt.NDArray[np.intp] = field(init=False, repr=False)
    _right: npt.NDArray[np.intp] = field(init=False, repr=False)
    _value: npt.NDArray[np.float64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n_trees, width = self.feature.shape
        base = np.arange(n_trees, dtype=np.intp) * width
        # flat views for a fast single-row walk: a leaf points to itself both ways
        object.__setattr__(self, "_base", base)
        object.__setattr__(self, "_feat", np.where(self.feature < 0, 0, self.feature).ravel())
        object.__setattr__(self, "_thr", self.threshold.ravel())
        object.__setattr__(self, "_left", (self.left + base[:, None]).ravel())
        object.__setattr__(self, "_right", (self.right + base[:, None]).ravel())
        object.__setattr__(self, "_value", self.value.ravel())

    def predict(self, x: list[float]) -> float:
        """P(machine) for one feature vector (ordered like ``features``)."""
        xs = np.asarray(x, dtype=np.float64)
        go_left = xs[self._feat] <= self._thr  # every node's test at once
        node = self._base
        for _ in range(self.depth):
            node = np.where(go_left[node], self._left[node], self._right[node])
        raw = self.init + self.learning_rate * float(self._value[node].sum())
        return 1.0 / (1.0 + math.exp(-max(min(raw, 50.0), -50.0)))

    def predict_many(self, xs: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """P(machine) for each row of ``xs``."""
        n = xs.shape[0]
        total = np.zeros(n)
        for i in range(self.feature.shape[0]):
            node = np.zeros(n, dtype=np.intp)
            for _ in range(self.depth):
                f = self.feature[i, node]
                leaf = f < 0
                v = xs[np.arange(n), np.where(leaf, 0, f)]
                go_left = v <= self.threshold[i, node]
                node = np.where(leaf, node, np.where(go_left, self.left[i, node],
                                                     self.right[i, node]))
            total += self.value[i, node]
        raw = np.clip(self.init + self.learning_rate * total, -50.0, 50.0)
        out: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-raw))
        return out

    def default_config(self) -> DetectorConfig:
        """``DetectorConfig`` with the thresholds tuned at training time."""
        names = {f.name for f in fields(DetectorConfig)}
        return DetectorConfig(**{k: v for k, v in self.config.items() if k in names})


def load_model(path: str | Path = DEFAULT_ARTIFACT) -> Model:
    """Parse a JSON artifact; raise ``ModelError`` if it is missing or malformed."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"model artifact not found: {path}") from exc
    except (OSError, ValueError) as exc:
        raise ModelError(f"model artifact unreadable: {exc}") from exc
    return model_from_dict(doc)


def model_from_dict(doc: dict[str, Any]) -> Model:
    """Build a ``Model`` from the parsed artifact, checking format, version and shape."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelError("not an amd-gbt model artifact")
    if doc.get("version") != FORMAT_VERSION:
        raise ModelError(f"unsupported artifact version {doc.get('version')!r}")
    features = tuple(doc["features"])
    if features != TIMING_FEATURES:
        raise ModelError("artifact features do not match this code's TIMING_FEATURES")
    trees = doc["trees"]
    try:
        feature = np.asarray(trees["feature"], dtype=np.intp)
        threshold = np.asarray(trees["threshold"], dtype=np.float64)
        left = np.asarray(trees["left"], dtype=np.intp)
        right = np.asarray(trees["right"], dtype=np.intp)
        value = np.asarray(trees["value"], dtype=np.float64)
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelError(f"malformed trees: {exc}") from exc
    shape = feature.shape
    if len(shape) != 2 or any(a.shape != shape for a in (threshold, left, right, value)):
        raise ModelError("malformed trees: arrays differ in shape")
    if feature.max(initial=-1) >= len(features):
        raise ModelError("malformed trees: feature index out of range")
    return Model(
        features=features,
        init=float(doc["init"]),
        learning_rate=float(doc["learning_rate"]),
        feature=feature,
        threshold=threshold,
        left=left,
        right=right,
        value=value,
        depth=int(doc["depth"]),
        config=dict(doc.get("config", {})),
        meta=dict(doc.get("meta", {})),
    )
