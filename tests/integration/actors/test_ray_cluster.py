"""Two Ray nodes (``ray.cluster_utils.Cluster``): number actors run only on the node that
carries the ``sip`` resource, and a number's daily cap holds exactly across campaigns."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from campaigns import types as t
from storage import models as m
from storage.db import make_engine, session_factory
from storage.migrate import upgrade
from storage.repos import CampaignRepo, ContactRepo, NewContact, NumberRepo, Who

pytestmark = pytest.mark.integration

WHO = Who("tester", "test")
SHARED = "+14155550150"
CAP = 5


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray
    from ray.cluster_utils import Cluster

    temp = Path("/tmp") / f"rayc-{os.getpid()}"  # Ray's socket paths must stay short
    temp.mkdir(exist_ok=True)
    Path("/tmp/ray").mkdir(exist_ok=True)  # Ray records the cluster's address there
    nodes = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "resources": {"head": 1}, "temp_dir": str(temp),
        "include_dashboard": False})
    sip_node = nodes.add_node(num_cpus=1, resources={"sip": 8})
    ray.init(address=nodes.address, namespace="dialer", log_to_driver=False)
    nodes.wait_for_nodes()
    yield ray, sip_node.node_id
    ray.shutdown()
    nodes.shutdown()


def _noon_shift() -> float:
    now = datetime.now(UTC)
    noon = now.astimezone(ZoneInfo("America/New_York")).replace(hour=12, minute=0, second=0)
    return (noon - now).total_seconds()


def test_number_actors_land_on_sip_nodes_and_daily_caps_hold(cluster: Any,
                                                             tmp_path: Path) -> None:
    from actors.runtime import RuntimeConfig, start_supervisor

    ray, sip_node_id = cluster
    url = f"sqlite:///{tmp_path / 'cluster.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    config = RuntimeConfig(database_url=url, trunk_cps=50.0, time_scale=0.002, seed=9,
                           clock_shift_s=_noon_shift(), sip_resource="sip", lease_s=30.0,
                           call_lease_s=60.0)
    now = config.now()
    campaign_ids = []
    with sessions.begin() as s:
        NumberRepo(s).add(SHARED, WHO, now)
        for n, prefix in enumerate(("202555", "212555")):
            c = CampaignRepo(s).create(
                f"Cluster {n}", WHO, now, timezone="UTC",
                settings=t.CallSettings(call_interval_s=5, max_concurrent_calls=4,
                                        max_retries=0, completion_timeout=timedelta(0)),
                rotation=t.RotationSettings(max_calls_per_number_per_day=CAP))
            NumberRepo(s).assign(c.id, SHARED, WHO, now)
            ContactRepo(s).add_many(c.id, [NewContact(f"+1{prefix}{200 + i:04d}")
                                           for i in range(6)], now - timedelta(minutes=1))
            CampaignRepo(s).set_status(c.id, t.CampaignStatus.ACTIVE, WHO, now)
            campaign_ids.append(c.id)
    supervisor = start_supervisor(config)
    ray.get(supervisor.reconcile.remote())

    def calls() -> int:
        with sessions() as s:
            return int(s.scalar(select(func.count()).select_from(m.Call)
                                .where(m.Call.state == "ended")) or 0)

    deadline = time.monotonic() + 120
    while calls() < CAP and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(8)  # more than the call interval: any call over the cap would show now
    number = ray.get_actor(f"number:{SHARED}", namespace="dialer")
    state = ray.get(number.state.remote())
    ray.get(supervisor.shutdown.remote())
    ray.kill(supervisor, no_restart=True)
    assert state["node_id"] == sip_node_id  # never on the head node (no sip resource)
    with sessions() as s:
        placed = s.scalar(select(func.count()).select_from(m.Call)) or 0
        row = NumberRepo(s).row(SHARED)
        waiting = s.scalar(select(func.count()).select_from(m.CampaignContact).where(
            m.CampaignContact.status == t.ContactStatus.PENDING.value)) or 0
    assert placed == CAP  # two campaigns, twelve contacts, one number: exactly the cap
    assert row.calls_today == CAP
    assert waiting == 12 - CAP  # the rest wait for tomorrow, never dialled over the cap
    engine.dispose()
