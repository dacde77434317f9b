"""Organizations, users, client credentials and bearer tokens."""

from __future__ import annotations

import secrets
from typing import Any

from ..core.errors import NotFound, Unauthorized, ValidationFailed
from ..core.world import World
from .base import Principal, Service

TOKEN_LIFETIME_SECONDS = 3600


class OAuthError(Exception):
    """An OAuth error response: ``{"error": code, "error_description": ...}``."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.code, self.description, self.status = code, description, status


#: Most bearer tokens whose principal is remembered (``Identity.authenticate``); past it the memory starts over.
SESSIONS_KEPT = 10_000


class Identity(Service):
    def __init__(self, world: World) -> None:
        super().__init__(world)
        #: token -> (expires_at, principal): a request's authentication without a store read.
        #: Tokens are never changed, only deleted (``delete_client``, which forgets them all), and
        #: users are never deleted; a rolled-back transaction forgets them too, to be safe.
        self._sessions: dict[str, tuple[float, Principal]] = {}
        self.store.on_rollback.append(self._sessions.clear)

    def create_organization(self, org_id: str, name: str) -> dict[str, Any]:
        return self.store.insert("organizations", {"id": org_id, "name": name, "created_at": self.now()})

    def create_user(self, email: str, organization_id: str, *, user_id: str | None = None,
                    role: str = "Customer") -> dict[str, Any]:
        if self.store.get("organizations", organization_id) is None:
            raise NotFound(f"Organization '{organization_id}' was not found.")
        return self.store.insert("users", {
            "id": user_id or self.ids.uuid(), "email": email, "organization_id": organization_id,
            "role": role, "created_at": self.now(),
        })

    def create_client(self, user_id: str, *, client_id: str | None = None,
                      secret: str | None = None) -> dict[str, Any]:
        if self.store.get("users", user_id) is None:
            raise NotFound(f"User '{user_id}' was not found.")
        return self.store.insert("clients", {
            "id": client_id or self.ids.new("client"), "secret": secret or secrets.token_urlsafe(24),
            "user_id": user_id, "deleted": False, "created_at": self.now(),
        })

    def delete_client(self, client_id: str) -> None:
        """Revoke a client: its secret stops working and its tokens die with it."""
        with self.store.transaction():
            self._get_live("clients", client_id, "Client")
            self.store.update("clients", client_id, {"deleted": True})
            self.store.conn.execute("DELETE FROM tokens WHERE client_id = ?", [client_id])
            self._sessions.clear()

    def issue_token(self, client_id: str, secret: str, *, lifetime: int | None = None) -> dict[str, Any]:
        """Client-credentials grant. Lifetimes run on the wall clock (see ``Clock.wall_now``)."""
        client = self.store.get("clients", client_id)
        if client is None or client["deleted"] or not secrets.compare_digest(client["secret"], secret):
            raise OAuthError("invalid_client", "Client authentication failed.", status=400)
        lifetime = self.world.config.token_lifetime_seconds if lifetime is None else lifetime
        token = "sim-" + secrets.token_urlsafe(32)
        self.store.insert("tokens", {"token": token, "client_id": client_id, "user_id": client["user_id"],
                                     "expires_at": self.clock.wall_now() + lifetime})
        return {"access_token": token, "token_type": "Bearer", "expires_in": lifetime,
                "scope": "openid email api"}

    def known(self, token: str | None) -> Principal | None:
        """The principal of a token seen before and not expired, without reading the store (so a
        caller on the event loop need not wait for the world's lock); None: ``authenticate`` it."""
        known = self._sessions.get(token) if token else None
        return known[1] if known is not None and known[0] > self.clock.wall_now() else None

    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise Unauthorized("A bearer token is required.")
        known = self.known(token)
        if known is not None:
            return known
        row = self.store.get("tokens", token)
        if row is None:
            raise Unauthorized("The access token is not valid.")
        if row["expires_at"] <= self.clock.wall_now():
            raise Unauthorized("The access token has expired.")
        who = self.principal(row["user_id"], client_id=row["client_id"])
        if len(self._sessions) >= SESSIONS_KEPT:
            self._sessions.clear()
        self._sessions[token] = (row["expires_at"], who)
        return who

    def principal(self, user_id: str, *, client_id: str | None = None) -> Principal:
        user = self.store.get("users", user_id)
        if user is None:
            raise Unauthorized("The token's user no longer exists.")
        return Principal(user_id=user["id"], email=user["email"], organization_id=user["organization_id"],
                         role=user["role"], client_id=client_id)

    def principal_for_email(self, email: str) -> Principal:
        rows = self.store.select("users", "email = ?", [email], limit=1)
        if not rows:
            raise ValidationFailed.field("email", f"No user with e-mail '{email}'.")
        return self.principal(rows[0]["id"])

    @staticmethod
    def userinfo(who: Principal) -> dict[str, Any]:
        return {"sub": who.user_id, "email": who.email, "role": who.role,
                "organization_id": who.organization_id}
