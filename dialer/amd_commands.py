"""``dialer amd …``: corpus generation, training, evaluation and classification.

numpy, scikit-learn and the model are imported inside the commands, so ``dialer`` starts
fast. Registered on ``dialer.cli.cli`` by importing this module.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from dialer.cli import BadInput, cli, emit, json_option


@cli.group()
def amd() -> None:
    """Answering-machine detection: corpus, train, eval, classify."""


@amd.command("corpus")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for wav/ and labels.csv (keep it outside the repository).")
@click.option("--n", "n", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Number of clips.")
@click.option("--seed", default=1, show_default=True, type=int, help="Corpus seed.")
@click.option("--split", default="all", show_default=True,
              type=click.Choice(["train", "heldout", "all"]),
              help="Voice and template set: train and heldout are disjoint.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1),
              help="Parallel processes.")
@json_option
def amd_corpus(out: Path, n: int, seed: int, split: str, workers: int, as_json: bool) -> None:
    """Generate a labelled synthetic telephone corpus (needs espeak-ng)."""
    from amd_model.training.corpus import generate_corpus

    try:
        labels = generate_corpus(out, n, seed, split=split, workers=workers)
    except RuntimeError as exc:
        raise BadInput(str(exc)) from exc
    result = {"out": str(out), "labels": str(labels), "clips": n, "seed": seed,
              "split": split}
    emit(result) if as_json else click.echo(f"{n} clips -> {labels}")


@amd.command("train")
@click.option("--corpus", "corpus", default=Path("var/amd/train"), show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="A corpus made by `dialer amd corpus`.")
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Artifact path (default: the shipped amd_model/artifacts/amd_v1.json).")
@click.option("--seed", default=7, show_default=True, type=int, help="Training seed.")
@json_option
def amd_train(corpus: Path, out: Path | None, seed: int, as_json: bool) -> None:
    """Train the model on a corpus and write the JSON artifact."""
    if not (corpus / "labels.csv").is_file():
        raise BadInput(f"no labels.csv in {corpus}: run `dialer amd corpus --out {corpus}`")
    from amd_model.model import DEFAULT_ARTIFACT
    from amd_model.training.train import train

    target = out or DEFAULT_ARTIFACT
    meta = train(corpus, target, seed=seed)
    result = {"artifact": str(target), **{k: v for k, v in meta.items()
                                           if k != "feature_importance"}}
    emit(result) if as_json else click.echo(
        f"model -> {target} (dev accuracy {meta['dev_accuracy']:.3f})")


def _factory(model: Path | None) -> Any:
    from amd_model.api import StreamingDetector, load_detector

    if model is None:
        load_detector()  # fail early if the artifact is broken
        return load_detector
    from amd_model.detector import Engine
    from amd_model.model import load_model

    loaded = load_model(model)

    def make() -> StreamingDetector:
        return StreamingDetector(Engine(loaded, loaded.default_config()))

    return make


@amd.command("eval")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--model", "model", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Artifact to evaluate (default: the shipped one).")
@click.option("--results", "results_out", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Also write one JSON line per clip here.")
@click.option("--late-beep-ms", "late_beep_ms", default=0, show_default=True,
              type=click.IntRange(min=0),
              help="Score the call outcome as the call flow ends it: a beep this long "
                   "after a human verdict makes it machine (the flow watches 6000 ms).")
@click.option("--reply-ms", "reply_ms", default=0, show_default=True,
              type=click.IntRange(min=0),
              help="Score the call outcome as the call flow ends it: a short reply after "
                   "a pause, this long after a machine verdict and before its beep, makes "
                   "it human (the flow watches 8000 ms).")
@json_option
def amd_eval(directory: Path, model: Path | None, results_out: Path | None,
             late_beep_ms: int, reply_ms: int, as_json: bool) -> None:
    """Score the detector on DIR/labels.csv (+ DIR/wav/*.wav or DIR/*.wav)."""
    import json

    from amd_model.errors import ModelError
    from amd_model.evaluation import classify_file, read_labels, score, wav_path

    try:
        rows = read_labels(directory)
    except FileNotFoundError as exc:
        raise BadInput(f"no labels.csv in {directory}") from exc
    try:
        factory = _factory(model)
    except ModelError as exc:
        raise BadInput(str(exc)) from exc
    results: dict[str, dict[str, Any]] = {}
    for k, row in enumerate(rows, 1):
        results[row["file"]] = classify_file(wav_path(directory, row["file"]), factory,
                                             name=row["file"], late_beep_ms=late_beep_ms,
                                             reply_ms=reply_ms)
        if k % 200 == 0:
            click.echo(f"eval: {k}/{len(rows)}", err=True)
    if results_out is not None:
        with results_out.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps({**results[row["file"]], "true": row["label"],
                                     "beep_true": row.get("beep_ms") or None}) + "\n")
    metrics = score(rows, results)
    if as_json:
        emit(metrics)
        return
    _print_metrics(metrics)


def _print_metrics(m: dict[str, Any]) -> None:
    click.echo(f"clips {m['n']}  accuracy {m['accuracy']}  human+machine accuracy "
               f"{m['hm_accuracy']} (n={m['hm_n']})")
    click.echo(f"recall {m['recall']}  humans called machine {m['humans_called_machine']}")
    click.echo(f"decision ms: all mean {m['decision_ms_mean']} p95 {m['decision_ms_p95']}; "
               f"human+machine mean {m['hm_decision_ms_mean']} p95 {m['hm_decision_ms_p95']}; "
               f"after the leading silence mean {m['hm_after_lead_ms_mean']} "
               f"p95 {m['hm_after_lead_ms_p95']}")
    click.echo(f"beep ±200 ms {m['beep_accuracy']} of {m['beep_clips']}  false beeps "
               f"{m['false_beeps']} ({m['false_beep_rate']})  errors {m['errors']}")
    from dialer.cli import table

    table("by scenario", ["scenario", "n", "accuracy", "mean ms", "p95 ms", "beep", "false beeps",
                          "predicted"],
          [[sc, s["n"], s["accuracy"], s["decision_ms_mean"], s["decision_ms_p95"],
            s["beep_accuracy"], s["false_beeps"],
            " ".join(f"{k}:{v}" for k, v in s["predicted"].items())]
           for sc, s in m["by_scenario"].items()])


@amd.command("classify")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dir", "directory", default=None,
              type=click.Path(file_okay=False, path_type=Path),
              help="Classify every *.wav in this directory (sorted), one JSON line each.")
@click.option("--model", "model", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Artifact to use (default: the shipped one).")
@json_option
@click.option("--jsonl", "as_jsonl", is_flag=True, help="One JSON object per line.")
def amd_classify(path: Path | None, directory: Path | None, model: Path | None,
                 as_json: bool, as_jsonl: bool) -> None:
    """Classify PATH.wav, or every WAV in --dir (the model is loaded once)."""
    if (path is None) == (directory is None):
        raise BadInput("give exactly one of PATH or --dir DIR")
    from amd_model.errors import ModelError
    from amd_model.evaluation import classify_file

    try:
        factory = _factory(model)
    except ModelError as exc:
        raise BadInput(str(exc)) from exc
    if path is not None:
        if not path.exists():
            raise BadInput(f"no such file: {path}")
        result = classify_file(path, factory)
        if as_json or as_jsonl:
            emit(result)
        else:
            click.echo(_line(result))
        if "error" in result:
            click.echo(f"dialer: error: {path}: {result['error']}", err=True)
            sys.exit(2)
        return
    assert directory is not None
    if not directory.is_dir():
        raise BadInput(f"no such directory: {directory}")
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() == ".wav")
    for file in files:
        result = classify_file(file, factory)
        emit(result) if (as_json or as_jsonl) else click.echo(_line(result))


def _line(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"{r['file']}: error: {r['error']}"
    beep = f", beep at {r['beep_ms']} ms" if r.get("beep_ms") is not None else ""
    return (f"{r['file']}: {r['label']} ({r['confidence']:.2f}) at {r['decision_ms']} ms"
            f"{beep}")
