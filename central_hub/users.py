"""Dashboard accounts and sessions: roles, argon2id password hashes, lockout, server-side sessions.

- Roles: operator (watch the fleet, send commands, release quarantined records), auditor (read
  everything, read the audit log, change nothing), admin (all of it, purge, manage users).
- Account changes (create, role, password reset, unlock, disable/enable) take a `then` hook that
  runs in their transaction, so the dashboard's audit entry commits with the change. The last
  active admin cannot be demoted or disabled; accounts are disabled, never deleted.
- A wrong password counts a failure; MAX_FAILURES in a row lock the account for LOCKOUT_MS.
  An unknown user name costs the same argon2 verification as a known one (no user enumeration
  by timing) and gets the same answer.
- Sessions: a random 256-bit token in the cookie, only its SHA-256 in the database (a copy of the
  database does not hand out sessions); idle and absolute expiry; a CSRF token per session.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from central_hub.errors import HubError
from central_hub.store.base import Store

MIN_PASSWORD_LENGTH = 12
MAX_FAILURES = 5
LOCKOUT_MS = 15 * 60_000
SESSION_IDLE_MS = 30 * 60_000
SESSION_MAX_MS = 12 * 3600_000
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")
Then = Callable[[], object] | None  # run inside an account change's transaction (its audit entry)


class Role(StrEnum):
    OPERATOR = "operator"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Permission(StrEnum):
    VIEW = "view"
    COMMAND = "command"
    RELEASE = "quarantine-release"
    PURGE = "quarantine-purge"
    REQUEUE = "feed-requeue"
    READ_AUDIT = "read-audit"
    MANAGE_USERS = "manage-users"


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: frozenset({Permission.VIEW, Permission.COMMAND, Permission.RELEASE, Permission.REQUEUE}),
    Role.AUDITOR: frozenset({Permission.VIEW, Permission.READ_AUDIT}),
    Role.ADMIN: frozenset(Permission),
}


class UserError(HubError):
    """A user could not be created or changed (bad name, weak password, exists)."""


class LoginRefused(HubError):
    """Wrong user or password, or the account is locked: `why` is for the audit log, not the page."""

    def __init__(self, why: str, locked_until_ms: int | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.locked_until_ms = locked_until_ms


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    failures: int
    locked_until_ms: int
    active: bool

    def can(self, permission: Permission) -> bool:
        return self.active and permission in GRANTS[self.role]


@dataclass(frozen=True)
class Session:
    username: str
    role: Role
    csrf: str
    expires_ms: int

    def can(self, permission: Permission) -> bool:
        return permission in GRANTS[self.role]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Users:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time,
                 hasher: PasswordHasher | None = None) -> None:
        self.store = store
        self.clock = clock
        self.hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        self._dummy_hash = self.hasher.hash(secrets.token_hex(16))

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- accounts -------------------------------------------------------------------------
    def create(self, username: str, role: Role | str, password: str, then: Then = None) -> User:
        """Create an account. `then` runs inside the same transaction (the caller's audit entry)."""
        if not username or len(username) > 64 or set(username) - USERNAME_CHARS:
            raise UserError(f"user name {username!r}: want 1-64 of a-z 0-9 . _ -")
        try:
            role = Role(role)
        except ValueError:
            raise UserError(f"role {role!r}: want one of {', '.join(r.value for r in Role)}") from None
        check_password(password)
        if self.store.read("SELECT 1 FROM users WHERE username = ?", (username,)):
            raise UserError(f"user {username!r} already exists")
        with self.store.write():  # the primary key refuses a twin created meanwhile
            self.store.execute("INSERT INTO users (username, role, pw_hash, failures, locked_until_ms, created_ms,"
                               " active) VALUES (?, ?, ?, 0, 0, ?, 1)",
                               (username, role.value, self.hasher.hash(password), self._now_ms()))
            if then is not None:
                then()
        return User(username, role, 0, 0, True)

    def set_password(self, username: str, password: str, then: Then = None) -> None:
        """A new password; also unlocks, and ends the user's open sessions."""
        check_password(password)
        self._existing(username)
        pw_hash = self.hasher.hash(password)
        self._change(username, then, ("UPDATE users SET pw_hash = ?, failures = 0, locked_until_ms = 0"
                                      " WHERE username = ?", (pw_hash, username)),
                     ("DELETE FROM web_sessions WHERE username = ?", (username,)))

    def set_role(self, username: str, role: Role | str, then: Then = None) -> None:
        try:
            role = Role(role)
        except ValueError:
            raise UserError(f"role {role!r}: want one of {', '.join(r.value for r in Role)}") from None
        user = self._existing(username)
        if user.role is Role.ADMIN and role is not Role.ADMIN:
            self._keep_an_admin(username)
        self._change(username, then, ("UPDATE users SET role = ? WHERE username = ?", (role.value, username)))

    def unlock(self, username: str, then: Then = None) -> None:
        """Clear the failure count and any lockout (the password stays)."""
        self._existing(username)
        self._change(username, then, ("UPDATE users SET failures = 0, locked_until_ms = 0 WHERE username = ?",
                                      (username,)))

    def set_active(self, username: str, active: bool, then: Then = None) -> None:
        """Disable (its sessions end at once) or enable an account; accounts are never deleted (the audit
        log names them)."""
        user = self._existing(username)
        if not active and user.role is Role.ADMIN:
            self._keep_an_admin(username)
        statements: list[tuple[str, tuple[object, ...]]] = [
            ("UPDATE users SET active = ? WHERE username = ?", (int(active), username))]
        if not active:
            statements.append(("DELETE FROM web_sessions WHERE username = ?", (username,)))
        self._change(username, then, *statements)

    def _existing(self, username: str) -> User:
        user = self.get(username)
        if user is None:
            raise UserError(f"no user {username!r}")
        return user

    def _keep_an_admin(self, username: str) -> None:
        others = self.store.read("SELECT count(*) FROM users WHERE role = ? AND active = 1 AND username <> ?",
                                 (Role.ADMIN.value, username))
        if not int(others[0][0]):
            raise UserError(f"{username!r} is the last active admin: make another admin first")

    def _change(self, username: str, then: Then, *statements: tuple[str, tuple[object, ...]]) -> None:
        with self.store.write():
            for text, params in statements:
                self.store.execute(text, params)
            if then is not None:
                then()

    def get(self, username: str) -> User | None:
        rows = self.store.read("SELECT username, role, failures, locked_until_ms, active FROM users"
                               " WHERE username = ?", (username,))
        return _user(rows[0]) if rows else None

    def all(self) -> list[User]:
        return [_user(r) for r in self.store.read(
            "SELECT username, role, failures, locked_until_ms, active FROM users ORDER BY username")]

    def authenticate(self, username: str, password: str) -> User:
        """The user, or LoginRefused. Counts failures; a locked account is refused without a check."""
        now = self._now_ms()
        rows = self.store.read("SELECT username, role, failures, locked_until_ms, active, pw_hash FROM users"
                               " WHERE username = ?", (username,))
        if not rows or not rows[0][4]:
            self._verify(self._dummy_hash, password)
            raise LoginRefused("unknown or disabled user")
        user, pw_hash = _user(rows[0][:5]), rows[0][5]
        if user.locked_until_ms > now:
            raise LoginRefused("account locked", user.locked_until_ms)
        if not self._verify(pw_hash, password):
            failures = user.failures + 1
            locked = now + LOCKOUT_MS if failures >= MAX_FAILURES else 0
            with self.store.write():
                self.store.execute("UPDATE users SET failures = ?, locked_until_ms = ? WHERE username = ?",
                                   (0 if locked else failures, locked, username))
            if locked:
                raise LoginRefused(f"wrong password; locked after {MAX_FAILURES} failures", locked)
            raise LoginRefused(f"wrong password (failure {failures} of {MAX_FAILURES})")
        with self.store.write():
            new_hash = self.hasher.hash(password) if self.hasher.check_needs_rehash(pw_hash) else pw_hash
            self.store.execute("UPDATE users SET failures = 0, locked_until_ms = 0, pw_hash = ? WHERE username = ?",
                               (new_hash, username))
        return User(user.username, user.role, 0, 0, True)

    def _verify(self, pw_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(pw_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    # -- sessions -------------------------------------------------------------------------
    def open_session(self, user: User) -> tuple[str, Session]:
        """(cookie token, session). Only the token's hash is stored."""
        token, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), self._now_ms()
        expires = now + SESSION_MAX_MS
        with self.store.write():
            self.store.execute("DELETE FROM web_sessions WHERE expires_ms < ? OR seen_ms < ?",
                               (now, now - SESSION_IDLE_MS))
            self.store.execute("INSERT INTO web_sessions (token_hash, username, csrf, created_ms, seen_ms, expires_ms)"
                               " VALUES (?, ?, ?, ?, ?, ?)", (_token_hash(token), user.username, csrf, now, now,
                                                              expires))
        return token, Session(user.username, user.role, csrf, expires)

    def session(self, token: str | None) -> Session | None:
        """The live session of a cookie token (idle time refreshed), or None."""
        if not token or len(token) > 100:
            return None
        now = self._now_ms()
        rows = self.store.read("SELECT s.username, u.role, s.csrf, s.expires_ms, s.seen_ms, u.active FROM web_sessions s"
                               " JOIN users u ON u.username = s.username WHERE s.token_hash = ?", (_token_hash(token),))
        if not rows:
            return None
        username, role, csrf, expires, seen, active = rows[0]
        if not active or now > int(expires) or now - int(seen) > SESSION_IDLE_MS:
            return None
        if now - int(seen) > 60_000:  # refresh the idle clock at most once a minute
            with self.store.write():
                self.store.execute("UPDATE web_sessions SET seen_ms = ? WHERE token_hash = ?", (now, _token_hash(token)))
        return Session(username, Role(role), csrf, int(expires))

    def close_session(self, token: str) -> None:
        with self.store.write():
            self.store.execute("DELETE FROM web_sessions WHERE token_hash = ?", (_token_hash(token),))


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise UserError("password too long: at most 1024 characters")


def _user(r: tuple[object, ...] | list[object]) -> User:
    return User(str(r[0]), Role(str(r[1])), int(str(r[2])), int(str(r[3])), bool(r[4]))
