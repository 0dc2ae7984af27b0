"""Decoding of payment instruments: boletos (bank and arrecadação) and PIX BR Codes ("copia e cola").

Everything here is pure: no I/O, no Slack. The check-digit rules live in :mod:`ledger.validation`
and are reused, not copied; this module adds what a payment needs on top of "the digits check out":
the amount, the due date, the payee's PIX key. Rules and published examples: br-finance.md §3–§6.

Errors are :class:`~ledger.validation.InvalidValue` with a stable ``code``:

Boletos (:func:`parse_boleto`, :func:`barcode_to_line`)
    ``boleto_invalid_length`` (not 44/47/48 digits, or 48 digits not starting with 8),
    ``boleto_invalid_check_digits`` (non-digits, a wrong DV, an unknown value indicator),
    ``boleto_not_brl`` (a bank slip whose currency digit is not 9, Real)

PIX BR Codes (:func:`parse_br_code`)
    ``pix_code_invalid`` (malformed TLV, a missing or invalid field, an invalid key),
    ``pix_code_crc`` (the CRC does not match: the code was altered or mistyped)

The builders (:func:`bank_barcode`, :func:`collection_barcode`, :func:`br_code`) are for tests and
demos; they raise plain :class:`ValueError` for arguments a well-formed instrument cannot carry.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from ledger.errors import InvalidValue
from ledger.validation import (
    PixKey,
    _bank_general_dv,
    _bank_line_barcode,
    _boleto_digits,
    _check_bank_barcode,
    _check_collection_barcode,
    _collection_dv_function,
    _collection_line_barcode,
    _mod10_dv,
    parse_boleto_line,
    parse_pix_key,
)

__all__ = [
    "BOLETO_FACTOR_BASE",
    "BOLETO_FACTOR_RESTART",
    "BR_CODE_MAX_LENGTH",
    "Boleto",
    "PixCharge",
    "bank_barcode",
    "barcode_to_line",
    "boleto_due_date",
    "br_code",
    "collection_barcode",
    "crc16_ccitt",
    "looks_like_br_code",
    "parse_boleto",
    "parse_br_code",
]

# --------------------------------------------------------------------------- boleto

BOLETO_FACTOR_BASE = date(1997, 10, 7)
BOLETO_FACTOR_RESTART = date(2025, 2, 22)  # factor 1000 again from this day
_FACTOR_FIRST = 1000
_FACTOR_LAST = 9999
_BARCODE_LENGTH = 44
_BANK_LINE_LENGTH = 47
_COLLECTION_LINE_LENGTH = 48
_CURRENCY_REAL = "9"
_COLLECTION_REAL_VALUE = ("6", "8")  # 7 and 9 carry a reference value (a currency quantity), not BRL
_CENTS = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Boleto:
    """A decoded boleto; ``line`` and ``barcode`` are digits only, whichever of the two was typed.

    ``amount`` is None when the slip leaves it to the payer (all zeros) or states a reference value
    (arrecadação indicator 7/9). ``due_date`` is None without a due factor, and always for arrecadação,
    whose free field may or may not start with a date, so it cannot be read reliably.
    """

    line: str
    barcode: str
    kind: Literal["bank", "collection"]
    amount: Decimal | None
    due_date: date | None
    bank_code: str | None


def parse_boleto(text: str, *, today: date) -> Boleto:
    """Decode a bank line (47), an arrecadação line (48, starts with 8) or a scanned barcode (44).

    Spaces, dots, hyphens and other whitespace are ignored. ``today`` picks the due-factor cycle
    (see :func:`boleto_due_date`), so callers pass their clock's date rather than this reading one.
    """
    digits = _boleto_digits(text)
    if len(digits) == _BARCODE_LENGTH:
        line, barcode = barcode_to_line(digits), digits
    elif len(digits) in (_BANK_LINE_LENGTH, _COLLECTION_LINE_LENGTH):
        line = parse_boleto_line(digits)
        barcode = _line_barcode(line)
    else:
        raise InvalidValue("boleto_invalid_length", "A boleto line has 47 or 48 digits (a scanned barcode has 44).")
    if len(line) == _BANK_LINE_LENGTH:
        return _decode_bank(line, barcode, today)
    return _decode_collection(line, barcode)


def barcode_to_line(barcode: str) -> str:
    """Turn a 44-digit barcode into its linha digitável (47 or 48 digits), adding the field DVs.

    The barcode's own general DV is checked first: a scanner rarely misreads, but pasted text does.
    """
    digits = _boleto_digits(barcode)
    if len(digits) != _BARCODE_LENGTH:
        raise InvalidValue("boleto_invalid_length", "A boleto barcode has 44 digits.")
    if digits[0] == "8":
        _check_collection_barcode(digits)
        return _collection_barcode_line(digits)
    _check_bank_barcode(digits)
    return _bank_barcode_line(digits)


def boleto_due_date(factor: int, *, today: date) -> date | None:
    """The due date a 4-digit due factor stands for, or None for factor 0 (no due date).

    FEBRABAN restarted the factor at 1000 on 2025-02-22, so 1000..9999 each name two dates 9000 days
    apart; the one closest to ``today`` wins (a tie goes to the later one), which reads any slip
    issued or due within about 12 years of today correctly. Factors 1..999 were never issued in
    either cycle; they keep their literal meaning (days since 1997-10-07), which shows as long overdue.
    """
    if not 0 <= factor <= _FACTOR_LAST:
        raise ValueError(f"A due factor has 4 digits, got {factor}.")
    if factor == 0:
        return None
    old_cycle = BOLETO_FACTOR_BASE + timedelta(days=factor)
    if factor < _FACTOR_FIRST:
        return old_cycle
    new_cycle = BOLETO_FACTOR_RESTART + timedelta(days=factor - _FACTOR_FIRST)
    return old_cycle if abs(old_cycle - today) < abs(new_cycle - today) else new_cycle


def bank_barcode(
    *,
    bank: str = "001",
    amount: Decimal | None,
    due_date: date | None,
    free_field: str = "0" * 25,
) -> str:
    """Build a 44-digit bank barcode in Reais with a correct general DV (for tests and demos).

    ``amount`` None (or zero) leaves the amount to the payer; ``due_date`` None writes factor 0000.
    Only new-cycle dates (2025-02-22 .. 2049-10-13) are accepted: older ones are not issued any more.
    """
    _require_digits("bank", bank, 3)
    if bank[0] == "8":
        raise ValueError("A bank code cannot start with 8: that barcode would read as an arrecadação one.")
    _require_digits("free_field", free_field, 25)
    body = bank + _CURRENCY_REAL + _due_factor(due_date) + _amount_digits(amount, 10) + free_field
    return body[:4] + str(_bank_general_dv(body)) + body[4:]


def collection_barcode(
    *,
    segment: str = "2",
    indicator: str = "6",
    amount: Decimal | None,
    company: str = "0000",
    free_field: str = "0" * 25,
) -> str:
    """Build a 44-digit arrecadação barcode with the general DV of the indicator's module (tests, demos).

    ``company`` and ``free_field`` share the last 29 digits: 4 + 25 usually, 8 (CNPJ root) + 21 for
    segment 6. With indicator 7 or 9 the 11 value digits hold a reference value, which
    :func:`parse_boleto` does not report as an amount.
    """
    _require_digits("segment", segment, 1)
    if indicator not in ("6", "7", "8", "9"):
        raise ValueError(f"The value indicator must be 6, 7, 8 or 9, got {indicator!r}.")
    _require_digits("company + free_field", company + free_field, 29)
    body = "8" + segment + indicator + _amount_digits(amount, 11) + company + free_field
    return body[:3] + str(_collection_dv_function(indicator)(body)) + body[3:]


def _line_barcode(line: str) -> str:
    if len(line) == _BANK_LINE_LENGTH:
        return _bank_line_barcode(line)
    return _collection_line_barcode(line)


def _bank_barcode_line(barcode: str) -> str:
    """Bank line: fields 1-3 (bank, currency, free field) each with a mod-10 DV, then general DV, factor, amount."""
    fields = (barcode[0:4] + barcode[19:24], barcode[24:34], barcode[34:44])
    return "".join(field + str(_mod10_dv(field)) for field in fields) + barcode[4] + barcode[5:19]


def _collection_barcode_line(barcode: str) -> str:
    """Arrecadação line: four 11-digit blocks, each followed by its DV in the indicator's module."""
    dv_function = _collection_dv_function(barcode[2])
    blocks = (barcode[i : i + 11] for i in range(0, _BARCODE_LENGTH, 11))
    return "".join(block + str(dv_function(block)) for block in blocks)


