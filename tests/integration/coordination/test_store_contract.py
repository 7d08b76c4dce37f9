"""One contract, two stores: the in-process store and real Redis behave the same."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from storage.coordination import (
    CoordinationStore,
    CoordinationUnavailable,
    MemoryStore,
    RedisStore,
)

REDIS_URL = os.environ.get("DIALER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

Factory = Callable[[], CoordinationStore]


@pytest.fixture(params=["memory", "redis"])
def make(request: pytest.FixtureRequest) -> Iterator[Factory]:
    """Stores that share state (like several actors or nodes would), isolated per test."""
    if request.param == "memory":
        shared = MemoryStore()
        yield lambda: shared
        return
    prefix = f"dialer-test:{uuid.uuid4().hex[:8]}:"
    stores: list[RedisStore] = []

    def factory() -> CoordinationStore:
        stores.append(RedisStore(REDIS_URL, prefix=prefix))
        return stores[-1]

    yield factory
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()
    for store in stores:
        store.close()


def test_capped_counter_is_exact_under_concurrency(make: Factory) -> None:
    allowed: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def dial() -> None:
        store = make()
        start.wait()
        for _ in range(40):
            result = store.incr_capped("number:+14155550100:2026-03-10", 100)
            with lock:
                allowed.append(result.allowed)

    threads = [threading.Thread(target=dial) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert allowed.count(True) == 100
    assert make().count("number:+14155550100:2026-03-10") == 100


def test_release_gives_back_one_and_never_goes_negative(make: Factory) -> None:
    store = make()
    assert store.incr_capped("k", 1).allowed
    assert not store.incr_capped("k", 1).allowed
    assert store.release("k") == 0
    assert store.incr_capped("k", 1).allowed
    assert store.release("k") == 0
    assert store.release("k") == 0
    assert store.count("k") == 0


def test_token_bucket_limits_the_rate(make: Factory) -> None:
    store = make()
    taken = 0
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        wait = store.take_token("trunk", rate=20.0, burst=5)
        if wait == 0.0:
            taken += 1
        else:
            assert 0.0 < wait <= 1 / 20.0 + 1e-6
            time.sleep(wait)
    # 5 of burst plus 20 per second for one second, give or take one.
    assert 23 <= taken <= 26


def test_events_are_ordered_and_resumable(make: Factory) -> None:
    store = make()
    ids = [store.publish("alerts", {"kind": "number_excluded", "n": i}) for i in range(5)]
    events = store.read("alerts")
    assert [e.data["n"] for e in events] == [0, 1, 2, 3, 4]
    assert [e.id for e in events] == ids
    assert [e.data["n"] for e in store.read("alerts", after=ids[2])] == [3, 4]
    assert store.read("alerts", after=ids[-1]) == []
    assert [e.data["n"] for e in make().read("alerts", count=2)] == [0, 1]


def test_wake_reaches_a_sleeper_and_is_kept_until_taken(make: Factory) -> None:
    store = make()
    assert not store.wait("campaign:1", 0.05)
    store.wake("campaign:1")
    store.wake("campaign:1")  # coalesced: one pending wake-up
    assert store.wait("campaign:1", 1.0)
    assert not store.wait("campaign:1", 0.05)
    woke: list[bool] = []
    sleeper = threading.Thread(target=lambda: woke.append(make().wait("campaign:2", 5.0)))
    sleeper.start()
    time.sleep(0.1)
    started = time.monotonic()
    make().wake("campaign:2")
    sleeper.join()
    assert woke == [True]
    assert time.monotonic() - started < 1.0


def test_unreachable_redis_is_a_clear_error() -> None:
    store = RedisStore("redis://127.0.0.1:1/0")
    with pytest.raises(CoordinationUnavailable, match="redis unavailable"):
        store.incr_capped("k", 1)
    store.close()
