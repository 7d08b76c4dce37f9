"""The shipped artifact: loads without unpickling, is versioned, rejects bad documents."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from amd_model.errors import ModelError
from amd_model.features import TIMING_FEATURES
from amd_model.model import DEFAULT_ARTIFACT, load_model, model_from_dict


def test_shipped_artifact_loads_and_is_small() -> None:
    model = load_model()
    assert model.features == TIMING_FEATURES
    assert DEFAULT_ARTIFACT.stat().st_size < 5_000_000
    doc = json.loads(DEFAULT_ARTIFACT.read_text())
    assert doc["format"] == "amd-gbt" and doc["version"] == 1
    assert "seed" in doc["meta"]
    cfg = model.default_config()
    assert 0.5 < cfg.machine_threshold <= 1.0 and 0.5 < cfg.human_threshold <= 1.0


def test_single_and_batch_predictions_agree_and_are_probabilities() -> None:
    model = load_model()
    rng = np.random.default_rng(0)
    xs = np.abs(rng.normal(size=(50, len(TIMING_FEATURES)))) * 1000
    batch = model.predict_many(xs)
    single = np.array([model.predict(list(row)) for row in xs])
    assert np.allclose(batch, single)
    assert ((batch >= 0) & (batch <= 1)).all()


def test_long_continuous_speech_scores_machine_and_short_hello_scores_human() -> None:
    model = load_model()
    names = list(TIMING_FEATURES)

    def vec(**values: float) -> list[float]:
        return [values.get(n, 0.0) for n in names]

    talker = vec(since_onset_ms=3500, onset_ms=600, n_utterances=1, first_len_ms=3500,
                 last_len_ms=3500, voiced_ms=3300, voiced_ratio=0.94, longest_ms=3500,
                 n_words=9, snr_db=30, energy_std_db=5)
    hello = vec(since_onset_ms=1600, onset_ms=600, n_utterances=1, first_len_ms=500,
                first_done=1, silence_now_ms=1100, last_len_ms=500, voiced_ms=480,
                voiced_ratio=0.3, longest_ms=500, n_words=1, snr_db=30, energy_std_db=4,
                first_gap_ms=1100)
    assert model.predict(talker) > 0.8
    assert model.predict(hello) < 0.2


@pytest.mark.parametrize(("change", "reason"), [
    ({"format": "pickle"}, "not an amd-gbt"),
    ({"version": 99}, "unsupported artifact version"),
    ({"features": ["x"]}, "features do not match"),
])
def test_bad_documents_are_rejected(change: dict[str, object], reason: str) -> None:
    doc = json.loads(DEFAULT_ARTIFACT.read_text())
    doc.update(change)
    with pytest.raises(ModelError, match=reason):
        model_from_dict(doc)


def test_missing_artifact_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "none.json")
