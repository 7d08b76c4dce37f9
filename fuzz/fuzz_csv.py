"""atheris harness: the contact importer on hostile bytes (see fuzz/README.md).

    .venv/bin/python fuzz/fuzz_csv.py -atheris_runs=100000
"""

from __future__ import annotations

import sys

import atheris
from _common import check_reason

with atheris.instrument_imports(include=["campaigns"]):
    from campaigns import phones
    from campaigns.importing import (
        MAX_NAME_CHARS,
        DuplicateRow,
        ImportFileError,
        ImportRow,
        ImportTooLarge,
        RowError,
        iter_contacts_csv,
        parse_contacts_csv,
    )

MAX_BYTES = 64 * 1024
HEADERS = [b"phone,name,tags,priority,timezone,country,notes\n", b"name;Phone Number;tz\r\n",
           b"\xef\xbb\xbfsep=\t\nmobile\tfirst\tlast\n", b"", b"phone\r"]
SEPARATORS = (b"\r\n", b"\r", b"\n")


def _input(data: bytes) -> bytes:
    """Half the runs take the bytes as they are; half put a real header in front."""
    if not data or data[0] % 2 == 0:
        return data[1:]
    return HEADERS[data[0] // 2 % len(HEADERS)] + data[1:]


def test_one_input(data: bytes) -> None:
    """One file: only the documented errors, and every record accounted for once."""
    content = _input(data)
    try:
        items = list(iter_contacts_csv(content, max_bytes=MAX_BYTES))
        parsed = parse_contacts_csv(content, max_bytes=MAX_BYTES)
    except (ImportFileError, ImportTooLarge) as exc:
        check_reason(exc.reason)
        return
    text = content.decode(parsed.encoding)
    physical = text.count("\r\n")
    physical = text.count("\r") + text.count("\n") - physical + 1
    lines = [item.line for item in items]
    if lines != sorted(set(lines)):
        raise AssertionError(f"records reported twice or out of order: {lines[:20]}")
    if lines and not 1 <= lines[0] <= lines[-1] <= physical:
        raise AssertionError(f"line outside the file: {lines[0]}..{lines[-1]} of {physical}")
    if parsed.total_records != len(items) or parsed.total_records != (
            len(parsed.rows) + len(parsed.errors) + parsed.duplicates):
        raise AssertionError("counts do not add up")
    first: dict[str, int] = {}
    for item in items:
        if isinstance(item, RowError):
            check_reason(item.reason)
        elif isinstance(item, ImportRow):
            if not phones.is_e164(item.phone) or item.phone in first:
                raise AssertionError(f"bad or repeated phone {item.phone!r}")
            if len(item.name) > MAX_NAME_CHARS:
                raise AssertionError("name longer than the database keeps")
            first[item.phone] = item.line
        elif isinstance(item, DuplicateRow) and first.get(item.phone) != item.first_line:
            raise AssertionError(f"duplicate of an unknown row: {item}")


def main() -> None:
    """Run libFuzzer with the command-line flags."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
