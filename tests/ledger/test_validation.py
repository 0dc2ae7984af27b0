from __future__ import annotations

import string
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Literal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ledger import validation
from ledger.errors import InvalidValue
from ledger.validation import (
    Document,
    PixKey,
    PixKind,
    is_valid_cnpj,
    is_valid_cpf,
    mask_document,
    normalize_document,
    parse_boleto_line,
    parse_brl_amount,
    parse_document,
    parse_invoice_number,
    parse_pix_key,
)

# --------------------------------------------------------------------------- independent reference helpers
# Written separately from the module on purpose, so a shared bug cannot make both agree.


def ref_cpf(base9: str) -> str:
    digits = [int(c) for c in base9]
    for _ in range(2):
        total = sum(d * w for d, w in zip(digits, range(len(digits) + 1, 1, -1), strict=True))
        rest = total % 11
        digits.append(0 if rest < 2 else 11 - rest)
    return base9 + "".join(str(d) for d in digits[9:])


def ref_cnpj(base12: str) -> str:
    values = [ord(c) - ord("0") for c in base12]
    weights = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    dvs = ""
    for _ in range(2):
        total = sum(v * w for v, w in zip(values, weights[-len(values) :], strict=True))
        rest = total % 11
        dv = 0 if rest < 2 else 11 - rest
        values.append(dv)
        dvs += str(dv)
    return base12 + dvs


def ref_mod10(digits: str) -> int:
    total = 0
    for position, char in enumerate(digits[::-1]):
        product = int(char) * (1 + (position + 1) % 2)
        total += sum(int(d) for d in str(product))
    return -total % 10


def ref_weighted11(digits: str) -> int:
    weights = [2, 3, 4, 5, 6, 7, 8, 9]
    return sum(int(c) * weights[i % 8] for i, c in enumerate(digits[::-1]))


def ref_mod11_collection(digits: str) -> int:
    rest = ref_weighted11(digits) % 11
    return 0 if rest in (0, 1) else 11 - rest


def ref_bank_general_dv(barcode_without_dv: str) -> int:
    general = 11 - ref_weighted11(barcode_without_dv) % 11
    return 1 if general in (0, 10, 11) else general


def ref_bank_line(bank_currency: str, due_factor: str, value: str, free_field: str) -> str:
    """Build a 47-digit bank boleto line from its barcode parts."""
    body = bank_currency + due_factor + value + free_field
    assert len(body) == 43
    general = ref_bank_general_dv(body)
    barcode = body[:4] + str(general) + body[4:]
    fields = [barcode[0:4] + barcode[19:24], barcode[24:34], barcode[34:44]]
    return "".join(f + str(ref_mod10(f)) for f in fields) + str(general) + barcode[5:19]


def ref_collection_line(head: str, tail: str) -> str:
    """Build a 48-digit collection line: ``head`` is product+segment+value indicator, ``tail`` the other 40."""
    assert len(head) == 3 and len(tail) == 40
    dv_of = ref_mod10 if head[2] in "67" else ref_mod11_collection
    barcode = head + str(dv_of(head + tail)) + tail
    blocks = [barcode[i : i + 11] for i in range(0, 44, 11)]
    return "".join(b + str(dv_of(b)) for b in blocks)


def ref_bank_line_is_valid(line: str) -> bool:
    fields_ok = all(ref_mod10(line[a:b]) == int(line[b]) for a, b in ((0, 9), (10, 20), (21, 31)))
    barcode = line[0:4] + line[33:47] + line[4:9] + line[10:20] + line[21:31]
    return fields_ok and ref_bank_general_dv(barcode) == int(line[32])


def ref_collection_line_is_valid(line: str) -> bool:
    dv_of = ref_mod10 if line[2] in "67" else ref_mod11_collection
    blocks = [line[i : i + 12] for i in range(0, 48, 12)]
    barcode = "".join(b[:11] for b in blocks)
    return all(dv_of(b[:11]) == int(b[11]) for b in blocks) and dv_of(barcode[:3] + barcode[4:]) == int(barcode[3])


