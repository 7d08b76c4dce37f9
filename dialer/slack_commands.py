"""``dialer slack``: the Slack app in Socket Mode or over HTTP (CONTRACTS.md: Slack).

Socket Mode when ``SLACK_APP_TOKEN`` is set (no public URL needed); ``--http`` serves
``POST /slack/events`` on a threaded server (``chatops.server``), which handles requests
concurrently, unlike Bolt's development server. Alerts are posted to
``DIALER_SLACK_ALERTS_CHANNEL`` when it is set.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING

import click

from dialer.cli import EXIT_UNAVAILABLE, App, BadInput, cli, now, pass_app
from dialer.settings import Settings

if TYPE_CHECKING:
    from slack_bolt import App as BoltApp
    from sqlalchemy.orm import Session, sessionmaker

    from chatops.app import ChatOpsConfig
    from chatops.service import CampaignControl

log = logging.getLogger(__name__)


def _secret(value: object) -> str:
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if callable(getter) else ""


def chatops_config(settings: Settings, *, verify_token: bool = False) -> ChatOpsConfig:
    """The Slack app's config from the one settings object."""
    from chatops.app import ChatOpsConfig

    api_url = settings.slack_api_url
    return ChatOpsConfig(
        bot_token=_secret(settings.slack_bot_token),
        signing_secret=_secret(settings.slack_signing_secret),
        api_url=api_url if api_url.endswith("/") else api_url + "/",
        operators=frozenset(settings.slack_operators),
        channels=frozenset(settings.slack_channels),
        alerts_channel=settings.slack_alerts_channel, verify_token=verify_token)


def build_slack_app(settings: Settings, sessions: sessionmaker[Session],
                    clock: Callable[[], datetime] = now,
                    control: CampaignControl | None = None, *,
                    verify_token: bool = False) -> BoltApp:
    """The Bolt app for these settings (what ``dialer slack`` runs).

    ``verify_token`` checks the bot token with Slack now: BadInput when Slack rejects it,
    exit 3 when Slack cannot be reached.
    """
    from slack_bolt.error import BoltError

    from chatops.app import build_app

    config = chatops_config(settings, verify_token=verify_token)
    try:
        return build_app(config, sessions, clock, control)
    except BoltError as exc:
        raise BadInput(f"Slack rejected SLACK_BOT_TOKEN ({exc})") from exc
    except OSError as exc:
        click.echo(f"dialer: error: Slack unavailable: {exc}", err=True)
        sys.exit(EXIT_UNAVAILABLE)


def _stop_on_sigterm(stop: Callable[[], None]) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=stop, daemon=True).start()

    signal.signal(signal.SIGTERM, handler)


@cli.command("slack")
@click.option("--http", "use_http", is_flag=True,
              help="Serve POST /slack/events over HTTP instead of Socket Mode.")
@click.option("--port", type=click.IntRange(0, 65535), default=3000, show_default=True,
              help="HTTP port (0 picks a free one).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="HTTP address to bind (0.0.0.0 behind a proxy that terminates TLS).")
@click.option("--alerts-every", type=click.FloatRange(min=0.5), default=5.0,
              show_default=True, help="Seconds between alert polls.")
@pass_app
def slack_cmd(app: App, use_http: bool, port: int, host: str, alerts_every: float) -> None:
    """Run the Slack app (Socket Mode when SLACK_APP_TOKEN is set, or --http)."""
    settings = app.settings
    if settings.slack_bot_token is None:
        raise BadInput("SLACK_BOT_TOKEN is not set")
    if use_http and settings.slack_signing_secret is None:
        raise BadInput("--http needs SLACK_SIGNING_SECRET to verify requests")
    if not use_http and settings.slack_app_token is None:
        raise BadInput("set SLACK_APP_TOKEN for Socket Mode, or run with --http")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                                                   "%(message)s")
    sessions = app.sessions
    bolt = build_slack_app(settings, sessions, verify_token=True)
    poster = None
    if settings.slack_alerts_channel:
        from chatops.alerts import AuditAlertSource
        from chatops.app import alert_poster

        poster = alert_poster(bolt, settings.slack_alerts_channel, AuditAlertSource(sessions),
                              alerts_every)
        poster.start()
    try:
        if use_http:
            _serve_http(bolt, host, port, _secret(settings.slack_signing_secret))
        else:
            _serve_socket_mode(bolt, _secret(settings.slack_app_token))
    finally:
        if poster is not None:
            poster.stop()


def _serve_http(bolt: BoltApp, host: str, port: int, signing_secret: str) -> None:
    from chatops.server import EVENTS_PATH, SlackHttpServer

    try:
        server = SlackHttpServer(bolt, host, port, signing_secret=signing_secret)
    except OSError as exc:
        raise BadInput(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    click.echo(f"dialer slack: listening on http://{host}:{server.port}{EVENTS_PATH}",
               err=True)
    _stop_on_sigterm(server.httpd.shutdown)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()


def _serve_socket_mode(bolt: BoltApp, app_token: str) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.errors import SlackApiError

    handler = SocketModeHandler(bolt, app_token)
    click.echo("dialer slack: connecting in Socket Mode", err=True)
    try:
        handler.connect()  # type: ignore[no-untyped-call]  # slack_bolt leaves it unannotated
    except SlackApiError as exc:
        raise BadInput("Slack refused the Socket Mode connection: "
                       f"{exc.response.get('error') or 'error'}") from exc
    except OSError as exc:  # URLError, refused, timeout: Slack is out of reach
        click.echo(f"dialer: error: Slack unavailable: {exc}", err=True)
        sys.exit(EXIT_UNAVAILABLE)
    connected = bool(handler.client.is_connected())
    click.echo("dialer slack: connected in Socket Mode" if connected else
               "dialer slack: Socket Mode handshake failed; retrying in the background",
               err=True)
    stop = threading.Event()
    _stop_on_sigterm(stop.set)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        # close() sends the WebSocket close at once, then waits out the ping monitor's
        # interval (5 s); give it 1 s on a daemon thread so shutdown stays quick.
        closer = threading.Thread(target=handler.close, daemon=True)
        closer.start()
        closer.join(timeout=1)
