"""The campaign dial loop: a thin shell over the pure domain and the storage ports.

One ``CampaignLoop`` runs one campaign. Each ``tick(now)`` records finished calls,
then, while the campaign is active and pacing allows, claims the next due contact
(atomic, leased, fenced), checks it at dial time (DNC, start date, business hours, the
callee's 08:00-21:00 window), rotates to a caller ID, counts the call against the
number's daily cap (exact, in the database), takes a token from the trunk's
calls-per-second bucket, writes the call row, and only then hands the call to a
``CallPlacer``. It holds no state it cannot rebuild from the database: a restarted loop
reaps expired leases and goes on.

The loop has no Ray in it: the campaign actor drives it on a real clock, the demo on a
simulated one, and the tests with fakes.
"""

from __future__ import annotations

import concurrent.futures
import logging
import random
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from agent.base import DEFAULT_FIRST_MESSAGE, AgentProfile
from campaigns import types as t
from campaigns.compliance import REASON_DNC, check_dial
from campaigns.errors import NoNumberAvailable
from campaigns.health import (
    DEFAULT_ABANDON,
    DEFAULT_BREAKER,
    DEFAULT_GOVERNOR,
    AbandonSettings,
    BreakerChange,
    BreakerPhase,
    BreakerSettings,
    BreakerState,
    BreakerStep,
    GovernorSettings,
    breaker_allows,
    breaker_judge,
    breaker_probe_ended,
    check_abandon,
    govern,
)
from campaigns.lifecycle import ContactProgress, apply_outcome
from campaigns.pacing import (
    PacingState,
    dial_finished,
    dial_started,
    free_lines,
    next_dial_slot,
)
from campaigns.phones import mask
from campaigns.retry import DNC_REASON
from campaigns.rotation import RotationState, choose_number, eligible
from campaigns.schedule import Schedule, is_open, next_opening, schedule_from_dict
from campaigns.spam import BuiltinSpamProvider, SpamDecision, SpamProvider, evaluate
from storage import models as m
from storage.coordination import CoordinationStore, CoordinationUnavailable
from storage.errors import NotFound, StaleClaim, StorageError
from storage.repos import (
    AuditRepo,
    CallEnd,
    CallRepo,
    CallStart,
    CampaignRepo,
    Claim,
    ClaimRepo,
    ContactRepo,
    DncRepo,
    NumberRepo,
    ScheduleRepo,
    Who,
)
from storage.repos.campaigns import to_number
from storage.services import reap_expired_leases

log = logging.getLogger(__name__)

SYSTEM = Who("dialer", "system")
LEASE = timedelta(minutes=15)
"""How long a claim lives; longer than any call, so only a dead dialer's claims expire.

Two phases: ``lease`` covers claim → call row (milliseconds, unless the dialer died:
then the contact goes back to the queue when it expires), ``call_lease`` is set with the
call row and must outlast the longest call (ring, AMD, the agent's talk, a voicemail)."""
NO_NUMBER_BACKOFF = timedelta(minutes=15)
HOUSEKEEPING_EVERY = timedelta(seconds=30)
"""How often a loop reaps expired leases and completes Called contacts."""
ABANDON_CHECK_EVERY = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class DialRequest:
    """One call to place, as the number actor and ``sip/`` receive it (our own type)."""

    call_id: int
    campaign_id: int
    campaign_contact_id: int
    token: int
    to: str
    caller_id: str
    number_id: int
    ring_timeout_s: int
    amd_mode: t.AmdMode
    machine_action: t.MachineAction
    started_at: datetime
    attempt: int = 1
    settings: t.CallSettings = field(default_factory=t.CallSettings)
    spam_threshold: int = 7
    agent: AgentProfile | None = None
    """The campaign's voice agent (None: the scripted agent's defaults)."""


@dataclass(frozen=True, slots=True)
class CallResult(CallEnd):
    """How a placed call ended (the outcome storage keeps) and when it did."""

    ended_at: datetime = field(kw_only=True)
    recorded: bool = field(default=False, kw_only=True)
    """True when whoever placed the call already stored this result (number actors do,
    so a campaign actor that dies mid-call loses nothing)."""
    amd_correction: str | None = field(default=None, kw_only=True)
    """How the call flow corrected the AMD verdict (``reply``, ``late_beep``), for the
    metrics; the call row keeps the corrected label."""