@contextmanager
def raises_code(code: str) -> Iterator[None]:
    with pytest.raises(InvalidValue) as info:
        yield
    assert info.value.code == code
    assert str(info.value)


# --------------------------------------------------------------------------- InvalidValue


def test_invalid_value_is_value_error_with_code() -> None:
    error = InvalidValue("amount_invalid", "Not a valid amount.")
    assert isinstance(error, ValueError)
    assert error.code == "amount_invalid"
    assert str(error) == "Not a valid amount."


@pytest.mark.parametrize(
    "code",
    [
        "amount_invalid",
        "amount_not_positive",
        "amount_too_many_decimals",
        "amount_too_large",
        "document_invalid_length",
        "document_invalid_check_digits",
        "boleto_invalid_length",
        "boleto_invalid_check_digits",
        "pix_key_invalid",
        "invoice_number_invalid",
    ],
)
def test_error_codes_are_documented(code: str) -> None:
    assert f"``{code}``" in (validation.__doc__ or "")


# --------------------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.234,56", "1234.56"),
        ("1234,56", "1234.56"),
        ("1234.56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("R$ 1.234,56", "1234.56"),
        ("R$1.234,56", "1234.56"),
        ("r$ 10", "10.00"),
        ("10", "10.00"),
        ("0,5", "0.50"),
        (" 1 234,56 ", "1234.56"),
        ("1\u00a0234,56", "1234.56"),
        ("1\u2009234,56", "1234.56"),
        ("1\u202f234\u202f567,89", "1234567.89"),
        ("1.234", "1234.00"),
        ("1.5", "1.50"),
        ("1,5", "1.50"),
        ("1.234.567,89", "1234567.89"),
        ("1,234,567.89", "1234567.89"),
        ("1,234,567", "1234567.00"),
        ("0,01", "0.01"),
        ("999.999.999.999,99", "999999999999.99"),
        ("\tR$  42,00\n", "42.00"),
    ],
)
def test_parse_brl_amount_accepts(text: str, expected: str) -> None:
    result = parse_brl_amount(text)
    assert result == Decimal(expected)
    assert result.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "amount_invalid"),
        ("   ", "amount_invalid"),
        ("abc", "amount_invalid"),
        ("10 reais", "amount_invalid"),
        ("R$", "amount_invalid"),
        ("0", "amount_not_positive"),
        ("0,00", "amount_not_positive"),
        ("R$ 0", "amount_not_positive"),
        ("-10", "amount_not_positive"),
        ("-0,5", "amount_not_positive"),
        ("R$ -10", "amount_not_positive"),
        ("-R$ 10", "amount_not_positive"),
        ("(10)", "amount_not_positive"),
        ("(R$ 1.234,56)", "amount_not_positive"),
        ("1,234", "amount_too_many_decimals"),
        ("10,001", "amount_too_many_decimals"),
        ("1.2345", "amount_too_many_decimals"),
        ("1.234,567", "amount_too_many_decimals"),
        ("1.23.4", "amount_invalid"),
        ("12.34.567,00", "amount_invalid"),
        ("1234.567", "amount_invalid"),
        ("1.234 567,00", "amount_invalid"),
        ("1,234.567.89", "amount_invalid"),
        ("1.234,56,7", "amount_invalid"),
        ("10,", "amount_invalid"),
        (",50", "amount_invalid"),
        ("NaN", "amount_invalid"),
        ("Infinity", "amount_invalid"),
        ("-Infinity", "amount_invalid"),
        ("1e5", "amount_invalid"),
        ("+10", "amount_invalid"),
        ("\u0661\u0662", "amount_invalid"),
        ("1.000.000.000.000,00", "amount_too_large"),
        ("1234567890123", "amount_too_large"),
    ],
)
def test_parse_brl_amount_rejects(text: str, code: str) -> None:
    with raises_code(code):
        parse_brl_amount(text)


