"""CSV contact import: encodings, delimiters, columns, line numbers, limits, robustness."""

from __future__ import annotations

import codecs
import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns import phones
from campaigns.errors import InvalidPhoneNumber, ValidationError
from campaigns.importing import (
    MAX_FIELD_CHARS,
    MAX_IMPORT_BYTES,
    DuplicateRow,
    ImportFileError,
    ImportRow,
    ImportTooLarge,
    ParsedImport,
    RowError,
    _normalize,
    iter_contacts_csv,
    parse_contacts_csv,
)
from campaigns.types import Priority


def parse(text: str, default_region: str = "US") -> ParsedImport:
    return parse_contacts_csv(text.encode("utf-8"), default_region=default_region)


def error_lines(result: ParsedImport) -> list[int]:
    return [e.line for e in result.errors]


# --- encodings and delimiters ----------------------------------------------------------


def test_plain_utf8_file_is_imported() -> None:
    result = parse("name,phone\r\nAda Lovelace,+1 202 555 0101\r\nAlan Turing,(415) 555-0102\r\n")
    assert result.encoding == "utf-8"
    assert result.warnings == ()
    assert [(r.line, r.name, r.phone, r.country) for r in result.rows] == [
        (2, "Ada Lovelace", "+12025550101", "US"),
        (3, "Alan Turing", "+14155550102", "US"),
    ]
    assert result.errors == ()
    assert result.total_records == 2


def test_utf8_bom_is_not_part_of_the_first_header() -> None:
    data = codecs.BOM_UTF8 + "phone,name\n+12025550101,Zoë\n".encode()
    result = parse_contacts_csv(data)
    assert result.encoding == "utf-8-sig"
    assert [(r.phone, r.name) for r in result.rows] == [("+12025550101", "Zoë")]


def test_utf16_with_bom_is_read() -> None:
    data = "phone;name\r\n+12025550101;Zoë\r\n".encode("utf-16")
    result = parse_contacts_csv(data)
    assert result.encoding == "utf-16"
    assert [(r.phone, r.name) for r in result.rows] == [("+12025550101", "Zoë")]


def test_windows_1252_file_is_read_with_a_warning() -> None:
    data = "name,phone\nJosé Müller,+12025550101\n".encode("cp1252")
    result = parse_contacts_csv(data)
    assert result.encoding == "cp1252"
    assert result.rows[0].name == "José Müller"
    assert len(result.warnings) == 1
    assert "UTF-8" in result.warnings[0]


def test_semicolon_delimiter_is_sniffed() -> None:
    result = parse('name;phone;tags\n"Smith, Ada";+12025550101;a,b\n')
    assert result.delimiter == ";"
    assert result.rows[0].name == "Smith, Ada"
    assert result.rows[0].tags == ("a", "b")


def test_tab_delimiter_is_sniffed() -> None:
    result = parse("name\tphone\nAda\t+12025550101\n")
    assert result.delimiter == "\t"
    assert result.rows[0].phone == "+12025550101"


def test_excel_sep_line_sets_the_delimiter_and_counts_as_a_line() -> None:
    result = parse("sep=;\nname;phone\nAda;+12025550101\nBob;nope\n")
    assert result.delimiter == ";"
    assert result.rows[0].line == 3
    assert error_lines(result) == [4]


def test_single_column_file_works() -> None:
    result = parse("Phone\n+12025550101\n+14155550102\n")
    assert [r.phone for r in result.rows] == ["+12025550101", "+14155550102"]


# --- columns ---------------------------------------------------------------------------


@pytest.mark.parametrize("header", [
    "phone", "Phone Number", "phone_number", "PHONENUMBER", "number", "Mobile", "cell",
    "tel", "Telephone", "msisdn", "E.164", "e164",
])
def test_phone_header_aliases(header: str) -> None:
    result = parse(f"{header},name\n+12025550101,Ada\n")
    assert result.rows[0].phone == "+12025550101"
    assert result.rows[0].attributes == ()


