#!/usr/bin/env bash
# How the voice agent's shipped audio was made (8 kHz, 16-bit, mono WAV). The WAV is
# committed; run this only to change it. Needs espeak-ng and sox (Debian packages).
# apology.wav is what a callee hears when the OpenAI Realtime session fails mid-call,
# just before we hang up (agent/realtime.py), so the call never ends in dead air.
set -euo pipefail
cd "$(dirname "$0")"
tmp="$(mktemp --suffix=.wav)"
trap 'rm -f "$tmp"' EXIT
espeak-ng -v en-us -s 170 -w "$tmp" \
  "Sorry, we are having technical trouble. Goodbye."
# trim the leading and trailing silence espeak-ng adds
sox "$tmp" -r 8000 -c 1 -b 16 apology.wav norm -3 silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse
