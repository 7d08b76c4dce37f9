"""CSV contact import: bytes in, validated rows and per-line errors out (SPEC: Contacts).

Pure: no I/O, no clock. The caller reads the file (at most ``MAX_IMPORT_BYTES``) and hands
the bytes over; storage inserts the rows in one transaction, so nothing is half-imported.

Decisions a user can notice:

* **Encoding.** UTF-8, with or without a BOM; UTF-16 only when it starts with a BOM.
  Anything else that is not valid UTF-8 is read as Windows-1252 (what Excel writes on
  Windows) and ``ParsedImport.warnings`` says so. Bytes that are neither (and NUL
  bytes, and known binary signatures such as a ``.xlsx`` zip) raise ``ImportFileError``.
* **Delimiter.** Comma, semicolon or tab, sniffed from the header line (the most frequent
  one outside quotes; comma on a tie). An Excel ``sep=;`` first line is honoured.
* **Line numbers** are 1-based physical lines of the file; a record that spans lines (a
  quoted field with newlines) is reported at the line it starts on. Blank lines, and
  rows whose fields are all blank, are skipped silently and not counted.
* **Columns.** Headers match case-, space-, punctuation-insensitively (``Phone Number``,
  ``phone_number`` and ``PHONENUMBER`` are one). When two columns mean the same thing the
  first wins and the other is kept as an attribute. Unknown columns become attributes in
  file order; blank values are dropped.
* **Shape.** A row with fewer fields than the header is padded with blanks; a row with
  more *non-blank* fields is an error (trailing empty fields, as Excel writes them, are
  fine). Fields longer than ``MAX_FIELD_CHARS``, and names longer than ``MAX_NAME_CHARS``
  (what the database keeps), make the row an error. Values echoed in a reason are cut
  to ``_SHOWN_CHARS``.
* **Phones** become E.164 by ``campaigns.phones`` rules; national forms use the row's
  ``country`` column, else ``default_region``. ``ImportRow.country`` is the region of
  the number itself (``+44…`` in a US file is ``GB``).
* **Duplicates.** The first valid row for an E.164 number wins; later valid rows with
  the same number are counted as duplicates, not errors. A row with an error never
  claims its number.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers

from campaigns import phones
from campaigns.errors import InvalidPhoneNumber, ValidationError
from campaigns.types import Priority

MAX_IMPORT_BYTES: Final = 5 * 1024 * 1024
MAX_FIELD_CHARS: Final = 10_000
MAX_NAME_CHARS: Final = 300  # the contacts.name column (storage.models.Contact)

__all__ = [
    "MAX_FIELD_CHARS",
    "MAX_IMPORT_BYTES",
    "MAX_NAME_CHARS",
    "DuplicateRow",
    "ImportFileError",
    "ImportItem",
    "ImportRow",
    "ImportTooLarge",
    "ParsedImport",
    "RowError",
    "iter_contacts_csv",
    "parse_contacts_csv",
]


class ImportTooLarge(ValidationError):
    """The file is larger than the import limit."""

    def __init__(self, size: int, max_bytes: int) -> None:
        super().__init__("file", f"file is {size:,} bytes; the limit is {max_bytes:,} bytes")
        self.size = size
        self.max_bytes = max_bytes


class ImportFileError(ValidationError):
    """The file as a whole cannot be imported (not CSV text, no header, no phone column)."""

    def __init__(self, reason: str) -> None:
        super().__init__("file", reason)


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One valid contact row; ``phone`` is E.164 and ``country`` the number's region."""

    line: int
    phone: str
    name: str = ""
    tags: tuple[str, ...] = ()
    priority: Priority = Priority.NORMAL
    timezone: str | None = None
    country: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that was not imported and why (several problems are joined with ``; ``)."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class DuplicateRow:
    """A valid row whose number already appeared on ``first_line``; it is not imported."""

    line: int
    phone: str
    first_line: int


ImportItem = ImportRow | RowError | DuplicateRow


