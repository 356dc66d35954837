"""The TXT upload format (docs/product.md#the-txt-format), one rule at a time: every valid
variant reads as records, every broken file yields the right reason code
with a message that names the line and the value. Pure: no database."""

from __future__ import annotations

import pytest

from shared.formats import CodeRecord, Problem
from shared.formats.txt import TxtRules, read_txt

ACTIVATION = TxtRules(product_id=1234, prefix=None, code_type="activation")
EVALUATION = TxtRules(product_id=1234, prefix=None, code_type="evaluation")
PREFIXED = TxtRules(product_id=1234, prefix="ACME-", code_type="activation")


def read(data: bytes, rules: TxtRules = ACTIVATION) -> list[CodeRecord | Problem]:
    return list(read_txt([data], rules))


def the_problem(data: bytes, rules: TxtRules = ACTIVATION) -> Problem:
    items = read(data, rules)
    problems = [item for item in items if isinstance(item, Problem)]
    assert len(problems) == 1, items
    return problems[0]


def records(data: bytes, rules: TxtRules = ACTIVATION) -> list[CodeRecord]:
    items = read(data, rules)
    assert all(isinstance(item, CodeRecord) for item in items), items
    return [item for item in items if isinstance(item, CodeRecord)]


# --- valid files ---------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"1234\tCODE1\r\n", ("CODE1", None, None, None)),
        (b"1234\tCODE1\t30\r\n", ("CODE1", 30, None, None)),
        (b"1234\tCODE1\t\t7\r\n", ("CODE1", None, 7, None)),
        (b"1234\tCODE1\t30\t7\t5\r\n", ("CODE1", 30, 7, 5)),
        (b"1234\tCODE1\t\t\t\r\n", ("CODE1", None, None, None)),
        (b"1234\tCODE1\t\t\t3\r\n", ("CODE1", None, None, 3)),
        (b"1234\tCODE1\t30\t0\r\n", ("CODE1", 30, 0, None)),
        (b"1234\tCODE1\t\r\n", ("CODE1", None, None, None)),
        (b"001234\tCODE1\r\n", ("CODE1", None, None, None)),
        (b"1234\tX-1_2.3/4\t2147483647\t2147483647\t2147483647\r\n", ("X-1_2.3/4", 2147483647, 2147483647, 2147483647)),
    ],
)
def test_every_valid_line_shape_reads_as_one_record(line: bytes, expected: tuple[object, ...]) -> None:
    assert records(line) == [CodeRecord(1, *expected)]  # type: ignore[arg-type]


def test_a_file_of_several_lines_numbers_its_records_from_one() -> None:
    data = b"1234\tA1\r\n1234\tB2\t10\r\n1234\tC3\t\t4\t2\r\n"
    assert records(data) == [
        CodeRecord(1, "A1", None, None, None),
        CodeRecord(2, "B2", 10, None, None),
        CodeRecord(3, "C3", None, 4, 2),
    ]


def test_a_code_with_the_prefix_is_accepted() -> None:
    assert records(b"1234\tACME-0001\r\n", PREFIXED)[0].code == "ACME-0001"


def test_windows_1252_letters_in_a_code_are_decoded() -> None:
    assert records(b"1234\t\xc9t\xe9\x80\x8a\r\n")[0].code == "Été€Š"


def test_a_code_may_start_with_an_accented_letter() -> None:
    assert records(b"1234\t\xc9COLE\r\n")[0].code == "ÉCOLE"


def test_an_evaluation_code_may_expire_after_60_days() -> None:
    assert records(b"1234\tEVAL1\t60\r\n", EVALUATION)[0].expiry_days == 60


def test_an_activation_code_may_expire_after_more_than_60_days() -> None:
    assert records(b"1234\tACT1\t365\r\n")[0].expiry_days == 365


def test_a_code_of_128_characters_is_accepted() -> None:
    code = "A" * 128
    assert records(b"1234\t" + code.encode() + b"\r\n")[0].code == code


def test_a_product_id_beyond_32_bits_is_compared_as_a_whole_number() -> None:
    rules = TxtRules(product_id=2**63 - 1, prefix=None, code_type="activation")
    assert records(b"9223372036854775807\tBIG1\r\n", rules)[0].code == "BIG1"


def test_a_file_of_zero_bytes_yields_nothing() -> None:
    assert read(b"") == []
    assert list(read_txt([], ACTIVATION)) == []


# --- encoding ------------------------------------------------------------


def test_a_utf8_byte_order_mark_is_an_encoding_problem_on_line_1() -> None:
    problem = the_problem(b"\xef\xbb\xbf1234\tCODE1\r\n1234\tCODE2\r\n")
    assert problem.line == 1 and problem.reason_code == "encoding"
    assert "UTF-8 byte-order mark" in problem.message and "ANSI (Windows-1252)" in problem.message


