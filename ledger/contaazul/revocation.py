"""Ending a company's authorization at Conta Azul before Aprova forgets its tokens.

Conta Azul's developer guide ("Revogando o Acesso de uma Empresa") documents
``DELETE https://api-v2.contaazul.com/oauth/connections/{id_empresa}`` with the connection's bearer token: 204 when
revoked (or already revoked), 401 for a bad token, 404 when there is no active connection, 502 when the revocation
failed. The endpoint is recent and absent from the OpenAPI bundles, so a 404 or 405 is read as "not available
here": the admin is told to remove Aprova's access in Conta Azul, the same as after any other failure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from ledger.contaazul.transport import Transport
from ledger.errors import GatewayError

logger = logging.getLogger(__name__)

RevokeOutcome = Literal["revoked", "unavailable", "failed", "not_connected"]
UNAVAILABLE_STATUSES = frozenset({404, 405})


@dataclass(frozen=True, slots=True)
class Revocation:
    """How the revocation went; ``error`` says why it did not (``HTTP 502``, ``needs_reconnect``…)."""

    outcome: RevokeOutcome
    error: str = ""

    @property
    def revoked(self) -> bool:
        return self.outcome == "revoked"


class ConnectionRevoker(Transport):
    """The revoke call, on the team's transport (its token, refreshed once on a 401, and its rate limit)."""

    async def revoke(self, company_id: str) -> Revocation:
        """Ask Conta Azul to end the authorization of ``company_id`` (the connected company's ``id_empresa``).

        Returns:
            ``revoked``, ``unavailable`` (404/405: no such endpoint or no active connection) or ``failed``; never
            raises a gateway error, since the local tokens are deleted whatever Conta Azul answers.
        """
        try:
            await self._request("DELETE", f"/oauth/connections/{quote(company_id, safe='')}")
        except GatewayError as exc:
            error = f"HTTP {exc.status}" if exc.status is not None else exc.code
            outcome: RevokeOutcome = "unavailable" if exc.status in UNAVAILABLE_STATUSES else "failed"
            logger.warning("conta azul revocation for team %s: %s (%s)", self.team_id, outcome, error)
            return Revocation(outcome, error)
        logger.info("conta azul authorization of team %s revoked", self.team_id)
        return Revocation("revoked")