def _decode_bank(line: str, barcode: str, today: date) -> Boleto:
    if barcode[3] != _CURRENCY_REAL:
        # Legal (e.g. 0 = variable currency), but the amount is not in Reais, so it cannot be paid as one.
        raise InvalidValue("boleto_not_brl", "This boleto is not in Reais (currency digit is not 9).")
    return Boleto(
        line=line,
        barcode=barcode,
        kind="bank",
        amount=_cents(barcode[9:19]),
        due_date=boleto_due_date(int(barcode[5:9]), today=today),
        bank_code=barcode[:3],
    )


def _decode_collection(line: str, barcode: str) -> Boleto:
    amount = _cents(barcode[4:15]) if barcode[2] in _COLLECTION_REAL_VALUE else None
    return Boleto(line=line, barcode=barcode, kind="collection", amount=amount, due_date=None, bank_code=None)


def _cents(digits: str) -> Decimal | None:
    """A zero-padded amount in centavos as an exact 2-place Decimal; all zeros means "not fixed"."""
    cents = int(digits)
    return Decimal(cents).scaleb(-2) if cents else None


def _amount_digits(amount: Decimal | None, width: int) -> str:
    return f"{0 if amount is None else _to_cents(amount, width):0{width}d}"


def _to_cents(amount: Decimal, max_digits: int) -> int:
    """Exact centavos of a non-negative amount with at most 2 decimals that fits in ``max_digits`` digits."""
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"Amount must be a non-negative number, got {amount}.")
    cents = amount * 100
    if cents >= 10**max_digits:
        raise ValueError(f"Amount {amount} does not fit in {max_digits} digits of centavos.")
    if cents != cents.to_integral_value():
        raise ValueError(f"Amount {amount} has more than 2 decimals.")
    return int(cents)


