"""Possible duplicates are stored as data, read back whole, and older sentences survive."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from ledger.duplicates import PossibleDuplicate, decode_duplicates, encode_duplicates


def test_duplicates_round_trip_as_data():
    found = [
        PossibleDuplicate(reference="PAG-2026-000001"),
        PossibleDuplicate(description="Boleto moinho", amount=Decimal("1234.56"), due=date(2026, 12, 10)),
    ]
    stored = encode_duplicates(found)
    assert stored == (
        '[{"reference": "PAG-2026-000001"}, {"description": "Boleto moinho", "amount": "1234.56", "due": "2026-12-10"}]'
    )
    assert decode_duplicates(stored) == found
    assert encode_duplicates([]) is None and decode_duplicates(None) == []


def test_a_sentence_stored_by_an_older_version_is_kept():
    assert decode_duplicates("PAG-2026-000001, no Conta Azul: x") == [
        PossibleDuplicate(text="PAG-2026-000001, no Conta Azul: x")
    ]
    assert decode_duplicates('{"not": "a list"}') == [PossibleDuplicate(text='{"not": "a list"}')]
