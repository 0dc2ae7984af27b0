"""OAuth routes of the sandbox: the authorize and consent pages and the token endpoint (auth.contaazul.com), and
the revocation of a company's connection (api-v2.contaazul.com)."""

from __future__ import annotations

import base64
import binascii
import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aiohttp import web
from multidict import MultiMapping

from .oauth import SCOPE, OAuthError
from .route_helpers import json_response
from .state import SandboxState

# RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is 43 characters.
PKCE_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass
class OAuthRoutes:
    """The browser authorization flow and the token endpoint; `auto_consent` skips the consent page."""

    state: SandboxState
    auto_consent: bool = False

    def add_to(self, router: web.UrlDispatcher) -> None:
        """Register the routes."""
        router.add_get("/oauth2/authorize", self.authorize)
        router.add_get("/login", self.authorize)
        router.add_post("/oauth2/consent", self.consent)
        router.add_post("/oauth2/token", self.token)
        router.add_delete("/oauth/connections/{id_empresa}", self.revoke)

    async def authorize(self, request: web.Request) -> web.Response:
        """GET /oauth2/authorize and /login: consent page (or straight redirect with auto_consent)."""
        q = request.query
        state = self.state
        client_id = q.get("client_id", "")
        redirect_uri = q.get("redirect_uri", "")
        if client_id != state.client_id:
            return _html_error("client_id inválido ou não informado.")
        if not redirect_uri or not state.redirect_allowed(redirect_uri):
            return _html_error("redirect_uri não corresponde ao cadastrado para o aplicativo.")
        if q.get("response_type") != "code":
            return _html_error("response_type deve ser 'code'.")
        oauth_state = q.get("state")
        scope = q.get("scope", "")
        # The redirect target is trusted at this point, so errors go back to the app (RFC 6749 §4.1.2.1).
        if scope != SCOPE:
            return _redirect(_with_query(redirect_uri, {"error": "invalid_scope", "state": oauth_state}))
        challenge = q.get("code_challenge")
        if challenge is not None and (q.get("code_challenge_method") != "S256" or not PKCE_CHALLENGE.match(challenge)):
            # Only S256 is offered (RFC 7636 §4.4.1: a server may refuse "plain").
            return _redirect(_with_query(redirect_uri, {"error": "invalid_request", "state": oauth_state}))
        if self.auto_consent:
            code = state.issue_code(client_id, redirect_uri, challenge)
            return _redirect(_with_query(redirect_uri, {"code": code, "state": oauth_state}))
        request_id = state.begin_authorization(client_id, redirect_uri, oauth_state, scope, challenge)
        company = html.escape(state.company.razao_social)
        body = f"""<!doctype html>
<html lang="pt-BR"><head><meta charset="utf-8"><title>Conta Azul - Autorizar acesso</title></head>
<body>
<h1>Conta Azul (sandbox)</h1>
<p>O aplicativo <strong>{html.escape(client_id)}</strong> quer acessar os dados da empresa
<strong class="empresa">{company}</strong>.</p>
<form method="post" action="/oauth2/consent">
  <input type="hidden" name="request_id" value="{html.escape(request_id)}">
  <button type="submit" name="decisao" value="autorizar">Autorizar</button>
  <button type="submit" name="decisao" value="negar">Negar</button>
</form>
</body></html>"""
        return web.Response(text=body, content_type="text/html")

    async def consent(self, request: web.Request) -> web.Response:
        """POST /oauth2/consent: Autorizar -> code, Negar -> access_denied."""
        form = await request.post()
        request_id = str(form.get("request_id", ""))
        pending = self.state.take_authorization(request_id)
        if pending is None:
            return _html_error("Solicitação de autorização expirada ou inválida. Recomece o processo.")
        decision = str(form.get("decisao", ""))
        if decision == "autorizar":
            code = self.state.issue_code(pending.client_id, pending.redirect_uri, pending.code_challenge)
            params = {"code": code, "state": pending.state}
        else:
            params = {"error": "access_denied", "state": pending.state}
        return _redirect(_with_query(pending.redirect_uri, params))

    async def token(self, request: web.Request) -> web.Response:
        """POST /oauth2/token (form-urlencoded; client auth by Basic header or body)."""
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        try:
            if request.content_type != "application/x-www-form-urlencoded":
                raise OAuthError("invalid_request", "Content-Type must be application/x-www-form-urlencoded")
            form = await request.post()
            client_id = self._client_from_request(request, form)
            grant_type = _form_str(form, "grant_type")
            if grant_type == "authorization_code":
                grant = self.state.exchange_code(
                    client_id,
                    _form_str(form, "code"),
                    _form_str(form, "redirect_uri"),
                    _form_str(form, "code_verifier"),
                )
            elif grant_type == "refresh_token":
                grant = self.state.refresh(client_id, _form_str(form, "refresh_token"))
            elif not grant_type:
                raise OAuthError("invalid_request", "grant_type is required")
            else:
                raise OAuthError("unsupported_grant_type", f"Unsupported grant_type {grant_type}")
        except OAuthError as exc:
            if exc.status == 401:
                headers["WWW-Authenticate"] = 'Basic realm="contaazul"'
            body = {"error": exc.error, "error_description": exc.description}
            return json_response(body, exc.status, headers)
        return json_response(grant.body(), 200, headers)

    async def revoke(self, request: web.Request) -> web.Response:
        """DELETE /oauth/connections/{id_empresa}: end the application's access to the company (204, idempotent).

        The application is the access token's; `revoke_endpoint` makes the route "absent" (404) or "failing" (502).
        """
        state = self.state
        if state.revoke_endpoint == "absent":
            return json_response({"error": "Not Found"}, 404)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        company_id, reason = state.check_access_token(token.strip()) if scheme.lower() == "bearer" else (None, "")
        if company_id is None:
            return json_response({"error": "invalid_token", "error_description": reason or "Token ausente."}, 401)
        if request.match_info["id_empresa"] != company_id:
            return json_response({"error": "Não existe conexão ativa entre sua aplicação e a empresa informada."}, 404)
        if state.revoke_endpoint == "failing":
            return json_response({"error": "A revogação falhou. Tente novamente mais tarde."}, 502)
        state.revoke_connection(state.access_tokens[token.strip()].client_id, company_id)
        return web.Response(status=204)

    def _client_from_request(self, request: web.Request, form: MultiMapping[Any]) -> str:
        body_id, body_secret = _form_str(form, "client_id"), _form_str(form, "client_secret")
        header = request.headers.get("Authorization")
        if header:
            scheme, _, encoded = header.partition(" ")
            if scheme.lower() != "basic":
                raise OAuthError("invalid_client", "Unsupported client authentication", 401)
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise OAuthError("invalid_client", "Malformed Basic credentials", 401) from exc
            header_id, sep, header_secret = decoded.partition(":")
            if not sep:
                raise OAuthError("invalid_client", "Malformed Basic credentials", 401)
            # Sending the credentials in both places is fine as long as they agree.
            if body_id is not None and body_id != header_id:
                raise OAuthError("invalid_client", "client_id mismatch", 401)
            return self.state.authenticate_client(header_id, header_secret)
        return self.state.authenticate_client(body_id, body_secret)


def _form_str(form: MultiMapping[Any], name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def _with_query(url: str, params: dict[str, str | None]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


def _html_error(message: str) -> web.Response:
    body = (
        "<!doctype html><html lang='pt-BR'><head><meta charset='utf-8'><title>Erro - Conta Azul</title></head>"
        f"<body><h1>Não foi possível continuar</h1><p>{html.escape(message)}</p></body></html>"
    )
    return web.Response(status=400, text=body, content_type="text/html")
