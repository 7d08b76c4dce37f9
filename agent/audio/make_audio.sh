#!/usr/bin/env bash
# How the scripted agent's fallback prompts were made (8 kHz, 16-bit, mono WAV); they
# play only when espeak-ng is missing at run time. Needs espeak-ng and sox.
set -euo pipefail
cd "$(dirname "$0")"
say() {
  espeak-ng -v en-us -s 165 -w /tmp/_agent_say.wav "$2"
  sox /tmp/_agent_say.wav -r 8000 -c 1 -b 16 "$1" norm -3
  rm -f /tmp/_agent_say.wav
}
say greeting.wav "Hello, this is an automated call. Do you have a moment?"
say goodbye.wav "Thank you for your time. Goodbye."
say voicemail.wav "Hello, this is an automated message. We will try to reach you again later. Goodbye."
./make_apology.sh  # the Realtime bridge's apology (apology.wav)
