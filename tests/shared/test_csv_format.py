"""The CSV import format (docs/product.md#the-csv-format), one rule at a time: LicenseSpring's
own example and every valid variant read as records, every broken file
yields the right reason code with a message that names the line and the
value. Pure: no database."""

from __future__ import annotations

import json

import pytest

from shared.formats import CsvRecord, Problem
from shared.formats.codes import code_failure
from shared.formats.csv import COLUMNS, CsvProduct, CsvRules, looks_like_csv, read_csv

PSC = CsvProduct(product_id=1234, prefix=None)
ACME = CsvProduct(product_id=5678, prefix="ACME-")
RULES = CsvRules(products={"psc": PSC, "acme": ACME})
ONLY_PSC = CsvRules(products={"psc": PSC, "acme": ACME}, only_short_code="psc")
HEADER = "license__license_key,product__short_code"

# The data example of LicenseSpring's "Import Licenses From CSV" page.
LICENSESPRING_EXAMPLE = (
    "customer__email,order__store_id,license__license_key,product__short_code\n"
    "example1@email.com,pn7XXkuCRdsadasdy9S2XSsCYQ,impo-rtor-derk-ey00,psc\n"
    "example1@email.com,pn7XXkuCRdsadasdy9S2XSsCYQ,impo-rtor-derk-ey01,psc\n"
)


def read(data: str | bytes, rules: CsvRules = RULES) -> list[CsvRecord | Problem]:
    return list(read_csv([data.encode() if isinstance(data, str) else data], rules))


def records(data: str | bytes, rules: CsvRules = RULES) -> list[CsvRecord]:
    items = read(data, rules)
    assert all(isinstance(item, CsvRecord) for item in items), items
    return [item for item in items if isinstance(item, CsvRecord)]


def the_problem(data: str | bytes, rules: CsvRules = RULES) -> Problem:
    items = read(data, rules)
    problems = [item for item in items if isinstance(item, Problem)]
    assert len(problems) == 1, items
    assert problems[0].message.startswith(f"line {problems[0].line}: ")
    return problems[0]


def row_problem(columns: str, row: str, rules: CsvRules = RULES) -> Problem:
    """The problem of a one-row file; it is on line 2."""
    problem = the_problem(f"{columns}\n{row}\n", rules)
    assert problem.line == 2, problem
    return problem


# --- valid files ---------------------------------------------------------