@pytest.mark.parametrize(
    ("char", "named"),
    [
        ("\u2028", "whitespace (\\u2028)"),
        ("\u200b", "(\\u200b)"),
        ("\u202e", "(\\u202e)"),
        ("\ufeff", "byte-order mark"),
    ],
)
def test_an_invisible_character_written_in_utf8_is_an_encoding_problem_anywhere(char: str, named: str) -> None:
    # As Windows-1252 its bytes are visible ("â€¨"): without this rule the code would pass.
    problem = the_problem(b"1234\tGOOD\r\n1234\tBA" + char.encode() + b"D\r\n")
    assert (problem.line, problem.reason_code) == (2, "encoding")
    assert named in problem.message and "UTF-8 (the bytes " in problem.message and problem.message.isprintable()


def test_utf8_letters_beyond_latin_1_still_read_as_their_windows_1252_characters() -> None:
    assert records(b"1234\tA\xc9\x80\r\n")[0].code == "A\u00c9\u20ac"  # 'ɀ' in UTF-8, 'É€' in Windows-1252


def test_a_utf16_file_with_its_byte_order_mark_is_an_encoding_problem() -> None:
    items = read("1234\tCODE1\r\n".encode("utf-16"))
    assert isinstance(items[0], Problem) and items[0].reason_code == "encoding"
    assert items[0].message.startswith("line 1: ") and "UTF-16 byte-order mark" in items[0].message
    assert all(isinstance(item, Problem) and item.reason_code == "encoding" for item in items)


def test_a_big_endian_utf16_byte_order_mark_is_named_too() -> None:
    problem = the_problem(b"\xfe\xff" + "1234\tC\r\n".encode("utf-16-be"))
    assert "UTF-16 byte-order mark (FE FF)" in problem.message


def test_utf16_without_byte_order_mark_shows_up_as_nul_bytes() -> None:
    items = read("1234\tCODE1\r\n1234\tCODE2\r\n".encode("utf-16-le"))
    assert items and all(isinstance(item, Problem) and item.reason_code == "encoding" for item in items)
    assert "NUL byte" in items[0].message  # type: ignore[union-attr]


def test_a_nul_byte_in_a_line_is_an_encoding_problem() -> None:
    problem = the_problem(b"1234\tGOOD\r\n1234\tBA\x00D\r\n")
    assert (problem.line, problem.reason_code) == (2, "encoding")
    assert problem.message.startswith("line 2: ") and "\\x00" in problem.message


@pytest.mark.parametrize("byte", [0x81, 0x8D, 0x8F, 0x90, 0x9D])
def test_a_byte_windows_1252_leaves_undefined_is_named_in_hex(byte: int) -> None:
    problem = the_problem(b"1234\tAB" + bytes([byte]) + b"C\r\n")
    assert problem.reason_code == "encoding"
    assert f"\\x{byte:02x}" in problem.message and problem.message.startswith("line 1: ")


# --- line endings --------------------------------------------------------


def test_a_line_ending_in_lf_alone_is_a_line_ending_problem() -> None:
    problem = the_problem(b"1234\tA1\r\n1234\tA2\n1234\tA3\r\n")
    assert (problem.line, problem.reason_code) == (2, "line_ending")
    assert problem.message == "line 2: ends with LF only; every line must end with CR LF"


def test_a_unix_file_gets_one_problem_per_line() -> None:
    items = read(b"1234\tA1\n1234\tA2\n1234\tA3\n")
    assert [(item.line, item.reason_code) for item in items if isinstance(item, Problem)] == [
        (1, "line_ending"),
        (2, "line_ending"),
        (3, "line_ending"),
    ]


def test_a_classic_mac_file_with_cr_alone_is_a_line_ending_problem() -> None:
    problem = the_problem(b"1234\tA1\r1234\tA2\r1234\tA3\r")
    assert (problem.line, problem.reason_code) == (1, "line_ending")
    assert "CR without LF" in problem.message


def test_a_cr_alone_inside_a_line_is_a_line_ending_problem() -> None:
    problem = the_problem(b"1234\tA1\r\n1234\tA\rB\r\n")
    assert (problem.line, problem.reason_code) == (2, "line_ending")


def test_a_last_line_without_crlf_is_a_line_ending_problem() -> None:
    items = read(b"1234\tA1\r\n1234\tA2")
    assert items[0] == CodeRecord(1, "A1", None, None, None)
    assert items[1] == Problem(
        2, "line_ending", "line 2: the last line does not end with CR LF; every line, the last included, must"
    )


def test_a_last_line_ending_in_cr_without_lf_is_a_line_ending_problem() -> None:
    problem = the_problem(b"1234\tA1\r\n1234\tA2\r")
    assert (problem.line, problem.reason_code) == (2, "line_ending")


