"""The Slack app: listeners, Block Kit views, authorisation and alerts.

Not built yet: see the chat-ops issue.
"""
