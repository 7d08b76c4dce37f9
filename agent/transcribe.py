"""Speech to text for text-based AMD: the first words of an answered call, transcribed
by an OpenAI-compatible ``/v1/audio/transcriptions`` endpoint.

The audio goes up as it came off the line (8 kHz 16-bit mono in a WAV container); one
short request per call, bounded by a timeout, never retried (the call cannot wait).
"""

from __future__ import annotations

import io
import wave

from agent.llm import LlmConfig, make_client

DEFAULT_MODEL = "gpt-4o-mini-transcribe"


class TranscriptionFailed(Exception):
    """No transcript; ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def wav_bytes(pcm: bytes, rate: int = 8000) -> bytes:
    """16-bit mono PCM in a WAV container."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return buf.getvalue()


class Transcriber:
    """One client per process; ``transcribe`` is thread-safe."""

    def __init__(self, config: LlmConfig, *, model: str = DEFAULT_MODEL,
                 timeout_s: float = 4.0) -> None:
        self.model = model
        self.timeout_s = timeout_s
        self._client = make_client(config)

    def transcribe(self, pcm: bytes) -> str:
        """The text of ``pcm`` (8 kHz 16-bit mono); raises ``TranscriptionFailed``."""
        if not pcm:
            return ""
        try:
            result = self._client.with_options(timeout=self.timeout_s, max_retries=0
                                               ).audio.transcriptions.create(
                model=self.model, file=("greeting.wav", wav_bytes(pcm), "audio/wav"))
        except Exception as exc:  # any API or network trouble: the caller falls back
            raise TranscriptionFailed(f"{type(exc).__name__}: {exc}"[:200]) from exc
        return str(getattr(result, "text", "") or "")

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()
