from __future__ import annotations

import string
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ledger import instruments
from ledger.errors import InvalidValue
from ledger.instruments import (
    BOLETO_FACTOR_BASE,
    BOLETO_FACTOR_RESTART,
    Boleto,
    PixCharge,
    bank_barcode,
    barcode_to_line,
    boleto_due_date,
    br_code,
    collection_barcode,
    crc16_ccitt,
    looks_like_br_code,
    parse_boleto,
    parse_br_code,
)
from ledger.validation import PixKey, parse_pix_key
from tests.ledger.test_validation import (
    raises_code,
    ref_bank_general_dv,
    ref_bank_line,
    ref_cnpj,
    ref_collection_line,
    ref_cpf,
)

# --------------------------------------------------------------------------- helpers


def digits_of(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def ref_bank_barcode(bank_currency: str, due_factor: str, value: str, free_field: str) -> str:
    """A 44-digit bank barcode built with the reference DV from test_validation, not the module's."""
    body = bank_currency + due_factor + value + free_field
    return body[:4] + str(ref_bank_general_dv(body)) + body[4:]


def ref_crc16(data: bytes) -> int:
    """Bit-by-bit CRC-16/CCITT-FALSE, written from the definition (poly 0x1021, init 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        for bit in range(7, -1, -1):
            feedback = ((crc >> 15) & 1) ^ ((byte >> bit) & 1)
            crc = ((crc << 1) & 0xFFFF) ^ (0x1021 if feedback else 0)
    return crc


def tlv(field_id: str, value: str) -> str:
    return f"{field_id}{len(value):02d}{value}"


def with_crc(body: str) -> str:
    """Close a hand-made payload with a correct CRC, so a test exercises the fields, not the checksum."""
    body += "6304"
    return body + crc16_ccitt(body.encode("utf-8"))


BCB_KEY = "123e4567-e12b-12d1-a456-426655440000"
BCB_EXAMPLE = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR"
    "5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)


GUI = tlv("00", "br.gov.bcb.pix")


def pix_body(
    *,
    account: str | None = GUI + tlv("01", BCB_KEY),
    amount: str | None = None,
    name: str | None = "Fulano de Tal",
    city: str | None = "BRASILIA",
    extra: str = "",
    additional: str | None = tlv("05", "***"),
) -> str:
    """A BR Code body (without the CRC) in the BCB layout, each field replaceable or removable (None)."""
    parts = [
        tlv("00", "01"),
        "" if account is None else tlv("26", account),
        tlv("52", "0000"),
        tlv("53", "986"),
        "" if amount is None else tlv("54", amount),
        tlv("58", "BR"),
        "" if name is None else tlv("59", name),
        "" if city is None else tlv("60", city),
        extra,
        "" if additional is None else tlv("62", additional),
    ]
    return "".join(parts)


# --------------------------------------------------------------------------- documentation


@pytest.mark.parametrize(
    "code",
    ["boleto_invalid_length", "boleto_invalid_check_digits", "boleto_not_brl", "pix_code_invalid", "pix_code_crc"],
)
def test_error_codes_are_documented(code: str) -> None:
    assert f"``{code}``" in (instruments.__doc__ or "")


def test_public_api_is_exported() -> None:
    assert set(instruments.__all__) <= set(dir(instruments))


# --------------------------------------------------------------------------- boleto: published examples (§3, §4)

BB_LINE = "00190.50095 40144.816069 06809.350314 3 37370000000100"
BB_BARCODE = "00193373700000001000500940144816060680935031"
ITAU_LINE = "34191.10121 34567.880058 71234.570001 6 16670000012345"
ITAU_BARCODE = "34196166700000123451101234567880057123457000"


@pytest.mark.parametrize(
    ("line", "barcode", "bank", "amount"),
    [
        (BB_LINE, BB_BARCODE, "001", Decimal("1.00")),
        (ITAU_LINE, ITAU_BARCODE, "341", Decimal("123.45")),
    ],
)
def test_published_bank_examples_in_both_directions(line: str, barcode: str, bank: str, amount: Decimal) -> None:
    today = date(2026, 12, 2)
    from_line = parse_boleto(line, today=today)
    assert from_line.line == digits_of(line)
    assert from_line.barcode == barcode
    assert (from_line.kind, from_line.bank_code, from_line.amount) == ("bank", bank, amount)
    assert str(from_line.amount) == str(amount)  # exactly 2 places
    assert parse_boleto(barcode, today=today) == from_line
    assert barcode_to_line(barcode) == digits_of(line)


def test_banco_do_brasil_example_due_date() -> None:
    # Factor 3737 = 2007-12-31 (Banco do Brasil's published example).
    assert parse_boleto(BB_LINE, today=date(2007, 12, 1)).due_date == date(2007, 12, 31)


@pytest.mark.parametrize(
    ("today", "due"),
    [
        (date(2002, 4, 1), date(2002, 5, 1)),  # old cycle: 1997-10-07 + 1667 days
        (date(2026, 12, 2), date(2026, 12, 21)),  # new cycle: 2025-02-22 + 667 days
    ],
)
def test_itau_example_due_date_follows_today(today: date, due: date) -> None:
    assert parse_boleto(ITAU_BARCODE, today=today).due_date == due


@pytest.mark.parametrize(
    ("line", "barcode", "amount"),
    [
        (
            "82620000000 6 62730534000 2 00202200107 3 25520100504 8",
            "82620000000627305340000020220010725520100504",
            Decimal("62.73"),
        ),
        (
            "826500000110 314400081704 924000000027 202104000015",
            "82650000011314400081709240000000220210400001",
            Decimal("1131.44"),
        ),
        (
            "836200000005 667800481000 180975657313 001589636081",
            "83620000000667800481001809756573100158963608",
            Decimal("66.78"),
        ),
    ],
)
def test_published_collection_examples_in_both_directions(line: str, barcode: str, amount: Decimal) -> None:
    boleto = parse_boleto(line, today=date(2026, 12, 2))
    assert boleto == Boleto(
        line=digits_of(line), barcode=barcode, kind="collection", amount=amount, due_date=None, bank_code=None
    )
    assert parse_boleto(barcode, today=date(2026, 12, 2)) == boleto
    assert barcode_to_line(barcode) == digits_of(line)


def test_separators_and_any_whitespace_are_ignored() -> None:
    messy = " 0019050095\t40144-816069\n06809.350314 3\u00a037370000000100 "
    assert parse_boleto(messy, today=date(2007, 12, 1)).line == digits_of(BB_LINE)
    assert barcode_to_line(f" {BB_BARCODE[:10]}.{BB_BARCODE[10:20]}-{BB_BARCODE[20:]}\n") == digits_of(BB_LINE)


# --------------------------------------------------------------------------- boleto: due factor


@pytest.mark.parametrize(
    ("factor", "today", "expected"),
    [
        # Published anchors (br-finance.md §3).
        (3737, date(2007, 6, 1), date(2007, 12, 31)),
        (1000, date(2026, 12, 2), date(2025, 2, 22)),
        (9999, date(2025, 2, 1), date(2025, 2, 21)),
        (1000, date(2000, 7, 1), date(2000, 7, 3)),
        # Around the 2025-02-22 restart: the last old factors and the first new ones on both sides.
        (9999, date(2025, 2, 21), date(2025, 2, 21)),
        (9999, date(2025, 2, 22), date(2025, 2, 21)),
        (9999, date(2025, 6, 1), date(2025, 2, 21)),
        (9990, date(2025, 3, 10), date(2025, 2, 12)),
        (1000, date(2025, 2, 21), date(2025, 2, 22)),
        (1000, date(2025, 2, 22), date(2025, 2, 22)),
        (1001, date(2025, 1, 1), date(2025, 2, 23)),
        (1010, date(2024, 12, 1), date(2025, 3, 4)),
        (9999, date(2049, 10, 1), date(2049, 10, 13)),
        # Old slips stay old while today is nearer to them; new ones win once today passes the midpoint.
        (9000, date(2026, 1, 1), BOLETO_FACTOR_BASE + timedelta(days=9000)),
        (5000, BOLETO_FACTOR_BASE + timedelta(days=9499), BOLETO_FACTOR_BASE + timedelta(days=5000)),
        (5000, BOLETO_FACTOR_BASE + timedelta(days=9500), BOLETO_FACTOR_RESTART + timedelta(days=4000)),  # tie
        (5000, BOLETO_FACTOR_BASE + timedelta(days=9501), BOLETO_FACTOR_RESTART + timedelta(days=4000)),
    ],
)
def test_boleto_due_date(factor: int, today: date, expected: date) -> None:
    assert boleto_due_date(factor, today=today) == expected


def test_restart_constants() -> None:
    assert BOLETO_FACTOR_BASE + timedelta(days=9999) == BOLETO_FACTOR_RESTART - timedelta(days=1)
    assert BOLETO_FACTOR_RESTART + timedelta(days=9999 - 1000) == date(2049, 10, 13)


def test_zero_factor_means_no_due_date() -> None:
    assert boleto_due_date(0, today=date(2026, 1, 1)) is None


def test_never_issued_factors_keep_their_literal_meaning() -> None:
    assert boleto_due_date(999, today=date(2026, 1, 1)) == BOLETO_FACTOR_BASE + timedelta(days=999)


@pytest.mark.parametrize("factor", [-1, 10000])
def test_due_factor_out_of_range(factor: int) -> None:
    with pytest.raises(ValueError):
        boleto_due_date(factor, today=date(2026, 1, 1))


@pytest.mark.parametrize(
    ("factor", "today", "expected"),
    [
        ("9999", date(2025, 2, 1), date(2025, 2, 21)),
        ("1000", date(2025, 2, 20), date(2025, 2, 22)),
        ("0000", date(2025, 2, 20), None),
    ],
)
def test_parse_boleto_reads_the_factor_around_the_restart(factor: str, today: date, expected: date | None) -> None:
    barcode = ref_bank_barcode("2379", factor, "0000012345", "1" * 25)
    assert parse_boleto(barcode, today=today).due_date == expected


# --------------------------------------------------------------------------- boleto: "not fixed" values


def test_zero_amount_and_zero_factor_are_not_fixed() -> None:
    line = ref_bank_line("2379", "0000", "0000000000", "3381260000000000000000040")
    boleto = parse_boleto(line, today=date(2026, 1, 1))
    assert (boleto.amount, boleto.due_date, boleto.bank_code) == (None, None, "237")


@pytest.mark.parametrize(
    ("indicator", "amount"),
    [("6", Decimal("12.34")), ("7", None), ("8", Decimal("12.34")), ("9", None)],
)
def test_collection_amount_depends_on_the_value_indicator(indicator: str, amount: Decimal | None) -> None:
    barcode = collection_barcode(segment="5", indicator=indicator, amount=Decimal("12.34"))
    assert parse_boleto(barcode, today=date(2026, 1, 1)).amount == amount


def test_collection_zero_value_is_not_fixed() -> None:
    assert parse_boleto(collection_barcode(amount=None), today=date(2026, 1, 1)).amount is None


# --------------------------------------------------------------------------- boleto: errors

BB_DIGITS = digits_of(BB_LINE)
COLLECTION_LINE = "826500000110314400081704924000000027202104000015"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "boleto_invalid_length"),
        ("   ", "boleto_invalid_length"),
        ("123", "boleto_invalid_length"),
        (BB_BARCODE[:-1], "boleto_invalid_length"),
        (BB_BARCODE + "0", "boleto_invalid_length"),
        (BB_DIGITS[:-1], "boleto_invalid_length"),
        (COLLECTION_LINE + "0", "boleto_invalid_length"),
        ("9" + COLLECTION_LINE[1:], "boleto_invalid_length"),  # 48 digits must start with 8
        (BB_DIGITS.replace("0", "O", 1), "boleto_invalid_check_digits"),
        (BB_BARCODE[:10] + "x" + BB_BARCODE[11:], "boleto_invalid_check_digits"),
        ("٠" + BB_BARCODE[1:], "boleto_invalid_check_digits"),  # Arabic-Indic zero is a digit, not ASCII
        (BB_DIGITS[:3] + "1" + BB_DIGITS[4:], "boleto_invalid_check_digits"),  # field 1 typo
        (BB_DIGITS[:32] + "4" + BB_DIGITS[33:], "boleto_invalid_check_digits"),  # general DV in the line
        (BB_BARCODE[:4] + "4" + BB_BARCODE[5:], "boleto_invalid_check_digits"),  # general DV in the barcode
        (BB_BARCODE[:20] + "1" + BB_BARCODE[21:], "boleto_invalid_check_digits"),  # barcode body typo
        (COLLECTION_LINE[:11] + "1" + COLLECTION_LINE[12:], "boleto_invalid_check_digits"),  # block DV
        ("82650000011314400081709240000000220210400002", "boleto_invalid_check_digits"),  # barcode body typo
        ("82660000011314400081709240000000220210400001", "boleto_invalid_check_digits"),  # general DV
        ("815" + COLLECTION_LINE[3:], "boleto_invalid_check_digits"),  # unknown value indicator, line
        ("815" + "0" * 41, "boleto_invalid_check_digits"),  # unknown value indicator, barcode
        (ref_bank_line("0010", "3737", "0000000100", "0" * 25), "boleto_not_brl"),
        (ref_bank_barcode("0010", "3737", "0000000100", "0" * 25), "boleto_not_brl"),
    ],
)
def test_parse_boleto_rejects(text: str, code: str) -> None:
    with raises_code(code):
        parse_boleto(text, today=date(2026, 1, 1))


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (BB_DIGITS, "boleto_invalid_length"),  # already a line
        ("", "boleto_invalid_length"),
        (BB_BARCODE[:4] + "4" + BB_BARCODE[5:], "boleto_invalid_check_digits"),
        ("815" + "0" * 41, "boleto_invalid_check_digits"),
        (BB_BARCODE[:-1] + "a", "boleto_invalid_check_digits"),
    ],
)
def test_barcode_to_line_rejects(text: str, code: str) -> None:
    with raises_code(code):
        barcode_to_line(text)


def test_barcode_to_line_keeps_other_currencies() -> None:
    # Converting is not paying: the currency is parse_boleto's concern.
    barcode = ref_bank_barcode("0010", "3737", "0000000100", "0" * 25)
    assert barcode_to_line(barcode) == ref_bank_line("0010", "3737", "0000000100", "0" * 25)


# --------------------------------------------------------------------------- boleto: builders


def test_bank_barcode_matches_the_reference_layout() -> None:
    barcode = bank_barcode(bank="237", amount=Decimal("1234.56"), due_date=date(2026, 5, 1), free_field="7" * 25)
    factor = f"{1000 + (date(2026, 5, 1) - BOLETO_FACTOR_RESTART).days:04d}"
    assert barcode == ref_bank_barcode("2379", factor, "0000123456", "7" * 25)
    assert barcode_to_line(barcode) == ref_bank_line("2379", factor, "0000123456", "7" * 25)


def test_bank_barcode_defaults_and_not_fixed_values() -> None:
    barcode = bank_barcode(amount=None, due_date=None)
    assert barcode == ref_bank_barcode("0019", "0000", "0" * 10, "0" * 25)
    assert bank_barcode(amount=Decimal("0"), due_date=None) == barcode


@pytest.mark.parametrize(
    "kwargs",
    [
        {"amount": None, "due_date": date(2025, 2, 21)},  # old cycle: no longer issued
        {"amount": None, "due_date": date(2049, 10, 14)},
        {"amount": Decimal("-1"), "due_date": None},
        {"amount": Decimal("1.001"), "due_date": None},
        {"amount": Decimal("100000000.00"), "due_date": None},  # 11 digits of centavos
        {"amount": Decimal("NaN"), "due_date": None},
        {"amount": Decimal("Infinity"), "due_date": None},
        {"amount": None, "due_date": None, "bank": "01"},
        {"amount": None, "due_date": None, "bank": "abc"},
        {"amount": None, "due_date": None, "bank": "800"},  # its barcode would read as arrecadação
        {"amount": None, "due_date": None, "free_field": "0" * 24},
    ],
)
def test_bank_barcode_rejects(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        bank_barcode(**kwargs)


def test_bank_barcode_limits() -> None:
    barcode = bank_barcode(amount=Decimal("99999999.99"), due_date=date(2049, 10, 13))
    boleto = parse_boleto(barcode, today=date(2049, 1, 1))
    assert (boleto.amount, boleto.due_date) == (Decimal("99999999.99"), date(2049, 10, 13))


def test_collection_barcode_matches_the_reference_layout() -> None:
    for indicator in "6789":
        barcode = collection_barcode(
            segment="6", indicator=indicator, amount=Decimal("5.00"), company="12345678", free_field="9" * 21
        )
        tail = "00000000500" + "12345678" + "9" * 21
        assert barcode_to_line(barcode) == ref_collection_line("86" + indicator, tail)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"amount": None, "indicator": "5"},
        {"amount": None, "segment": "22"},
        {"amount": None, "company": "00000"},
        {"amount": None, "free_field": "0" * 26},
        {"amount": Decimal("1000000000.00")},  # 12 digits of centavos
        {"amount": Decimal("0.5E-2")},
    ],
)
def test_collection_barcode_rejects(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        collection_barcode(**kwargs)


# --------------------------------------------------------------------------- boleto: properties

bank_amounts = st.one_of(st.none(), st.integers(0, 10**10 - 1).map(lambda cents: Decimal(cents).scaleb(-2)))
new_cycle_dates = st.dates(BOLETO_FACTOR_RESTART, date(2049, 10, 13))


@given(
    st.from_regex(r"[0-79][0-9]{2}", fullmatch=True),
    bank_amounts,
    st.one_of(st.none(), new_cycle_dates),
    st.text(string.digits, min_size=25, max_size=25),
    st.integers(-4500, 4500),
)
def test_bank_round_trip(bank: str, amount: Decimal | None, due: date | None, free: str, offset: int) -> None:
    # Any day from 4500 days before the due date on reads a new-cycle factor as new-cycle.
    today = (due or date(2030, 1, 1)) + timedelta(days=offset)
    barcode = bank_barcode(bank=bank, amount=amount, due_date=due, free_field=free)
    line = barcode_to_line(barcode)
    boleto = parse_boleto(line, today=today)
    assert boleto == parse_boleto(barcode, today=today)
    assert (boleto.line, boleto.barcode, boleto.kind, boleto.bank_code) == (line, barcode, "bank", bank)
    assert boleto.amount == (amount or None)
    assert boleto.amount is None or boleto.amount.as_tuple().exponent == -2
    assert boleto.due_date == due
    factor = "0000" if due is None else f"{1000 + (due - BOLETO_FACTOR_RESTART).days:04d}"
    assert line == ref_bank_line(bank + "9", factor, barcode[9:19], free)


@given(
    st.text(string.digits, min_size=1, max_size=1),
    st.sampled_from("6789"),
    st.integers(0, 10**11 - 1),
    st.text(string.digits, min_size=29, max_size=29),
)
def test_collection_round_trip(segment: str, indicator: str, cents: int, rest: str) -> None:
    amount = Decimal(cents).scaleb(-2)
    barcode = collection_barcode(
        segment=segment, indicator=indicator, amount=amount, company=rest[:4], free_field=rest[4:]
    )
    line = barcode_to_line(barcode)
    assert line == ref_collection_line("8" + segment + indicator, f"{cents:011d}" + rest)
    boleto = parse_boleto(line, today=date(2026, 1, 1))
    assert boleto == parse_boleto(barcode, today=date(2026, 1, 1))
    assert boleto.amount == (amount if indicator in "68" and cents else None)


@given(st.text(alphabet=string.digits + " .-\t\nx٣", max_size=60))
def test_parse_boleto_only_raises_invalid_value(text: str) -> None:
    try:
        parse_boleto(text, today=date(2026, 1, 1))
    except InvalidValue as error:
        assert error.code.startswith("boleto_")


# --------------------------------------------------------------------------- PIX: CRC


def test_crc_check_value() -> None:
    assert crc16_ccitt(b"123456789") == "29B1"


def test_crc_keeps_leading_zeros() -> None:
    assert crc16_ccitt(b"A149") == "0056"


def test_crc_of_the_bcb_example() -> None:
    assert crc16_ccitt(BCB_EXAMPLE[:-4].encode()) == "1D3D"


@given(st.binary(max_size=200))
def test_crc_matches_the_bitwise_definition(data: bytes) -> None:
    assert crc16_ccitt(data) == f"{ref_crc16(data):04X}"


# --------------------------------------------------------------------------- PIX: published example (§6)


def test_bcb_manual_example() -> None:
    assert parse_br_code(BCB_EXAMPLE) == PixCharge(
        payload=BCB_EXAMPLE,
        key=PixKey("random", BCB_KEY),
        url=None,
        amount=None,
        receiver_name="Fulano de Tal",
        city="BRASILIA",
        txid=None,
        message=None,
    )


def test_surrounding_whitespace_is_stripped_and_crc_case_ignored() -> None:
    lower = BCB_EXAMPLE[:-4] + "1d3d"
    assert parse_br_code(f"\n  {lower}\t ").payload == lower


def test_web_copies_that_keep_1d3d_are_rejected() -> None:
    altered = BCB_EXAMPLE.replace("Fulano de Tal", "Fulano de Tao")
    with raises_code("pix_code_crc"):
        parse_br_code(altered)


# --------------------------------------------------------------------------- PIX: fields


def test_full_static_code() -> None:
    account = tlv("00", "BR.GOV.BCB.PIX") + tlv("01", "Pagamentos@Empresa.com") + tlv("02", "Pedido 42")
    additional = tlv("05", "PEDIDO42")
    payload = with_crc(
        tlv("00", "01") + tlv("01", "12") + pix_body(account=account, amount="1500.5", additional=additional)[6:]
    )
    charge = parse_br_code(payload)
    assert charge.key == PixKey("email", "pagamentos@empresa.com")
    assert (charge.amount, str(charge.amount)) == (Decimal("1500.50"), "1500.50")
    assert (charge.txid, charge.message, charge.url) == ("PEDIDO42", "Pedido 42", None)


def test_dynamic_code_has_a_url_and_no_key() -> None:
    url = "pix.example.com/qr/v2/9d36b84f-c70b-478f-b95c-12729b90ca25"
    charge = parse_br_code(with_crc(pix_body(account=tlv("00", "br.gov.bcb.pix") + tlv("25", url))))
    assert (charge.key, charge.url, charge.txid) == (None, url, None)


@pytest.mark.parametrize(
    ("raw", "amount"),
    [("10", "10.00"), ("0.5", "0.50"), ("0.01", "0.01"), ("10.50", "10.50"), ("9999999999.99", "9999999999.99")],
)
def test_amounts(raw: str, amount: str) -> None:
    assert str(parse_br_code(with_crc(pix_body(amount=raw))).amount) == amount


def test_optional_fields_may_be_absent() -> None:
    body = tlv("00", "01") + tlv("26", tlv("00", "br.gov.bcb.pix") + tlv("01", BCB_KEY))
    body += tlv("59", "Fulano de Tal") + tlv("60", "BRASILIA")
    charge = parse_br_code(with_crc(body))
    assert (charge.amount, charge.txid, charge.key) == (None, None, PixKey("random", BCB_KEY))


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (BCB_KEY.upper(), PixKey("random", BCB_KEY)),
        ("Pagamentos@Empresa.com", PixKey("email", "pagamentos@empresa.com")),
        ("+5511912345678", PixKey("phone", "+5511912345678")),
        ("52998224725", PixKey("cpf", "52998224725")),
        ("11222333000181", PixKey("cnpj", "11222333000181")),
        ("12ABC34501DE35", PixKey("cnpj", "12ABC34501DE35")),
    ],
)
def test_keys_in_dict_form_are_accepted_case_aside(raw: str, key: PixKey) -> None:
    assert parse_br_code(with_crc(pix_body(account=GUI + tlv("01", raw)))).key == key


def test_lengths_count_characters() -> None:
    charge = parse_br_code(with_crc(pix_body(name="José Conceição", city="São Paulo")))
    assert (charge.receiver_name, charge.city) == ("José Conceição", "São Paulo")


def test_unknown_fields_are_tolerated() -> None:
    charge = parse_br_code(with_crc(pix_body(extra=tlv("80", tlv("00", "com.example") + tlv("01", "x")))))
    assert charge.receiver_name == "Fulano de Tal"


def padded_code(length: int) -> str:
    """A valid code of exactly ``length`` characters, padded with unreserved template fields 80..99."""
    base = len(with_crc(pix_body()))
    extra, field_id = "", 80
    while base + len(extra) < length:
        missing = length - base - len(extra)
        extra += tlv(str(field_id), "x" * min(99, max(missing - 4, 0)))
        field_id += 1
    code = with_crc(pix_body(extra=extra))
    assert len(code) == length
    return code


def test_length_limit() -> None:
    assert parse_br_code(padded_code(512)).city == "BRASILIA"
    with raises_code("pix_code_invalid"):
        parse_br_code(padded_code(513))


def test_looks_like_br_code() -> None:
    assert looks_like_br_code(BCB_EXAMPLE)
    assert looks_like_br_code("  " + BCB_EXAMPLE)
    assert not looks_like_br_code("pagamentos@empresa.com")
    assert not looks_like_br_code(BB_LINE)
    assert not looks_like_br_code("")


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "hello",
        "000201",
        BCB_EXAMPLE[:-1],  # truncated copy
        BCB_EXAMPLE + "0",
        BCB_EXAMPLE[:-8] + "6305" + BCB_EXAMPLE[-4:] + "0",  # CRC field of the wrong length
        BCB_EXAMPLE[:-4] + "1D3G",  # CRC not hex
        with_crc(pix_body()).replace("000201", "000202", 1),
        with_crc(tlv("26", GUI + tlv("01", BCB_KEY)) + tlv("00", "01") + pix_body()[6 + 4 + 58 :]),  # 00 not first
        with_crc(pix_body()) + tlv("64", "x"),  # 63 not last
        with_crc(pix_body(extra=tlv("63", "ABCD"))),  # CRC field twice
        with_crc(pix_body(extra=tlv("59", "Outro"))),  # duplicate field
        with_crc(pix_body().replace("5802BR", "58AABR")),  # non-numeric length
        with_crc(pix_body().replace("5802BR", "5803BR")),  # length does not tile
        with_crc(tlv("00", "01") + tlv("01", "13") + pix_body()[6:]),  # unknown point of initiation
        with_crc(pix_body(account=None)),
        with_crc(pix_body(account=tlv("00", "br.gov.bcb.pox") + tlv("01", BCB_KEY))),
        with_crc(pix_body(account=tlv("01", BCB_KEY))),  # no GUI
        with_crc(pix_body(account=GUI)),  # neither key nor URL
        with_crc(pix_body(account=GUI + tlv("01", BCB_KEY) + tlv("25", "pix.example.com/qr/1"))),  # both
        with_crc(pix_body(account=GUI + tlv("01", "not a key"))),
        with_crc(pix_body(account=GUI + tlv("01", "52998224726"))),  # CPF with a wrong DV, not a phone
        with_crc(pix_body(account=GUI + tlv("01", "529.982.247-25"))),  # keys are in DICT form
        with_crc(pix_body(account=GUI + tlv("01", "11912345678"))),  # a phone key is +55...
        with_crc(pix_body(account=GUI + tlv("01", "+55 11 91234-5678"))),
        with_crc(pix_body(account=GUI + tlv("01", BCB_KEY) + tlv("01", BCB_KEY))),  # duplicate sub-field
        with_crc(pix_body(account=GUI + tlv("01", BCB_KEY)[:-1])),  # sub-field cut short
        with_crc(pix_body().replace("5303986", "5303840")),
        with_crc(pix_body().replace("5802BR", "5802US")),
        with_crc(pix_body(amount="1,00")),
        with_crc(pix_body(amount="10.123")),
        with_crc(pix_body(amount="0.00")),
        with_crc(pix_body(amount="0")),
        with_crc(pix_body(amount="-1.00")),
        with_crc(pix_body(amount="1e5")),
        with_crc(pix_body(amount=".50")),
        with_crc(pix_body(amount="10.")),
        with_crc(pix_body(amount="١٠.٠٠")),  # Arabic-Indic digits
        with_crc(pix_body(amount="99999999999.99")),  # 14 characters
        with_crc(pix_body(name=None)),
        with_crc(pix_body(name="   ")),
        with_crc(pix_body(city=None)),
        with_crc(pix_body(city="")),
        with_crc(pix_body(additional="05")),  # malformed additional data
        BCB_EXAMPLE.replace("Tal", "Ta\ud800"),  # a lone surrogate (from a JSON escape) is not text
    ],
)
def test_parse_br_code_rejects_malformed_codes(payload: str) -> None:
    with raises_code("pix_code_invalid"):
        parse_br_code(payload)


# --------------------------------------------------------------------------- PIX: builder

CPF_KEY = ref_cpf("529982247")


def test_br_code_builds_the_bcb_layout() -> None:
    assert br_code(key=BCB_KEY.upper(), receiver_name="Fulano de Tal", city="BRASILIA") == BCB_EXAMPLE


def test_br_code_normalises_the_key() -> None:
    charge = parse_br_code(br_code(key="529.982.247-25", receiver_name="A", city="B", amount=Decimal("1")))
    assert (charge.key, str(charge.amount)) == (PixKey("cpf", CPF_KEY), "1.00")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"receiver_name": ""},
        {"city": "  "},
        {"txid": ""},
        {"receiver_name": "x" * 100},
        {"message": "x" * 60},  # field 26 would exceed 99 characters
        {"amount": Decimal("0")},
        {"amount": Decimal("-5")},
        {"amount": Decimal("1.005")},
        {"amount": Decimal("10000000000")},  # 14 characters with the decimals
        {"amount": Decimal("sNaN")},
    ],
)
def test_br_code_rejects(kwargs: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"key": BCB_KEY, "receiver_name": "Fulano", "city": "BRASILIA", **kwargs}
    with pytest.raises(ValueError):
        br_code(**arguments)


def test_br_code_rejects_an_invalid_key() -> None:
    with raises_code("pix_key_invalid"):
        br_code(key="not a key", receiver_name="Fulano", city="BRASILIA")


# --------------------------------------------------------------------------- PIX: properties

pix_keys = st.one_of(
    st.text(string.digits, min_size=9, max_size=9).filter(lambda s: len(set(s)) > 1).map(ref_cpf),
    st.text(string.digits, min_size=12, max_size=12).filter(lambda s: len(set(s)) > 1).map(ref_cnpj),
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    st.from_regex(r"[A-Za-z0-9_]{1,10}(\.[a-z0-9_]{1,5})?@[a-z]{1,10}\.com\.br", fullmatch=True),
    st.from_regex(r"\+55[1-9][1-9]9[0-9]{8}", fullmatch=True),
)
names = st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), min_size=1, max_size=25)
pix_amounts = st.one_of(st.none(), st.integers(1, 10**12 - 1).map(lambda cents: Decimal(cents).scaleb(-2)))
txids = st.one_of(st.none(), st.text(string.ascii_letters + string.digits, min_size=1, max_size=25))
messages = st.one_of(st.none(), st.text(st.characters(codec="ascii", categories=("L", "N", "Zs")), max_size=20))


@given(pix_keys, names, names, pix_amounts, txids, messages)
def test_br_code_round_trip(
    key: str, name: str, city: str, amount: Decimal | None, txid: str | None, message: str | None
) -> None:
    assume(name.strip() and city.strip())
    code = br_code(key=key, receiver_name=name, city=city, amount=amount, txid=txid, message=message)
    assert looks_like_br_code(code)
    assert parse_br_code(code) == PixCharge(
        payload=code,
        key=parse_pix_key(key),
        url=None,
        amount=amount,
        receiver_name=name,
        city=city,
        txid=txid,
        message=message,
    )


@given(pix_keys, pix_amounts, st.data())
def test_any_single_character_change_is_caught(key: str, amount: Decimal | None, data: st.DataObject) -> None:
    code = br_code(key=key, receiver_name="Fulano de Tal", city="BRASILIA", amount=amount)
    position = data.draw(st.integers(0, len(code) - 1))
    # Not whitespace: a space at either end is stripped, which is a deletion rather than a substitution.
    char = data.draw(st.characters(codec="ascii", exclude_categories=("Cc", "Zs")))
    assume(char.upper() != code[position].upper() or position < len(code) - 4)  # the CRC is case-insensitive
    assume(char != code[position])
    mutated = code[:position] + char + code[position + 1 :]
    with pytest.raises(InvalidValue) as info:
        parse_br_code(mutated)
    assert info.value.code in ("pix_code_invalid", "pix_code_crc")


any_text = st.text(st.characters(exclude_categories=()), max_size=80)  # surrogates included


@given(st.one_of(any_text, any_text.map(lambda s: "000201" + s)))
def test_parse_br_code_only_raises_invalid_value(text: str) -> None:
    try:
        parse_br_code(text)
    except InvalidValue as error:
        assert error.code in ("pix_code_invalid", "pix_code_crc")
