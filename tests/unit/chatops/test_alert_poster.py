"""The alert poster: every alert once, a failed post does not stop the rest, and a source
that keeps failing (the database is down, so nothing can be audited) is announced."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chatops.alerts import AlertEvent, AlertKind, AlertPoster, MemoryAlertSource
from chatops.views import alert_message

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class FlakySource(MemoryAlertSource):
    """A memory source whose polls raise while ``down``."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def poll(self) -> list[AlertEvent]:
        if self.down:
            raise ConnectionError("connection refused")
        return super().poll()


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _poster(source: MemoryAlertSource, posted: list[AlertEvent],
            clock: Clock) -> AlertPoster:
    return AlertPoster(source, posted.append, interval_s=1.0, announce_after_s=15.0,
                       monotonic=clock, clock=lambda: NOW)


def test_a_short_blip_is_not_announced() -> None:
    source, posted, clock = FlakySource(), [], Clock()
    poster = _poster(source, posted, clock)
    source.down = True
    for _ in range(10):
        assert poster.tick() == 0
        clock.t += 1.0
    source.down = False
    source.push(AlertEvent(AlertKind.CAMPAIGN_COMPLETED, NOW, campaign="Spring"))
    assert poster.tick() == 1
    assert [e.kind for e in posted] == [AlertKind.CAMPAIGN_COMPLETED]


def test_a_long_outage_is_announced_once_then_its_end_then_the_held_alerts() -> None:
    source, posted, clock = FlakySource(), [], Clock()
    poster = _poster(source, posted, clock)
    source.down = True
    for _ in range(40):
        poster.tick()
        clock.t += 1.0
    assert [e.kind for e in posted] == [AlertKind.DATABASE_DOWN]
    assert posted[0].reason.startswith("unreachable for 15 s (ConnectionError)")
    source.push(AlertEvent(AlertKind.DIALER_RECOVERED, NOW, campaign="Spring",
                           reason="the database was unreachable for 40 s"))
    source.down = False
    assert poster.tick() == 1
    assert [e.kind for e in posted] == [AlertKind.DATABASE_DOWN, AlertKind.DATABASE_BACK,
                                        AlertKind.DIALER_RECOVERED]
    assert posted[1].reason == "reachable again after 40 s"
    poster.tick()
    assert len(posted) == 3  # nothing twice


def test_an_announcement_that_cannot_be_posted_is_tried_again() -> None:
    source, clock = FlakySource(), Clock()
    posted: list[AlertEvent] = []
    slack_up = False

    def post(event: AlertEvent) -> None:
        if not slack_up:
            raise OSError("slack unreachable")
        posted.append(event)

    poster = AlertPoster(source, post, announce_after_s=5.0, monotonic=clock,
                         clock=lambda: NOW)
    source.down = True
    for _ in range(10):
        poster.tick()
        clock.t += 1.0
    assert posted == []
    slack_up = True
    poster.tick()
    assert [e.kind for e in posted] == [AlertKind.DATABASE_DOWN]


def test_one_failed_post_does_not_stop_the_alerts_after_it() -> None:
    source = MemoryAlertSource()
    posted: list[AlertEvent] = []

    def post(event: AlertEvent) -> None:
        if event.campaign == "broken":
            raise OSError("slack said no")
        posted.append(event)

    for name in ("a", "broken", "c"):
        source.push(AlertEvent(AlertKind.CAMPAIGN_COMPLETED, NOW, campaign=name))
    assert AlertPoster(source, post).tick() == 2
    assert [e.campaign for e in posted] == ["a", "c"]


@pytest.mark.parametrize(("kind", "words"), [
    (AlertKind.DATABASE_DOWN, "database is down: unreachable"),
    (AlertKind.DATABASE_BACK, "database is back: unreachable"),
])
def test_the_database_alerts_read_well_in_slack(kind: AlertKind, words: str) -> None:
    text = alert_message(AlertEvent(kind, NOW, reason="unreachable <for> 20 s"))["text"]
    assert words in text and "&lt;for&gt;" in text
