"""``dialer run``: join (or start) Ray and keep one actor per active campaign."""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

import click

from dialer.cli import App, BadInput, cli, pass_app
from dialer.settings import Settings
from sip.types import SipError, TrunkConfig


def trunk_config(settings: Settings) -> TrunkConfig:
    """The trunk from DIALER_TRUNK* (exit 2 with one line when it is missing or bad)."""
    from dialer.sip_commands import parse_trunk_uri

    if not settings.trunk:
        raise BadInput("DIALER_TRUNK is not set (sip:HOST:PORT); --simulated runs without one")
    host, port, transport = parse_trunk_uri(settings.trunk)
    password = settings.trunk_password.get_secret_value() if settings.trunk_password else None
    try:
        return TrunkConfig(host=host, port=port, transport=transport,  # type: ignore[arg-type]
                           username=settings.trunk_username, password=password,
                           register=settings.trunk_register,
                           outbound_proxy=settings.trunk_proxy, pai=settings.trunk_pai)
    except SipError as exc:
        raise BadInput(f"DIALER_TRUNK: {exc}") from exc


@cli.command("run")
@click.option("--every", "every_s", type=click.FloatRange(0.5, 60.0), default=2.0,
              show_default=True, help="Seconds between reconciliations with the database.")
@click.option("--trunk-cps", type=click.FloatRange(0.1, 1000.0), default=10.0,
              show_default=True, help="The trunk's calls-per-second limit.")
@click.option("--sip-resource", default=None,
              help="Custom Ray resource that marks SIP-capable nodes (ray_cluster.yaml).")
@click.option("--simulated", is_flag=True,
              help="No trunk: calls go to simulated callees (for trying the dialer out).")
@pass_app
def run_cmd(app: App, every_s: float, trunk_cps: float, sip_resource: str | None,
            simulated: bool) -> None:
    """Run the dialer on Ray (RAY_ADDRESS joins a cluster; else a local one) until stopped.

    Number actors place SIP calls through DIALER_TRUNK (credentials from the
    environment); conversations are judged when OPENAI_* settings are present.
    """
    from dialer.judge_commands import judge_config, voice_config

    trunk = None if simulated else trunk_config(app.settings)
    # Keep every Ray listener on loopback and the dashboard API tokenless (FACTS.md).
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    from actors.runtime import NAMESPACE, RuntimeConfig, run_forever

    app.sessions  # migrate before the actors start  # noqa: B018
    ray.init(address=app.settings.ray_address, namespace=NAMESPACE,
             include_dashboard=app.settings.ray_address is None)
    stop = threading.Event()

    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    config = RuntimeConfig(database_url=app.settings.effective_database_url,
                           redis_url=app.settings.redis_url, trunk_cps=trunk_cps,
                           sip_resource=sip_resource, trunk=trunk,
                           sip_bind=app.settings.sip_bind,
                           recordings_dir=str(app.settings.data_dir / "recordings"),
                           abandon_limit=app.settings.max_abandon_rate,
                           reply_window_ms=app.settings.amd_reply_window_ms,
                           judge=judge_config(app.settings),
                           voice=voice_config(app.settings))
    click.echo("dialer running on Ray; Ctrl-C stops it after calls in flight end", err=True)
    try:
        run_forever(config, every_s=every_s, stop=stop.is_set)
    finally:
        ray.shutdown()
