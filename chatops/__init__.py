"""The Slack app: listeners, Block Kit views, authorisation and alerts.

``chatops.app.build_app`` makes the Bolt app; ``chatops.server`` serves it over HTTP;
``dialer slack`` (``dialer.slack_commands``) runs it in Socket Mode or over HTTP. Handlers
go through ``chatops.service`` (storage use cases) and never touch SQL or Ray.
"""
