"""The reply watch: after a machine verdict, a pause, a short "Hello?", a pause again."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from amd_model import synth
from amd_model.api import FRAME_BYTES, ReplyConfig, load_reply_watch
from amd_model.audio import to_int16, write_wav
from dialer.cli import cli

AUDIO = Path(__file__).parents[3] / "sip" / "audio"


def _pcm(x: np.ndarray) -> bytes:
    return to_int16(x).astype("<i2").tobytes()


def _run(pcm: bytes, chunk: int = FRAME_BYTES, config: ReplyConfig | None = None
         ) -> tuple[int | None, int | None]:
    watch = load_reply_watch(config)
    for off in range(0, len(pcm), chunk):
        done = watch.feed(pcm[off:off + chunk])
        if done is not None:
            return done, watch.reply_end_ms
    return None, watch.reply_end_ms


def _quiet(seconds: float) -> np.ndarray:
    return synth.silence(seconds, seed=3)


def test_a_short_reply_after_a_pause_is_reported_once_it_is_over() -> None:
    audio = np.concatenate([synth.voice(2.0), _quiet(1.5), synth.voice(0.6, seed=2),
                            _quiet(3.0)])
    done, end = _run(_pcm(audio))
    assert end is not None and abs(end - 4100) <= 100  # the end of the 0.6 s reply
    assert done is not None and end + 500 <= done <= end + 560  # after_ms of quiet


@pytest.mark.parametrize("chunk", [7, 320, 1000, 96_000])
def test_any_framing_gives_the_same_answer(chunk: int) -> None:
    audio = _pcm(np.concatenate([synth.voice(2.0), _quiet(1.5), synth.voice(0.6, seed=2),
                                 _quiet(3.0)]))
    assert _run(audio, chunk) == _run(audio)


@pytest.mark.parametrize("audio", [
    pytest.param(lambda: np.concatenate([synth.voice(2.0), _quiet(4.0)]), id="greeting-ends"),
    pytest.param(lambda: np.concatenate([synth.voice(2.0), _quiet(0.6), synth.voice(0.6, seed=2),
                                         _quiet(3.0)]), id="sentence-pause"),
    pytest.param(lambda: np.concatenate([synth.voice(2.0), _quiet(1.5), synth.voice(2.5, seed=2),
                                         _quiet(3.0)]), id="greeting-goes-on"),
    pytest.param(lambda: np.concatenate([synth.voice(2.0), _quiet(1.5),
                                         synth.tone(1000.0, 0.5), _quiet(3.0)]), id="beep"),
    pytest.param(lambda: np.concatenate([synth.voice(2.0), _quiet(1.5), synth.voice(0.6, seed=2),
                                         _quiet(0.3), synth.voice(2.0, seed=4), _quiet(3.0)]),
                 id="reply-runs-on"),
])
def test_a_machine_going_on_or_beeping_is_no_reply(audio: object) -> None:
    assert callable(audio)
    assert _run(_pcm(audio())) == (None, None)


def test_a_long_run_then_a_short_reply_after_another_pause_is_reported() -> None:
    audio = np.concatenate([synth.voice(1.0), _quiet(1.5), synth.voice(2.5, seed=2),
                            _quiet(1.2), synth.voice(0.5, seed=4), _quiet(2.0)])
    done, end = _run(_pcm(audio))
    assert done is not None and end is not None and abs(end - 6700) <= 100


def test_quiet_at_the_start_counts_from_the_start_only() -> None:
    """Started while the callee is quiet, the watch still wants ``quiet_ms`` first."""
    early = np.concatenate([_quiet(0.5), synth.voice(0.6), _quiet(3.0)])
    late = np.concatenate([_quiet(1.2), synth.voice(0.6), _quiet(3.0)])
    assert _run(_pcm(early)) == (None, None)
    assert _run(_pcm(late))[0] is not None


def test_nothing_more_is_reported_after_the_reply() -> None:
    watch = load_reply_watch()
    audio = _pcm(np.concatenate([synth.voice(2.0), _quiet(1.5), synth.voice(0.6, seed=2),
                                 _quiet(2.0), synth.voice(0.6, seed=5), _quiet(2.0)]))
    hits = [watch.feed(audio[off:off + FRAME_BYTES]) for off in range(0, len(audio),
                                                                      FRAME_BYTES)]
    assert len([h for h in hits if h is not None]) == 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"min_reply_ms": 0}, "min_reply_ms"),
    ({"min_reply_ms": 900, "max_reply_ms": 800}, "max_reply_ms"),
    ({"quiet_ms": 0}, "quiet_ms"),
    ({"after_ms": 200, "hangover_ms": 300}, "after_ms"),
    ({"vad_mode": 4}, "vad_mode"),
])
def test_bad_thresholds_are_refused(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReplyConfig(**kwargs)


def test_eval_with_the_reply_scores_a_long_answer_as_the_flow_ends_it(tmp_path: Path) -> None:
    """A receptionist's long answer is called machine by the detector; the "Hello?" after
    it makes it human as calls end. A voicemail with its beep stays a machine."""
    from agent.tts import wav_to_pcm8k

    def wav(name: str) -> np.ndarray:
        return np.frombuffer(wav_to_pcm8k((AUDIO / name).read_bytes()), dtype="<i2"
                             ).astype(np.float64)

    long_answer = np.concatenate([_quiet(0.3), wav("long_hello.wav"), _quiet(1.5),
                                  wav("hello.wav"), _quiet(4.0)])
    greeting = wav("greeting.wav")
    voicemail = np.concatenate([_quiet(0.2), greeting, _quiet(1.2), wav("beep.wav"),
                                _quiet(3.0)])
    beep_ms = 200 + greeting.size // 8 + 1200
    write_wav(tmp_path / "long.wav", to_int16(long_answer))
    write_wav(tmp_path / "vm.wav", to_int16(voicemail))
    (tmp_path / "labels.csv").write_text(
        "file,label,beep_ms,greeting_end_ms,voice,snr_db,notes\n"
        "long.wav,human,,,espeak,40,scenario=h_receptionist;\n"
        f"vm.wav,machine,{beep_ms},,espeak,40,scenario=m_personal;\n")
    plain = json.loads(CliRunner().invoke(cli, ["amd", "eval", str(tmp_path),
                                                "--json"]).output)
    assert plain["recall"] == {"human": 0.0, "machine": 1.0}
    result = CliRunner().invoke(cli, ["amd", "eval", str(tmp_path), "--reply-ms", "8000",
                                      "--late-beep-ms", "6000", "--json"])
    assert result.exit_code == 0, result.output
    m = json.loads(result.output)
    assert m["recall"] == {"human": 1.0, "machine": 1.0}
    assert m["beep_accuracy"] == 1.0 and m["false_beeps"] == 0
