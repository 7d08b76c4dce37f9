"""G.711 µ-law for 8 kHz telephone audio: 16-bit PCM ↔ 8-bit µ-law, sample by sample.

The call and the OpenAI Realtime session both run at 8 kHz (``audio/pcmu``), so the
bridge never resamples: each 16-bit sample maps to one µ-law byte through a lookup table
(65 536 entries one way, 256 the other), built once with numpy from the ITU-T G.711
formulas: the 14-bit bias-and-segment coding of the Sun reference code, bit-exact with
the standard library's old ``audioop.lin2ulaw``/``ulaw2lin``.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

_BIAS: Final = 0x84
_SEGMENT_ENDS: Final = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
"""Upper ends of the eight µ-law segments, on the 14-bit scale G.711 codes from."""


def _encode_table() -> npt.NDArray[np.uint8]:
    """µ-law byte of every 16-bit sample, indexed by the sample's unsigned bit pattern."""
    samples = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32) >> 2
    mask = np.where(samples < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(samples), 8159) + (_BIAS >> 2)
    segment = np.searchsorted(_SEGMENT_ENDS, magnitude, side="left")
    code = np.where(segment >= 8, 0x7F,
                    (segment << 4) | ((magnitude >> (np.minimum(segment, 7) + 1)) & 0x0F))
    return (code ^ mask).astype(np.uint8)


def _decode_table() -> npt.NDArray[np.int16]:
    """16-bit sample of every µ-law byte."""
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (codes >> 4) & 0x07
    magnitude = (((codes & 0x0F) << 3) + _BIAS << exponent) - _BIAS
    return np.where(codes & 0x80, -magnitude, magnitude).astype(np.int16)


_ENCODE: Final = _encode_table()
_DECODE: Final = _decode_table()


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    """Encode 16-bit little-endian mono PCM (a whole number of samples) to µ-law."""
    if len(pcm) % 2:
        raise ValueError("PCM must be a whole number of 16-bit samples")
    samples = np.frombuffer(pcm, dtype="<u2")
    return bytes(_ENCODE[samples].tobytes())


def ulaw_to_pcm16(ulaw: bytes) -> bytes:
    """Decode µ-law to 16-bit little-endian mono PCM (two bytes out per byte in)."""
    codes = np.frombuffer(ulaw, dtype=np.uint8)
    return bytes(_DECODE[codes].astype("<i2").tobytes())
