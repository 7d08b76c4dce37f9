"""The voice agent on a live call and the LLM judging of conversations.

Not built yet: see the agent issue.
"""
