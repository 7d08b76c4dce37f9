"""Phone numbers: E.164 normalisation, callee timezones, masking for logs."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat
from phonenumbers import timezone as pn_timezone

from campaigns.errors import InvalidPhoneNumber

MAX_PHONE_TEXT = 64
_UNKNOWN_TZ = "Etc/Unknown"


def normalize(raw: str, region: str | None = "US") -> str:
    """Return ``raw`` as an E.164 string, using ``region`` for national forms.

    Raises ``InvalidPhoneNumber`` with a reason a person can act on.
    """
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber(raw, "phone number is empty")
    if len(text) > MAX_PHONE_TEXT:
        raise InvalidPhoneNumber(raw, f"phone number is longer than {MAX_PHONE_TEXT} characters")
    try:
        parsed = phonenumbers.parse(text, (region or "US").upper())
    except NumberParseException as exc:
        raise InvalidPhoneNumber(raw, f"not a phone number ({_parse_reason(exc)})") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPhoneNumber(raw, "wrong number of digits for its country")
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(raw, "not a valid number in its country")
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


def is_e164(text: str) -> bool:
    """True when ``text`` is already a valid number in canonical E.164 form."""
    if not text.startswith("+"):
        return False
    try:
        return normalize(text, None) == text
    except InvalidPhoneNumber:
        return False


def _parse_reason(exc: NumberParseException) -> str:
    reasons = {
        NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        NumberParseException.NOT_A_NUMBER: "no digits that form a number",
        NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
        NumberParseException.TOO_SHORT_NSN: "too short",
        NumberParseException.TOO_LONG: "too long",
    }
    return reasons.get(exc.error_type, "unparseable")


@lru_cache(maxsize=65536)
def region_of(e164: str) -> str | None:
    """The ISO country code of an E.164 number, or None when unknown."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except NumberParseException:
        return None
    return phonenumbers.region_code_for_number(parsed)


@lru_cache(maxsize=65536)
def timezones_of(e164: str) -> tuple[str, ...]:
    """Every IANA timezone the number may ring in, from phonenumbers' geocoding data.

    Empty when the library does not know (it says ``Etc/Unknown``). A US number whose
    area code spans two zones yields both; the calling window must hold in all of them.
    """
    try:
        parsed = phonenumbers.parse(e164, None)
    except NumberParseException:
        return ()
    zones = tuple(z for z in pn_timezone.time_zones_for_number(parsed) if z != _UNKNOWN_TZ)
    return zones


def area_key(e164: str) -> str:
    """A locality key for local presence: country code plus geographic area code.

    For NANP numbers this is ``+1`` and the three-digit area code (``+1415``); elsewhere
    the country code and the national destination code when phonenumbers knows one.
    """
    try:
        parsed = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    national = phonenumbers.national_significant_number(parsed)
    ndc_len = phonenumbers.length_of_geographical_area_code(parsed)
    if parsed.country_code == 1:
        ndc_len = 3
    return f"+{parsed.country_code}{national[:ndc_len]}"


def mask(e164: str) -> str:
    """Mask a number for logs: ``+`` and the first digit, stars, then the last two digits.

    The first digit is the whole country code for ``+1`` (NANP) and ``+7``; elsewhere it
    is the numbering zone (``+4…`` is Europe), which is all a log needs. Showing the whole
    code would take a parse, and log filters mask text that may not be a valid number.
    The result is as long as the input; five characters or fewer are all stars.

    >>> mask("+14155550123")
    '+1********23'
    >>> mask("+442079460958")
    '+4*********58'
    >>> mask("+1234")
    '*****'
    """
    if len(e164) <= 5:
        return "*" * len(e164)
    return e164[:2] + "*" * (len(e164) - 4) + e164[-2:]