# --- blank lines ---------------------------------------------------------


def test_a_trailing_crlf_makes_a_blank_last_line() -> None:
    problem = the_problem(b"1234\tA1\r\n1234\tA2\r\n\r\n")
    assert (problem.line, problem.reason_code) == (3, "blank_line")
    assert problem.message.startswith("line 3: ")


@pytest.mark.parametrize("blank", [b"", b"   ", b"\t", b" \t \t"])
def test_an_empty_or_whitespace_only_line_is_a_blank_line(blank: bytes) -> None:
    problem = the_problem(b"1234\tA1\r\n" + blank + b"\r\n1234\tA2\r\n")
    assert (problem.line, problem.reason_code) == (2, "blank_line")


# --- format --------------------------------------------------------------


def format_problem(line: bytes, rules: TxtRules = ACTIVATION) -> str:
    problem = the_problem(line, rules)
    assert (problem.line, problem.reason_code) == (1, "format"), problem
    assert problem.message.startswith("line 1: ")
    return problem.message


def test_a_line_of_one_field_is_a_format_problem_quoting_the_line() -> None:
    assert "'1234 CODE1' has no TAB" in format_problem(b"1234 CODE1\r\n")


def test_a_line_of_six_fields_is_a_format_problem() -> None:
    assert "6 TAB-separated fields" in format_problem(b"1234\tCODE1\t1\t2\t3\t4\r\n")


@pytest.mark.parametrize("product", [b"abc", b"12a", b"", b"1.5", b"+1234", b" 1234", b"\xb2"])
def test_a_product_id_that_is_not_a_whole_number_is_a_format_problem(product: bytes) -> None:
    message = format_problem(product + b"\tCODE1\r\n")
    assert "ProductID" in message and "not a whole number" in message


def test_an_empty_code_is_a_format_problem() -> None:
    assert "the code is empty" in format_problem(b"1234\t\t30\r\n")


def test_a_code_of_129_characters_is_too_long_and_shown_truncated() -> None:
    message = format_problem(b"1234\t" + b"B" * 129 + b"\r\n")
    assert "129 characters" in message and "'" + "B" * 39 + "…'" in message


def test_a_code_with_a_space_names_the_code() -> None:
    message = format_problem(b"1234\tAB CD\r\n")
    assert message == (
        "line 1: the code 'AB CD' contains whitespace; codes may not contain spaces, tabs or control characters"
    )


@pytest.mark.parametrize(
    ("byte", "shown"),
    [
        (b"\x0c", "\\x0c"),
        (b"\x0b", "\\x0b"),
        (b"\xa0", "\\xa0"),
        (b"\x85", "\\x85"),
        (b"\x7f", "\\x7f"),
        (b"\x1e", "\\x1e"),
    ],
)
def test_a_code_with_a_control_character_is_a_format_problem_shown_escaped(byte: bytes, shown: str) -> None:
    message = format_problem(b"1234\tAB" + byte + b"CD\r\n")
    assert f"'AB{shown}CD'" in message and "control characters" in message
    assert byte.decode("cp1252") not in message


def test_a_form_feed_is_a_forbidden_character_never_a_line_break() -> None:
    items = read(b"1234\tA1\x0c1234\tA2\r\n")
    assert len(items) == 1 and isinstance(items[0], Problem) and items[0].reason_code == "format"


@pytest.mark.parametrize("first", [b"=", b"+", b"-", b"@", b"'", b"\xab"])
def test_a_code_that_could_act_as_a_spreadsheet_formula_is_refused(first: bytes) -> None:
    message = format_problem(b"1234\t" + first + b"SUM(A1)\r\n")
    assert f"starts with '{first.decode('cp1252')}'" in message and "letter or a digit" in message


def test_an_expiry_that_is_not_a_number_is_a_format_problem() -> None:
    assert "the expiry period 'abc' is not a whole number" in format_problem(b"1234\tCODE1\tabc\r\n")


def test_a_negative_build_number_is_a_format_problem() -> None:
    assert "the build number -1 is negative" in format_problem(b"1234\tCODE1\t\t-1\r\n")


def test_zero_seats_is_a_format_problem() -> None:
    assert "the seats value 0 is below 1" in format_problem(b"1234\tCODE1\t\t\t0\r\n")


@pytest.mark.parametrize(
    "line", [b"1234\tCODE1\t12345678901\r\n", b"1234\tCODE1\t\t12345678901\r\n", b"1234\tCODE1\t\t\t12345678901\r\n"]
)
def test_an_eleven_digit_number_is_too_large(line: bytes) -> None:
    message = format_problem(line)
    assert "'12345678901' is too large" in message


