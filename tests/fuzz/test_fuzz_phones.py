"""Hostile phone numbers: normalisation gives a stable E.164 or a clear ``InvalidPhoneNumber``.

Garbage is built from the pieces people and spreadsheets really produce (prefixes,
digits from every script, separators, extensions, ``tel:`` URIs, emojis, ``None``-like
words, invisible characters) and from plain random text; every public function of
``campaigns.phones`` must cope, and ``mask`` must never show more than the country code
and the last two digits.
"""

from __future__ import annotations

import re

import phonenumbers
from hypothesis import example, given
from hypothesis import strategies as st

from campaigns import phones
from campaigns.errors import InvalidPhoneNumber
from campaigns.importing import _normalize
from tests.fuzz import fuzz

# E.164 caps a number at 15 digits, but libphonenumber (our authority on validity) knows
# longer national numbers, e.g. German +49 21000000000000: up to 17 digits can come out.
E164 = re.compile(r"\+[1-9][0-9]{6,16}")
REGIONS = ["US", "GB", "DE", "IN", "us", "", None, "ZZ", "XX", "001", "\x00", "ß"]

# 0-9 in several scripts: ASCII, fullwidth, Arabic-Indic, Devanagari, mathematical bold.
_DIGIT_SETS = ["0123456789", "０１２３４５６７８９", "٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९",
               "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗"]
_PREFIXES = ["", "+", "+1", "+44", "00", "011", "+0", "00 ", "tel:", "tel:+", "++", "＋",
             "(", " ", "\u00a0", "\u200b", "\ufeff", "'", "=", "+-", "sip:"]
_SEPARATORS = ["", " ", "-", ".", "/", "(", ")", "\u00a0", "\u2011", "\t", "\u3000"]
_SUFFIXES = ["", " ext. 12", ";ext=5", " x3", "#", "*", " 📞", "😀", "\n", " \u200d",
             ",,", ";", " ", "p123", "\u0301"]
_JUNK = ["None", "null", "NULL", "nil", "NaN", "undefined", "N/A", "-", "#N/A", "TRUE",
         "0", "+", "1e10", "12345678901234567890", "ninja", "🙂" * 3, "\u202e1202555010"]


@st.composite
def phone_like(draw: st.DrawFn) -> str:
    """Something shaped like a phone number, more or less."""
    digits = draw(st.sampled_from(_DIGIT_SETS))
    groups = draw(st.lists(st.text(st.sampled_from(digits), min_size=1, max_size=5),
                           min_size=1, max_size=6))
    separator = st.sampled_from(_SEPARATORS)
    body = "".join(g + draw(separator) for g in groups)
    return draw(st.sampled_from(_PREFIXES)) + body + draw(st.sampled_from(_SUFFIXES))


def _normalized(raw: str, region: str | None) -> str | InvalidPhoneNumber:
    """``phones.normalize``, or the only exception it may raise (anything else fails)."""
    try:
        return phones.normalize(raw, region)
    except InvalidPhoneNumber as exc:
        return exc


_FORMATS = [phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL,
            phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.RFC3966]
_EXAMPLES = [n for n in (phonenumbers.example_number(r)
                         for r in sorted(phonenumbers.SUPPORTED_REGIONS)) if n is not None]
# libphonenumber's example number of every region, as people write it: (text, its region)
real_numbers = st.tuples(st.sampled_from(_EXAMPLES), st.sampled_from(_FORMATS)).map(
    lambda nf: (phonenumbers.format_number(*nf),
                phonenumbers.region_code_for_number(nf[0])))

raw_phones = st.one_of(
    phone_like(),
    real_numbers.map(lambda pair: pair[0]),
    st.sampled_from(_JUNK),
    st.text(max_size=80),
    st.sampled_from(["2025550123", "+1 202 555 0123", "+44 20 7946 0958"]).map(
        lambda p: p + "\x00"),
)
regions = st.sampled_from(REGIONS)


@fuzz(250)
@given(raw_phones, regions)
@example("  +1 (202) 555-0123 ext. 12 ", "US")
@example("٠٠٤٤٢٠٧٩٤٦٠٩٥٨", "US")
@example("+0", None)
@example("1" * 65, "US")
@example("tel:+1-202-555-0123", "")
def test_normalize_gives_stable_e164_or_a_clear_error(raw: str, region: str | None) -> None:
    e164 = _normalized(raw, region)
    if isinstance(e164, InvalidPhoneNumber):
        assert e164.raw == raw
        assert e164.field == "phone"
        assert e164.reason.strip() and len(e164.reason) <= 80, e164.reason
        assert "\n" not in e164.reason
        assert str(e164) == f"phone: {e164.reason}"
        return
    assert E164.fullmatch(e164), e164
    assert len(e164) <= 20  # the contacts.phone column
    for again in ("US", "GB", None):  # E.164 needs no region, and is its own normal form
        assert phones.normalize(e164, again) == e164
    assert phones.is_e164(e164)
    assert phones.region_of(e164) is not None
    assert phones.area_key(e164).startswith("+")
    assert isinstance(phones.timezones_of(e164), tuple)


@fuzz(150)
@given(raw_phones, st.sampled_from(["US", "GB", "DE", "IN", "FR"]))
def test_the_importers_fast_path_agrees_with_normalize(raw: str, region: str) -> None:
    def via_phones() -> tuple[str, str | None]:
        try:
            e164 = phones.normalize(raw, region)
        except InvalidPhoneNumber as exc:
            return "error", exc.reason
        return e164, phones.region_of(e164)

    try:
        via_import: tuple[str, str | None] = _normalize(raw, region)
    except InvalidPhoneNumber as exc:
        via_import = ("error", exc.reason)
    assert via_import == via_phones()


@fuzz(150)
@given(st.one_of(st.text(max_size=40), raw_phones))
def test_the_helpers_never_raise_on_garbage(text: str) -> None:
    assert isinstance(phones.is_e164(text), bool)
    region = phones.region_of(text)
    assert region is None or isinstance(region, str)
    assert isinstance(phones.timezones_of(text), tuple)
    assert isinstance(phones.area_key(text), str)
    assert not phones.is_e164(text) or E164.fullmatch(text)


@fuzz(150)
@given(st.one_of(st.text(max_size=40), raw_phones))
def test_mask_never_raises_and_keeps_its_shape(text: str) -> None:
    masked = phones.mask(text)
    assert len(masked) == len(text)
    if len(text) <= 5:
        assert masked == "*" * len(text)
    else:
        assert masked[2:-2] == "*" * (len(text) - 4)
        assert masked[:2] == text[:2] and masked[-2:] == text[-2:]


@fuzz(100)
@given(real_numbers)
def test_mask_of_a_real_number_shows_only_the_country_code_and_two_digits(
        number: tuple[str, str]) -> None:
    e164 = phones.normalize(*number)
    masked = phones.mask(e164)
    shown = [(i, ch) for i, ch in enumerate(masked) if ch != "*"]
    assert [i for i, _ in shown] == [0, 1, len(e164) - 2, len(e164) - 1]
    national = e164[1 + len(str(phonenumbers.parse(e164, None).country_code)):]
    # At most two digits of the national number leak (its last two); the rest are starred.
    assert masked.count("*") >= len(national) - 2
    assert masked[-2:] == national[-2:]
