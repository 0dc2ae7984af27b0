"""Possible duplicates are stored as data, read back whole, and older sentences survive."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from ledger.duplicates import PossibleDuplicate, decode, encode


def test_duplicates_round_trip_as_data():
    found = [
        PossibleDuplicate(reference="PAG-2026-000001"),
        PossibleDuplicate(description="Boleto moinho", amount=Decimal("1234.56"), due=date(2026, 12, 10)),
    ]
    stored = encode(found)
    assert stored == (
        '[{"reference": "PAG-2026-000001"}, {"description": "Boleto moinho", "amount": "1234.56", "due": "2026-12-10"}]'
    )
    assert decode(stored) == found
    assert encode([]) is None and decode(None) == []


def test_a_sentence_stored_by_an_older_version_is_kept():
    assert decode("PAG-2026-000001, no Conta Azul: x") == [PossibleDuplicate(text="PAG-2026-000001, no Conta Azul: x")]
    assert decode('{"not": "a list"}') == [PossibleDuplicate(text='{"not": "a list"}')]
