"""Who is asking: users from config, argon2 passwords, signed session cookies and API tokens, CSRF.

A session is a signed, timestamped cookie (itsdangerous) holding the username, a random
session id that doubles as its CSRF token, and a keyed fingerprint of the account's password
hash, so changing a password (a new hash in `web.users`) ends every session and token issued
under the old one; any number of web servers sharing `web.session_secret` accept it. Signing
out revokes the id in the store (`is_revoked`), so a copied cookie or token stops working at
once on every server, not when it expires. API clients
may send the same signed payload as a bearer token instead of a cookie; a bearer request is not
exposed to CSRF, so only cookie requests must echo the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from citybrain.config.web import WebSettings, WebUser

COOKIE = "citybrain_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_HASHER = PasswordHasher()


def is_demo_password(user: WebUser) -> bool:
    """The sample accounts' passwords are documented (`<username>-demo`, docs/OPERATIONS.md)."""
    try:
        return _HASHER.verify(user.password_hash, f"{user.username}-demo")
    except (VerificationError, InvalidHashError):
        return False


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


@dataclass(frozen=True)
class Principal:
    """A signed-in user as the pages and APIs see them."""

    username: str
    role: str
    department: str | None
    csrf: str
    via_cookie: bool

    @property
    def sees_all(self) -> bool:
        return self.role in ("operator", "admin")

    @property
    def may_act(self) -> bool:
        return self.role in ("dispatcher", "admin")

    @property
    def sees_ticket_text(self) -> bool:
        """Citizens' words (already redacted) only for those who handle them."""
        return self.role in ("dispatcher", "admin")

    def may_see(self, department: str) -> bool:
        return self.sees_all or department == self.department


class AuthError(Exception):
    """Not signed in, or the session expired: pages redirect to the login form, APIs answer 401."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Auth:
    def __init__(
        self, settings: WebSettings, is_revoked: Callable[[str], bool] = lambda _sid: False
    ) -> None:
        self.settings = settings
        self.is_revoked = is_revoked
        # Accounts with the documented demo passwords are refused at start-up outside
        # web.demo_mode (web/doors.py), so every configured account may sign in here.
        self.users = {u.username: u for u in settings.users}
        secret = settings.session_secret or secrets.token_urlsafe(32)
        self.signer = URLSafeTimedSerializer(secret, salt="citybrain.session")
        self._pw_key = hashlib.sha256(f"citybrain.password:{secret}".encode()).digest()
        # Spent on unknown usernames too, so timing does not tell which names exist.
        self._dummy_hash = hash_password(secrets.token_urlsafe(16))

    def verify(self, username: str, password: str) -> WebUser | None:
        user = self.users.get(username)
        try:
            _HASHER.verify(user.password_hash if user else self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        return user

    def _password_mark(self, user: WebUser) -> str:
        """Which password the session was opened with, without carrying the hash itself."""
        return hmac.new(self._pw_key, user.password_hash.encode(), "sha256").hexdigest()[:32]

    def issue(self, user: WebUser) -> str:
        return self.signer.dumps(
            {"u": user.username, "c": secrets.token_urlsafe(16), "p": self._password_mark(user)}
        )

    def principal(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            token, via_cookie = header[7:].strip(), False
        else:
            token, via_cookie = request.cookies.get(COOKIE, ""), True
        if not token:
            raise AuthError("sign in first")
        try:
            data = self.signer.loads(token, max_age=self.settings.session_max_age_s)
        except SignatureExpired as e:
            raise AuthError("your session expired; sign in again") from e
        except BadSignature as e:
            raise AuthError("invalid session") from e
        user = self.users.get(str(data.get("u", "")))
        if user is None:
            raise AuthError("unknown user")
        if not hmac.compare_digest(str(data.get("p", "")), self._password_mark(user)):
            raise AuthError("your password changed; sign in again")
        if self.is_revoked(str(data["c"])):
            raise AuthError("you signed out of this session; sign in again")
        return Principal(user.username, user.role, user.department, str(data["c"]), via_cookie)

    @staticmethod
    def csrf_ok(p: Principal, sent: str | None) -> bool:
        """Cookie requests must echo the session's token; bearer requests carry no cookie."""
        if not p.via_cookie:
            return True
        return bool(sent) and hmac.compare_digest(p.csrf, sent or "")