@dataclass(frozen=True, slots=True)
class ParsedImport:
    """The whole file parsed: rows to insert, row errors, and counts."""

    rows: tuple[ImportRow, ...]
    errors: tuple[RowError, ...]
    duplicates: int
    total_records: int
    encoding: str
    delimiter: str = ","
    warnings: tuple[str, ...] = ()


# --- columns ---------------------------------------------------------------------------


class _Role(Enum):
    PHONE = "phone"
    NAME = "name"
    FIRST_NAME = "first name"
    LAST_NAME = "last name"
    TAGS = "tags"
    PRIORITY = "priority"
    TIMEZONE = "timezone"
    COUNTRY = "country"


_ALIASES: Final[dict[str, _Role]] = {
    alias: role
    for role, aliases in (
        (_Role.PHONE, ("phone", "phonenumber", "phoneno", "number", "mobile", "mobilenumber",
                       "mobilephone", "cell", "cellphone", "tel", "telephone", "msisdn",
                       "e164")),
        (_Role.NAME, ("name", "fullname", "contact", "contactname")),
        (_Role.FIRST_NAME, ("firstname", "first", "givenname", "forename")),
        (_Role.LAST_NAME, ("lastname", "last", "surname", "familyname")),
        (_Role.TAGS, ("tags", "tag", "labels", "label")),
        (_Role.PRIORITY, ("priority",)),
        (_Role.TIMEZONE, ("timezone", "tz")),
        (_Role.COUNTRY, ("country", "countrycode", "region")),
    )
    for alias in aliases
}

_PRIORITIES: Final[dict[str, Priority]] = {
    "": Priority.NORMAL,
    "high": Priority.HIGH, "h": Priority.HIGH, "1": Priority.HIGH, "urgent": Priority.HIGH,
    "normal": Priority.NORMAL, "n": Priority.NORMAL, "2": Priority.NORMAL,
    "medium": Priority.NORMAL,
    "low": Priority.LOW, "l": Priority.LOW, "3": Priority.LOW,
}

_COUNTRY_ALIASES: Final = {"UK": "GB"}
_TAG_SPLIT: Final = re.compile(r"[,;|]")
_QUOTED: Final = re.compile(r'"[^"]*"')
_SEP_LINE: Final = re.compile(r"^sep=(.)\s*$")
_DELIMITERS: Final = (",", ";", "\t")
_EMPTY: Final = "the file is empty; the first line must be a header with a phone column"
_BINARY_SIGNATURES: Final = (
    (b"PK\x03\x04", "an Excel workbook or zip archive; save it as CSV (UTF-8) first"),
    (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) workbook; save it as CSV (UTF-8) first"),
    (b"%PDF", "a PDF document, not a CSV file"),
    (b"\x89PNG", "a PNG image, not a CSV file"),
    (b"\xff\xd8\xff", "a JPEG image, not a CSV file"),
    (b"GIF8", "a GIF image, not a CSV file"),
)
# C0 controls other than tab, LF, VT, FF, CR and the DOS end-of-file mark.
_CONTROL: Final = re.compile(r"[\x00-\x08\x0e-\x19\x1b-\x1f]")
_SHOWN_CHARS: Final = 40
# The csv module's field limit is process-wide (131,072 by default); a field past it stops
# the reader in the middle of a record, and the rest of a quoted field is then read as
# new rows that can swallow valid ones. Our own cap is MAX_FIELD_CHARS, checked per row.
_CSV_FIELD_LIMIT: Final = 2**31 - 1


def _shown(value: str) -> str:
    """``repr(value)``, cut to ``_SHOWN_CHARS`` so a reason stays one readable line."""
    if len(value) <= _SHOWN_CHARS:
        return repr(value)
    return repr(value[:_SHOWN_CHARS]) + "…"


def _key(header: str) -> str:
    return "".join(ch for ch in header.casefold() if ch.isalnum())