@pytest.mark.parametrize("header", ["name", "Full Name", "contact", "Contact_Name"])
def test_name_header_aliases(header: str) -> None:
    result = parse(f"phone,{header}\n+12025550101,Ada Lovelace\n")
    assert result.rows[0].name == "Ada Lovelace"


def test_first_and_last_name_are_combined() -> None:
    result = parse("First Name,Last Name,Phone\nAda,Lovelace,+12025550101\n,Turing,+12025550102\n")
    assert [r.name for r in result.rows] == ["Ada Lovelace", "Turing"]
    assert all(r.attributes == () for r in result.rows)


def test_name_column_wins_over_first_and_last() -> None:
    result = parse("name,first name,last name,phone\nAda L.,Ada,Lovelace,+12025550101\n"
                   ",Alan,Turing,+12025550102\n")
    assert [r.name for r in result.rows] == ["Ada L.", "Alan Turing"]


@pytest.mark.parametrize("header", ["tags", "Labels", "tag"])
def test_tags_split_on_comma_semicolon_and_pipe(header: str) -> None:
    result = parse(f'phone,{header}\n+12025550101,"vip, beta;west|vip|  "\n')
    assert result.rows[0].tags == ("vip", "beta", "west")


def test_unknown_columns_are_attributes_in_file_order_without_blanks() -> None:
    result = parse("Plan,phone,City,Notes,name\ngold,+12025550101,Paris,,Ada\n")
    assert result.rows[0].attributes == (("Plan", "gold"), ("City", "Paris"))


def test_second_column_for_the_same_role_is_an_attribute() -> None:
    result = parse("phone,mobile\n+12025550101,+14155550102\n")
    assert result.rows[0].phone == "+12025550101"
    assert result.rows[0].attributes == (("mobile", "+14155550102"),)


def test_no_phone_column_is_a_file_error_that_names_the_columns() -> None:
    with pytest.raises(ImportFileError, match="no phone column") as info:
        parse("name,email\nAda,ada@example.com\n")
    assert "'email'" in str(info.value)
    assert isinstance(info.value, ValidationError)


# --- row values ------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("high", Priority.HIGH), ("H", Priority.HIGH), ("1", Priority.HIGH),
    ("Urgent", Priority.HIGH), ("normal", Priority.NORMAL), ("n", Priority.NORMAL),
    ("2", Priority.NORMAL), ("", Priority.NORMAL), ("  ", Priority.NORMAL),
    ("LOW", Priority.LOW), ("l", Priority.LOW), ("3", Priority.LOW),
])
def test_priority_values(text: str, expected: Priority) -> None:
    result = parse(f'phone,priority\n+12025550101,"{text}"\n')
    assert result.rows[0].priority is expected


@pytest.mark.parametrize("text", ["4", "asap", "0", "highest"])
def test_bad_priority_is_a_row_error(text: str) -> None:
    result = parse(f"phone,priority\n+12025550101,{text}\n")
    assert result.rows == ()
    assert result.errors == (RowError(2, f"priority {text!r} is not high, normal or low"),)


def test_timezone_is_validated_and_canonicalised() -> None:
    result = parse("phone,Time Zone\n+12025550101,america/new_york\n+12025550102,\n"
                   "+12025550103,Mars/Olympus\n+12025550104,America\n+12025550105,../etc\n")
    assert [(r.line, r.timezone) for r in result.rows] == [(2, "America/New_York"), (3, None)]
    assert error_lines(result) == [4, 5, 6]
    assert "'Mars/Olympus' is not an IANA timezone" in result.errors[0].reason


def test_country_column_is_the_region_for_national_numbers() -> None:
    result = parse("phone,country\n020 7946 0958,GB\n020 7946 0959,uk\n(202) 555-0101,\n"
                   "020 7946 0960,Narnia\n")
    assert [(r.phone, r.country) for r in result.rows] == [
        ("+442079460958", "GB"), ("+442079460959", "GB"), ("+12025550101", "US")]
    assert result.errors == (RowError(5, "country 'Narnia' is not a two-letter country code"),)