_SWAP_SEPARATORS = str.maketrans(",.", ".,")


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999999999.99"), places=2))
def test_parse_brl_amount_round_trips_formatted_values(value: Decimal) -> None:
    english = f"{value:,.2f}"
    portuguese = english.translate(_SWAP_SEPARATORS)
    variants = [
        english,
        portuguese,
        "R$ " + portuguese,
        "R$" + english,
        f"{value:.2f}",
        f"{value:.2f}".replace(".", ","),
        portuguese.replace(".", "\u00a0"),
    ]
    for text in variants:
        assert parse_brl_amount(text) == value, text


# --------------------------------------------------------------------------- CPF / CNPJ

VALID_CPFS = ["529.982.247-25", "111.444.777-35", "52998224725"]
VALID_CNPJS = ["11.222.333/0001-81", "45.723.174/0001-10", "11222333000181", "12.ABC.345/01DE-35", "12abc34501de35"]


def test_reference_helpers_match_official_examples() -> None:
    assert ref_cpf("529982247") == "52998224725"
    assert ref_cnpj("112223330001") == "11222333000181"
    assert ref_cnpj("12ABC34501DE") == "12ABC34501DE35"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("529.982.247-25", "52998224725"),
        (" 11.222.333/0001-81 ", "11222333000181"),
        ("12.abc.345/01de-35", "12ABC34501DE35"),
        ("529 982 247 25", "52998224725"),
    ],
)
def test_normalize_document(text: str, expected: str) -> None:
    assert normalize_document(text) == expected


@pytest.mark.parametrize("text", VALID_CPFS)
def test_is_valid_cpf_accepts(text: str) -> None:
    assert is_valid_cpf(text)


@pytest.mark.parametrize(
    "text",
    ["529.982.247-26", "52998224724", "11111111111", "00000000000", "5299822472", "529982247255", "", "5299822472A"],
)
def test_is_valid_cpf_rejects(text: str) -> None:
    assert not is_valid_cpf(text)


@pytest.mark.parametrize("text", VALID_CNPJS)
def test_is_valid_cnpj_accepts(text: str) -> None:
    assert is_valid_cnpj(text)


@pytest.mark.parametrize(
    "text",
    [
        "11.222.333/0001-82",
        "45.723.174/0001-01",
        "12.ABC.345/01DE-36",
        "12.ABC.345/01DE-3A",
        "00000000000000",
        "11111111111111",
        "1122233300018",
        "",
        "12.AB#.345/01DE-35",
    ],
)
def test_is_valid_cnpj_rejects(text: str) -> None:
    assert not is_valid_cnpj(text)


@pytest.mark.parametrize(
    ("text", "kind", "value", "formatted", "masked"),
    [
        ("529.982.247-25", "CPF", "52998224725", "529.982.247-25", "***.982.247-**"),
        ("11144477735", "CPF", "11144477735", "111.444.777-35", "***.444.777-**"),
        ("11222333000181", "CNPJ", "11222333000181", "11.222.333/0001-81", "11.222.333/****-**"),
        ("45.723.174/0001-10", "CNPJ", "45723174000110", "45.723.174/0001-10", "45.723.174/****-**"),
        ("12.abc.345/01de-35", "CNPJ", "12ABC34501DE35", "12.ABC.345/01DE-35", "12.ABC.345/****-**"),
    ],
)
def test_parse_document_accepts(
    text: str, kind: Literal["CPF", "CNPJ"], value: str, formatted: str, masked: str
) -> None:
    document = parse_document(text)
    assert document == Document(kind, value)
    assert document.formatted == formatted
    assert document.masked == masked


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "document_invalid_length"),
        ("123", "document_invalid_length"),
        ("529.982.247-2", "document_invalid_length"),
        ("11.222.333/0001-8", "document_invalid_length"),
        ("529.982.247-26", "document_invalid_check_digits"),
        ("111.111.111-11", "document_invalid_check_digits"),
        ("00.000.000/0000-00", "document_invalid_check_digits"),
        ("11.222.333/0001-80", "document_invalid_check_digits"),
        ("12.ABC.345/01DE-53", "document_invalid_check_digits"),
        ("529.982.24A-25", "document_invalid_check_digits"),
        ("12.ABC.345/01DE-3A", "document_invalid_check_digits"),
        ("12.AB#.345/01DE-35", "document_invalid_check_digits"),
    ],
)
def test_parse_document_rejects(text: str, code: str) -> None:
    with raises_code(code):
        parse_document(text)


