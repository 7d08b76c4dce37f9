#!/usr/bin/env bash
# How the simulated trunk's audio was made (8 kHz, 16-bit, mono WAV). The WAVs are
# committed; run this only to change them. Needs espeak-ng and sox (Debian packages).
set -euo pipefail
cd "$(dirname "$0")"
say() {  # say FILE "text": speech, resampled to 8 kHz mono 16-bit, normalised to -3 dB
  espeak-ng -v en-us -s 165 -w /tmp/_say.wav "$2"
  sox /tmp/_say.wav -r 8000 -c 1 -b 16 "$1" norm -3
  rm -f /tmp/_say.wav
}
say hello.wav "Hello?"
say greeting.wav "Hi, you have reached Alex Morgan. I cannot take your call right now. Please leave a message after the tone."
# A person who answers with a long sentence (the detector calls it a machine), then
# waits and says "Hello?" again: the simulated trunk's long_answer callee.
say long_hello.wav "Good morning, Acme Dental, this is Sarah speaking, how can I help you today?"
say please_hold.wav "Please hold while we connect your call."
# Voicemail beep: 1 kHz for 0.5 s.
sox -n -r 8000 -c 1 -b 16 beep.wav synth 0.5 sine 1000 vol 0.5
# Fax calling tone (CNG): 1100 Hz for 0.5 s, then 3 s of silence; the trunk loops it.
sox -n -r 8000 -c 1 -b 16 cng.wav synth 0.5 sine 1100 vol 0.5 pad 0 3
