"""Caller-ID rotation: which of a campaign's numbers dials the next call.

``eligible`` filters out numbers that may not dial (disabled, excluded, over the spam
threshold, at the daily cap) and says why when none is left; ``choose_number`` applies
the campaign's strategy to what remains. Both are pure: the per-number call counts
come from the caller (``calls_today``) and randomness from an injected
``random.Random``, so a pick is reproducible from its inputs.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import phonenumbers
from phonenumbers import NumberParseException, geocoder

from campaigns import phones
from campaigns.errors import NoNumberAvailable, ValidationError
from campaigns.spam import should_exclude
from campaigns.types import NumberStatus, PhoneNumber, RotationSettings, RotationStrategy


@dataclass(frozen=True, slots=True)
class RotationState:
    """What rotation remembers between picks: the id of the last number used.

    Round robin continues after it; the other strategies only record it.
    """

    last_number_id: int | None = None

    def to_dict(self) -> dict[str, int | None]:
        """A JSON-ready form, for actors that persist the state."""
        return {"last_number_id": self.last_number_id}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> RotationState:
        """Rebuild a state from ``to_dict`` output; missing keys mean a fresh state."""
        value = data.get("last_number_id")
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValidationError("last_number_id", f"{value!r} is not a number id")
        return cls(last_number_id=value)


@dataclass(frozen=True, slots=True)
class Pick:
    """The outcome of one rotation: the number to dial and the state to keep.

    ``strategy_used`` is the strategy that decided; for local presence it is
    ``LOCAL_PRESENCE`` when a number local to the callee was found, else the fallback.
    """

    number: PhoneNumber
    state: RotationState
    strategy_used: RotationStrategy


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def eligible(
    numbers: Iterable[PhoneNumber],
    settings: RotationSettings,
    *,
    calls_today: Mapping[int, int] | None = None,
) -> tuple[list[PhoneNumber], str | None]:
    """The numbers that may dial now, in input order, and why none may when the list is empty.

    A number is dropped when it is Disabled or Excluded, when its spam score has reached
    ``settings.spam_threshold``, or when its calls today have reached
    ``settings.max_calls_per_number_per_day``. ``calls_today`` maps number id to the
    authoritative count (from the coordination store); a number missing from it falls
    back to ``number.calls_today``. Each dropped number is counted under the first of
    those reasons that applies. The reason is ``None`` whenever a number is left.
    """
    counts = calls_today or {}
    cap = settings.max_calls_per_number_per_day
    threshold = settings.spam_threshold
    kept: list[PhoneNumber] = []
    disabled = excluded = spammy = capped = 0
    for number in numbers:
        if number.status is NumberStatus.DISABLED:
            disabled += 1
        elif number.status is NumberStatus.EXCLUDED:
            excluded += 1
        elif should_exclude(number.spam_score, threshold):
            spammy += 1
        elif counts.get(number.id, number.calls_today) >= cap:
            capped += 1
        else:
            kept.append(number)
    if kept:
        return kept, None
    total = disabled + excluded + spammy + capped
    return kept, _no_number_reason(total, disabled, excluded, spammy, capped, settings)


def _no_number_reason(
    total: int, disabled: int, excluded: int, spammy: int, capped: int,
    settings: RotationSettings,
) -> str:
    cap = settings.max_calls_per_number_per_day
    threshold = settings.spam_threshold
    if total == 0:
        return "no numbers assigned to the campaign"
    if capped == total:
        if total == 1:
            return f"the only number is at its daily cap of {_plural(cap, 'call')}"
        return f"all {total} numbers are at their daily cap of {_plural(cap, 'call')}"
    if spammy == total:
        if total == 1:
            return f"the only number has a spam score at or above the threshold of {threshold}"
        return f"all {total} numbers have a spam score at or above the threshold of {threshold}"
    parts = []
    if capped:
        parts.append(f"{capped} at the daily cap of {_plural(cap, 'call')}")
    if spammy:
        parts.append(f"{spammy} at or above spam threshold {threshold}")
    if disabled:
        parts.append(f"{disabled} disabled")
    if excluded:
        parts.append(f"{excluded} excluded")
    if disabled + excluded == total:
        return "no active numbers: " + ", ".join(parts)
    return f"none of the {total} numbers may dial: " + ", ".join(parts)


_Chooser = Callable[
    [Sequence[PhoneNumber], RotationState, Mapping[int, int], random.Random], PhoneNumber
]


def _calls(number: PhoneNumber, counts: Mapping[int, int]) -> int:
    return counts.get(number.id, number.calls_today)


def _round_robin(
    numbers: Sequence[PhoneNumber], state: RotationState, counts: Mapping[int, int],
    rng: random.Random,
) -> PhoneNumber:
    ordered = sorted(numbers, key=lambda n: n.id)
    last = state.last_number_id
    if last is not None:
        for number in ordered:
            if number.id > last:
                return number
    return ordered[0]


def _lowest_spam(
    numbers: Sequence[PhoneNumber], state: RotationState, counts: Mapping[int, int],
    rng: random.Random,
) -> PhoneNumber:
    return min(numbers, key=lambda n: (n.spam_score, _calls(n, counts), n.id))


def _least_used_today(
    numbers: Sequence[PhoneNumber], state: RotationState, counts: Mapping[int, int],
    rng: random.Random,
) -> PhoneNumber:
    return min(numbers, key=lambda n: (_calls(n, counts), n.spam_score, n.id))


def _weighted(
    numbers: Sequence[PhoneNumber], state: RotationState, counts: Mapping[int, int],
    rng: random.Random,
) -> PhoneNumber:
    ordered = sorted(numbers, key=lambda n: n.id)
    if len(ordered) == 1:
        return ordered[0]
    total = sum(n.weight for n in ordered)
    if total == 0:
        return ordered[rng.randrange(len(ordered))]
    point = rng.randrange(total)
    for number in ordered:
        if point < number.weight:
            return number
        point -= number.weight
    raise AssertionError("unreachable: point is below the total weight")


_CHOOSERS: Final[Mapping[RotationStrategy, _Chooser]] = {
    RotationStrategy.ROUND_ROBIN: _round_robin,
    RotationStrategy.LOWEST_SPAM: _lowest_spam,
    RotationStrategy.LEAST_USED_TODAY: _least_used_today,
    RotationStrategy.WEIGHTED: _weighted,
}


def choose_number(
    numbers: Iterable[PhoneNumber],
    settings: RotationSettings,
    state: RotationState,
    *,
    callee: str,
    rng: random.Random,
    calls_today: Mapping[int, int] | None = None,
) -> Pick:
    """Pick the caller-ID number for a call to ``callee`` (E.164).

    Only ``eligible`` numbers are considered; raises ``NoNumberAvailable`` with the
    human reason when there is none. Strategies:

    - ROUND_ROBIN: the lowest id above ``state.last_number_id``, wrapping to the lowest.
    - LOWEST_SPAM: lowest spam score; ties to fewer calls today, then lower id.
    - LEAST_USED_TODAY: fewest calls today; ties to lower spam score, then lower id.
    - WEIGHTED: random, proportional to ``weight`` (drawn from ``rng``); zero-weight
      numbers are used only when every weight is zero, then uniformly.
    - LOCAL_PRESENCE: the numbers sharing the callee's area code, else (NANP) its state
      or province, else its country; ``settings.fallback`` chooses within that group,
      or among all numbers when none is local.

    The result is deterministic for a given ``rng`` state.
    """
    counts = calls_today or {}
    candidates, reason = eligible(numbers, settings, calls_today=counts)
    if reason is not None:
        raise NoNumberAvailable(reason)
    strategy = settings.strategy
    if strategy is RotationStrategy.LOCAL_PRESENCE:
        local = _local_group(candidates, callee)
        if local:
            candidates = local
        else:
            strategy = settings.fallback
        chooser = _CHOOSERS[settings.fallback]
    else:
        chooser = _CHOOSERS[strategy]
    number = chooser(candidates, state, counts, rng)
    return Pick(number=number, state=RotationState(last_number_id=number.id),
                strategy_used=strategy)


def _local_group(numbers: Sequence[PhoneNumber], callee: str) -> list[PhoneNumber]:
    """The numbers most local to ``callee``: same area, else state, else country."""
    area = phones.area_key(callee)
    same_area = [n for n in numbers if phones.area_key(n.e164) == area]
    if same_area:
        return same_area
    state = _nanp_state(callee)
    if state is not None:
        same_state = [n for n in numbers if _nanp_state(n.e164) == state]
        if same_state:
            return same_state
    country = phones.region_of(callee)
    if country is None:
        return []
    return [n for n in numbers if phones.region_of(n.e164) == country]


# Geocoder descriptions of NANP area codes are either "City, ST" or the full state or
# province name (phonenumbers geodata, English); these names map to postal codes.
_STATE_NAMES: Final[Mapping[str, str]] = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL",
    "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN",
    "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME",
    "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN",
    "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE",
    "Nevada": "NV", "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM",
    "New York": "NY", "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH",
    "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA", "Rhode Island": "RI",
    "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX",
    "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington State": "WA",
    "Washington": "WA", "Washington D.C.": "DC", "West Virginia": "WV", "Wisconsin": "WI",
    "Wyoming": "WY",
    "Alberta": "AB", "British Columbia": "BC", "British Colombia": "BC", "Manitoba": "MB",
    "New Brunswick": "NB", "Newfoundland and Labrador": "NL", "Ontario": "ON",
    "Quebec": "QC", "Saskatchewan": "SK",
}
_CITY_STATE_RE: Final = re.compile(r",\s*([A-Z]{2})$")


@lru_cache(maxsize=65536)
def _nanp_state(e164: str) -> str | None:
    """The US state or Canadian province of a NANP number, when the geocoder knows it."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except NumberParseException:
        return None
    if parsed.country_code != 1:
        return None
    description = geocoder.description_for_number(parsed, "en").strip()
    match = _CITY_STATE_RE.search(description)
    if match is not None:
        return match.group(1)
    return _STATE_NAMES.get(description)
