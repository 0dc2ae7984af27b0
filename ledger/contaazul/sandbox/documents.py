"""Brazilian document helpers (CPF / CNPJ, including the 2026 alphanumeric CNPJ)."""

from __future__ import annotations

import re

_STRIP = re.compile(r"[\s./-]")
_CNPJ_RE = re.compile(r"^[0-9A-Z]{12}[0-9]{2}$")
_CPF_RE = re.compile(r"^[0-9]{11}$")
_CNPJ_W1 = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_CNPJ_W2 = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)


def normalize(doc: str) -> str:
    """Drop punctuation/spaces and upper-case, so formatted and bare forms compare equal."""
    return _STRIP.sub("", doc).upper()


def _cpf_digit(digits: str) -> str:
    total = sum(int(d) * w for d, w in zip(digits, range(len(digits) + 1, 1, -1), strict=True))
    rest = 11 - total % 11
    return "0" if rest >= 10 else str(rest)


def _cnpj_digit(chars: str, weights: tuple[int, ...]) -> str:
    # Alphanumeric CNPJ (IN RFB 2.229/2024): each char counts as ord(c) - 48, so digits keep their value.
    total = sum((ord(c) - 48) * w for c, w in zip(chars, weights, strict=True))
    rest = total % 11
    return "0" if rest < 2 else str(11 - rest)


def is_valid_cpf(doc: str) -> bool:
    """True for a CPF (formatted or digits) with correct check digits."""
    d = normalize(doc)
    if not _CPF_RE.match(d) or d == d[0] * 11:
        return False
    return _cpf_digit(d[:9]) == d[9] and _cpf_digit(d[:10]) == d[10]


def is_valid_cnpj(doc: str) -> bool:
    """True for a numeric or alphanumeric CNPJ (formatted or bare) with correct check digits."""
    d = normalize(doc)
    if not _CNPJ_RE.match(d) or d == d[0] * 14:
        return False
    return _cnpj_digit(d[:12], _CNPJ_W1) == d[12] and _cnpj_digit(d[:13], _CNPJ_W2) == d[13]


def make_cpf(base9: str) -> str:
    """Complete 9 base digits with check digits; returns the formatted CPF."""
    d = base9 + _cpf_digit(base9)
    d += _cpf_digit(d)
    return format_cpf(d)


def make_cnpj(base12: str) -> str:
    """Complete 12 base chars with check digits; returns the formatted CNPJ."""
    d = base12.upper() + _cnpj_digit(base12.upper(), _CNPJ_W1)
    d += _cnpj_digit(d, _CNPJ_W2)
    return format_cnpj(d)


def format_cpf(doc: str) -> str:
    """000.000.000-00."""
    d = normalize(doc)
    return f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}"


def format_cnpj(doc: str) -> str:
    """00.000.000/0000-00."""
    d = normalize(doc)
    return f"{d[:2]}.{d[2:5]}.{d[5:8]}/{d[8:12]}-{d[12:]}"
