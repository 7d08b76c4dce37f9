"""The composition root: settings, the ``dialer`` CLI, process start-up and the demo."""