def test_the_licensespring_example_imports_as_two_activation_records() -> None:
    attributes = {"customer__email": "example1@email.com", "order__store_id": "pn7XXkuCRdsadasdy9S2XSsCYQ"}
    assert records(LICENSESPRING_EXAMPLE) == [
        CsvRecord(2, "impo-rtor-derk-ey00", 1234, "activation", None, None, attributes),
        CsvRecord(3, "impo-rtor-derk-ey01", 1234, "activation", None, None, attributes),
    ]


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["without BOM", "with BOM"])
@pytest.mark.parametrize("ending", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_utf8_with_or_without_bom_and_lf_or_crlf_read_the_same(bom: bytes, ending: bytes) -> None:
    data = bom + LICENSESPRING_EXAMPLE.encode().replace(b"\n", ending)
    assert records(data) == records(LICENSESPRING_EXAMPLE)


def test_the_last_row_may_lack_its_line_end() -> None:
    assert [record.code for record in records(f"{HEADER}\nA1,psc\nA2,psc")] == ["A1", "A2"]


def test_utf8_letters_in_a_code_and_in_text_are_decoded() -> None:
    (record,) = records(f"{HEADER},customer__city\nÉté€ÿ1,psc,Zürich Ж\n")
    assert record.code == "Été€ÿ1" and record.attributes == {"customer__city": "Zürich Ж"}


def test_a_code_the_windows_1252_download_cannot_hold_is_a_format_problem_naming_the_character() -> None:
    problem = row_problem(HEADER, "Été€Ж1,psc")
    assert problem.reason_code == "format"
    assert problem.message == (
        "line 2: the code 'Été€Ж1' contains 'Ж' (U+0416), which the downloaded codes file "
        "(Windows-1252 text) cannot hold"
    )


def test_quoted_commas_newlines_and_doubled_quotes_are_rfc_4180() -> None:
    data = f'{HEADER},license__note\n"A,1",psc,"say ""hi"", then\nwait"\nB2,"psc",plain\n'
    assert records(data) == [
        CsvRecord(2, "A,1", 1234, "activation", None, None, {"license__note": 'say "hi", then\nwait'}),
        CsvRecord(4, "B2", 1234, "activation", None, None, {"license__note": "plain"}),  # the note's extra line counts
    ]


def test_a_crlf_inside_a_quoted_note_is_kept_and_counted() -> None:
    data = f'{HEADER},license__note\r\nA1,psc,"one\r\ntwo"\r\nB2,psc,\r\n'
    first, second = records(data)
    assert (first.line, first.attributes, second.line) == (2, {"license__note": "one\r\ntwo"}, 4)


def test_a_quoted_comma_inside_a_cell_is_part_of_the_value() -> None:
    (record,) = records(f'{HEADER},customer__company_name\nA1,psc,"Acme, Inc."\n')
    assert record.attributes == {"customer__company_name": "Acme, Inc."}


def test_rows_for_two_of_the_callers_products_in_one_file() -> None:
    assert [(r.code, r.product_id) for r in records(f"{HEADER}\nA1,psc\nACME-2,acme\n")] == [
        ("A1", 1234),
        ("ACME-2", 5678),
    ]


def test_only_short_code_accepts_rows_of_that_product() -> None:
    assert records(f"{HEADER}\nA1,psc\n", ONLY_PSC)[0].product_id == 1234


def test_a_trial_row_is_an_evaluation_code_with_its_trial_days() -> None:
    columns = f"{HEADER},license__is_trial,license__trial_days,license__valid_duration"
    trial, activation = records(f"{columns}\nT1,psc,TRUE,30,365\nA1,psc,no,7,365\n")
    assert (trial.code_type, trial.expiry_days) == ("evaluation", 30)
    assert trial.attributes == {"license__valid_duration": 365}  # the other expiry column is kept
    assert (activation.code_type, activation.expiry_days) == ("activation", 365)
    assert activation.attributes == {"license__trial_days": 7}


def test_an_evaluation_code_may_expire_after_60_days() -> None:
    assert records(f"{HEADER},license__is_trial,license__trial_days\nT1,psc,1,60\n")[0].expiry_days == 60


def test_an_activation_code_may_expire_after_more_than_60_days() -> None:
    assert records(f"{HEADER},license__valid_duration\nA1,psc,3650\n")[0].expiry_days == 3650


def test_max_activations_sets_the_seats() -> None:
    (record,) = records(f"{HEADER},license__max_activations\nA1,psc,5\n")
    assert (record.seats, record.attributes) == (5, None)


def test_empty_cells_mean_not_given() -> None:
    columns = f"{HEADER},license__is_trial,license__trial_days,license__max_activations,customer__email"
    assert records(f"{columns}\nA1,psc,,,, \n") == [CsvRecord(2, "A1", 1234, "activation", None, None, None)]


def test_every_column_keeps_its_typed_value_as_a_json_attribute() -> None:
    columns = "license__enabled,license__max_consumptions,license__maintenance_period,customer__email,license__note"
    (record,) = records(f"{HEADER},{columns}\nA1,psc,Yes,0,2023-09-15, a@b.example ,  padded  \n")
    assert record.attributes == {
        "license__enabled": True,
        "license__max_consumptions": 0,
        "license__maintenance_period": "2023-09-15",
        "customer__email": "a@b.example",
        "license__note": "  padded  ",
    }
    assert json.loads(json.dumps(record.attributes)) == record.attributes


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("True", True), ("1", True), ("YES", True), ("false", False), ("0", False), ("No", False)],
)
def test_booleans_are_true_false_1_0_yes_no_in_any_case(value: str, expected: bool) -> None:
    assert records(f"{HEADER},license__prevent_vm\nA1,psc,{value}\n")[0].attributes == {"license__prevent_vm": expected}