def _due_factor(due_date: date | None) -> str:
    if due_date is None:
        return "0000"
    factor = _FACTOR_FIRST + (due_date - BOLETO_FACTOR_RESTART).days
    if not _FACTOR_FIRST <= factor <= _FACTOR_LAST:
        raise ValueError(f"Due date {due_date} is outside the current factor cycle (2025-02-22 .. 2049-10-13).")
    return f"{factor:04d}"


def _require_digits(name: str, value: str, length: int) -> None:
    if len(value) != length or not (value.isascii() and value.isdigit()):
        raise ValueError(f"{name} must be {length} digits, got {value!r}.")


# --------------------------------------------------------------------------- PIX BR Code

BR_CODE_MAX_LENGTH = 512
_PIX_GUI = "br.gov.bcb.pix"
_BRL_CURRENCY = "986"
_COUNTRY = "BR"
_NO_TXID = "***"
_MAX_TLV_VALUE = 99
_AMOUNT_MAX_LENGTH = 13
_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]{1,2})?", re.ASCII)
_CRC_HEX = re.compile(r"[0-9A-Fa-f]{4}", re.ASCII)
_POINTS_OF_INITIATION = ("11", "12")  # static (reusable), single use
_CRC_FIELD_PREFIX = "6304"


@dataclass(frozen=True, slots=True)
class PixCharge:
    """A validated PIX BR Code: whom to pay (``key``, or ``url`` for a dynamic code) and what it says.

    ``amount`` is None when the payer chooses it; ``txid`` is None when absent or ``***`` (no id).
    """

    payload: str
    key: PixKey | None
    url: str | None
    amount: Decimal | None
    receiver_name: str
    city: str
    txid: str | None
    message: str | None


def looks_like_br_code(text: str) -> bool:
    """Cheap routing test (pasted text that should go to :func:`parse_br_code`, not a key parser)."""
    return text.strip().startswith("000201")


