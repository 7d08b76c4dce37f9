"""atheris harness: phone normalisation and masking on hostile text (see fuzz/README.md).

    .venv/bin/python fuzz/fuzz_phones.py -atheris_runs=100000
"""

from __future__ import annotations

import re
import sys

import atheris
from _common import check_reason

with atheris.instrument_imports(include=["campaigns", "phonenumbers"]):
    from campaigns import phones
    from campaigns.errors import InvalidPhoneNumber
    from campaigns.importing import _normalize

# libphonenumber knows national numbers past E.164's 15 digits (up to 17 come out).
E164 = re.compile(r"\+[1-9][0-9]{6,16}")
REGIONS = ["US", "GB", "DE", "IN", "BR", "JP", "us", "", None, "ZZ", "001"]
PREFIXES = ["", "+", "00", "011", "tel:", "+1 ", "+44 ", "０", "\u00a0"]


def _normalized(raw: str, region: str | None) -> str | InvalidPhoneNumber:
    try:
        return phones.normalize(raw, region)
    except InvalidPhoneNumber as exc:
        check_reason(exc.reason)
        return exc


def test_one_input(data: bytes) -> None:
    """One text and region: stable E.164 or a clear error; fast path agrees; mask is safe."""
    fdp = atheris.FuzzedDataProvider(data)
    region = fdp.PickValueInList(REGIONS)
    raw = fdp.PickValueInList(PREFIXES) + fdp.ConsumeUnicodeNoSurrogates(
        fdp.ConsumeIntInRange(0, 80))
    result = _normalized(raw, region)
    if isinstance(result, str):
        if not E164.fullmatch(result) or phones.normalize(result, "GB") != result:
            raise AssertionError(f"{raw!r} -> {result!r} is not stable E.164")
        masked = phones.mask(result)
        if masked[2:-2] != "*" * (len(result) - 4):
            raise AssertionError(f"mask shows too much: {masked!r}")
    if region and len(region) == 2 and region.isupper():
        try:
            fast: tuple[str, str | None] = _normalize(raw, region)
        except InvalidPhoneNumber as exc:
            fast = ("error", exc.reason)
        slow = (("error", result.reason) if isinstance(result, InvalidPhoneNumber)
                else (result, phones.region_of(result)))
        if fast != slow:
            raise AssertionError(f"importer {fast} != phones {slow} for {raw!r} in {region}")
    masked = phones.mask(raw)
    if len(masked) != len(raw) or (len(raw) > 5 and masked.count("*") < len(raw) - 4):
        raise AssertionError(f"mask({raw!r}) = {masked!r}")
    phones.is_e164(raw)
    phones.area_key(raw)
    phones.timezones_of(raw)


def main() -> None:
    """Run libFuzzer with the command-line flags."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
