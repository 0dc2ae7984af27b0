"""One way to compare names and documents across the code base (the duplicate check, the policy, the books)."""

from __future__ import annotations

from ledger.names import document_digits, name_key


def test_names_compare_without_case_accents_or_extra_spaces():
    assert name_key("Moinho  ANACONDA ") == name_key("moinho anaconda") == "moinho anaconda"
    assert name_key("Água e Esgoto") == "agua e esgoto"
    assert name_key("Energia\tElétrica") == name_key("energia eletrica")


def test_documents_keep_ascii_letters_and_digits_only():
    assert document_digits("11.222.333/0001-81") == "11222333000181"
    assert document_digits("12.abc.345/01de-35") == "12ABC34501DE35"
    # "ß".upper() is "SS": dropped before upper-casing, it cannot turn a 13-character input into a CNPJ.
    assert document_digits("12ABC34501DEß") == "12ABC34501DE"