def test_default_region_argument_applies_to_national_numbers() -> None:
    result = parse("phone\n020 7946 0958\n", default_region="gb")
    assert result.rows[0].phone == "+442079460958"


def test_unknown_default_region_is_refused() -> None:
    with pytest.raises(ValidationError, match="region"):
        parse("phone\n+12025550101\n", default_region="XX")


def test_country_of_the_row_is_the_numbers_region_not_the_default() -> None:
    result = parse("phone\n+44 20 7946 0958\n+1 416 555 0101\n")
    assert [r.country for r in result.rows] == ["GB", "CA"]


def test_bad_numbers_are_reported_with_their_lines_and_reasons() -> None:
    result = parse("name,phone\nAda,+12025550101\nBob,+1 555 555 0123\nCy,12\n"
                   "Di,\nEd,call me\nFy,+14155550102\n")
    assert [r.line for r in result.rows] == [2, 7]
    assert [(e.line, e.reason) for e in result.errors] == [
        (3, "not a valid number in its country"),
        (4, "wrong number of digits for its country"),
        (5, "phone number is empty"),
        (6, "not a phone number (no digits that form a number)"),
    ]


@pytest.mark.parametrize("raw", ["+1 555 555 0123", "+15555550199", "555-0123", "+1 555 0100"])
def test_fictional_555_numbers_are_rejected(raw: str) -> None:
    result = parse(f'phone\n"{raw}"\n')
    assert result.rows == ()
    assert error_lines(result) == [2]


def test_several_problems_of_one_row_are_reported_together() -> None:
    result = parse("phone,priority,timezone\n+15555550123,soon,Nowhere/City\n")
    reason = result.errors[0].reason
    assert "not a valid number" in reason
    assert "priority 'soon'" in reason
    assert "timezone 'Nowhere/City'" in reason


def test_duplicates_are_counted_and_the_first_valid_row_wins() -> None:
    result = parse("name,phone,priority\nAda,+12025550101,bad\nBob,(202) 555-0101,\n"
                   "Cy,+1 202 555 0101,high\nDi,+14155550102,\nEd,202.555.0101,\n")
    assert [(r.line, r.name) for r in result.rows] == [(3, "Bob"), (5, "Di")]
    assert error_lines(result) == [2]
    assert result.duplicates == 2
    assert result.total_records == 5
    items = list(iter_contacts_csv(
        b"phone\n+12025550101\n(202) 555-0101\n"))
    assert items[1] == DuplicateRow(line=3, phone="+12025550101", first_line=2)


# --- line numbers and shape ------------------------------------------------------------


def test_multiline_quoted_field_reports_the_line_the_record_starts_on() -> None:
    text = ('name,phone,notes\r\n'
            'Ada,+12025550101,"first line\r\nsecond line\r\nthird"\r\n'
            'Bob,bad number,x\r\n'
            '"Cy\nSmith",+1 555 555 0100,\n'
            'Di,+14155550102,ok\n')
    result = parse(text)
    assert [r.line for r in result.rows] == [2, 8]
    assert result.rows[0].attributes == (("notes", "first line\r\nsecond line\r\nthird"),)
    assert error_lines(result) == [5, 6]


def test_blank_lines_and_blank_rows_are_skipped_but_keep_the_numbering() -> None:
    result = parse("\n\nphone,name\n\n+12025550101,Ada\n,,\n   \n , \nbad,Bob\n")
    assert [r.line for r in result.rows] == [5]
    assert error_lines(result) == [9]
    assert result.total_records == 2


def test_bare_cr_line_endings_are_lines() -> None:
    result = parse("phone\r+12025550101\rbad\r")
    assert [r.line for r in result.rows] == [2]
    assert error_lines(result) == [3]


