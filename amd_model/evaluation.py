"""Classifying WAV files and scoring a labelled directory (``dialer amd classify/eval``).

Metric definitions (``score``):

- ``accuracy``: share of all clips whose verdict equals the label.
- ``hm_accuracy``: the same over human and machine clips only (``unknown`` is wrong).
- ``recall``: per label, share of its clips given that label.
- ``humans_called_machine``: human clips with a machine verdict / human clips.
- ``decision_ms``: mean and 95th percentile of ``decision_ms``, over all clips and over
  human+machine clips; ``hm_after_lead_ms_*``: the same minus the clip's leading
  silence (``lead_ms`` in ``notes``), i.e. time after the callee starts to speak.
- ``beep_accuracy``: clips labelled with a beep whose reported beep is within
  ``BEEP_TOLERANCE_MS`` of the label / clips labelled with a beep.
- ``false_beeps``: clips without a beep label that got a beep, plus beep clips whose beep
  was reported more than ``BEEP_TOLERANCE_MS`` before the true one (a message dropped
  over the greeting) / all clips.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from amd_model.api import (
    SAMPLE_RATE,
    AmdEvent,
    StreamingDetector,
    load_beep_watch,
    load_reply_watch,
)
from amd_model.audio import read_wav
from amd_model.detector import BEEP_CONFIDENCE
from amd_model.errors import AudioError

BEEP_TOLERANCE_MS = 200
REPLY_CONFIDENCE = 0.8
"""The confidence scored for a human known by their reply after a machine verdict."""
_BYTES_PER_MS = SAMPLE_RATE // 1000 * 2


def classify_pcm(detector: StreamingDetector, pcm: bytes,
                 late_beep_ms: int = 0, reply_ms: int = 0) -> dict[str, Any]:
    """Run a fresh detector over a whole clip; the verdict and beep as a dict.

    Two options score the call as the dialer's call flow ends it:

    - ``reply_ms`` > 0: after a ``machine`` verdict the clip is watched that long (or
      until the detector's beep) for a person speaking again (``api.ReplyWatch``); one
      makes it ``human``, decided when the reply ended;
    - ``late_beep_ms`` > 0: after a ``human`` verdict the clip is watched that long for
      a voicemail beep (``api.BeepWatch``); one makes it ``machine``, decided at the
      beep's onset."""
    events: list[AmdEvent] = detector.feed(pcm)
    events += detector.finish()
    verdict = detector.verdict
    assert verdict is not None  # finish() always gives one
    out: dict[str, Any] = {"label": verdict.label, "confidence": verdict.confidence,
                           "decision_ms": verdict.decision_ms, "beep_ms": detector.beep_ms}
    if reply_ms > 0 and verdict.label == "machine" and verdict.decision_ms is not None:
        start = verdict.decision_ms
        stop = start + reply_ms
        if detector.beep_ms is not None:
            stop = min(stop, detector.beep_ms)
        if stop > start:
            watch = load_reply_watch()
            done = watch.feed(pcm[start * _BYTES_PER_MS : stop * _BYTES_PER_MS])
            if done is not None:
                out.update(label="human", confidence=REPLY_CONFIDENCE,
                           decision_ms=start + done, beep_ms=None)
    if late_beep_ms > 0 and out["label"] == "human" and out["decision_ms"] is not None:
        start = out["decision_ms"]
        onset = load_beep_watch().feed(pcm[start * _BYTES_PER_MS :
                                           (start + late_beep_ms) * _BYTES_PER_MS])
        if onset is not None:
            beep = start + onset
            out.update(label="machine", confidence=BEEP_CONFIDENCE, decision_ms=beep,
                       beep_ms=beep)
    return out


def classify_file(path: Path, factory: Callable[[], StreamingDetector],
                  name: str | None = None, late_beep_ms: int = 0,
                  reply_ms: int = 0) -> dict[str, Any]:
    """``{"file", "label", "confidence", "decision_ms", "beep_ms"}`` or ``{"file", "error"}``."""
    file = name if name is not None else str(path)
    try:
        samples = read_wav(path)
    except AudioError as exc:
        return {"file": file, "error": str(exc)}
    return {"file": file, **classify_pcm(factory(), samples.astype("<i2").tobytes(),
                                         late_beep_ms, reply_ms)}


def _notes(text: str) -> dict[str, str]:
    out = {}
    for part in text.split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def read_labels(directory: Path) -> list[dict[str, str]]:
    """``directory/labels.csv`` rows (raises ``FileNotFoundError`` if absent)."""
    with (directory / "labels.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def wav_path(directory: Path, file: str) -> Path:
    """Where a labels.csv ``file`` lives: ``DIR/wav/FILE`` or ``DIR/FILE``."""
    nested = directory / "wav" / file
    return nested if nested.exists() else directory / file


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def score(rows: Iterable[dict[str, str]], results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Metrics of ``results`` (by file) against labels.csv ``rows`` (see module doc)."""
    items = []
    for row in rows:
        res = results.get(row["file"], {"error": "missing"})
        beep = row.get("beep_ms") or ""
        items.append({
            "file": row["file"], "label": row["label"], "pred": res.get("label"),
            "decision_ms": res.get("decision_ms"), "beep_pred": res.get("beep_ms"),
            "beep_true": int(float(beep)) if beep.strip() else None,
            "scenario": _notes(row.get("notes") or "").get("scenario", row["label"]),
            "lead_ms": _int_or_none(_notes(row.get("notes") or "").get("lead_ms")),
            "error": res.get("error"),
        })
    return {**_summary(items), "by_scenario": {
        sc: _summary([i for i in items if i["scenario"] == sc], brief=True)
        for sc in sorted({str(i["scenario"]) for i in items})}}


def _summary(items: list[dict[str, Any]], brief: bool = False) -> dict[str, Any]:
    n = len(items)
    correct = sum(i["pred"] == i["label"] for i in items)
    hm = [i for i in items if i["label"] in ("human", "machine")]
    humans = [i for i in items if i["label"] == "human"]
    beeps = [i for i in items if i["beep_true"] is not None]
    beep_ok = sum(i["beep_pred"] is not None
                  and abs(i["beep_pred"] - i["beep_true"]) <= BEEP_TOLERANCE_MS for i in beeps)
    false_beeps = sum((i["beep_true"] is None and i["beep_pred"] is not None)
                      or (i["beep_true"] is not None and i["beep_pred"] is not None
                          and i["beep_pred"] < i["beep_true"] - BEEP_TOLERANCE_MS)
                      for i in items)
    dec_all = [float(i["decision_ms"]) for i in items if i["decision_ms"] is not None]
    dec_hm = [float(i["decision_ms"]) for i in hm if i["decision_ms"] is not None]
    after_lead = [float(i["decision_ms"] - i["lead_ms"]) for i in hm
                  if i["decision_ms"] is not None and i["lead_ms"] is not None]
    out: dict[str, Any] = {
        "n": n,
        "accuracy": round(correct / n, 4) if n else None,
        "decision_ms_mean": _r(_mean(dec_all)),
        "decision_ms_p95": _r(_pct(dec_all, 0.95)),
        "beep_clips": len(beeps),
        "beep_accuracy": round(beep_ok / len(beeps), 4) if beeps else None,
        "false_beeps": false_beeps,
    }
    if brief:
        out["predicted"] = _counts(i["pred"] or "error" for i in items)
        return out
    labels = sorted({i["label"] for i in items})
    out.update({
        "hm_n": len(hm),
        "hm_accuracy": round(sum(i["pred"] == i["label"] for i in hm) / len(hm), 4)
        if hm else None,
        "recall": {lab: round(sum(i["pred"] == lab for i in items if i["label"] == lab)
                              / max(sum(i["label"] == lab for i in items), 1), 4)
                   for lab in labels},
        "humans_called_machine": round(sum(i["pred"] == "machine" for i in humans)
                                       / len(humans), 4) if humans else None,
        "hm_decision_ms_mean": _r(_mean(dec_hm)),
        "hm_decision_ms_p95": _r(_pct(dec_hm, 0.95)),
        "hm_after_lead_ms_mean": _r(_mean(after_lead)),
        "hm_after_lead_ms_p95": _r(_pct(after_lead, 0.95)),
        "false_beep_rate": round(false_beeps / n, 4) if n else None,
        "errors": sum(i["error"] is not None for i in items),
        "confusion": {lab: _counts(i["pred"] or "error" for i in items if i["label"] == lab)
                      for lab in labels},
    })
    return out


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(float(text)) if text else None
    except ValueError:
        return None


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _counts(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))
