"""The voice agent on a live call and the LLM judging of conversations.

- ``base``: what an agent sees of a call (``CallAudio``) and reports (``Conversation``);
- ``scripted``: the offline agent (espeak-ng prompts, listens, closes);
- ``realtime``: the OpenAI Realtime bridge (G.711 µ-law, server VAD, barge-in, hang-up
  tool, transcripts, an apology when the session fails);
- ``judging``: goals and analyses through structured outputs; ``text_amd``: text-based
  answering-machine detection; ``llm``: the shared client settings and retries.
"""