@dataclass(frozen=True, slots=True)
class _Columns:
    """Where each role lives in the header; ``attributes`` are (index, header) pairs.

    ``roles`` maps every role; an absent one maps to ``len(names)``, one past the last
    column, where ``_row`` keeps a blank cell.
    """

    names: tuple[str, ...]
    roles: dict[_Role, int]
    attributes: tuple[tuple[int, str], ...]


def _columns(header: Sequence[str]) -> _Columns:
    names = tuple(h.strip() or f"column {i + 1}" for i, h in enumerate(header))
    roles: dict[_Role, int] = {}
    attributes: list[tuple[int, str]] = []
    for index, name in enumerate(names):
        role = _ALIASES.get(_key(name))
        if role is not None and role not in roles:
            roles[role] = index
        else:
            attributes.append((index, name))
    if _Role.PHONE not in roles:
        found = ", ".join(_shown(n) for n in names[:10])
        raise ImportFileError(
            f"no phone column in the header (found {found}); name one column 'phone' "
            "(or phone number, mobile, cell, tel, msisdn, e164)")
    for absent in _Role:
        roles.setdefault(absent, len(names))
    return _Columns(names, roles, tuple(attributes))


# --- decoding --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Text:
    text: str
    encoding: str
    warnings: tuple[str, ...]


def _decode(data: bytes) -> _Text:
    if data.startswith(codecs.BOM_UTF8):
        return _Text(_strict(data, "utf-8-sig"), "utf-8-sig", ())
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _Text(_strict(data, "utf-16"), "utf-16", ())
    for signature, what in _BINARY_SIGNATURES:
        if data.startswith(signature):
            raise ImportFileError(f"this file is {what}")
    if b"\x00" in data:
        if _looks_utf16(data):
            raise ImportFileError("this looks like UTF-16 text without a byte-order mark; "
                                  "save it as CSV UTF-8")
        raise ImportFileError("this is a binary file (it contains NUL bytes), not CSV text")
    try:
        return _Text(data.decode("utf-8"), "utf-8", ())
    except UnicodeDecodeError as utf8_error:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise ImportFileError(
                f"the file is not UTF-8 text (bad byte at offset {utf8_error.start}); "
                "save it as CSV UTF-8") from utf8_error
    return _Text(text, "cp1252", (
        "the file is not UTF-8; it was read as Windows-1252, check accented names "
        "(save as 'CSV UTF-8' to be sure)",))


def _looks_utf16(data: bytes) -> bool:
    """Mostly-ASCII UTF-16 without a BOM: every other byte of the start is NUL."""
    sample = data[:512]
    even, odd = sample[0::2], sample[1::2]
    if len(odd) < 2:
        return False
    return any(half.count(0) == len(half) and other.count(0) < len(other) // 4
               for half, other in ((even, odd), (odd, even)))


def _strict(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"the file starts with a {encoding.upper()} byte-order mark but is not valid "
            f"{encoding.upper()} (bad byte at offset {exc.start})") from exc


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise ImportFileError("this is a binary file (it contains NUL characters), not CSV text")
    sample = text[:4096]
    controls = len(_CONTROL.findall(sample))
    if controls >= 8 and controls * 100 > len(sample):
        raise ImportFileError("this looks like a binary file (control characters), not CSV text")


def _sniff_delimiter(line: str) -> str:
    unquoted = _QUOTED.sub("", line)
    counts = [(unquoted.count(d), -rank, d) for rank, d in enumerate(_DELIMITERS)]
    best = max(counts)
    return best[2] if best[0] else ","


# --- rows ------------------------------------------------------------------------------


def _csv_error_reason(exc: csv.Error) -> str:
    message = str(exc)
    if "field limit" in message:
        return f"a field is longer than {MAX_FIELD_CHARS:,} characters"
    if "unexpected end of data" in message:
        return 'a quoted field is never closed (missing ")'
    if "expected after" in message:
        return 'text follows a closing quote (write "" for a quote inside a quoted field)'
    return f"malformed CSV ({message})"


