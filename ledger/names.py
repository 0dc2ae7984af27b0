"""How the ledger compares what people type with what the books hold: one key for names, one for documents."""

from __future__ import annotations

import unicodedata


def name_key(name: str) -> str:
    """Names compared ignoring case, accents and runs of whitespace: "Moinho  ANACONDA" → "moinho anaconda"."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def document_digits(text: str) -> str:
    """A CPF/CNPJ as stored and compared: its ASCII letters and digits, upper-cased ("11.222.333/0001-81" →
    "11222333000181"; alphanumeric CNPJs keep their letters). Non-ASCII characters are dropped *before*
    upper-casing, so "ß" can never become "SS" and pass for two CNPJ characters."""
    return "".join(ch for ch in text if ch.isascii() and ch.isalnum()).upper()