def test_document_is_frozen() -> None:
    document = parse_document("529.982.247-25")
    with pytest.raises(AttributeError):
        document.value = "0"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CPF 529.982.247-25 pagou", "CPF ***.982.247-** pagou"),
        ("cpf=52998224725;", "cpf=***.982.247-**;"),
        ("CNPJ 11.222.333/0001-81.", "CNPJ 11.222.333/****-**."),
        ("cnpj 11222333000181", "cnpj 11.222.333/****-**"),
        ("novo 12.ABC.345/01DE-35 e 12ABC34501DE35", "novo 12.ABC.345/****-** e 12.ABC.345/****-**"),
        # Shaped like a CPF but with wrong check digits: still masked, logs must not leak typos either.
        ("529.982.247-26", "***.982.247-**"),
        # Alphanumeric IDs that are not valid CNPJs are left alone.
        ("request U0ABCDEFGH1234 ok", "request U0ABCDEFGH1234 ok"),
        ("R$ 1.234.567,89 em 2024-01-31", "R$ 1.234.567,89 em 2024-01-31"),
        # Longer digit runs (e.g. a boleto line) are not documents.
        ("23793381286000000000400000000406184340000010000", "23793381286000000000400000000406184340000010000"),
        ("", ""),
    ],
)
def test_mask_document(text: str, expected: str) -> None:
    assert mask_document(text) == expected


_CNPJ_BASE_ALPHABET = string.digits + string.ascii_uppercase


@given(st.text(alphabet=string.digits, min_size=9, max_size=9), st.integers(0, 10), st.integers(1, 9))
def test_cpf_property(base: str, position: int, shift: int) -> None:
    cpf = ref_cpf(base)
    assume(len(set(cpf)) > 1)
    assert is_valid_cpf(cpf)
    assert parse_document(cpf) == Document("CPF", cpf)

    mutated = cpf[:position] + str((int(cpf[position]) + shift) % 10) + cpf[position + 1 :]
    oracle = len(set(mutated)) > 1 and ref_cpf(mutated[:9]) == mutated
    assert is_valid_cpf(mutated) == oracle
    if position >= 9:
        assert not is_valid_cpf(mutated)


@given(
    st.text(alphabet=_CNPJ_BASE_ALPHABET, min_size=12, max_size=12),
    st.integers(0, 13),
    st.integers(1, len(_CNPJ_BASE_ALPHABET) - 1),
)
def test_cnpj_property(base: str, position: int, shift: int) -> None:
    cnpj = ref_cnpj(base)
    assume(len(set(cnpj)) > 1)
    assert is_valid_cnpj(cnpj)
    assert parse_document(cnpj) == Document("CNPJ", cnpj)

    alphabet = _CNPJ_BASE_ALPHABET if position < 12 else string.digits
    replacement = alphabet[(alphabet.index(cnpj[position]) + shift) % len(alphabet)]
    assume(replacement != cnpj[position])
    mutated = cnpj[:position] + replacement + cnpj[position + 1 :]
    oracle = len(set(mutated)) > 1 and ref_cnpj(mutated[:12]) == mutated
    assert is_valid_cnpj(mutated) == oracle
    if position >= 12:
        assert not is_valid_cnpj(mutated)


def test_cnpj_check_digits_cannot_catch_substitutions_eleven_apart() -> None:
    # '7' is worth 7 and 'B' 18: a difference of 11 is invisible to modulo 11 (a limit of the official scheme).
    assert is_valid_cnpj("45.723.174/0001-10")
    assert is_valid_cnpj("45.B23.174/0001-10")


# --------------------------------------------------------------------------- boleto

# Bradesco-shaped line, check digits computed by hand-rolled reference code.
BANK_LINE_FORMATTED = "23793.38128 60000.000004 00000.000406 1 84340000010000"
BANK_LINE = "23793381286000000000400000000406184340000010000"


def test_bank_line_example_matches_reference_builder() -> None:
    assert ref_bank_line("2379", "8434", "0000010000", "3381260000000000000000040") == BANK_LINE