@cache
def _zone_names() -> dict[str, str]:
    """Case-folded IANA names to their canonical spelling (tz data is read once)."""
    return {name.casefold(): name for name in available_timezones()}


def _timezone(text: str) -> str | None:
    name = _zone_names().get(text.strip().casefold())
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
    return name


def _region(text: str) -> str | None:
    code = text.strip().upper()
    code = _COUNTRY_ALIASES.get(code, code)
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


def _normalize(raw: str, region: str) -> tuple[str, str | None]:
    """``phones.normalize(raw, region)`` and ``phones.region_of`` of the result, parsed once.

    Same steps as ``phones.normalize`` (``is_valid_number`` *is* ``region_code_for_number``
    then ``is_valid_number_for_region``), at about 60 % of the cost of calling both: the
    parse dominates a large import. Anything this path rejects goes through
    ``phones.normalize`` so the error and its reason are that function's own.
    """
    text = raw.strip()
    if text and len(text) <= phones.MAX_PHONE_TEXT:
        try:
            parsed = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            pass
        else:
            if phonenumbers.is_possible_number(parsed):
                number_region = phonenumbers.region_code_for_number(parsed)
                if number_region is not None and phonenumbers.is_valid_number_for_region(
                        parsed, number_region):
                    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
                    return e164, number_region
    e164 = phones.normalize(raw, region)
    return e164, phones.region_of(e164)


@dataclass(frozen=True, slots=True)
class _Prepared:
    text: _Text
    delimiter: str
    skip_lines: int
    default_region: str


def _prepare(data: bytes, default_region: str, max_bytes: int) -> _Prepared:
    if len(data) > max_bytes:
        raise ImportTooLarge(len(data), max_bytes)
    region = _region(default_region)
    if region is None:
        raise ValidationError("region", f"{default_region!r} is not a two-letter country code")
    decoded = _decode(data)
    _check_text(decoded.text)
    stream = io.StringIO(decoded.text, newline="")
    read = 0
    for first in stream:
        read += 1
        if first.strip():
            break
    else:
        raise ImportFileError(_EMPTY)
    sep = _SEP_LINE.match(first)
    if sep is not None and sep.group(1) in _DELIMITERS:
        return _Prepared(decoded, sep.group(1), read, region)
    return _Prepared(decoded, _sniff_delimiter(first), 0, region)


def _items(prepared: _Prepared) -> Iterator[ImportItem]:
    stream = io.StringIO(prepared.text.text, newline="")
    for _ in range(prepared.skip_lines):
        stream.readline()
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    reader = csv.reader(stream, delimiter=prepared.delimiter, strict=True)
    consumed = prepared.skip_lines
    columns: _Columns | None = None
    seen: dict[str, int] = {}
    while True:
        line = consumed + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            consumed = prepared.skip_lines + reader.line_num
            if columns is None:
                raise ImportFileError(
                    f"the header on line {line} is not valid CSV: {_csv_error_reason(exc)}"
                ) from exc
            yield RowError(line, _csv_error_reason(exc))
            continue
        consumed = prepared.skip_lines + reader.line_num
        if not any(field.strip() for field in record):
            continue
        if columns is None:
            columns = _columns(record)
            continue
        item = _row(line, record, columns, prepared.default_region)
        if isinstance(item, ImportRow):
            first_line = seen.setdefault(item.phone, line)
            if first_line != line:
                item = DuplicateRow(line, item.phone, first_line)
        yield item
    if columns is None:
        raise ImportFileError(_EMPTY)