def test_header_cells_may_be_quoted_and_padded_with_spaces() -> None:
    assert records('"license__license_key", product__short_code \nA1,psc\n')[0].code == "A1"


@pytest.mark.parametrize("char", ["\x0b", "\x0c", "\x85", "\u2028", "\u2029"])
def test_only_spaces_and_tabs_around_a_value_are_ignored(char: str) -> None:
    # str.strip() would drop these: the value would pass as clean.
    for row in (f"A1,psc{char},", f"A1,psc,5{char}", f"A1,psc,{char}"):
        problem = the_problem(f"{HEADER},license__valid_duration\n{row}\n")
        assert problem.line == 2 and problem.message.isprintable(), row


def test_the_column_table_holds_the_43_columns_of_the_licensespring_page() -> None:
    prefixes = [name.split("__")[0] for name in COLUMNS]
    assert [prefixes.count(prefix) for prefix in ("customer", "order", "license", "product")] == [11, 7, 24, 1]


# --- the header ----------------------------------------------------------


def test_a_missing_required_column_is_a_format_problem_on_line_1_and_no_row_is_read() -> None:
    items = read("license__license_key,customer__email\nA1,a@b.example\nA2,a@b.example\n")
    assert items == [Problem(1, "format", "line 1: the required column 'product__short_code' is missing")]


def test_an_unknown_column_is_a_format_problem_naming_it() -> None:
    problem = the_problem(f"{HEADER},colour\nA1,psc,red\n")
    assert (problem.line, problem.reason_code) == (1, "format")
    assert "unknown column 'colour'" in problem.message


def test_a_column_name_in_the_wrong_case_is_unknown_with_a_hint() -> None:
    problem = the_problem("License__License_Key,product__short_code\nA1,psc\n")
    assert "'License__License_Key'" in problem.message and "lower case" in problem.message


def test_a_duplicate_column_is_a_format_problem_naming_it() -> None:
    problem = the_problem(f"{HEADER},license__note,license__note\nA1,psc,a,b\n")
    assert (problem.line, problem.reason_code) == (1, "format")
    assert "'license__note' appears 2 times" in problem.message


def test_every_wrong_column_is_named_in_the_one_problem() -> None:
    message = the_problem("license__license_key,x,,license__license_key\n").message
    assert "'x'" in message and "no name" in message and "appears 2 times" in message and "short_code" in message


def test_a_header_with_no_rows_is_an_empty_file() -> None:
    assert read(f"{HEADER}\r\n") == [Problem(1, "empty_file", "line 1: the file has a header but no rows")]


def test_a_file_with_nothing_in_it_but_a_bom_is_an_empty_file() -> None:
    assert [item.reason_code for item in read(b"\xef\xbb\xbf")] == ["empty_file"]  # type: ignore[union-attr]
    assert [item.reason_code for item in list(read_csv([], RULES))] == ["empty_file"]  # type: ignore[union-attr]


def test_a_blank_first_line_is_no_header() -> None:
    problem = the_problem(f"\n{HEADER}\nA1,psc\n")
    assert (problem.line, problem.reason_code) == (1, "format") and "header" in problem.message


# --- encoding ------------------------------------------------------------


def test_invalid_utf8_is_an_encoding_problem_naming_line_and_byte_and_stops() -> None:
    items = read(f"{HEADER}\nA1,psc\nB2,psc,".encode()[:-1] + b"\n\xe9t\xe9,psc\nC3,psc\n")
    assert items[0] == CsvRecord(2, "A1", 1234, "activation", None, None, None)
    assert items[1] == CsvRecord(3, "B2", 1234, "activation", None, None, None)
    assert len(items) == 3 and isinstance(items[2], Problem)
    assert (items[2].line, items[2].reason_code) == (4, "encoding")
    assert "\\xe9" in items[2].message and "UTF-8" in items[2].message


