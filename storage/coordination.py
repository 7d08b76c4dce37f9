"""The coordination store: what must be atomic across actors and nodes.

- per-number daily counters with the cap checked in the same step (``incr_capped``);
- the trunk's calls-per-second token bucket (``take_token``);
- the event stream that Slack alerts read (``publish`` / ``read``);
- wake-ups, so an actor sleeps until there is work (``wake`` / ``wait``).

Two implementations pass one contract suite: ``RedisStore`` (Lua scripts, a Redis stream,
a list per wake-up channel) for real clusters and ``MemoryStore`` for one process (the
embedded default wraps it in a Ray actor so every actor in the cluster shares one).
Redis errors surface as ``CoordinationUnavailable`` with the cause chained.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from storage.errors import StorageError

EVENT_STREAM_MAX = 10_000


class CoordinationUnavailable(StorageError):
    """The coordination store cannot be reached; callers back off and retry."""


@dataclass(frozen=True, slots=True)
class CapResult:
    """The outcome of a cap-checked increment."""

    allowed: bool
    count: int


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event read back from the stream: ``id`` orders events and resumes reads."""

    id: str
    data: dict[str, Any]


class CoordinationStore(Protocol):
    """What actors and chat-ops need from the coordination store."""

    def incr_capped(self, key: str, cap: int, *, ttl_s: int = 172_800) -> CapResult:
        """Add one to ``key`` unless it already reached ``cap``; atomic."""
        ...

    def count(self, key: str) -> int:
        """The current value of a counter (0 when absent)."""
        ...

    def release(self, key: str) -> int:
        """Give back one count (a counted call that never left); never below zero."""
        ...

    def take_token(self, bucket: str, *, rate: float, burst: int) -> float:
        """Take one token: 0.0 when taken, else the seconds until one is available."""
        ...

    def publish(self, stream: str, data: dict[str, Any]) -> str:
        """Append an event; returns its id."""
        ...

    def read(self, stream: str, *, after: str = "0", count: int = 100) -> list[StoredEvent]:
        """Events after ``after`` (an id, or ``"0"`` for the start), oldest first."""
        ...

    def wake(self, channel: str) -> None:
        """Wake one sleeper on ``channel`` (or the next one to wait)."""
        ...

    def wait(self, channel: str, timeout_s: float) -> bool:
        """Sleep until woken or the timeout; True when woken."""
        ...


class MemoryStore:
    """The store in one process: locks and a condition; same semantics as Redis."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._lock = threading.Condition()
        self._counters: dict[str, int] = {}
        self._buckets: dict[str, tuple[float, float]] = {}
        self._streams: dict[str, deque[StoredEvent]] = {}
        self._wakes: dict[str, int] = {}
        self._seq = itertools.count(1)
        self._clock = clock

    def incr_capped(self, key: str, cap: int, *, ttl_s: int = 172_800) -> CapResult:
        """See ``CoordinationStore.incr_capped`` (``ttl_s`` is ignored in memory)."""
        with self._lock:
            value = self._counters.get(key, 0)
            if value >= cap:
                return CapResult(False, value)
            self._counters[key] = value + 1
            return CapResult(True, value + 1)

    def count(self, key: str) -> int:
        """See ``CoordinationStore.count``."""
        with self._lock:
            return self._counters.get(key, 0)

    def release(self, key: str) -> int:
        """See ``CoordinationStore.release``."""
        with self._lock:
            value = max(0, self._counters.get(key, 0) - 1)
            self._counters[key] = value
            return value

    def take_token(self, bucket: str, *, rate: float, burst: int) -> float:
        """See ``CoordinationStore.take_token``."""
        now = float(self._clock())
        with self._lock:
            tokens, last = self._buckets.get(bucket, (float(burst), now))
            tokens = min(float(burst), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[bucket] = (tokens - 1.0, now)
                return 0.0
            self._buckets[bucket] = (tokens, now)
            return (1.0 - tokens) / rate

    def publish(self, stream: str, data: dict[str, Any]) -> str:
        """See ``CoordinationStore.publish``."""
        with self._lock:
            event = StoredEvent(f"{next(self._seq)}-0", json.loads(json.dumps(data)))
            events = self._streams.setdefault(stream, deque(maxlen=EVENT_STREAM_MAX))
            events.append(event)
            return event.id

    def read(self, stream: str, *, after: str = "0", count: int = 100) -> list[StoredEvent]:
        """See ``CoordinationStore.read``."""
        after_seq = _seq_of(after)
        with self._lock:
            out = [e for e in self._streams.get(stream, ()) if _seq_of(e.id) > after_seq]
        return out[:count]

    def wake(self, channel: str) -> None:
        """See ``CoordinationStore.wake`` (one pending wake-up is kept, like Redis)."""
        with self._lock:
            self._wakes[channel] = 1
            self._lock.notify_all()

    def wait(self, channel: str, timeout_s: float) -> bool:
        """See ``CoordinationStore.wait``."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while not self._wakes.get(channel):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
            self._wakes[channel] = 0
            return True


