"""A request's payment code read for what it says about the payment, and checked against what was typed.

A boleto carries its amount and due date; a PIX "copia e cola" code may carry an amount, and always names who
receives. The approval rule is chosen from the amount, so a code whose amount disagrees with the typed one would
let a large payment through a small-amount rule: it is refused, with both values, before anything is stored.
Pure: no I/O. Error codes (``InvalidValue.code``) besides the decoders' own (see :mod:`ledger.instruments`):
``payment_code_is_boleto`` and ``payment_code_is_pix`` (a boleto or PIX code under another payment method).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from ledger.domain import PaymentMethod
from ledger.errors import InvalidSubmission, InvalidValue
from ledger.instruments import looks_like_br_code, parse_boleto, parse_br_code
from ledger.validation import PixKey, parse_pix_key

InstrumentKind = Literal["bank_slip", "collection_slip", "pix_key", "pix_code", "text"]

_BOLETO_LIKE = re.compile(r"[0-9][0-9\s.\-]*[0-9]", re.ASCII)


@dataclass(frozen=True, slots=True)
class PaymentInstrument:
    """What a payment code says: ``code`` is its stored form (line digits, normalised key, the BR Code)."""

    kind: InstrumentKind
    code: str
    amount: Decimal | None = None  # None when the code leaves the amount open
    due_date: date | None = None
    bank_code: str | None = None  # bank slips
    pix_key: PixKey | None = None  # a PIX key, or the key inside a BR Code
    receiver_name: str | None = None  # BR Codes
    city: str | None = None
    txid: str | None = None
    url: str | None = None  # dynamic BR Codes point to a URL instead of a key


def read_payment_code(method: PaymentMethod | str, text: str, *, today: date) -> PaymentInstrument:
    """Decode ``text`` as the code of a payment by ``method``.

    Boleto: a 47/48-digit line or a 44-digit barcode (kept as the line). PIX: a BR Code, or a key. Other methods:
    free text (bank details), except that a boleto or a BR Code there is refused so it cannot escape the checks.

    Raises:
        InvalidValue: The decoder's code, or ``payment_code_is_boleto`` / ``payment_code_is_pix``.
    """
    method = PaymentMethod(method)
    if method is PaymentMethod.BOLETO:
        slip = parse_boleto(text, today=today)
        kind: InstrumentKind = "bank_slip" if slip.kind == "bank" else "collection_slip"
        return PaymentInstrument(kind, slip.line, slip.amount, slip.due_date, bank_code=slip.bank_code)
    if method is PaymentMethod.PIX:
        if looks_like_br_code(text):
            charge = parse_br_code(text)
            return PaymentInstrument(
                "pix_code",
                charge.payload,
                charge.amount,
                pix_key=charge.key,
                receiver_name=charge.receiver_name,
                city=charge.city,
                txid=charge.txid,
                url=charge.url,
            )
        key = parse_pix_key(text)
        return PaymentInstrument("pix_key", key.value, pix_key=key)
    detected = detect_payment_method(text)
    if detected is PaymentMethod.PIX:
        raise InvalidValue("payment_code_is_pix", "A PIX code needs PIX as the payment method.")
    if detected is PaymentMethod.BOLETO:
        raise InvalidValue("payment_code_is_boleto", "A boleto line needs Boleto as the payment method.")
    return PaymentInstrument("text", text.strip())


def detect_payment_method(text: str) -> PaymentMethod | None:
    """The method a pasted code belongs to (boleto digits, a BR Code), or None for anything else."""
    stripped = text.strip()
    if looks_like_br_code(stripped):
        return PaymentMethod.PIX
    if _BOLETO_LIKE.fullmatch(stripped) and len(re.sub(r"\D", "", stripped)) in (44, 47, 48):
        return PaymentMethod.BOLETO
    return None


@dataclass(frozen=True, slots=True)
class Conflict:
    """A typed value the code contradicts: ``code`` for the message, with both values to show."""

    code: Literal["amount_differs_from_code", "due_date_differs_from_code"]
    typed: Decimal | date
    decoded: Decimal | date

    def params(self) -> dict[str, Any]:
        return {"typed": self.typed, "decoded": self.decoded}


def conflicts(instrument: PaymentInstrument, *, amount: Decimal | None, due_date: date | None) -> dict[str, Conflict]:
    """Field (``amount``, ``due_date``) → what the code says instead; empty when they agree or it says nothing."""
    found: dict[str, Conflict] = {}
    if instrument.amount is not None and amount is not None and amount != instrument.amount:
        found["amount"] = Conflict("amount_differs_from_code", amount, instrument.amount)
    if instrument.due_date is not None and due_date is not None and due_date != instrument.due_date:
        found["due_date"] = Conflict("due_date_differs_from_code", due_date, instrument.due_date)
    return found


def check_payment_code(
    method: PaymentMethod | str, code: str | None, *, amount: Decimal, due_date: date, today: date
) -> None:
    """The ledger's own check before storing a request: the code decodes, and says what was typed.

    Raises:
        InvalidSubmission: Keyed by field (``payment_code``, ``amount``, ``due_date``), with the values in
            ``details``.
    """
    if not code:
        return
    try:
        instrument = read_payment_code(method, code, today=today)
    except InvalidValue as exc:
        raise InvalidSubmission({"payment_code": exc.code}) from None
    found = conflicts(instrument, amount=amount, due_date=due_date)
    if found:
        raise InvalidSubmission(
            {name: c.code for name, c in found.items()}, details={name: c.params() for name, c in found.items()}
        )