def test_a_windows_1252_file_is_an_encoding_problem() -> None:
    problem = the_problem(f"{HEADER},customer__city\nA1,psc,Zürich\n".encode("cp1252"))
    assert (problem.line, problem.reason_code) == (2, "encoding")


def test_a_file_cut_inside_a_utf8_character_is_an_encoding_problem() -> None:
    problem = the_problem(f"{HEADER}\nA1,psc\n€".encode()[:-1])
    assert (problem.line, problem.reason_code) == (3, "encoding") and "\\xe2" in problem.message


def test_a_utf16_file_is_an_encoding_problem() -> None:
    problem = the_problem(f"{HEADER}\nA1,psc\n".encode("utf-16"))
    assert (problem.line, problem.reason_code) == (1, "encoding") and "UTF-16" in problem.message


def test_a_nul_byte_is_an_encoding_problem() -> None:
    problem = the_problem(f"{HEADER}\nA1,psc\nA\x002,psc\n")
    assert (problem.line, problem.reason_code) == (3, "encoding") and "\\x00" in problem.message


# --- rows ----------------------------------------------------------------


def test_a_blank_line_is_a_blank_line_problem() -> None:
    problem = the_problem(f"{HEADER}\nA1,psc\n\nA2,psc\n")
    assert (problem.line, problem.reason_code) == (3, "blank_line")
    assert the_problem(f"{HEADER}\nA1,psc\n,\n").reason_code == "blank_line"
    assert the_problem(f"{HEADER}\nA1,psc\n  \n").reason_code == "blank_line"


def test_a_row_with_another_number_of_cells_is_a_format_problem() -> None:
    problem = row_problem(HEADER, "A1,psc,extra")
    assert problem.reason_code == "format" and "3 cells" in problem.message and "has 2" in problem.message


def test_a_quote_never_closed_is_a_format_problem_on_the_line_it_opens() -> None:
    problem = the_problem(f'{HEADER}\nA1,psc\n"A2,psc\nA3,psc\n')
    assert (problem.line, problem.reason_code) == (3, "format") and "never closed" in problem.message


def test_text_after_a_closing_quote_is_a_format_problem_and_reading_goes_on() -> None:
    items = read(f'{HEADER}\n"A1"x,psc\nA2,psc\n')
    assert isinstance(items[0], Problem) and (items[0].line, items[0].reason_code) == (2, "format")
    assert "closing quote" in items[0].message
    assert items[1] == CsvRecord(3, "A2", 1234, "activation", None, None, None)


def test_the_lines_of_a_quoted_cell_in_a_broken_row_are_never_read_as_rows() -> None:
    for broken in ('\rA1,psc,"note', '"A1"x,psc,"note'):  # a bare CR; text after a closing quote
        items = read(f'{HEADER},license__note\n{broken}\nA2,psc,\n"\nA3,psc,\n')
        assert [(item.line, type(item)) for item in items] == [(2, Problem), (5, CsvRecord)], broken
        assert items[1].code == "A3"  # type: ignore[union-attr]


def test_a_classic_mac_file_with_cr_alone_is_a_format_problem() -> None:
    problem = the_problem(f"{HEADER}\rA1,psc\r".encode())
    assert (problem.line, problem.reason_code) == (1, "format") and "CR without LF" in problem.message


def test_a_row_far_longer_than_any_good_row_is_a_format_problem_and_stops() -> None:
    problem = the_problem(f'{HEADER},license__note\nA1,psc,"' + "x\n" * 40_000 + '"\nA2,psc,\n')
    assert (problem.line, problem.reason_code) == (2, "format") and "longer than" in problem.message


