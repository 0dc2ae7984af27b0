"""TokenCipher: Fernet encryption at rest with key rotation."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from ledger.contaazul.crypto import TokenCipher

FIXED_KEY = "0vYSP5ng0Mr7-Ep9jBkYtX8QmSiG0fb3xBqEjL8jK3E="  # a constant, so parallel workers collect the same ids


def test_round_trip_and_ciphertext_hides_plaintext() -> None:
    cipher = TokenCipher(Fernet.generate_key().decode())
    token = "eyJraWQiOi.secret-access-token"
    encrypted = cipher.encrypt(token)
    assert token not in encrypted
    assert cipher.encrypt(token) != encrypted  # random IV: equal tokens do not look equal at rest
    assert cipher.decrypt(encrypted) == token


def test_rotation_new_key_encrypts_old_key_still_decrypts() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = TokenCipher(old).encrypt("refresh-1")
    rotated = TokenCipher(f"{new}, {old}")
    assert rotated.decrypt(before) == "refresh-1"
    after = rotated.encrypt("refresh-2")
    assert TokenCipher(new).decrypt(after) == "refresh-2"
    with pytest.raises(ValueError, match="no longer configured"):
        TokenCipher(old).decrypt(after)
    # rotate() re-encrypts old rows so the old key can be dropped.
    assert TokenCipher(new).decrypt(rotated.rotate(before)) == "refresh-1"


@pytest.mark.parametrize(
    ("keys", "position"),
    [("not-a-key", "#1 of 1"), ("abc,def", "#1 of 2"), (f"{FIXED_KEY},short-secret", "#2 of 2"), ("chave-ção", "#1")],
)
def test_malformed_key_gives_clear_message_without_echoing_it(keys: str, position: str) -> None:
    with pytest.raises(ValueError) as info:
        TokenCipher(keys)
    message = str(info.value)
    assert f"encryption key {position}" in message
    assert "not a valid Fernet key" in message
    assert 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"' in message
    assert "not-a-key" not in message and "short-secret" not in message and "ção" not in message


@pytest.mark.parametrize("keys", ["", " , ,"])
def test_empty_key_list_is_rejected(keys: str) -> None:
    with pytest.raises(ValueError, match="no encryption key"):
        TokenCipher(keys)


def test_corrupt_ciphertext_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        TokenCipher(Fernet.generate_key().decode()).decrypt("garbage")