@pytest.mark.parametrize(
    "text",
    [
        BANK_LINE_FORMATTED,
        BANK_LINE,
        "  " + BANK_LINE_FORMATTED.replace(" ", "  ") + "\n",
        ref_bank_line("0019", "1000", "0000000001", "0" * 25),
        ref_bank_line("3419", "9999", "9999999999", "1234567890123456789012345"),
    ],
)
def test_parse_boleto_line_accepts_bank_lines(text: str) -> None:
    assert parse_boleto_line(text) == "".join(c for c in text if c.isdigit())


@pytest.mark.parametrize(
    "head",
    ["826", "827", "838", "859", "816"],
)
def test_parse_boleto_line_accepts_collection_lines(head: str) -> None:
    line = ref_collection_line(head, "0000001234" + "5" * 30)
    formatted = " ".join(f"{line[i : i + 11]}-{line[i + 11]}" for i in range(0, 48, 12))
    assert parse_boleto_line(formatted) == line
    assert parse_boleto_line(line) == line


@given(st.text(alphabet=string.digits, min_size=43, max_size=43), st.integers(0, 46), st.integers(1, 9))
def test_bank_line_property(body: str, position: int, shift: int) -> None:
    line = ref_bank_line(body[:4], body[4:8], body[8:18], body[18:])
    assert parse_boleto_line(line) == line
    mutated = line[:position] + str((int(line[position]) + shift) % 10) + line[position + 1 :]
    if position <= 32 or not ref_bank_line_is_valid(mutated):
        # Fields 1-3 have their own mod-10 DV, which catches every single-digit change.
        with raises_code("boleto_invalid_check_digits"):
            parse_boleto_line(mutated)
    else:
        # Mod 11 maps remainders 0, 1 and 10 to the same DV, so field 5 typos can slip through.
        assert parse_boleto_line(mutated) == mutated


@given(
    st.sampled_from("6789"),
    st.text(alphabet=string.digits, min_size=41, max_size=41),
    st.integers(1, 47),
    st.integers(1, 9),
)
def test_collection_line_property(indicator: str, digits: str, position: int, shift: int) -> None:
    line = ref_collection_line("8" + digits[0] + indicator, digits[1:])
    assert parse_boleto_line(line) == line
    assume(position != 2)  # the value indicator selects the algorithm; covered by the example tests
    mutated = line[:position] + str((int(line[position]) + shift) % 10) + line[position + 1 :]
    if indicator in "67" or not ref_collection_line_is_valid(mutated):
        with raises_code("boleto_invalid_check_digits"):
            parse_boleto_line(mutated)
    else:
        assert parse_boleto_line(mutated) == mutated


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "boleto_invalid_length"),
        ("123", "boleto_invalid_length"),
        (BANK_LINE[:-1], "boleto_invalid_length"),
        (BANK_LINE + "0", "boleto_invalid_length"),
        ("2379" + "3" * 40, "boleto_invalid_length"),  # 44-digit barcode, not a typed line
        (BANK_LINE[:10] + "X" + BANK_LINE[11:], "boleto_invalid_check_digits"),
        (BANK_LINE.replace("0", "O", 1), "boleto_invalid_check_digits"),
        ("9" + ref_collection_line("826", "0" * 40)[1:], "boleto_invalid_length"),
        ("815" + ref_collection_line("826", "0" * 40)[3:], "boleto_invalid_check_digits"),
        ("23793.38128 60000.000003 00000.000400 1 84340000010000", "boleto_invalid_check_digits"),
        (BANK_LINE[:32] + "2" + BANK_LINE[33:], "boleto_invalid_check_digits"),
        (BANK_LINE[:9] + "9" + BANK_LINE[10:], "boleto_invalid_check_digits"),
    ],
)
def test_parse_boleto_line_rejects(text: str, code: str) -> None:
    with raises_code(code):
        parse_boleto_line(text)


# --------------------------------------------------------------------------- PIX


