"""``dialer amd classify``: JSON contract, per-file error lines, converted formats."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import dialer.amd_commands  # noqa: F401  (registers the ``amd`` group, as cli.py will)
from amd_model import synth
from amd_model.audio import to_int16, write_wav
from dialer.cli import cli

KEYS = {"file", "label", "confidence", "decision_ms", "beep_ms"}


@pytest.fixture
def calls(tmp_path: Path) -> Path:
    """A directory with a machine, a silence, a stereo 16 kHz file and two bad files."""
    write_wav(tmp_path / "a_machine.wav", to_int16(synth.machine_greeting(beep_at_s=6.0)))
    write_wav(tmp_path / "b_silence.wav", to_int16(synth.silence(6.0)))
    mono = np.repeat(to_int16(synth.human_hello()), 2)  # 16 kHz by sample doubling
    with wave.open(str(tmp_path / "c_stereo16k.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.stack([mono, mono], axis=1).astype("<i2").tobytes())
    (tmp_path / "d_empty.wav").write_bytes(b"")
    (tmp_path / "e_text.wav").write_text("not audio\n")
    (tmp_path / "notes.txt").write_text("ignored: not a .wav\n")
    return tmp_path


def test_classify_one_file_prints_the_contract_object(calls: Path) -> None:
    result = CliRunner().invoke(cli, ["amd", "classify", str(calls / "a_machine.wav"),
                                      "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) == KEYS
    assert out["label"] == "machine" and abs(out["beep_ms"] - 6000) <= 40
    assert 0 <= out["confidence"] <= 1 and 0 < out["decision_ms"] <= 5000


def test_classify_dir_gives_one_line_per_wav_with_error_lines(calls: Path) -> None:
    result = CliRunner().invoke(cli, ["amd", "classify", "--dir", str(calls), "--jsonl"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    by_name = {Path(line["file"]).name: line for line in lines}
    assert sorted(by_name) == ["a_machine.wav", "b_silence.wav", "c_stereo16k.wav",
                               "d_empty.wav", "e_text.wav"]
    assert by_name["b_silence.wav"]["label"] == "silence"
    assert by_name["c_stereo16k.wav"]["label"] == "human"
    assert set(by_name["d_empty.wav"]) == {"file", "error"}
    assert "empty" in by_name["d_empty.wav"]["error"]
    assert set(by_name["e_text.wav"]) == {"file", "error"}


def test_classify_a_bad_file_alone_prints_an_error_object_and_exits_2(calls: Path) -> None:
    result = CliRunner().invoke(cli, ["amd", "classify", str(calls / "e_text.wav"),
                                      "--json"])
    assert result.exit_code == 2
    first = result.output.splitlines()[0]
    assert set(json.loads(first)) == {"file", "error"}


def test_eval_reports_the_metrics(calls: Path) -> None:
    (calls / "labels.csv").write_text(
        "file,label,beep_ms,greeting_end_ms,voice,snr_db,notes\n"
        "a_machine.wav,machine,6000,,synth,40,scenario=m_synth;\n"
        "b_silence.wav,silence,,,synth,40,scenario=s_synth;\n")
    result = CliRunner().invoke(cli, ["amd", "eval", str(calls), "--json"])
    assert result.exit_code == 0, result.output
    m = json.loads(result.output)
    assert m["accuracy"] == 1.0 and m["beep_accuracy"] == 1.0 and m["false_beeps"] == 0
    assert m["recall"] == {"machine": 1.0, "silence": 1.0}
    assert set(m["by_scenario"]) == {"m_synth", "s_synth"}


def test_eval_with_the_late_beep_scores_a_too_short_greeting_as_the_flow_ends_it(
        tmp_path: Path) -> None:
    """A "hello" then a beep 1.5 s later: the detector says human; the call flow, which
    watches for a beep after that verdict, leaves the message: machine."""
    short = synth.place(8.0, [(0.3, synth.voice(0.5)), (2.3, synth.tone(1000.0, 0.4))])
    hello = synth.place(8.0, [(0.3, synth.voice(0.5))])
    write_wav(tmp_path / "short.wav", to_int16(short))
    write_wav(tmp_path / "hello.wav", to_int16(hello))
    (tmp_path / "labels.csv").write_text(
        "file,label,beep_ms,greeting_end_ms,voice,snr_db,notes\n"
        "short.wav,machine,2300,,synth,40,scenario=m_short;\n"
        "hello.wav,human,,,synth,40,scenario=h_short;\n")
    plain = json.loads(CliRunner().invoke(cli, ["amd", "eval", str(tmp_path),
                                                "--json"]).output)
    assert plain["recall"] == {"human": 1.0, "machine": 0.0}
    result = CliRunner().invoke(cli, ["amd", "eval", str(tmp_path), "--late-beep-ms",
                                      "6000", "--json"])
    assert result.exit_code == 0, result.output
    m = json.loads(result.output)
    assert m["recall"] == {"human": 1.0, "machine": 1.0}
    assert m["beep_accuracy"] == 1.0 and m["false_beeps"] == 0
