"""Goal scoring and validation of analysis answers (SPEC: Goals and analyses).

Goal score of a contact, 0-100:

* points per goal: Achieved 1, Partially Achieved 0.5, Not Achieved 0; Unknown (or no
  result) is left out; archived goals are left out.
* primary judged and some secondary judged: ``50 % primary + 50 % mean(secondaries)``;
  only the primary judged: the primary's points; primary not judged: the mean of the
  judged secondaries.
* None when no goal is judged (or there are no goals).
* ``round(100 * points)`` with halves rounded up, computed exactly (fractions).

Analysis answers from the LLM are checked against their question type by
``validate_answer``; a failed check carries a reason, and the caller stores Unknown with
it. Never a guess: choices must match an option (ignoring case and surrounding space).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Final

from campaigns.errors import InvalidPhoneNumber
from campaigns.phones import normalize
from campaigns.types import Analysis, AnalysisKind, DataPointType, Goal, GoalResult

_POINTS: Final[Mapping[GoalResult, Fraction]] = {
    GoalResult.ACHIEVED: Fraction(1),
    GoalResult.PARTIALLY_ACHIEVED: Fraction(1, 2),
    GoalResult.NOT_ACHIEVED: Fraction(0),
}

MAX_TEXT_ANSWER: Final = 2000
"""Longest accepted Open or text Data Point answer, in characters."""


def goal_points(result: GoalResult) -> Fraction | None:
    """The points of one result (1, 1/2, 0), or None for Unknown."""
    return _POINTS.get(result)


def contact_goal_score(
    results: Mapping[int, GoalResult], goals: Sequence[Goal]
) -> int | None:
    """A contact's goal score 0-100 from its per-goal ``results`` (keyed by goal id).

    See the module docstring for the formula. With several primary goals the first
    non-archived one counts as primary and the rest as secondary.
    """
    live = [g for g in goals if not g.archived]
    primary = next((g for g in live if g.primary), None)
    primary_points: Fraction | None = None
    secondary: list[Fraction] = []
    for goal in live:
        points = goal_points(results.get(goal.id, GoalResult.UNKNOWN))
        if points is None:
            continue
        if goal is primary:
            primary_points = points
        else:
            secondary.append(points)
    mean_secondary = sum(secondary, Fraction(0)) / len(secondary) if secondary else None
    if primary_points is None and mean_secondary is None:
        return None
    if primary_points is None:
        assert mean_secondary is not None
        score = mean_secondary
    elif mean_secondary is None:
        score = primary_points
    else:
        score = (primary_points + mean_secondary) / 2
    return math.floor(score * 100 + Fraction(1, 2))


def combine_goal_results(per_conversation: Sequence[GoalResult]) -> GoalResult:
    """One verdict over all of a contact's conversations: the best judged one.

    Achieved if any achieved, else Partially if any partially, else Not Achieved if any
    not, else Unknown (also for no conversations).
    """
    for result in (
        GoalResult.ACHIEVED,
        GoalResult.PARTIALLY_ACHIEVED,
        GoalResult.NOT_ACHIEVED,
    ):
        if result in per_conversation:
            return result
    return GoalResult.UNKNOWN


# --- analysis answers ---------------------------------------------------------------------

AnswerValue = bool | int | float | str | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AnswerCheck:
    """The result of validating one answer: ``value`` (normalised, JSON-safe) when ``ok``,
    else ``reason`` says why the answer was refused."""

    ok: bool
    value: AnswerValue | None
    reason: str | None

    @classmethod
    def good(cls, value: AnswerValue) -> AnswerCheck:
        """An accepted answer."""
        return cls(True, value, None)

    @classmethod
    def bad(cls, reason: str) -> AnswerCheck:
        """A refused answer."""
        return cls(False, None, reason)


_TRUE: Final = frozenset({"yes", "true"})
_FALSE: Final = frozenset({"no", "false"})
_EMAIL_RE: Final = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
_DATE_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER_RE: Final = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_INT_RE: Final = re.compile(r"^[+-]?\d+$")


def validate_answer(analysis: Analysis, raw: object, *, region: str = "US") -> AnswerCheck:
    """Check ``raw`` against ``analysis``'s type and normalise it.

    Yes/No and boolean: a bool or "yes"/"no"/"true"/"false". Single choice: one option.
    Multiple choice: a non-empty list of distinct options (value in option order). Open
    and text: a non-empty string of at most 2,000 characters. Rating: an integer within
    the scale. Number: a finite int or float (or such text). Date: ``yyyy-mm-dd``.
    Email: ``name@domain.tld``. Phone: a valid number (E.164 value; national forms read
    in ``region``).
    """
    if raw is None:
        return AnswerCheck.bad("no answer")
    match analysis.kind:
        case AnalysisKind.YES_NO:
            return _boolean(raw)
        case AnalysisKind.SINGLE_CHOICE:
            return _single_choice(analysis.options, raw)
        case AnalysisKind.MULTIPLE_CHOICE:
            return _multiple_choice(analysis.options, raw)
        case AnalysisKind.OPEN:
            return _text(raw)
        case AnalysisKind.RATING:
            return _rating(analysis.scale_min, analysis.scale_max, raw)
        case AnalysisKind.DATA_POINT:
            return _data_point(analysis.data_type, raw, region)


def _boolean(raw: object) -> AnswerCheck:
    if isinstance(raw, bool):
        return AnswerCheck.good(raw)
    if isinstance(raw, str):
        word = raw.strip().casefold()
        if word in _TRUE:
            return AnswerCheck.good(True)
        if word in _FALSE:
            return AnswerCheck.good(False)
    return AnswerCheck.bad(f"expected yes or no, got {_show(raw)}")


def _match_option(options: Sequence[str], raw: object) -> str | None:
    if not isinstance(raw, str):
        return None
    wanted = raw.strip().casefold()
    found = [o for o in options if o.strip().casefold() == wanted]
    return found[0] if len(found) == 1 else None


def _single_choice(options: Sequence[str], raw: object) -> AnswerCheck:
    option = _match_option(options, raw)
    if option is None:
        return AnswerCheck.bad(f"{_show(raw)} is not one of the options")
    return AnswerCheck.good(option)


def _multiple_choice(options: Sequence[str], raw: object) -> AnswerCheck:
    if isinstance(raw, str) or not isinstance(raw, (list, tuple)):
        return AnswerCheck.bad(f"expected a list of options, got {_show(raw)}")
    if not raw:
        return AnswerCheck.bad("no option chosen")
    chosen: list[str] = []
    for item in raw:
        option = _match_option(options, item)
        if option is None:
            return AnswerCheck.bad(f"{_show(item)} is not one of the options")
        if option in chosen:
            return AnswerCheck.bad(f"{option!r} is chosen twice")
        chosen.append(option)
    return AnswerCheck.good(tuple(o for o in options if o in chosen))


def _text(raw: object) -> AnswerCheck:
    if not isinstance(raw, str):
        return AnswerCheck.bad(f"expected text, got {_show(raw)}")
    text = raw.strip()
    if not text:
        return AnswerCheck.bad("empty answer")
    if len(text) > MAX_TEXT_ANSWER:
        return AnswerCheck.bad(f"answer is longer than {MAX_TEXT_ANSWER} characters")
    return AnswerCheck.good(text)


def _integer(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and _INT_RE.match(raw.strip()):
        return int(raw.strip())
    return None


def _rating(low: int, high: int, raw: object) -> AnswerCheck:
    value = _integer(raw)
    if value is None:
        return AnswerCheck.bad(f"expected a whole number, got {_show(raw)}")
    if not low <= value <= high:
        return AnswerCheck.bad(f"{value} is outside the scale {low}..{high}")
    return AnswerCheck.good(value)


def _number(raw: object) -> AnswerCheck:
    whole = _integer(raw)
    if whole is not None and not isinstance(raw, float):
        return AnswerCheck.good(whole)
    value: float | None = None
    if isinstance(raw, float):
        value = raw
    elif isinstance(raw, str) and _NUMBER_RE.match(raw.strip()):
        value = float(raw.strip())
    if value is None or not math.isfinite(value):
        return AnswerCheck.bad(f"expected a number, got {_show(raw)}")
    return AnswerCheck.good(value)


def _date(raw: object) -> AnswerCheck:
    text = raw.strip() if isinstance(raw, str) else ""
    if _DATE_RE.match(text):
        try:
            return AnswerCheck.good(date.fromisoformat(text).isoformat())
        except ValueError:
            pass
    return AnswerCheck.bad(f"expected a date as yyyy-mm-dd, got {_show(raw)}")


def _email(raw: object) -> AnswerCheck:
    text = raw.strip() if isinstance(raw, str) else ""
    if len(text) <= 254 and _EMAIL_RE.match(text):
        return AnswerCheck.good(text)
    return AnswerCheck.bad(f"expected an email address, got {_show(raw)}")


def _phone(raw: object, region: str) -> AnswerCheck:
    if not isinstance(raw, str):
        return AnswerCheck.bad(f"expected a phone number, got {_show(raw)}")
    try:
        return AnswerCheck.good(normalize(raw, region))
    except InvalidPhoneNumber as exc:
        return AnswerCheck.bad(exc.reason)


def _data_point(kind: DataPointType, raw: object, region: str) -> AnswerCheck:
    match kind:
        case DataPointType.TEXT:
            return _text(raw)
        case DataPointType.NUMBER:
            return _number(raw)
        case DataPointType.DATE:
            return _date(raw)
        case DataPointType.BOOLEAN:
            return _boolean(raw)
        case DataPointType.EMAIL:
            return _email(raw)
        case DataPointType.PHONE:
            return _phone(raw, region)


def _show(raw: object) -> str:
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."