def _seq_of(event_id: str) -> int:
    head = event_id.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


# Lua: both checks and writes happen inside Redis, so no two clients can interleave.
_INCR_CAPPED = """
local value = tonumber(redis.call('GET', KEYS[1]) or '0')
if value >= tonumber(ARGV[1]) then return {0, value} end
value = redis.call('INCR', KEYS[1])
if value == 1 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2])) end
return {1, value}
"""
_RELEASE = """
local value = tonumber(redis.call('GET', KEYS[1]) or '0')
if value <= 0 then return 0 end
return redis.call('DECR', KEYS[1])
"""
# The bucket uses the Redis server's clock, so every node agrees on time.
_TAKE_TOKEN = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
return tostring(wait)
"""


class RedisStore:
    """The store on Redis: Lua for atomic steps, a stream for events, lists for wake-ups."""

    def __init__(self, url: str, *, prefix: str = "dialer:") -> None:
        import redis

        self._redis = redis
        self._client = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=3,
                                            health_check_interval=30)
        self._prefix = prefix
        self._incr = self._client.register_script(_INCR_CAPPED)
        self._release = self._client.register_script(_RELEASE)
        self._token = self._client.register_script(_TAKE_TOKEN)

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}{kind}:{name}"

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except self._redis.exceptions.ConnectionError as exc:
            raise CoordinationUnavailable(f"redis unavailable: {exc}") from exc
        except self._redis.exceptions.TimeoutError as exc:
            raise CoordinationUnavailable(f"redis timed out: {exc}") from exc

    def incr_capped(self, key: str, cap: int, *, ttl_s: int = 172_800) -> CapResult:
        """See ``CoordinationStore.incr_capped``."""
        allowed, value = self._call(self._incr, keys=[self._key("count", key)],
                                    args=[cap, ttl_s])
        return CapResult(bool(allowed), int(value))

    def count(self, key: str) -> int:
        """See ``CoordinationStore.count``."""
        value = self._call(self._client.get, self._key("count", key))
        return int(value or 0)

    def release(self, key: str) -> int:
        """See ``CoordinationStore.release``."""
        return int(self._call(self._release, keys=[self._key("count", key)], args=[]))

    def take_token(self, bucket: str, *, rate: float, burst: int) -> float:
        """See ``CoordinationStore.take_token``."""
        wait = self._call(self._token, keys=[self._key("bucket", bucket)], args=[rate, burst])
        return float(wait)

    def publish(self, stream: str, data: dict[str, Any]) -> str:
        """See ``CoordinationStore.publish``."""
        event_id = self._call(self._client.xadd, self._key("events", stream),
                              {"json": json.dumps(data)}, maxlen=EVENT_STREAM_MAX,
                              approximate=True)
        return event_id.decode() if isinstance(event_id, bytes) else str(event_id)

    def read(self, stream: str, *, after: str = "0", count: int = 100) -> list[StoredEvent]:
        """See ``CoordinationStore.read``."""
        rows = self._call(self._client.xrange, self._key("events", stream),
                          min=f"({after}" if after != "0" else "-", count=count)
        return [StoredEvent(i.decode() if isinstance(i, bytes) else str(i),
                            json.loads(fields[b"json"]))
                for i, fields in rows]

    def wake(self, channel: str) -> None:
        """See ``CoordinationStore.wake`` (at most one pending wake-up is kept)."""
        key = self._key("wake", channel)
        pipe = self._client.pipeline()
        pipe.lpush(key, 1)
        pipe.ltrim(key, 0, 0)
        self._call(pipe.execute)

    def wait(self, channel: str, timeout_s: float) -> bool:
        """See ``CoordinationStore.wait``."""
        timeout = min(max(0.001, timeout_s), 20.0)  # below socket_timeout
        got = self._call(self._client.blpop, [self._key("wake", channel)], timeout=timeout)
        return got is not None

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


def make_store(redis_url: str | None, *, prefix: str = "dialer:") -> CoordinationStore:
    """Redis when ``REDIS_URL`` is set, else an in-process store."""
    if redis_url:
        return RedisStore(redis_url, prefix=prefix)
    return MemoryStore()
