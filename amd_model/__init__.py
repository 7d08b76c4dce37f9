"""Answering-machine detection: features, the streaming detector and the shipped model.

Public interface: ``amd_model.api`` (``load_detector``, ``StreamingDetector``,
``AmdEvent``, ``DetectorConfig``). Runtime modules need only numpy and webrtcvad:

- ``features``: per-frame energy, VAD, spectrum, pure-tone, timing features;
- ``detector``: the streaming state machine;
- ``model``: the JSON gradient-boosted-trees artifact, evaluated in numpy;
- ``audio``: WAV reading and conversion; ``evaluation``: classify files, score a set;
- ``synth``: deterministic synthetic signals for tests and benchmarks.

Training-time code (corpus generation with espeak-ng/flite/festival, scikit-learn
training, export) lives in ``amd_model.training`` and is never imported at run time.
"""
