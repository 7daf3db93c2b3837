"""Console sessions: who is looking at the console, for how long, and the CSRF token that
proves a form came from one of our pages.

A session is opened with a key (a customer's, an admin user's, or ADMIN_API_KEY) and stores
that key's hash; every page looks the key up again through the authenticator, so a rotated,
revoked or deleted key (or a changed ADMIN_API_KEY) ends its sessions at once, on every
process. The browser holds a random token; the database holds only its keyed hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.db.console import sessions as store
from gateway.db.database import Database
from gateway.errors import InvalidApiKey
from gateway.services.keys.authenticate import KeyAuthenticator, Principal
from gateway.services.keys.format import environment_of

SESSION_SECONDS_DEFAULT = 12 * 3600


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person, as each page sees them."""

    token_hash: str
    csrf_token: str
    principal: Principal | None  # None: signed in with ADMIN_API_KEY (no account of its own)
    is_admin: bool
    expires_at: float

    @property
    def user_id(self) -> str | None:
        return self.principal.user_id if self.principal is not None else None

    @property
    def read_only(self) -> bool:
        """A test key shows the account but changes nothing."""
        return self.principal is not None and self.principal.is_test


class SignInRefused(InvalidApiKey):
    default_message = "that key was not accepted: paste a gw_live_… or gw_test_… key of your account, or the admin key"


class ConsoleSessions:
    def __init__(
        self,
        *,
        db: Database,
        auth: KeyAuthenticator,
        pepper: bytes,
        lifetime: float = SESSION_SECONDS_DEFAULT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._auth = auth
        self._pepper = pepper
        self._lifetime = lifetime
        self._clock = clock

    async def sign_in(self, api_key: str) -> tuple[str, Viewer]:
        """A new session (a new token, whatever the browser held before: no fixation) for a
        valid key. Every refusal reads the same, so the form says nothing about which keys exist."""
        api_key = api_key.strip()
        now = self._clock()
        if self._auth.is_admin_key(api_key):
            kind, hashed, principal = "admin", self._admin_hash(api_key), None
        elif environment_of(api_key) is not None:
            try:
                principal = await self._auth.authenticate(f"Bearer {api_key}")
            except InvalidApiKey as exc:
                raise SignInRefused(_refusal(exc)) from None
            kind, hashed = "key", principal.key_hash
        else:
            raise SignInRefused()
        token = secrets.token_urlsafe(32)
        async with self._db.autocommit() as tx:
            await store.insert(
                tx, token_hash=self._token_hash(token), kind=kind, key_hash=hashed,
                user_id=principal.user_id if principal else None, created_at=now, expires_at=now + self._lifetime,
            )  # fmt: skip
        return token, self._viewer(token, principal, expires_at=now + self._lifetime)

    async def resolve(self, token: str | None) -> Viewer | None:
        """The session's viewer, or None when it does not exist, expired, or its key no longer works."""
        if not token or len(token) > 100:
            return None
        token_hash = self._token_hash(token)
        async with self._db.autocommit() as tx:
            found = await store.find(tx, token_hash=token_hash, now=self._clock())
        if found is None:
            return None
        principal: Principal | None = None
        if found.kind == "admin":
            admin_key = self._auth.admin_key
            alive = admin_key is not None and hmac.compare_digest(found.key_hash, self._admin_hash(admin_key))
        else:
            try:
                principal = await self._auth.authenticate_hash(found.key_hash)
                alive = True
            except InvalidApiKey:
                alive = False
        if not alive:
            await self.sign_out(token)
            return None
        return self._viewer(token, principal, expires_at=found.expires_at)

    async def sign_out(self, token: str | None) -> None:
        if token and len(token) <= 100:
            async with self._db.autocommit() as tx:
                await store.delete(tx, token_hash=self._token_hash(token))

    async def forget_expired(self) -> int:
        async with self._db.autocommit() as tx:
            return await store.delete_expired(tx, now=self._clock())

    def csrf_valid(self, viewer: Viewer, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent.encode(), viewer.csrf_token.encode())

    def _viewer(self, token: str, principal: Principal | None, *, expires_at: float) -> Viewer:
        return Viewer(
            token_hash=self._token_hash(token),
            csrf_token=self._keyed("console-csrf", token),
            principal=principal,
            is_admin=principal is None or principal.is_admin,
            expires_at=expires_at,
        )

    def _token_hash(self, token: str) -> str:
        return self._keyed("console-session", token)

    def _admin_hash(self, admin_key: str) -> str:
        return self._keyed("console-admin", admin_key)

    def _keyed(self, purpose: str, value: str) -> str:
        return hmac.new(self._pepper, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def _refusal(exc: InvalidApiKey) -> str:
    """Say why a real key of the account cannot sign in (expired, deactivated, account
    suspended), and nothing for a key that does not exist."""
    if exc.message == "invalid API key":
        return SignInRefused.default_message
    return f"that key cannot sign in: {exc.message}"