def crc16_ccitt(data: bytes) -> str:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final XOR), as BR Codes carry it.

    :func:`binascii.crc_hqx` is exactly this CRC once seeded with 0xFFFF. The result is four upper-case
    hex digits, zero-padded: a CRC like ``01A7`` must keep its leading zero.
    """
    return f"{binascii.crc_hqx(data, 0xFFFF):04X}"


def parse_br_code(text: str) -> PixCharge:
    """Validate a PIX BR Code strictly (TLV, CRC, fields) and extract what a payment needs.

    Structure is checked before the CRC, since the CRC's position is only known once the TLV parses;
    the fields are checked after it, so an altered code reports ``pix_code_crc`` rather than whatever
    field the alteration happened to break.
    """
    payload = text.strip()
    if len(payload) > BR_CODE_MAX_LENGTH:
        raise _invalid_code(f"A PIX code has at most {BR_CODE_MAX_LENGTH} characters.")
    fields = _top_level_fields(payload)
    _check_crc(payload)
    _check_fixed_fields(fields)
    key, url, message = _merchant_account(fields)
    additional = _sub_fields(fields.get("62", ""), "62")
    txid = additional.get("05")
    return PixCharge(
        payload=payload,
        key=key,
        url=url,
        amount=_br_code_amount(fields.get("54")),
        receiver_name=_required(fields, "59", "receiver name"),
        city=_required(fields, "60", "city"),
        txid=None if txid in (None, _NO_TXID) else txid,
        message=message,
    )


def br_code(
    *,
    key: str,
    receiver_name: str,
    city: str,
    amount: Decimal | None = None,
    txid: str | None = None,
    message: str | None = None,
) -> str:
    """Build a static BR Code with a correct CRC (tests and demos); the key is normalised first.

    Raises :class:`ValueError` when a value cannot be encoded (empty, over 99 characters, a bad amount);
    an invalid key raises ``InvalidValue("pix_key_invalid", ...)``, itself a ValueError.
    """
    account = _tlv("00", _PIX_GUI) + _tlv("01", parse_pix_key(key).value)
    if message is not None:
        account += _tlv("02", message)
    body = (
        _tlv("00", "01")
        + _tlv("26", account)
        + _tlv("52", "0000")
        + _tlv("53", _BRL_CURRENCY)
        + ("" if amount is None else _tlv("54", _format_amount(amount)))
        + _tlv("58", _COUNTRY)
        + _tlv("59", _non_empty("receiver_name", receiver_name))
        + _tlv("60", _non_empty("city", city))
        + _tlv("62", _tlv("05", _NO_TXID if txid is None else _non_empty("txid", txid)))
        + _CRC_FIELD_PREFIX
    )
    return body + crc16_ccitt(body.encode("utf-8"))


def _invalid_code(message: str) -> InvalidValue:
    return InvalidValue("pix_code_invalid", message)


def _parse_tlv(data: str, where: str) -> list[tuple[str, str]]:
    """Split EMV ``ID(2) LEN(2) VALUE`` text; the lengths must tile the text exactly.

    Lengths count characters, not bytes, so a name with accents still parses.
    """
    fields: list[tuple[str, str]] = []
    position = 0
    while position < len(data):
        header = data[position : position + 4]
        if len(header) < 4 or not (header.isascii() and header.isdigit()):
            raise _invalid_code(f"Malformed PIX code: bad field header at character {position} in {where}.")
        end = position + 4 + int(header[2:])
        if end > len(data):
            raise _invalid_code(f"Malformed PIX code: field {header[:2]} in {where} is cut short.")
        fields.append((header[:2], data[position + 4 : end]))
        position = end
    return fields


def _unique(fields: list[tuple[str, str]], where: str) -> dict[str, str]:
    result = dict(fields)
    if len(result) != len(fields):
        raise _invalid_code(f"Malformed PIX code: a field appears twice in {where}.")
    return result


def _sub_fields(template: str, where: str) -> dict[str, str]:
    return _unique(_parse_tlv(template, f"field {where}"), f"field {where}")


def _top_level_fields(payload: str) -> dict[str, str]:
    """The top-level fields, once ``00`` = ``01`` is first and a 4-hex-digit ``63`` (CRC) is last."""
    fields = _parse_tlv(payload, "the code")
    if not fields or fields[0] != ("00", "01"):
        raise _invalid_code("Not a PIX code: it must start with 000201.")
    crc_id, crc = fields[-1]
    if crc_id != "63" or not _CRC_HEX.fullmatch(crc):
        raise _invalid_code("Malformed PIX code: it must end with the CRC field 6304 and 4 hex digits.")
    return _unique(fields, "the code")


def _check_crc(payload: str) -> None:
    """The CRC covers every character up to and including ``6304``, as UTF-8 (ASCII in practice)."""
    try:
        data = payload[:-4].encode("utf-8")
    except UnicodeEncodeError as error:  # lone surrogates can arrive through JSON escapes
        raise _invalid_code("Malformed PIX code: it contains characters that are not text.") from error
    if crc16_ccitt(data) != payload[-4:].upper():
        raise InvalidValue("pix_code_crc", "The PIX code's CRC does not match; it was altered or copied incompletely.")


def _check_fixed_fields(fields: dict[str, str]) -> None:
    """Fields with one legal value in a PIX code in Reais: each may be absent, but any other value is not PIX/BRL."""
    if fields.get("01", "11") not in _POINTS_OF_INITIATION:
        raise _invalid_code("Malformed PIX code: unknown point of initiation (field 01).")
    if fields.get("53", _BRL_CURRENCY) != _BRL_CURRENCY:
        raise _invalid_code("This PIX code is not in Reais (field 53 is not 986).")
    if fields.get("58", _COUNTRY) != _COUNTRY:
        raise _invalid_code("This PIX code is not Brazilian (field 58 is not BR).")


def _merchant_account(fields: dict[str, str]) -> tuple[PixKey | None, str | None, str | None]:
    """Field 26: the PIX GUI, then exactly one of a key (01, static) or a URL (25, dynamic)."""
    if "26" not in fields:
        raise _invalid_code("Not a PIX code: the merchant account field (26) is missing.")
    account = _sub_fields(fields["26"], "26")
    if account.get("00", "").lower() != _PIX_GUI:
        raise _invalid_code(f"Not a PIX code: field 26 is not for {_PIX_GUI}.")
    raw_key, url = account.get("01"), account.get("25")
    if (raw_key is None) == (url is None):
        raise _invalid_code("Malformed PIX code: field 26 must carry either a key (01) or a URL (25).")
    return _br_code_key(raw_key), url, account.get("02")


def _br_code_key(raw_key: str | None) -> PixKey | None:
    """The key in 26/01, which must already be in its DICT form (case aside), as the payer's bank looks it up.

    :func:`parse_pix_key` reads typed input generously (a bare 11-digit number failing the CPF check may be
    a phone); in a code that generosity would turn a corrupted CPF key into somebody's phone number.
    """
    if raw_key is None:
        return None
    try:
        key = parse_pix_key(raw_key)
    except InvalidValue as error:
        raise _invalid_code("The PIX key inside the code is not valid.") from error
    if key.value.lower() != raw_key.lower():
        raise _invalid_code("The PIX key inside the code is not written in its registered (DICT) form.")
    return key


def _br_code_amount(raw: str | None) -> Decimal | None:
    if raw is None:
        return None
    if len(raw) > _AMOUNT_MAX_LENGTH or not _AMOUNT.fullmatch(raw):
        raise _invalid_code(f"Malformed PIX code: bad amount {raw!r} (field 54).")
    amount = Decimal(raw).quantize(_CENTS)
    if amount <= 0:
        raise _invalid_code("Malformed PIX code: the amount (field 54) must be greater than zero.")
    return amount


def _required(fields: dict[str, str], field_id: str, name: str) -> str:
    value = fields.get(field_id, "")
    if not value.strip():
        raise _invalid_code(f"Malformed PIX code: the {name} (field {field_id}) is missing.")
    return value


def _tlv(field_id: str, value: str) -> str:
    if len(value) > _MAX_TLV_VALUE:
        raise ValueError(f"Field {field_id} is longer than {_MAX_TLV_VALUE} characters.")
    return f"{field_id}{len(value):02d}{value}"


def _format_amount(amount: Decimal) -> str:
    # 13 characters ("9999999999.99") hold 12 digits of centavos.
    cents = _to_cents(amount, _AMOUNT_MAX_LENGTH - 1)
    if cents == 0:
        raise ValueError("A PIX amount must be greater than zero.")
    return f"{cents // 100}.{cents % 100:02d}"


def _non_empty(name: str, value: str) -> str:
    if not value.strip():
        raise ValueError(f"{name} must not be empty.")
    return value
