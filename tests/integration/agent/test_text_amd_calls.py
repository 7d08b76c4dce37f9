"""Text AMD on a call: the greeting transcribed through the real ``openai`` client by a
local fake ``/v1/audio/transcriptions``, then the keyword model decides."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from actors.campaign_loop import DialRequest
from actors.runtime import RuntimeConfig
from actors.sipcalls import greeting_classifier
from agent.llm import LlmConfig
from agent.transcribe import Transcriber, TranscriptionFailed
from agent.tts import wav_to_pcm8k
from campaigns import types as t
from tests.fakes.openai_http import API_KEY, FakeOpenAI

pytestmark = pytest.mark.integration

GREETING = wav_to_pcm8k((Path(__file__).parents[3] / "sip" / "audio" / "greeting.wav")
                        .read_bytes())


def _request(mode: t.AmdMode) -> DialRequest:
    return DialRequest(call_id=1, campaign_id=1, campaign_contact_id=1, token=1,
                       to="+12025550100", caller_id="+14155550100", number_id=1,
                       ring_timeout_s=25, amd_mode=mode,
                       machine_action=t.MachineAction.HANG_UP,
                       started_at=datetime(2026, 12, 1, tzinfo=UTC))


def test_the_greeting_is_sent_as_8k_wav_and_its_words_decide() -> None:
    with FakeOpenAI() as fake:
        fake.transcripts.extend(["Hi, you have reached Alex Morgan. Please leave a message "
                                 "after the tone.", "Hello?", 503])
        config = RuntimeConfig(database_url="sqlite://", judge=LlmConfig(
            model="gpt-4.1-mini", api_key=API_KEY, base_url=fake.base_url))
        classify = greeting_classifier(_request(t.AmdMode.TEXT), config)
        assert classify is not None
        label, confidence = classify(GREETING)
        assert label == "machine" and confidence >= 0.8
        assert classify(GREETING[:8000])[0] == "human"
        assert classify(GREETING) == ("unknown", 0.0)  # a failed transcription decides nothing
    first = fake.transcriptions[0]
    assert first["model"] == "gpt-4o-mini-transcribe"
    assert first["wav"][22:24] == b"\x01\x00"  # mono
    assert int.from_bytes(first["wav"][24:28], "little") == 8000  # as it came off the line
    assert len(first["wav"]) == 44 + len(GREETING)


def test_ml_mode_and_no_server_mean_no_transcription() -> None:
    config = RuntimeConfig(database_url="sqlite://")
    assert greeting_classifier(_request(t.AmdMode.TEXT), config) is None
    with_server = RuntimeConfig(database_url="sqlite://", judge=LlmConfig(
        model="m", api_key=API_KEY, base_url="http://127.0.0.1:9/v1"))
    assert greeting_classifier(_request(t.AmdMode.ML), with_server) is None


def test_an_unreachable_server_is_a_clear_failure() -> None:
    transcriber = Transcriber(LlmConfig(model="m", api_key=API_KEY,
                                        base_url="http://127.0.0.1:9/v1"), timeout_s=1.0)
    with pytest.raises(TranscriptionFailed, match="Connection"):
        transcriber.transcribe(GREETING[:1600])
    transcriber.close()