# --- the code (the rules of the TXT format) ------------------------------------------


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("", "the code is empty"),
        ("A" * 129, "129 characters long"),
        ("AB CD", "contains whitespace"),
        ("AB\u2028CD", "whitespace (\\u2028)"),
        ("AB\u200bCD", "invisible character (\\u200b)"),
        ("AB\x85CD", "NEL line break"),
        ("=SUM(A1)", "starts with '='"),
        ("-1", "starts with '-'"),
    ],
)
def test_a_bad_code_is_a_format_problem_as_in_txt(code: str, words: str) -> None:
    problem = row_problem(f"{HEADER},license__note", f'"{code}",psc,note')
    assert problem.reason_code == "format" and words in problem.message
    assert not any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0xA0 for char in problem.message)


def test_a_code_of_128_characters_is_accepted() -> None:
    assert records(f"{HEADER}\n{'A' * 128},psc\n")[0].code == "A" * 128


def test_the_code_rules_are_shared_with_txt() -> None:
    assert code_failure("A B") == (
        "format",
        "the code 'A B' contains whitespace; codes may not contain spaces, tabs or control characters",
    )
    assert code_failure("X-1", "ACME-") == ("prefix_missing", "the code 'X-1' does not start with the prefix 'ACME-'")
    assert code_failure("ACME-1", "ACME-") is None


def test_a_code_without_its_products_prefix_is_prefix_missing() -> None:
    problem = row_problem(HEADER, "OTHER-1,acme")
    assert problem.reason_code == "prefix_missing" and "'OTHER-1'" in problem.message and "'ACME-'" in problem.message


# --- product -------------------------------------------------------------


def test_a_foreign_short_code_is_a_product_mismatch_revealing_nothing() -> None:
    problem = row_problem(HEADER, "A1,xyz")
    assert problem == Problem(2, "product_mismatch", "line 2: 'xyz' is not one of your products")


def test_only_short_code_refuses_a_row_of_another_own_product_naming_both() -> None:
    problem = row_problem(HEADER, "ACME-1,acme", ONLY_PSC)
    assert problem.reason_code == "product_mismatch" and "'acme'" in problem.message and "'psc'" in problem.message


def test_an_empty_short_code_is_a_format_problem() -> None:
    assert row_problem(HEADER, "A1,").reason_code == "format"


# --- expiry and seats ----------------------------------------------------


def test_a_trial_over_60_days_is_out_of_range() -> None:
    problem = row_problem(f"{HEADER},license__is_trial,license__trial_days", "T1,psc,true,61")
    assert problem.reason_code == "expiry_out_of_range" and "61" in problem.message and "at most 60" in problem.message


@pytest.mark.parametrize("days", ["0", "-5"])
def test_an_expiry_below_one_day_is_out_of_range(days: str) -> None:
    problem = row_problem(f"{HEADER},license__valid_duration", f"A1,psc,{days}")
    assert problem.reason_code == "expiry_out_of_range" and "at least 1" in problem.message


@pytest.mark.parametrize("seats", ["0", "-1", "two", "1.5", "99999999999"])
def test_max_activations_must_be_a_whole_number_of_1_or_more(seats: str) -> None:
    problem = row_problem(f"{HEADER},license__max_activations", f"A1,psc,{seats}")
    assert problem.reason_code == "format" and f"license__max_activations '{seats}'" in problem.message


def test_a_valid_duration_that_is_not_a_whole_number_of_days_is_a_format_problem() -> None:
    problem = row_problem(f"{HEADER},license__valid_duration", "A1,psc,1y")
    assert problem.reason_code == "format" and "whole number of days" in problem.message


# --- typed columns -------------------------------------------------------


def test_a_bad_boolean_is_a_format_problem_naming_column_and_value() -> None:
    problem = row_problem(f"{HEADER},license__is_trial", "A1,psc,maybe")
    assert problem.reason_code == "format" and "license__is_trial 'maybe' is not a boolean" in problem.message


