"""Parsing and validation of user-typed Brazilian payment data.

Everything here is pure: no I/O, no Slack. Each ``parse_*`` function raises
:class:`InvalidValue`, whose ``code`` is a stable machine key the Slack layer
translates for the user. Codes:

Amounts (:func:`parse_brl_amount`)
    ``amount_invalid`` (empty or malformed), ``amount_not_positive`` (zero or negative),
    ``amount_too_many_decimals``, ``amount_too_large`` (more than 12 integer digits)

CPF/CNPJ (:func:`parse_document`)
    ``document_invalid_length``, ``document_invalid_check_digits`` (also for stray characters)

Boleto line (:func:`parse_boleto_line`)
    ``boleto_invalid_length``, ``boleto_invalid_check_digits`` (also for non-digits and an
    unknown value indicator)

PIX key (:func:`parse_pix_key`)
    ``pix_key_invalid``

Invoice number (:func:`parse_invoice_number`)
    ``invoice_number_invalid``
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal
from urllib.parse import unquote

from ledger.errors import InvalidValue

__all__ = [
    "Document",
    "PixKey",
    "PixKind",
    "amount_problem",
    "is_valid_cnpj",
    "is_valid_cpf",
    "mask_document",
    "mask_pix_key",
    "normalize_document",
    "parse_boleto_line",
    "parse_brl_amount",
    "parse_document",
    "parse_invoice_number",
    "parse_pix_key",
]


# --------------------------------------------------------------------------- amounts

MAX_INTEGER_DIGITS = 12
_CENTS = Decimal("0.01")
# Regular, no-break, thin and narrow no-break spaces are all used as thousands separators.
_SPACE_CHARS = " \u00a0\u2007\u2009\u202f"
_SPACE_TRANSLATION = str.maketrans(dict.fromkeys(_SPACE_CHARS, " "))
_AMOUNT_BODY = re.compile(r"[0-9](?:[0-9., ]*[0-9])?", re.ASCII)
_MINUS_SIGNS = ("-", "\u2212")


def parse_brl_amount(text: str) -> Decimal:
    """Parse a positive BRL amount typed in pt-BR or English style into a 2-place Decimal.

    ``"R$ 1.234,56"``, ``"1,234.56"`` and ``"1 234,56"`` all give ``Decimal("1234.56")``.
    A lone dot followed by exactly three digits is a thousands separator (``"1.234"`` is 1234),
    while a lone comma is always the decimal separator (``"1,234"`` has too many decimals).
    """
    s = text.translate(_SPACE_TRANSLATION).strip()
    if not s:
        raise InvalidValue("amount_invalid", "Amount is empty.")
    negative = False
    if s.startswith("(") and s.endswith(")"):
        # Accounting notation for a negative value.
        negative = True
        s = s[1:-1].strip()
    if s.startswith(_MINUS_SIGNS):
        negative = True
        s = s[1:].strip()
    if s[:2].upper() == "R$":
        s = s[2:].strip()
    if s.startswith(_MINUS_SIGNS):
        negative = True
        s = s[1:].strip()
    if not _AMOUNT_BODY.fullmatch(s):
        raise InvalidValue("amount_invalid", f"Not a valid amount: {text!r}.")

    integer_digits, fraction = _split_amount(s, text)
    if negative:
        raise InvalidValue("amount_not_positive", f"Amount must be greater than zero: {text!r}.")
    if len(fraction) > 2:
        raise InvalidValue("amount_too_many_decimals", f"Amount has more than 2 decimal places: {text!r}.")
    if len(integer_digits.lstrip("0")) > MAX_INTEGER_DIGITS:
        raise InvalidValue("amount_too_large", f"Amount is too large: {text!r}.")
    value = Decimal(f"{integer_digits}.{fraction or '0'}")
    if value == 0:
        raise InvalidValue("amount_not_positive", f"Amount must be greater than zero: {text!r}.")
    return value.quantize(_CENTS)


def amount_problem(amount: Decimal) -> str | None:
    """Why an amount that arrived as a number (a CRM's JSON) cannot be a BRL amount, as an ``amount_*`` code, or None.

    The same bounds as :func:`parse_brl_amount`: positive, whole centavos, at most 12 integer digits (``1e40`` would
    overflow the centavos column and Conta Azul alike).
    """
    if not amount.is_finite() or amount <= 0:
        return "amount_not_positive"
    if amount.adjusted() >= MAX_INTEGER_DIGITS:
        return "amount_too_large"
    if amount != amount.quantize(_CENTS):
        return "amount_too_many_decimals"
    return None


def _split_amount(body: str, text: str) -> tuple[str, str]:
    """Split a separator-laden numeric body into (integer digits, fraction digits)."""
    decimal_sep = _decimal_separator(body)
    if decimal_sep is None:
        integer_part, fraction = body, ""
    else:
        if body.count(decimal_sep) != 1:
            raise InvalidValue("amount_invalid", f"Not a valid amount: {text!r}.")
        integer_part, fraction = body.split(decimal_sep)
        if not fraction.isdigit():
            raise InvalidValue("amount_invalid", f"Not a valid amount: {text!r}.")

    group_seps = {c for c in integer_part if c in "., "}
    if not group_seps:
        return integer_part, fraction
    if len(group_seps) > 1:
        raise InvalidValue("amount_invalid", f"Mixed thousands separators in amount: {text!r}.")
    groups = integer_part.split(group_seps.pop())
    first, rest = groups[0], groups[1:]
    if not (1 <= len(first) <= 3 and first.isdigit() and first[0] != "0"):
        raise InvalidValue("amount_invalid", f"Malformed digit grouping in amount: {text!r}.")
    if any(len(g) != 3 or not g.isdigit() for g in rest):
        raise InvalidValue("amount_invalid", f"Malformed digit grouping in amount: {text!r}.")
    return "".join(groups), fraction


def _decimal_separator(body: str) -> str | None:
    has_dot, has_comma = "." in body, "," in body
    if has_dot and has_comma:
        return "." if body.rfind(".") > body.rfind(",") else ","
    if has_comma:
        return "," if body.count(",") == 1 else None
    if has_dot:
        if body.count(".") > 1:
            return None
        # pt-BR users write 1.234 for a thousand; English users never need 3 decimals for BRL.
        return None if len(body) - body.index(".") - 1 == 3 else "."
    return None


# --------------------------------------------------------------------------- CPF / CNPJ

_DOCUMENT_PUNCTUATION = str.maketrans("", "", ".-/" + _SPACE_CHARS + "\t\n\r")
_CPF_SHAPE = re.compile(r"[0-9]{11}", re.ASCII)
_CNPJ_SHAPE = re.compile(r"[0-9A-Z]{12}[0-9]{2}", re.ASCII)
_CNPJ_WEIGHTS_1 = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_CNPJ_WEIGHTS_2 = (6, *_CNPJ_WEIGHTS_1)


def normalize_document(text: str) -> str:
    """Strip ``. - /`` and whitespace from a CPF/CNPJ and upper-case any letters."""
    return text.translate(_DOCUMENT_PUNCTUATION).upper()


def _mod11_document_dv(base: str, weights: Sequence[int]) -> int:
    # ord(c) - 48 keeps digits as-is and maps A..Z to 17..42 (Receita Federal alphanumeric CNPJ).
    remainder = sum((ord(c) - 48) * w for c, w in zip(base, weights, strict=True)) % 11
    return 0 if remainder < 2 else 11 - remainder


def _cpf_check_digits(base: str) -> str:
    first = _mod11_document_dv(base, range(10, 1, -1))
    second = _mod11_document_dv(base + str(first), range(11, 1, -1))
    return f"{first}{second}"


def _cnpj_check_digits(base: str) -> str:
    first = _mod11_document_dv(base, _CNPJ_WEIGHTS_1)
    second = _mod11_document_dv(base + str(first), _CNPJ_WEIGHTS_2)
    return f"{first}{second}"


def is_valid_cpf(digits: str) -> bool:
    """True if ``digits`` (formatted or not) is a CPF with correct check digits."""
    value = normalize_document(digits)
    if not _CPF_SHAPE.fullmatch(value) or len(set(value)) == 1:
        return False
    return _cpf_check_digits(value[:9]) == value[9:]


def is_valid_cnpj(value: str) -> bool:
    """True if ``value`` (formatted or not) is a numeric or alphanumeric CNPJ with correct check digits."""
    v = normalize_document(value)
    if not _CNPJ_SHAPE.fullmatch(v) or len(set(v)) == 1:
        return False
    return _cnpj_check_digits(v[:12]) == v[12:]


def _format_cpf(v: str) -> str:
    return f"{v[:3]}.{v[3:6]}.{v[6:9]}-{v[9:]}"


def _format_cnpj(v: str) -> str:
    return f"{v[:2]}.{v[2:5]}.{v[5:8]}/{v[8:12]}-{v[12:]}"


def _mask_cpf(v: str) -> str:
    return f"***.{v[3:6]}.{v[6:9]}-**"


def _mask_cnpj(v: str) -> str:
    # The root (first 8) identifies the company and is public; branch and DVs are hidden.
    return f"{v[:2]}.{v[2:5]}.{v[5:8]}/****-**"


@dataclass(frozen=True, slots=True)
class Document:
    """A validated CPF or CNPJ; ``value`` is normalized (no punctuation, upper-case)."""

    kind: Literal["CPF", "CNPJ"]
    value: str

    @property
    def formatted(self) -> str:
        """``123.456.789-09`` or ``12.345.678/0001-95``."""
        return _format_cpf(self.value) if self.kind == "CPF" else _format_cnpj(self.value)

    @property
    def masked(self) -> str:
        """Log-safe form: ``***.456.789-**`` or ``12.345.678/****-**``."""
        return _mask_cpf(self.value) if self.kind == "CPF" else _mask_cnpj(self.value)


def parse_document(text: str) -> Document:
    """Parse a CPF (11 digits) or CNPJ (14 characters, alphanumeric allowed), formatted or not."""
    value = normalize_document(text)
    if len(value) == 11:
        if not _CPF_SHAPE.fullmatch(value):
            raise InvalidValue("document_invalid_check_digits", "CPF must contain only digits.")
        if not is_valid_cpf(value):
            raise InvalidValue("document_invalid_check_digits", "CPF check digits do not match.")
        return Document("CPF", value)
    if len(value) == 14:
        if not _CNPJ_SHAPE.fullmatch(value):
            raise InvalidValue(
                "document_invalid_check_digits",
                "CNPJ must be 12 letters or digits followed by 2 digits.",
            )
        if not is_valid_cnpj(value):
            raise InvalidValue("document_invalid_check_digits", "CNPJ check digits do not match.")
        return Document("CNPJ", value)
    raise InvalidValue("document_invalid_length", "A CPF has 11 digits and a CNPJ has 14 characters.")


# Separators as typed, or percent-encoded as they travel in a URL (httpx logs ``documento=11.222.333%2F0001-81``);
# a token may also follow an escape such as ``%20``.
_DOT, _SLASH, _DASH = r"(?:\.|%2[Ee])?", r"(?:/|%2[Ff])?", r"(?:-|%2[Dd])?"
_DOCUMENT_IN_TEXT = re.compile(
    r"(?:(?<![0-9A-Za-z])|(?<=%[0-9A-Fa-f]{2}))(?:"
    rf"[0-9A-Za-z]{{2}}{_DOT}[0-9A-Za-z]{{3}}{_DOT}[0-9A-Za-z]{{3}}{_SLASH}[0-9A-Za-z]{{4}}{_DASH}[0-9]{{2}}"
    rf"|[0-9]{{3}}{_DOT}[0-9]{{3}}{_DOT}[0-9]{{3}}{_DASH}[0-9]{{2}}"
    r")(?![0-9A-Za-z])",
    re.ASCII,
)


def _mask_match(match: re.Match[str]) -> str:
    token = match.group(0)
    value = normalize_document(unquote(token))
    if token.isalnum() and not token.isdigit() and not is_valid_cnpj(value):
        # Bare alphanumeric tokens are usually IDs, not CNPJs: only mask those that check out.
        return token
    return _mask_cpf(value) if len(value) == 11 else _mask_cnpj(value)


def mask_document(text: str) -> str:
    """Mask every CPF/CNPJ-looking token in free text (for log filters).

    Formatted tokens and bare 11/14-digit runs are masked whether or not their check digits are
    valid; bare alphanumeric 14-character tokens only when they are valid CNPJs.
    """
    return _DOCUMENT_IN_TEXT.sub(_mask_match, text)


# --------------------------------------------------------------------------- boleto

_BOLETO_SEPARATORS = re.compile(r"[\s.\-]+")


def _mod10_dv(digits: str) -> int:
    total = 0
    for i, c in enumerate(reversed(digits)):
        product = int(c) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def _mod11_weighted_sum(digits: str) -> int:
    return sum(int(c) * (2 + i % 8) for i, c in enumerate(reversed(digits)))


def _bank_general_dv(barcode_without_dv: str) -> int:
    dv = 11 - _mod11_weighted_sum(barcode_without_dv) % 11
    return 1 if dv in (0, 10, 11) else dv


def _collection_mod11_dv(digits: str) -> int:
    remainder = _mod11_weighted_sum(digits) % 11
    return 0 if remainder < 2 else 11 - remainder


def parse_boleto_line(text: str) -> str:
    """Validate a boleto *linha digitável* and return its digits.

    47 digits: bank boleto (three mod-10 field DVs plus the mod-11 general DV).
    48 digits: collection/utility boleto starting with 8 (four block DVs plus the general DV,
    mod 10 when the value indicator is 6/7, mod 11 when 8/9).
    Spaces, dots and hyphens are ignored.
    """
    digits = _boleto_digits(text)
    if len(digits) == 47:
        _check_bank_line(digits)
    elif len(digits) == 48:
        _check_collection_line(digits)
    else:
        raise InvalidValue("boleto_invalid_length", "Boleto line must have 47 or 48 digits.")
    return digits


def _boleto_digits(text: str) -> str:
    """Drop the separators people and PDFs put in boleto codes; anything left must be ASCII digits."""
    digits = _BOLETO_SEPARATORS.sub("", text)
    if digits and not (digits.isascii() and digits.isdigit()):
        raise InvalidValue("boleto_invalid_check_digits", "Boleto line must contain only digits.")
    return digits


def _bad_boleto_dv() -> InvalidValue:
    return InvalidValue("boleto_invalid_check_digits", "Boleto line check digits do not match; check for typos.")


def _check_bank_line(line: str) -> None:
    for start, dv_index in ((0, 9), (10, 20), (21, 31)):
        if _mod10_dv(line[start:dv_index]) != int(line[dv_index]):
            raise _bad_boleto_dv()
    _check_bank_barcode(_bank_line_barcode(line))


def _bank_line_barcode(line: str) -> str:
    """The 44-digit barcode inside a 47-digit bank line: the field DVs dropped, the fields put back in place."""
    return line[0:4] + line[32] + line[33:47] + line[4:9] + line[10:20] + line[21:31]


def _check_bank_barcode(barcode: str) -> None:
    if _bank_general_dv(barcode[:4] + barcode[5:]) != int(barcode[4]):
        raise _bad_boleto_dv()


def _collection_dv_function(indicator: str) -> Callable[[str], int]:
    """The check-digit module a collection boleto's value indicator (its 3rd digit) selects."""
    if indicator in ("6", "7"):
        return _mod10_dv
    if indicator in ("8", "9"):
        return _collection_mod11_dv
    raise InvalidValue("boleto_invalid_check_digits", "Unknown value indicator in boleto line.")


def _check_collection_line(line: str) -> None:
    if line[0] != "8":
        # A bank line is 47 digits, so 48 digits not starting with 8 is most likely an extra keystroke.
        raise InvalidValue("boleto_invalid_length", "A bank boleto line has 47 digits; 48-digit lines start with 8.")
    dv_function = _collection_dv_function(line[2])
    blocks = [line[i : i + 12] for i in range(0, 48, 12)]
    if any(dv_function(block[:11]) != int(block[11]) for block in blocks):
        raise _bad_boleto_dv()
    _check_collection_barcode(_collection_line_barcode(line))


def _collection_line_barcode(line: str) -> str:
    """The 44-digit barcode inside a 48-digit collection line: the four 11-digit blocks without their DVs."""
    return "".join(line[i : i + 11] for i in range(0, 48, 12))


def _check_collection_barcode(barcode: str) -> None:
    dv_function = _collection_dv_function(barcode[2])
    if dv_function(barcode[:3] + barcode[4:]) != int(barcode[3]):
        raise _bad_boleto_dv()


# --------------------------------------------------------------------------- PIX

PixKind = Literal["cpf", "cnpj", "email", "phone", "random"]

_EMAIL_MAX_LENGTH = 77
_EMAIL = re.compile(
    r"(?P<local>[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<domain>(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})",
    re.ASCII,
)
# DICT's EVP format: any UUID shape, lower case. The DICT generates the key and does not pin version 4, so
# real keys (e.g. the BCB manual's ``123e4567-e12b-12d1-...``) need not be v4.
_EVP = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)
# No dots: a mistyped formatted CPF must not fall through to being read as a phone number.
_PHONE_PUNCTUATION = str.maketrans("", "", "()-" + _SPACE_CHARS + "\t")
# DDD (no DDD ends in 0) + 9-digit mobile starting with 9, or 8-digit landline starting 2-5 (Anatel plan).
_BR_NATIONAL_PHONE = re.compile(r"[1-9][1-9](?:9[0-9]{8}|[2-5][0-9]{7})", re.ASCII)


@dataclass(frozen=True, slots=True)
class PixKey:
    """A PIX key as registered in the Banco Central DICT, in its normalized form."""

    kind: PixKind
    value: str


def mask_pix_key(key: PixKey) -> str:
    """A PIX key as shown where others read it (a shared channel): enough to recognise it, not to reuse it."""
    if key.kind in ("cpf", "cnpj"):
        return Document("CPF" if key.kind == "cpf" else "CNPJ", key.value).masked
    if key.kind == "email":
        user, _, domain = key.value.partition("@")
        return f"{user[:1]}***@{domain}"
    if key.kind == "phone":
        return f"{key.value[:5]}*****{key.value[-4:]}"  # +55 and the area code, then the last 4 digits
    return f"****{key.value[-4:]}"


def _invalid_pix(text: str) -> InvalidValue:
    return InvalidValue("pix_key_invalid", f"Not a valid PIX key: {text!r}.")


def parse_pix_key(text: str) -> PixKey:
    """Classify and normalize a PIX key (CPF, CNPJ, e-mail, +55 phone or random EVP key of any UUID version).

    An 11-digit key that is a valid CPF is a CPF; otherwise it may be a DDD + mobile number.
    Phones are returned in E.164 (``+5511912345678``); e-mail and random keys in lower case.
    """
    s = text.strip()
    if not s:
        raise _invalid_pix(text)
    if "@" in s:
        email = s.lower()
        if len(email) > _EMAIL_MAX_LENGTH or not _EMAIL.fullmatch(email):
            raise _invalid_pix(text)
        return PixKey("email", email)
    if _EVP.fullmatch(s.lower()):
        return PixKey("random", s.lower())
    if s.startswith("+"):
        digits = s[1:].translate(_PHONE_PUNCTUATION)
        if not digits.startswith("55") or not _BR_NATIONAL_PHONE.fullmatch(digits[2:]):
            raise _invalid_pix(text)
        return PixKey("phone", "+" + digits)
    if "(" not in s:
        document = normalize_document(s)
        if len(document) == 14 and is_valid_cnpj(document):
            return PixKey("cnpj", document)
        if len(document) == 11 and is_valid_cpf(document):
            return PixKey("cpf", document)
    digits = s.translate(_PHONE_PUNCTUATION)
    if len(digits) in (12, 13) and digits.startswith("55"):
        digits = digits[2:]
    if _BR_NATIONAL_PHONE.fullmatch(digits):
        return PixKey("phone", "+55" + digits)
    raise _invalid_pix(text)


# --------------------------------------------------------------------------- invoice number

INVOICE_NUMBER_MAX_LENGTH = 20
_INVOICE_NUMBER = re.compile(
    r"(?:(?:nota\s+fiscal|nfs-?e|nf-?e|nf)\s*[:.]?\s*)?"
    r"(?:(?:n[º°o]|nr|num)\s*[:.]?\s*|#\s*)?"
    r"(?P<number>[0-9]+(?:\.[0-9]{3})*)"
    r"(?:\s*[-/]\s*(?P<series>[0-9a-z]{1,5}))?",
    re.ASCII | re.IGNORECASE,
)


def parse_invoice_number(text: str) -> str:
    """Normalize an NF number such as ``"NF-e nº 1234-1"`` to ``"1234-1"`` (number, optional series).

    Dots used as thousands separators in the number are dropped; the series is upper-cased.
    """
    match = _INVOICE_NUMBER.fullmatch(text.strip())
    if match is None:
        raise InvalidValue("invoice_number_invalid", f"Not a valid invoice number: {text!r}.")
    number = match["number"].replace(".", "")
    series = match["series"]
    result = number if series is None else f"{number}-{series.upper()}"
    if len(result) > INVOICE_NUMBER_MAX_LENGTH or not number.strip("0"):
        raise InvalidValue("invoice_number_invalid", f"Not a valid invoice number: {text!r}.")
    return result
