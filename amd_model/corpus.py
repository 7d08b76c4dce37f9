"""The AMD corpus generator (re-exported from ``amd_model.training.corpus``).

Kept off the runtime import path: ``amd_model.api`` never imports this module.
"""

from __future__ import annotations

from amd_model.training.corpus import SCENARIOS, generate_corpus, make_clip

__all__ = ["SCENARIOS", "generate_corpus", "make_clip"]
