"""Encryption at rest for OAuth tokens: Fernet keys from the environment, with key rotation."""

from __future__ import annotations

import binascii

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ledger.errors import TokensUnreadable

UNREADABLE = "ciphertext is corrupt or was encrypted with a key that is no longer configured"
GENERATE_KEY_HINT = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'


class TokenCipher:
    """Encrypts with the first key of a comma-separated list and decrypts with any of them."""

    def __init__(self, keys: str) -> None:
        """Build the cipher from ``"newest_key,older_key,..."`` (url-safe base64 Fernet keys)."""
        parts = [part.strip() for part in keys.split(",") if part.strip()]
        if not parts:
            raise ValueError(f"no encryption key given; generate one with: {GENERATE_KEY_HINT}")
        fernets: list[Fernet] = []
        for position, part in enumerate(parts, start=1):
            try:
                fernets.append(Fernet(part.encode("ascii")))
            except (ValueError, UnicodeEncodeError, binascii.Error):
                # Never echo the key itself: it is a secret even when malformed.
                raise ValueError(
                    f"encryption key #{position} of {len(parts)} is not a valid Fernet key "
                    f"(32 url-safe base64-encoded bytes); generate one with: {GENERATE_KEY_HINT}"
                ) from None
        self._fernet = MultiFernet(fernets)

    def encrypt(self, plaintext: str) -> str:
        """Encrypt ``plaintext`` with the newest key."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """Decrypt with whichever configured key matches; ``TokensUnreadable`` (a ``ValueError``) when none does."""
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeEncodeError):
            raise TokensUnreadable(UNREADABLE) from None

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt ``ciphertext`` with the newest key, so older keys can be retired."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeEncodeError):
            raise TokensUnreadable(UNREADABLE) from None