def test_cpf_shaped_like_a_mobile_number_is_a_cpf() -> None:
    cpf = ref_cpf("119123456")
    assert parse_pix_key(cpf) == PixKey("cpf", cpf)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("529.982.247-25", "cpf", "52998224725"),
        ("52998224725", "cpf", "52998224725"),
        ("11.222.333/0001-81", "cnpj", "11222333000181"),
        ("12.abc.345/01de-35", "cnpj", "12ABC34501DE35"),
        ("Fulano.de-Tal+pix@Example.COM.br", "email", "fulano.de-tal+pix@example.com.br"),
        (" pagamentos@empresa.com ", "email", "pagamentos@empresa.com"),
        ("+55 11 91234-5678", "phone", "+5511912345678"),
        ("+5511912345678", "phone", "+5511912345678"),
        ("(11) 91234-5678", "phone", "+5511912345678"),
        ("11912345678", "phone", "+5511912345678"),
        ("11 91234-5678", "phone", "+5511912345678"),
        ("(21) 3456-7890", "phone", "+552134567890"),
        ("+55 99 99999-9999", "phone", "+5599999999999"),
        ("55 11 91234-5678", "phone", "+5511912345678"),
        ("123E4567-E89B-42D3-A456-426614174000", "random", "123e4567-e89b-42d3-a456-426614174000"),
        ("f47ac10b-58cc-4372-a567-0e02b2c3d479", "random", "f47ac10b-58cc-4372-a567-0e02b2c3d479"),
        # DICT's EVP format is any UUID shape: neither the version nor the variant is pinned.
        ("123e4567-e89b-12d3-a456-426614174000", "random", "123e4567-e89b-12d3-a456-426614174000"),
        ("123e4567-e89b-42d3-c456-426614174000", "random", "123e4567-e89b-42d3-c456-426614174000"),
    ],
)
def test_parse_pix_key_accepts(text: str, kind: PixKind, value: str) -> None:
    assert parse_pix_key(text) == PixKey(kind, value)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hello",
        "529.982.247-26",  # mistyped formatted CPF must not turn into a phone
        "11.222.333/0001-82",
        "00000000000",
        "user@",
        "@example.com",
        "user@example",
        "user..name@example.com",
        ".user@example.com",
        "user@-example.com",
        "user@exa_mple.com",
        "us er@example.com",
        "a" * 66 + "@example.com",  # 78 characters
        "+1 212 555 0100",
        "+55 11 81234-5678",  # 9-digit numbers are mobiles and start with 9
        "+55 01 91234-5678",
        "+55 10 91234-5678",
        "(11) 1234-5678",
        "1191234567",
        "119123456789",
        "123e4567e89b42d3a456426614174000",
    ],
)
def test_parse_pix_key_rejects(text: str) -> None:
    with raises_code("pix_key_invalid"):
        parse_pix_key(text)


def test_pix_email_length_limit() -> None:
    email = "a" * 65 + "@example.com"
    assert len(email) == 77
    assert parse_pix_key(email) == PixKey("email", email)


# --------------------------------------------------------------------------- invoice numbers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234", "1234"),
        ("1234-1", "1234-1"),
        ("1234 - 1", "1234-1"),
        ("1234/1", "1234-1"),
        ("NF 1234", "1234"),
        ("nf1234", "1234"),
        ("NF-e 1234", "1234"),
        ("NFe: 1234-2", "1234-2"),
        ("NFS-e 987", "987"),
        ("nº 1234", "1234"),
        ("Nº 1234", "1234"),
        ("n° 1234", "1234"),
        ("NF-e nº 000.001.234", "000001234"),
        ("Nota Fiscal nº 55-a", "55-A"),
        ("#42", "42"),
        ("  1234  ", "1234"),
        ("1" * 20, "1" * 20),
    ],
)
def test_parse_invoice_number_accepts(text: str, expected: str) -> None:
    assert parse_invoice_number(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "NF", "nº", "abc", "0", "000-1", "12.34", "1234-", "-1", "1234-123456", "1" * 21, "1" * 18 + "-12", "1,234"],
)
def test_parse_invoice_number_rejects(text: str) -> None:
    with raises_code("invoice_number_invalid"):
        parse_invoice_number(text)
