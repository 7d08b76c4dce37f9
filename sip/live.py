"""A live answered call as a voice agent sees it (``agent.base.CallAudio``).

``LiveAudio`` wraps an engine ``CallHandle``: the callee's frames come from the handle's
frame queue, our audio goes into the queue the engine's audio source reads at 50 frames
a second. It tracks how much of our audio has been played from the queue's timeline, so
an agent can truncate its reply on barge-in without any pjsua2 call.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sip.types import FRAME_BYTES, FRAME_MS

if TYPE_CHECKING:
    from sip.engine import CallHandle


class LiveAudio:
    """``CallAudio`` over an engine call handle (thread-safe)."""

    def __init__(self, handle: CallHandle, *, clock: Callable[[], float] = time.monotonic,
                 on_frame: Callable[[bytes], None] | None = None) -> None:
        if handle.frames is None:
            raise ValueError("the call was placed without want_frames")
        self._handle = handle
        self._frames = handle.frames
        self._out = handle.stream_audio()
        self._clock = clock
        self._on_frame = on_frame
        self._lock = threading.Lock()
        self._pending = b""
        self._play_until = 0.0  # when the audio queued so far will have been played
        self._played_before = 0.0  # seconds played before the current run of audio
        self._run_started = 0.0
        self._ended = False

    # --- the callee's audio ---------------------------------------------------------
    def read(self, timeout_s: float) -> bytes | None:
        """See ``CallAudio.read``."""
        if self._ended:
            return None
        try:
            frame = self._frames.get(timeout=timeout_s)
        except queue.Empty:
            if self._handle.outcome is None:
                return b""
            self._ended = True
            return None
        if frame is None:
            self._ended = True
            return None
        if self._on_frame is not None:
            self._on_frame(frame)
        return frame

    # --- our audio ------------------------------------------------------------------
    def send(self, pcm: bytes) -> None:
        """See ``CallAudio.send``: split into 20 ms frames; a partial tail waits."""
        with self._lock:
            data = self._pending + pcm
            whole = len(data) - len(data) % FRAME_BYTES
            self._pending = data[whole:]
            now = self._clock()
            if whole and self._play_until <= now:
                # The queue ran dry: a new run of audio starts now.
                self._played_before += max(0.0, self._play_until - self._run_started)
                self._run_started = now
                self._play_until = now
            for i in range(0, whole, FRAME_BYTES):
                self._out.put(data[i:i + FRAME_BYTES])
            self._play_until += whole / FRAME_BYTES * FRAME_MS / 1000

    def clear(self) -> int:
        """See ``CallAudio.clear``."""
        dropped = 0
        while True:
            try:
                self._out.get_nowait()
            except queue.Empty:
                break
            dropped += 1
        with self._lock:
            self._pending = b""
            now = self._clock()
            if self._play_until > now:
                self._play_until = now
        return dropped * FRAME_MS

    def played_ms(self) -> int:
        """See ``CallAudio.played_ms``."""
        with self._lock:
            now = self._clock()
            current = max(0.0, min(now, self._play_until) - self._run_started)
            return int((self._played_before + current) * 1000)

    def queued_ms(self) -> int:
        """See ``CallAudio.queued_ms``."""
        with self._lock:
            return max(0, int((self._play_until - self._clock()) * 1000))

    def hangup(self) -> None:
        """See ``CallAudio.hangup``."""
        self._handle.hangup()

    @property
    def ended(self) -> bool:
        """See ``CallAudio.ended``."""
        return self._ended or self._handle.outcome is not None