class CallPlacer(Protocol):
    """Places a call and resolves the future with its result (never raises into it
    for outcomes: busy, no answer and voicemail are results)."""

    def place(self, request: DialRequest) -> Future[CallResult]:
        """Start the call; the future completes when it has ended."""
        ...


@dataclass
class TickReport:
    """What one tick did, for progress displays and tests."""

    placed: int = 0
    finished: int = 0
    released: int = 0
    completed: bool = False
    next_tick_at: datetime | None = None
    """When to tick again; None: when a call in flight ends (or on a wake-up)."""
    reasons: list[str] = field(default_factory=list)
    store_reached: bool = False
    """The coordination store answered during this tick (it is asked only to dial)."""


@dataclass
class _InFlight:
    claim: Claim
    request: DialRequest
    future: Future[CallResult]
    settings: t.CallSettings


class CampaignLoop:
    """Runs one campaign: claim, check, rotate, count, dial, record."""

    def __init__(self, campaign_id: int, *, sessions: sessionmaker[Session],
                 store: CoordinationStore, placer: CallPlacer, owner: str,
                 rng: random.Random | None = None, trunk_cps: float = 10.0,
                 lease: timedelta = LEASE, call_lease: timedelta = LEASE,
                 breaker: BreakerSettings = DEFAULT_BREAKER,
                 abandon: AbandonSettings = DEFAULT_ABANDON,
                 governor: GovernorSettings = DEFAULT_GOVERNOR,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.campaign_id = campaign_id
        self.sessions = sessions
        self.store = store
        self.placer = placer
        self.owner = owner
        self.rng = rng or random.Random()
        self.trunk_cps = trunk_cps
        self.lease = lease
        self.call_lease = call_lease
        self.breaker = breaker
        self.breaker_state = BreakerState()
        self._probe_call: int | None = None
        self.abandon = abandon
        self.governor = governor
        self.limit: int | None = None
        """Calls at once the overload governor allows (None: the campaign's cap)."""
        self._governed_since: datetime | None = None
        self._last_abandon_check: datetime | None = None
        self._abandon_since: datetime | None = None
        """Live answers before this (the campaign last became active) are not judged
        again: whoever resumed a paused campaign has seen the rate that paused it."""
        self._was_paused = False
        self._started = False
        self.on_event = on_event
        self.pacing = PacingState()
        self.rotation = RotationState()
        self.in_flight: list[_InFlight] = []
        self._last_housekeeping: datetime | None = None

    # --- the tick --------------------------------------------------------------------

    def tick(self, now: datetime) -> TickReport:
        """Record finished calls and start the calls pacing allows at ``now``."""
        report = TickReport()
        if not self._started:
            self._start()
        report.finished = self.collect(now)
        if report.finished:
            self._check_health(now)
        housekeeping = self._last_housekeeping is None or (
            now - self._last_housekeeping >= HOUSEKEEPING_EVERY)
        if housekeeping:
            reap_expired_leases(self.sessions, now)
            self._last_housekeeping = now
        with self.sessions.begin() as s:
            campaign = CampaignRepo(s).get(self.campaign_id)
            if housekeeping:
                ContactRepo(s).complete_due(campaign.id, now)
            schedule = _schedule(s, campaign)
            dialing = ContactRepo(s).status_counts(campaign.id).get(t.ContactStatus.DIALING, 0)
        # Calls this loop does not know of (placed before a restart, still going on in
        # number actors) count against the concurrency cap until they are recorded.
        self.pacing = replace(self.pacing, in_flight=max(len(self.in_flight), dialing))
        if campaign.status is not t.CampaignStatus.ACTIVE:
            self._was_paused = campaign.status is t.CampaignStatus.PAUSED
            report.next_tick_at = now + timedelta(seconds=1)
            return report
        if self._was_paused:
            # Resumed (the actor lived on): judge the answers and outcomes from now on,
            # or it pauses again at once on the very calls that paused it.
            self._was_paused, self._abandon_since = False, now
            self.breaker_state = BreakerState(since=now)
        opens = _opens_at(campaign, schedule, now)
        if opens is not None:
            # Before the start date or outside business hours: claim nothing until then.
            report.reasons.append("campaign closed")
            report.next_tick_at = opens
            return report
        lines, blocked = self._usable_lines(campaign, now)
        if blocked is not None:
            # No caller ID may dial (all capped, disabled or excluded): claim nothing,
            # look again in a while or when the campaign's day rolls over.
            report.reasons.append(blocked)
            report.next_tick_at = min(now + NO_NUMBER_BACKOFF, _next_local_midnight(
                now, campaign.timezone))
            return report
        held = self._breaker_holds(now)
        if held is not None:
            # The trunk keeps failing: claim nobody until the cool-down is over (then
            # one probe call), or until the probe in flight has ended.
            report.reasons.append("circuit breaker open")
            report.next_tick_at = held
            return report
        governed = campaign.settings
        if self.limit is not None and self.limit < governed.max_concurrent_calls:
            governed = replace(governed, max_concurrent_calls=self.limit)
        queue_empty = False
        while True:
            if self._probe_call is not None:
                break  # half-open: the one probe call is out
            slot = next_dial_slot(self.pacing, governed, now, lines)
            if slot is None:
                break  # at the concurrency cap: the next call to end wakes the loop
            if slot > now:
                due = self._next_due(now)
                queue_empty = due is None
                report.next_tick_at = slot if due is None or due <= slot else due
                break
            wait = self.store.take_token("trunk", rate=self.trunk_cps,
                                         burst=max(1, int(self.trunk_cps)))
            report.store_reached = True
            if wait > 0:
                report.next_tick_at = now + timedelta(seconds=wait)
                break
            with self.sessions.begin() as s:
                claims = ClaimRepo(s).claim(campaign.id, self.owner, now, limit=1,
                                            lease=self.lease)
            if not claims:
                # Nothing due now. Called contacts may be waiting out their completion
                # timeout: settle those that are due, then sleep until the next is.
                with self.sessions.begin() as s:
                    ContactRepo(s).complete_due(campaign.id, now)
                due = self._next_due(now)  # None: nothing queued or waiting at all
                queue_empty = due is None
                report.next_tick_at = due if due is None or due > now else (
                    now + timedelta(seconds=1))
                break
            placed, reason = self._dial(campaign, schedule, claims[0], now)
            if placed:
                report.placed += 1
                if self.breaker_state.phase is BreakerPhase.HALF_OPEN:
                    self._probe_call = self.in_flight[-1].request.call_id
            else:
                report.released += 1
                report.reasons.append(reason)
        if queue_empty and not self.in_flight and self._nothing_left(campaign):
            with self.sessions.begin() as s:
                CampaignRepo(s).set_status(campaign.id, t.CampaignStatus.COMPLETED, SYSTEM, now)
            self._event("campaign_completed", {"campaign_id": campaign.id,
                                               "name": campaign.name})
            report.completed = True
        return report

    def _dial(self, campaign: t.Campaign, schedule: Schedule | None, claim: Claim,
              now: datetime) -> tuple[bool, str]:
        with self.sessions.begin() as s:
            check = check_dial(at=now, phone=claim.phone, contact_tz=claim.timezone,
                               campaign_tz=campaign.timezone, schedule=schedule,
                               start_at=campaign.start_at,
                               dnc_blocked=DncRepo(s).blocked(claim.phone))
            if not check.allowed:
                return self._release(s, claim, check.retry_at, check.reason, now)
            day = _local_day(now, campaign.timezone)
            numbers = [a.number for a in NumberRepo(s).for_campaign(campaign.id, today=day)]
            # The call interval spaces each number's dials: rotate among the free ones.
            free = set(free_lines(self.pacing, campaign.settings, now,
                                  [n.id for n in numbers]))
            ready = [n for n in numbers if n.id in free]
            try:
                pick = choose_number(ready, campaign.rotation, self.rotation,
                                     callee=claim.phone, rng=self.rng)
            except NoNumberAvailable as exc:
                if len(ready) < len(numbers):  # the others only wait out their interval
                    slot = next_dial_slot(self.pacing, campaign.settings, now,
                                          [n.id for n in numbers if n.id not in free])
                    retry = max(slot or now, now + timedelta(seconds=1))
                    return self._release(s, claim, retry, "every free number is busy", now)
                return self._release(s, claim, now + NO_NUMBER_BACKOFF, exc.reason, now)
            if not NumberRepo(s).count_call(pick.number.id, day,
                                            campaign.rotation.max_calls_per_number_per_day):
                return self._release(s, claim, now + NO_NUMBER_BACKOFF,
                                     f"{pick.number.e164} reached its daily cap", now)
            self.rotation = pick.state
            agent = _agent_profile(s, campaign)
            call_id = CallRepo(s).start(CallStart(
                campaign.id, claim.campaign_contact_id, claim.token, claim.attempts + 1,
                pick.number.id, pick.number.e164, claim.phone), now)
            ClaimRepo(s).extend(claim, now + self.call_lease)
        # The call row is committed: only now may the INVITE leave.
        request = DialRequest(call_id=call_id, campaign_id=campaign.id,
                              campaign_contact_id=claim.campaign_contact_id,
                              token=claim.token, to=claim.phone, caller_id=pick.number.e164,
                              number_id=pick.number.id,
                              ring_timeout_s=campaign.settings.ring_timeout_s,
                              amd_mode=campaign.settings.amd_mode,
                              machine_action=campaign.settings.machine_action, started_at=now,
                              attempt=claim.attempts + 1, settings=campaign.settings,
                              spam_threshold=campaign.rotation.spam_threshold, agent=agent)
        log.info("dialling", extra={"campaign": campaign.id, "call": call_id,
                                    "to": mask(claim.phone), "from": mask(pick.number.e164)})
        future = self.placer.place(request)
        self.in_flight.append(_InFlight(claim, request, future, campaign.settings))
        self.pacing = dial_started(self.pacing, now, pick.number.id)
        return True, "placed"

    def _release(self, s: Session, claim: Claim, retry_at: datetime | None, reason: str,
                 now: datetime) -> tuple[bool, str]:
        """Give the contact back; with no time it may ever be called (DNC, no shared
        calling window within a year) it ends as Failed instead, never dialled."""
        if retry_at is None:
            final = DNC_REASON if reason == REASON_DNC else reason
            ClaimRepo(s).finish(claim.campaign_contact_id, claim.token,
                                status=t.ContactStatus.FAILED, attempts=claim.attempts,
                                due_at=now, now=now, final_reason=final)
        else:
            ClaimRepo(s).release(claim, retry_at, reason=reason)
        return False, reason

    # --- results ---------------------------------------------------------------------

    def collect(self, now: datetime) -> int:
        """Record every call whose future is done and which has ended by ``now``."""
        finished = 0
        still: list[_InFlight] = []
        for item in self.in_flight:
            if not item.future.done():
                still.append(item)
                continue
            try:
                result = item.future.result()
            except Exception as exc:  # the placer failed: the call is a local failure
                # Not exc_info: an exception's text may name the callee (logs mask it).
                log.warning("call placer failed", extra={
                    "call": item.request.call_id, "to": mask(item.request.to),
                    "error": type(exc).__name__, "trace": _trace(exc)})
                result = CallResult(t.AnswerStatus.FAILED, ended_at=now,
                                    sip_reason=f"placer error: {type(exc).__name__}")
            if result.ended_at > now:
                still.append(item)  # simulated time: the call has not ended yet
                continue
            self._record(item, result)
            finished += 1
        self.in_flight = still
        return finished

    def _record(self, item: _InFlight, result: CallResult) -> None:
        if not result.recorded:
            record_call(self.sessions, item.request, result)
        self.pacing = dial_finished(self.pacing)
        if item.request.call_id == self._probe_call:
            self._probe_call = None
            self._breaker_step(breaker_probe_ended(self.breaker_state, result.answer_status,
                                                   result.ended_at, self.breaker))

    def _start(self) -> None:
        """A new loop (a new or restarted actor, or one started on a resume): judge the
        abandon rate and the breaker on what happened since the campaign last became
        active, from the audit log."""
        with self.sessions() as s:
            since = AuditRepo(s).last_status_change("campaign", self.campaign_id, "active")
        self._abandon_since = since
        self.breaker_state = BreakerState(since=since)
        self._started = True

    # --- the circuit breaker ---------------------------------------------------------

    def _breaker_holds(self, now: datetime) -> datetime | None:
        """None when a call may start; else when to look again."""
        self._breaker_step(breaker_allows(self.breaker_state, now))
        state = self.breaker_state
        if state.phase is BreakerPhase.OPEN:
            return state.retry_at
        if state.phase is BreakerPhase.HALF_OPEN and self._probe_call is not None:
            return now + timedelta(seconds=1)  # the probe's end wakes the loop sooner
        return None

    def _breaker_step(self, step: BreakerStep) -> None:
        """Take the new state; tell operators when the trunk failed or came back."""
        self.breaker_state = step.state
        if step.change is None:
            return
        now = step.state.opened_at if step.change is BreakerChange.OPENED else (
            step.state.since)
        log.warning("circuit breaker %s", step.change.value,
                    extra={"campaign": self.campaign_id, "reason": step.reason})
        if step.change is BreakerChange.STILL_FAILING:
            return  # operators already know; no alert per failed probe
        action = ("trunk.failing" if step.change is BreakerChange.OPENED
                  else "trunk.recovered")
        with self.sessions.begin() as s:
            AuditRepo(s).record(SYSTEM, action, "campaign", str(self.campaign_id),
                                now or datetime.now(UTC), {"reason": step.reason})
        self._event(f"breaker_{step.change.value}", {"campaign_id": self.campaign_id,
                                                      "reason": step.reason})

    # --- helpers ---------------------------------------------------------------------

    def _check_health(self, now: datetime) -> None:
        """Open the circuit breaker when recent calls keep failing at the trunk; pause
        the campaign (and alert) when too many live answers were not greeted in time."""
        state = self.breaker_state
        if state.phase is BreakerPhase.CLOSED:
            with self.sessions() as s:
                recent = CallRepo(s).recent_outcomes(self.campaign_id, self.breaker.window,
                                                     since=state.since)
            self._breaker_step(breaker_judge(state, recent, now, self.breaker))
        self._govern(now)
        last = self._last_abandon_check
        if last is not None and now - last < ABANDON_CHECK_EVERY:
            return
        self._last_abandon_check = now
        since = now - timedelta(hours=self.abandon.window_hours)
        if self._abandon_since is not None:
            since = max(since, self._abandon_since)
        with self.sessions() as s:
            live, abandoned = CallRepo(s).abandon_counts(self.campaign_id, since)
        verdict = check_abandon(live, abandoned, self.abandon)
        if not verdict.trip:
            return
        with self.sessions.begin() as s:
            campaigns = CampaignRepo(s)
            if campaigns.get(self.campaign_id).status is not t.CampaignStatus.ACTIVE:
                return
            campaigns.set_status(self.campaign_id, t.CampaignStatus.PAUSED, SYSTEM, now,
                                 reason=verdict.reason)
        log.warning("campaign auto-paused", extra={"campaign": self.campaign_id,
                                                   "reason": verdict.reason})
        self._event("auto_pause", {"campaign_id": self.campaign_id, "reason": verdict.reason})

    def _govern(self, now: datetime) -> None:
        """Dial fewer calls at once while live answers wait too long for us (CPU
        starved, a slow agent), more again when they do not (``health.govern``). Only
        calls started under the current limit are judged."""
        with self.sessions() as s:
            cap = CampaignRepo(s).get(self.campaign_id).settings.max_concurrent_calls
            delays = CallRepo(s).greet_delays(self.campaign_id, self._governed_since,
                                              self.governor.sample)
        step = govern(self.limit or cap, cap, delays, self.governor)
        if not step.reason:
            return
        self.limit = None if step.limit >= cap else step.limit
        self._governed_since = now
        log.warning("overload governor: %s", step.reason, extra={"campaign": self.campaign_id})
        self._event("governor", {"campaign_id": self.campaign_id, "reason": step.reason,
                                 "limit": step.limit})

    def _usable_lines(self, campaign: t.Campaign, now: datetime) -> tuple[list[int], str | None]:
        """The numbers that may dial today (their ids: the pacing lines), or why none."""
        day = _local_day(now, campaign.timezone)
        with self.sessions() as s:
            numbers = [a.number for a in NumberRepo(s).for_campaign(campaign.id, today=day)]
        usable, reason = eligible(numbers, campaign.rotation)
        return [n.id for n in usable], (None if usable else reason)

    def _nothing_left(self, campaign: t.Campaign) -> bool:
        with self.sessions() as s:
            counts = ContactRepo(s).status_counts(campaign.id)
        open_statuses = (t.ContactStatus.PENDING, t.ContactStatus.RETRY,
                         t.ContactStatus.DIALING, t.ContactStatus.CALLED)
        return sum(counts.values()) > 0 and not any(counts.get(k) for k in open_statuses)

    def _next_due(self, now: datetime) -> datetime | None:
        with self.sessions() as s:
            return ContactRepo(s).next_due_at(self.campaign_id)

    def _event(self, kind: str, data: dict[str, Any]) -> None:
        try:
            self.store.publish("alerts", {"kind": kind, **data})
        except CoordinationUnavailable as exc:
            # The audit log is the durable record operators are alerted from.
            log.warning("could not publish %s: %s", kind, exc)
        if self.on_event is not None:
            self.on_event(kind, data)


class OutageWatch:
    """Turns a run of failing ticks into what operators hear: dialling held, then resumed.

    A tick fails when the database or the coordination store cannot be reached (or on a
    bug); the loop keeps ticking and goes on by itself once they are back. When failing
    for ``announce_after``, ``dialer.degraded`` is audited (which raises the Slack alert;
    with the database down that write fails too and is retried). When a tick succeeds
    again after such an outage, ``dialer.recovered`` is audited with how long it lasted.
    """

    def __init__(self, sessions: sessionmaker[Session], campaign_id: int,
                 now: Callable[[], datetime],
                 announce_after: timedelta = timedelta(seconds=5)) -> None:
        self.sessions = sessions
        self.campaign_id = campaign_id
        self.now = now
        self.announce_after = announce_after
        self.down_since: datetime | None = None
        self.what = ""
        self.announced = False

    def failed(self, exc: BaseException) -> None:
        """A tick raised ``exc``."""
        now = self.now()
        if self.down_since is None:
            self.down_since, self.what = now, _what_failed(exc)
        if self.announced or now - self.down_since < self.announce_after:
            return
        self.announced = self._audit("dialer.degraded", now, (
            f"{self.what} unreachable since {self._for(now)} ago "
            f"({type(exc).__name__}); dialling held, retrying every second"))

    def succeeded(self, store_reached: bool = True) -> None:
        """A tick went through (``store_reached``: and it used the coordination store;
        a tick with nothing to dial does not, so it cannot tell that the store is back)."""
        if self.down_since is None or (self.what == STORE and not store_reached):
            return
        now = self.now()
        worth_telling = self.announced or now - self.down_since >= self.announce_after
        if worth_telling and not self._audit("dialer.recovered", now, (
                f"{self.what} was unreachable for {self._for(now)}; "
                "dialling resumed by itself")):
            return  # try again after the next tick
        self.down_since, self.announced = None, False

    def _for(self, now: datetime) -> str:
        held = now - (self.down_since or now)
        return f"{held.total_seconds():.0f} s"

    def _audit(self, action: str, now: datetime, reason: str) -> bool:
        log.warning("%s: %s", action, reason, extra={"campaign": self.campaign_id})
        try:
            with self.sessions.begin() as s:
                AuditRepo(s).record(SYSTEM, action, "campaign", str(self.campaign_id), now,
                                    {"reason": reason})
        except Exception as exc:  # the database itself may be what is down
            log.info("could not audit %s: %s", action, type(exc).__name__)
            return False
        return True


class LoopDriver:
    """Ticks a ``CampaignLoop`` until stopped, as a campaign actor's thread does.

    A failing tick (database, coordination store, a bug) is logged, reported to the
    ``OutageWatch`` and tried again a second later; between ticks it sleeps until the
    loop's next tick or the first call in flight to end.
    """

    def __init__(self, loop: CampaignLoop, now: Callable[[], datetime],
                 tick_at_most_s: float = 1.0) -> None:
        self.loop = loop
        self.now = now
        self.tick_at_most_s = tick_at_most_s
        self.outage = OutageWatch(loop.sessions, loop.campaign_id, now)
        self.ticks = 0
        self.placed = 0
        self.done = False
        self.last_error: str | None = None

    def run(self, stopped: threading.Event) -> None:
        """Tick until ``stopped`` is set."""
        while not stopped.is_set():
            wait = self.step()
            pending = [item.future for item in self.loop.in_flight]
            if pending:
                concurrent.futures.wait(pending, timeout=wait,
                                        return_when=concurrent.futures.FIRST_COMPLETED)
            else:
                stopped.wait(wait)

    def step(self) -> float:
        """One tick; returns how long to wait before the next."""
        try:
            report = self.loop.tick(self.now())
        except Exception as exc:  # keep dialling after a database or store hiccup
            log.exception("campaign tick failed", extra={"campaign": self.loop.campaign_id})
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            self.outage.failed(exc)
            return self.tick_at_most_s
        self.ticks += 1
        self.placed += report.placed
        self.last_error = None
        self.outage.succeeded(report.store_reached)
        if report.completed:
            self.done = True
        if report.next_tick_at is None:
            return self.tick_at_most_s
        return min(self.tick_at_most_s,
                   max(0.0, (report.next_tick_at - self.now()).total_seconds()))


def _trace(exc: BaseException) -> str:
    """Where ``exc`` was raised (file, line, code), without its message."""
    return "".join(traceback.format_tb(exc.__traceback__))[-2000:]


STORE: Final = "the coordination store (Redis)"


def _what_failed(exc: BaseException) -> str:
    if isinstance(exc, CoordinationUnavailable):
        return STORE
    if isinstance(exc, SQLAlchemyError | StorageError):
        return "the database"
    return f"the dial loop ({type(exc).__name__})"


def record_call(sessions: sessionmaker[Session], request: DialRequest,
                result: CallResult) -> None:
    """Store a call's outcome and move its contact on, fenced by the claim's token.

    Idempotent: a second recording of the same call changes nothing.
    """
    progress = apply_outcome(
        ContactProgress(status=t.ContactStatus.DIALING, attempts=request.attempt - 1),
        result.answer_status, conversation=result.conversation, now=result.ended_at,
        settings=request.settings)
    with sessions.begin() as s:
        CallRepo(s).finish(request.call_id, result, result.ended_at)
        try:
            ClaimRepo(s).finish(request.campaign_contact_id, request.token,
                                status=progress.status, attempts=progress.attempts,
                                due_at=progress.next_attempt_at or result.ended_at,
                                now=result.ended_at,
                                completion_due_at=progress.completion_due_at,
                                final_reason=progress.final_reason,
                                trunk_failures=progress.trunk_failures)
        except StaleClaim:
            # Already recorded, or the lease was reaped and reconciled from the call row.
            log.info("claim already settled", extra={"call": request.call_id})
    rescore_number(sessions, request.number_id, request.spam_threshold, result.ended_at)


SPAM_WINDOW = timedelta(days=7)


def rescore_number(sessions: sessionmaker[Session], number_id: int, threshold: int,
                   now: datetime, provider: SpamProvider | None = None) -> SpamDecision:
    """Recompute a number's spam score from its last week of traffic; at the threshold
    an active number is excluded (audited by the system, which raises the Slack alert)."""
    provider = provider or BuiltinSpamProvider()
    with sessions.begin() as s:
        numbers = NumberRepo(s)
        row = s.get(m.PhoneNumber, number_id)
        if row is None:
            raise NotFound("number", str(number_id))
        number = to_number(row)
        score = provider.score(number.e164, numbers.traffic(number_id, now - SPAM_WINDOW,
                                                             now + timedelta(seconds=1)))
        decision = evaluate(number, score, threshold)
        if score != number.spam_score:
            numbers.set_spam_score(number_id, score)
        if decision.alert:
            numbers.set_status(number.e164, t.NumberStatus.EXCLUDED, SYSTEM, now,
                               reason=f"spam score {score} reached the threshold {threshold}")
            log.warning("number auto-excluded", extra={"number": mask(number.e164),
                                                       "score": score})
    return decision


def _opens_at(campaign: t.Campaign, schedule: Schedule | None,
              now: datetime) -> datetime | None:
    """None when the campaign may dial now, else when it opens next (far future if never)."""
    if campaign.start_at is not None and now < campaign.start_at:
        return campaign.start_at
    if schedule is not None and not is_open(schedule, now):
        return next_opening(schedule, now) or now + timedelta(days=365)
    return None


def _local_day(now: datetime, timezone: str) -> str:
    """The campaign's local date: "today" for daily caps is the campaign's day."""
    return now.astimezone(ZoneInfo(timezone)).date().isoformat()


def _next_local_midnight(now: datetime, timezone: str) -> datetime:
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    tomorrow = (local + timedelta(days=1)).date()
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=zone).astimezone(UTC)


def _agent_profile(s: Session, campaign: t.Campaign) -> AgentProfile | None:
    if campaign.agent_id is None:
        return None
    row = s.get(m.Agent, campaign.agent_id)
    if row is None:
        return None
    return AgentProfile(name=row.name, instructions=row.instructions, voice=row.voice,
                        first_message=row.first_message or DEFAULT_FIRST_MESSAGE,
                        model=row.model, voicemail_message=row.voicemail_message)


def _schedule(s: Session, campaign: t.Campaign) -> Schedule | None:
    if campaign.schedule_id is None:
        return None
    return schedule_from_dict(ScheduleRepo(s).row(campaign.schedule_id).definition)


__all__ = ["CallPlacer", "CallResult", "CampaignLoop", "DialRequest", "TickReport"]