def test_short_rows_are_padded_and_long_rows_are_errors() -> None:
    result = parse("phone,name,tags\n+12025550101\n+12025550102,Bob,x,,\n"
                   "+12025550103,Cy,x,surprise\n")
    assert [(r.line, r.name) for r in result.rows] == [(2, ""), (3, "Bob")]
    assert result.errors == (RowError(4, "row has 4 fields, header has 3"),)


def test_unclosed_quote_is_an_error_at_its_line() -> None:
    result = parse('phone,name\n+12025550101,Ada\n+12025550102,"Bob\n+12025550103,Cy\n')
    assert [r.line for r in result.rows] == [2]
    assert result.errors == (RowError(3, 'a quoted field is never closed (missing ")'),)


def test_text_after_a_closing_quote_is_an_error_and_parsing_goes_on() -> None:
    result = parse('phone,name\n+12025550101,"Ada" Lovelace\n+12025550102,Bob\n')
    assert error_lines(result) == [2]
    assert [r.line for r in result.rows] == [3]


@pytest.mark.parametrize("size", [MAX_FIELD_CHARS + 1, 200_000])
def test_huge_field_is_a_row_error_not_a_crash(size: int) -> None:
    result = parse(f"phone,notes\n+12025550101,{'x' * size}\n+12025550102,ok\n")
    assert [r.line for r in result.rows] == [3]
    assert [e.line for e in result.errors] == [2]
    assert "longer than 10,000 characters" in result.errors[0].reason


def test_field_of_exactly_the_cap_is_fine() -> None:
    result = parse(f"phone,notes\n+12025550101,{'x' * MAX_FIELD_CHARS}\n")
    assert result.rows[0].attributes == (("notes", "x" * MAX_FIELD_CHARS),)


# --- whole-file errors -----------------------------------------------------------------


def test_size_limit_is_inclusive() -> None:
    data = b"phone\n+12025550101\n"
    assert len(parse_contacts_csv(data, max_bytes=len(data)).rows) == 1
    with pytest.raises(ImportTooLarge) as info:
        parse_contacts_csv(data, max_bytes=len(data) - 1)
    assert info.value.size == len(data)
    assert isinstance(info.value, ValidationError)


def test_a_real_5_mb_file_is_allowed_and_one_byte_more_is_not() -> None:
    row = f"+1202555{0:04d},{'n' * 9000}\n"
    head = "phone,notes\n"
    count = (MAX_IMPORT_BYTES - len(head)) // len(row)
    body = head + "".join(f"+1202555{i % 100 + 100:04d},{'n' * 9000}\n" for i in range(count))
    data = body.encode() + b" " * (MAX_IMPORT_BYTES - len(body))
    assert len(data) == MAX_IMPORT_BYTES
    result = parse_contacts_csv(data)
    assert len(result.rows) == 100
    assert result.duplicates == count - 100
    with pytest.raises(ImportTooLarge, match="5,242,881 bytes"):
        parse_contacts_csv(data + b"\n")


@pytest.mark.parametrize("data", [
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    b"PK\x03\x04\x14\x00\x06\x00",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    b"phone\n+12025550101\x00\n",
    bytes(range(256)) * 4,
    b"\x01\x02\x03\x04\x05\x06\x07\x08phone\n",
])
def test_binary_files_are_refused(data: bytes) -> None:
    with pytest.raises(ImportFileError):
        parse_contacts_csv(data)


def test_xlsx_upload_gets_a_helpful_reason() -> None:
    with pytest.raises(ImportFileError, match="save it as CSV"):
        parse_contacts_csv(b"PK\x03\x04rest-of-zip")


def test_undecodable_bytes_are_refused() -> None:
    with pytest.raises(ImportFileError, match="not UTF-8"):
        parse_contacts_csv(b"phone\n\x81\x8d\x8f\x90\x9d\n")
    with pytest.raises(ImportFileError, match="not valid UTF-8"):
        parse_contacts_csv(codecs.BOM_UTF8 + b"phone\n\xff\n")


