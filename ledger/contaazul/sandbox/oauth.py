"""The sandbox's OAuth vocabulary: the scope it grants, token-endpoint errors, the token response and the id_token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime

from . import seed
from .models import JSON, Company

SCOPE = "openid profile aws.cognito.signin.user.admin"


class OAuthError(Exception):
    """An RFC 6749 token-endpoint error."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass
class TokenGrant:
    """What the token endpoint returns."""

    access_token: str
    id_token: str
    refresh_token: str
    expires_in: int

    def body(self) -> JSON:
        """The token response JSON."""
        return {
            "access_token": self.access_token,
            "id_token": self.id_token,
            "refresh_token": self.refresh_token,
            "expires_in": self.expires_in,
            "token_type": "Bearer",
        }


def make_id_token(
    company: Company, *, client_id: str, client_secret: str, issuer: str, lifetime: int, now: datetime
) -> str:
    """A JWT-shaped Cognito-like id_token, HS256-signed with the client secret (never needed by the API)."""
    header = {"alg": "HS256", "typ": "JWT"}
    iat = int(now.timestamp())
    payload = {
        "sub": seed.seed_id("usuario", company.email),
        "aud": client_id,
        "iss": issuer,
        "token_use": "id",
        "email": company.email,
        "name": company.razao_social,
        "auth_time": iat,
        "iat": iat,
        "exp": iat + lifetime,
    }
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(payload).encode())}"
    sig = hmac.new(client_secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(sig)}"


def s256_challenge(code_verifier: str) -> str:
    """PKCE's S256 transformation (RFC 7636 §4.2): BASE64URL(SHA256(ASCII(code_verifier))), unpadded."""
    return _b64url(hashlib.sha256(code_verifier.encode("ascii", errors="replace")).digest())


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