def _row(line: int, record: list[str], columns: _Columns, default_region: str) -> ImportItem:
    width = len(columns.names)
    cells = [field.strip() for field in record]
    if len(cells) > width:
        if any(cells[width:]):
            return RowError(line, f"row has {len(record)} fields, header has {width}")
        del cells[width:]
    # Blank surplus fields were dropped above, however long their whitespace.
    if max(map(len, record[:width])) > MAX_FIELD_CHARS:
        index = next(i for i, f in enumerate(record) if len(f) > MAX_FIELD_CHARS)
        return RowError(line, f"field {_shown(columns.names[index])} is longer than "
                              f"{MAX_FIELD_CHARS:,} characters")
    # Pad to the header's width plus one blank cell, where absent roles point.
    cells.extend([""] * (width + 1 - len(cells)))
    roles = columns.roles

    problems: list[str] = []
    country_text = cells[roles[_Role.COUNTRY]]
    region = _region(country_text) if country_text else default_region
    phone, number_region = "", None
    if region is None:
        # Without its country a national number cannot be judged: report only that.
        problems.append(f"country {_shown(country_text)} is not a two-letter country code")
    else:
        try:
            phone, number_region = _normalize(cells[roles[_Role.PHONE]], region)
        except InvalidPhoneNumber as exc:
            problems.append(exc.reason)
    priority_text = cells[roles[_Role.PRIORITY]]
    priority = _PRIORITIES.get(priority_text.casefold())
    if priority is None:
        problems.append(f"priority {_shown(priority_text)} is not high, normal or low")
    zone_text = cells[roles[_Role.TIMEZONE]]
    zone = _timezone(zone_text) if zone_text else None
    if zone_text and zone is None:
        problems.append(f"timezone {_shown(zone_text)} is not an IANA timezone like "
                        "America/New_York")
    name = cells[roles[_Role.NAME]] or " ".join(
        part for part in (cells[roles[_Role.FIRST_NAME]], cells[roles[_Role.LAST_NAME]])
        if part)
    if len(name) > MAX_NAME_CHARS:
        problems.append(f"name is {len(name):,} characters; the limit is {MAX_NAME_CHARS}")
    if problems or priority is None:
        return RowError(line, "; ".join(problems))
    tags_text = cells[roles[_Role.TAGS]]
    tags = tuple(dict.fromkeys(
        tag for tag in (t.strip() for t in _TAG_SPLIT.split(tags_text)) if tag)
    ) if tags_text else ()
    attributes = tuple(
        (header, cells[index]) for index, header in columns.attributes if cells[index])
    return ImportRow(line=line, phone=phone, name=name, tags=tags, priority=priority,
                     timezone=zone, country=number_region, attributes=attributes)


# --- public API ------------------------------------------------------------------------


def iter_contacts_csv(data: bytes, *, default_region: str = "US",
                      max_bytes: int = MAX_IMPORT_BYTES) -> Iterator[ImportItem]:
    """Yield an ``ImportRow``, ``RowError`` or ``DuplicateRow`` per data record, in order.

    Size, region, encoding and delimiter are checked when called (``ImportTooLarge``,
    ``ValidationError``, ``ImportFileError``); the header is checked on the first
    ``next()``, which raises ``ImportFileError`` when there is no header or no phone
    column. Each item's ``line`` tells how far the parse has come (for progress, against
    the file's line count).
    """
    return _items(_prepare(data, default_region, max_bytes))


def parse_contacts_csv(data: bytes, *, default_region: str = "US",
                       max_bytes: int = MAX_IMPORT_BYTES) -> ParsedImport:
    """Parse a whole CSV contact file; raises like ``iter_contacts_csv``."""
    prepared = _prepare(data, default_region, max_bytes)
    rows: list[ImportRow] = []
    errors: list[RowError] = []
    duplicates = 0
    for item in _items(prepared):
        if isinstance(item, ImportRow):
            rows.append(item)
        elif isinstance(item, RowError):
            errors.append(item)
        else:
            duplicates += 1
    return ParsedImport(rows=tuple(rows), errors=tuple(errors), duplicates=duplicates,
                        total_records=len(rows) + len(errors) + duplicates,
                        encoding=prepared.text.encoding, delimiter=prepared.delimiter,
                        warnings=prepared.text.warnings)