@pytest.mark.parametrize("data", [b"", b"\n\r\n  \n", b",,,\n , ,\n"])
def test_empty_files_are_refused(data: bytes) -> None:
    with pytest.raises(ImportFileError, match="empty"):
        parse_contacts_csv(data)


def test_header_only_file_has_no_rows() -> None:
    result = parse("phone,name\n")
    assert result == ParsedImport(rows=(), errors=(), duplicates=0, total_records=0,
                                  encoding="utf-8")


# --- the generator form ----------------------------------------------------------------


def test_iter_yields_items_in_file_order() -> None:
    items = list(iter_contacts_csv(b"phone\n+12025550101\nbad\n+12025550101\n"))
    assert [type(i) for i in items] == [ImportRow, RowError, DuplicateRow]
    assert [i.line for i in items] == [2, 3, 4]


def test_iter_checks_size_and_encoding_before_the_first_item() -> None:
    with pytest.raises(ImportTooLarge):
        iter_contacts_csv(b"phone\n", max_bytes=3)
    with pytest.raises(ImportFileError):
        iter_contacts_csv(b"\x00\x01")


def test_iter_is_lazy() -> None:
    lines = "".join(f"+1202555{i:04d}\n" for i in range(100, 200))
    items = iter_contacts_csv(f"phone\n{lines}".encode())
    first = next(items)
    assert isinstance(first, ImportRow)
    assert first.line == 2


# --- the single-parse normaliser agrees with campaigns.phones ------------------------


@pytest.mark.parametrize(("raw", "region"), [
    ("+1 202 555 0101", "US"), ("(415) 555-0102", "US"), ("+1 416 555 0101", "US"),
    ("+44 20 7946 0958", "US"), ("020 7946 0958", "GB"), ("06 1234 5678", "IT"),
    ("+39 06 1234 5678", "US"), ("+7 912 345 67 89", "US"), ("+7 701 234 5678", "US"),
    ("+800 1234 5678", "US"), ("+1 809 555 0101", "US"), ("+49 30 901820", "US"),
    ("+1 800 555 0199", "US"), ("+61 2 9876 5432", "US"), ("'+14155550123", "US"),
    ("+1 555 555 0123", "US"), ("12", "US"), ("", "US"), ("abc", "US"), ("+999 1", "US"),
    ("1" * 70, "US"), ("+1 202 555 0101 ext. 12", "US"),
])
def test_single_parse_normaliser_matches_phones(raw: str, region: str) -> None:
    def via_phones() -> tuple[str, str | None]:
        try:
            e164 = phones.normalize(raw, region)
        except InvalidPhoneNumber as exc:
            return "error", exc.reason
        return e164, phones.region_of(e164)

    def via_import() -> tuple[str, str | None]:
        try:
            return _normalize(raw, region)
        except InvalidPhoneNumber as exc:
            return "error", exc.reason

    assert via_import() == via_phones()


# --- robustness ------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_only_raise_import_errors(data: bytes) -> None:
    try:
        result = parse_contacts_csv(data, max_bytes=1500)
    except (ImportFileError, ImportTooLarge):
        return
    assert result.total_records == len(result.rows) + len(result.errors) + result.duplicates


_cell = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_cell, max_size=9), max_size=12), st.sampled_from([",", ";"]))
def test_arbitrary_rows_never_crash(rows: list[list[str]], delimiter: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(["name", "phone", "tags", "priority", "timezone", "country", "extra"])
    writer.writerows(rows)
    text = buffer.getvalue()
    try:
        result = parse_contacts_csv(text.encode())
    except ImportFileError:
        return  # control characters can make the text look binary
    line_count = text.count("\n") + text.count("\r") + 1
    items: list[ImportRow | RowError] = [*result.rows, *result.errors]
    for item in items:
        assert 2 <= item.line <= line_count
    for row in result.rows:
        assert phones.is_e164(row.phone)
