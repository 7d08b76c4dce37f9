"""Downloading a file shared in Slack (``url_private`` with the bot token).

The token goes only to Slack's own hosts (or the host of ``SLACK_API_URL``, for proxies
and tests), never to whatever URL a payload names.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any, Final
from urllib.parse import urlsplit

from chatops.errors import ChatOpsError

SLACK_FILE_HOSTS: Final = ("files.slack.com", "slack.com", "slack-files.com")
TIMEOUT_S: Final = 30


class DownloadFailed(ChatOpsError):
    """The file could not be fetched; ``reason`` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FileTooLarge(ChatOpsError):
    """The file is over the import limit."""


def is_csv(file: dict[str, Any]) -> bool:
    """True for a file Slack calls CSV, or named ``*.csv``, or typed ``text/csv``."""
    name = str(file.get("name") or "").lower()
    return (file.get("filetype") == "csv" or name.endswith(".csv")
            or str(file.get("mimetype") or "").startswith("text/csv"))


def _allowed(url: str, api_url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    api = urlsplit(api_url)
    if api.hostname and host == api.hostname.lower() and parts.port == api.port:
        return parts.scheme in ("http", "https")
    return parts.scheme == "https" and any(host == h or host.endswith("." + h)
                                           for h in SLACK_FILE_HOSTS)


def download(file: dict[str, Any], token: str, api_url: str, limit: int) -> bytes:
    """The file's bytes; ``FileTooLarge`` past ``limit``, ``DownloadFailed`` otherwise."""
    url = str(file.get("url_private_download") or file.get("url_private") or "")
    if not url or not _allowed(url, api_url):
        raise DownloadFailed("the file is not hosted by Slack")
    if int(file.get("size") or 0) > limit:
        raise FileTooLarge(url)
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            data: bytes = response.read(limit + 1)
            content_type = str(response.headers.get("content-type") or "")
    except urllib.error.HTTPError as exc:
        raise DownloadFailed(f"HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DownloadFailed(type(exc).__name__) from exc
    if len(data) > limit:
        raise FileTooLarge(url)
    if content_type.startswith("text/html"):  # Slack's login page: the token lacks files:read
        raise DownloadFailed("Slack answered with a web page; the bot needs files:read")
    return data