def test_a_number_above_2147483647_is_too_large() -> None:
    assert "'2147483648' is too large" in format_problem(b"1234\tCODE1\t\t2147483648\r\n")


def test_a_huge_number_is_refused_without_being_converted() -> None:
    assert "is too large" in format_problem(b"1234\tCODE1\t" + b"9" * 900 + b"\r\n")


def test_a_line_far_longer_than_any_good_line_is_a_format_problem() -> None:
    assert "characters long" in format_problem(b"1234\t" + b"A" * 100_000 + b"\r\n")


# --- product, prefix, expiry ---------------------------------------------


def test_another_products_id_is_a_product_mismatch_naming_both() -> None:
    problem = the_problem(b"1234\tA1\r\n99\tA2\r\n")
    assert (problem.line, problem.reason_code) == (2, "product_mismatch")
    assert "'99'" in problem.message and "1234" in problem.message and problem.message.startswith("line 2: ")


def test_an_eleven_digit_product_id_of_another_product_is_a_mismatch() -> None:
    assert the_problem(b"12345678901\tA1\r\n").reason_code == "product_mismatch"


def test_a_code_without_the_prefix_is_prefix_missing() -> None:
    problem = the_problem(b"1234\tOTHER-1\r\n", PREFIXED)
    assert (problem.reason_code, problem.line) == ("prefix_missing", 1)
    assert "'OTHER-1'" in problem.message and "'ACME-'" in problem.message


def test_the_prefix_is_case_sensitive() -> None:
    assert the_problem(b"1234\tacme-1\r\n", PREFIXED).reason_code == "prefix_missing"


@pytest.mark.parametrize(("expiry", "value"), [(b"0", "0"), (b"-5", "-5")])
def test_an_expiry_below_one_day_is_out_of_range(expiry: bytes, value: str) -> None:
    problem = the_problem(b"1234\tCODE1\t" + expiry + b"\r\n")
    assert problem.reason_code == "expiry_out_of_range"
    assert f"the expiry period {value} " in problem.message and "at least 1" in problem.message


def test_an_evaluation_expiry_of_61_days_is_out_of_range() -> None:
    problem = the_problem(b"1234\tEVAL1\t61\r\n", EVALUATION)
    assert problem.reason_code == "expiry_out_of_range"
    assert "61" in problem.message and "at most 60" in problem.message


# --- one problem per line, in order --------------------------------------


@pytest.mark.parametrize(
    ("line", "reason_code"),
    [
        (b"99\tA B\x00\n", "encoding"),
        (b"99\tA B\n", "line_ending"),
        (b" \r", "line_ending"),
        (b"99\t=A\t0\r\n", "format"),
        (b"99\tNOPREFIX\t0\r\n", "product_mismatch"),
        (b"1234\tNOPREFIX\t0\r\n", "prefix_missing"),
    ],
)
def test_a_line_with_several_faults_yields_only_the_first_one(line: bytes, reason_code: str) -> None:
    assert the_problem(line, PREFIXED).reason_code == reason_code


def test_a_bad_line_among_999_good_ones_is_the_only_problem() -> None:
    lines = [b"1234\tCODE%d\t30\r\n" % number for number in range(1, 1001)]
    lines[637 - 1] = b"1234\tCO DE\r\n"
    items = read(b"".join(lines))
    problems = [item for item in items if isinstance(item, Problem)]
    assert len(items) == 1000
    assert [(problem.line, problem.reason_code) for problem in problems] == [(637, "format")]


def test_reading_one_byte_at_a_time_gives_what_reading_at_once_gives() -> None:
    data = b"".join(
        [
            b"1234\tA1\t30\r\n",
            b"1234\tA B\r\n",
            b"1234\tA2\n",
            b"\r\n",
            b"1234\t" + b"L" * 3000 + b"\r\n",
            b"1234\tA3\t\t7\r\n",
            b"1234\tA\x81\r\n",
            b"1234\tlast",
        ]
    )
    one_by_one = list(read_txt((data[i : i + 1] for i in range(len(data))), ACTIVATION))
    assert one_by_one == read(data)
    assert len(one_by_one) == 8


def test_a_chunk_ending_between_cr_and_lf_changes_nothing() -> None:
    assert list(read_txt([b"1234\tA1\r", b"\n1234\tA2\r", b"\n"], ACTIVATION)) == records(b"1234\tA1\r\n1234\tA2\r\n")


def test_a_huge_line_without_any_line_break_is_read_in_bounded_pieces() -> None:
    pieces = (b"1234\tA1\r" * 8192 for _ in range(200))  # a 12 MB classic Mac file
    items = list(read_txt(pieces, ACTIVATION))
    assert [(item.line, item.reason_code) for item in items if isinstance(item, Problem)] == [(1, "line_ending")]
