"""``dialer run``: join (or start) Ray and keep one actor per active campaign."""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

import click

from dialer.cli import App, cli, pass_app


@cli.command("run")
@click.option("--every", "every_s", type=click.FloatRange(0.5, 60.0), default=2.0,
              show_default=True, help="Seconds between reconciliations with the database.")
@click.option("--trunk-cps", type=click.FloatRange(0.1, 1000.0), default=10.0,
              show_default=True, help="The trunk's calls-per-second limit.")
@click.option("--sip-resource", default=None,
              help="Custom Ray resource that marks SIP-capable nodes (ray_cluster.yaml).")
@pass_app
def run_cmd(app: App, every_s: float, trunk_cps: float, sip_resource: str | None) -> None:
    """Run the dialer on Ray (RAY_ADDRESS joins a cluster; else a local one) until stopped.

    Calls go to simulated callees until the number actors are wired to the SIP engine.
    """
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
                           sip_resource=sip_resource)
    click.echo("dialer running on Ray; Ctrl-C stops it after calls in flight end", err=True)
    try:
        run_forever(config, every_s=every_s, stop=stop.is_set)
    finally:
        ray.shutdown()