@pytest.mark.parametrize("date", ["2023-02-30", "15.09.2023", "2023-9-15", "2023-13-01", "٢٠٢٣-09-15"])
def test_a_bad_date_is_a_format_problem(date: str) -> None:
    problem = row_problem(f"{HEADER},license__maintenance_period", f"A1,psc,{date}")
    assert problem.reason_code == "format" and f"license__maintenance_period '{date}' is not a date" in problem.message


@pytest.mark.parametrize("email", ["example1.email.com", "a@b@c", "@b.example", "a@", "a b@c.example"])
def test_a_bad_email_is_a_format_problem(email: str) -> None:
    problem = row_problem(f"{HEADER},customer__email", f"A1,psc,{email}")
    assert problem.reason_code == "format" and f"customer__email '{email}'" in problem.message


@pytest.mark.parametrize("number", ["-1", "ten", "1e3", "²", "12345678901"])
def test_a_bad_integer_is_a_format_problem(number: str) -> None:
    problem = row_problem(f"{HEADER},license__floating_users", f"A1,psc,{number}")
    assert problem.reason_code == "format"
    assert f"license__floating_users '{number}' is not a whole number" in problem.message


def test_free_text_longer_than_1000_characters_is_a_format_problem() -> None:
    problem = row_problem(f"{HEADER},license__note", f"A1,psc,{'n' * 1001}")
    assert problem.reason_code == "format" and "1001 characters long" in problem.message


# --- one problem per row, in order ---------------------------------------


@pytest.mark.parametrize(
    ("row", "reason_code"),
    [
        ("A B,xyz,maybe,61", "format"),
        ("A1,xyz,maybe,61", "format"),
        ("A1,xyz,yes,61", "product_mismatch"),
        ("A1,acme,yes,61", "prefix_missing"),
        ("ACME-1,acme,yes,61", "expiry_out_of_range"),
    ],
)
def test_a_row_with_several_faults_yields_only_the_first_one(row: str, reason_code: str) -> None:
    assert row_problem(f"{HEADER},license__is_trial,license__trial_days", row).reason_code == reason_code


def test_a_bad_row_among_999_good_ones_is_the_only_problem() -> None:
    rows = [f"CODE{number},psc" for number in range(1, 1000)]
    rows[637 - 2] = "CO DE,psc"
    items = read(HEADER + "\n" + "\n".join(rows) + "\n")
    assert len(items) == 999
    assert [(item.line, item.reason_code) for item in items if isinstance(item, Problem)] == [(637, "format")]


def test_reading_one_byte_at_a_time_gives_what_reading_at_once_gives() -> None:
    data = ("\ufeff" + f'{HEADER},license__note\r\nA1,psc,"x\r\ny"\r\nA B,psc,\r\n\r\nÉ1,psc,ü\r\n').encode()
    one_by_one = list(read_csv((data[i : i + 1] for i in range(len(data))), RULES))
    assert one_by_one == read(data) and len(one_by_one) == 4


# --- telling CSV from TXT ------------------------------------------------


def test_a_txt_file_does_not_look_like_csv() -> None:
    assert not looks_like_csv(b"1234\tCODE1\t30\r\n1234\tCODE2\r\n")
    assert not looks_like_csv(b"1234\tCODE,1\r\n")


def test_a_csv_file_looks_like_csv() -> None:
    assert looks_like_csv(LICENSESPRING_EXAMPLE.encode()[:1024])
    assert looks_like_csv(b"code,product\r\nA1,psc\r\n")


def test_a_csv_file_with_a_bom_looks_like_csv() -> None:
    assert looks_like_csv(b"\xef\xbb\xbf" + LICENSESPRING_EXAMPLE.encode())
    assert looks_like_csv(b'\xef\xbb\xbf"license__license_key","product__short_code"\r\n')
