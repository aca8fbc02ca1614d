"""Accounts: argon2 hashes, roles, lockout, sessions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from central_hub.audit import AuditLog
from central_hub.store import Store, open_store
from central_hub.users import (
    LOCKOUT_MS,
    MAX_FAILURES,
    SESSION_IDLE_MS,
    LoginRefused,
    Permission,
    Role,
    UserError,
    Users,
)

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.t = 1_790_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def users(store: Store, clock: Clock) -> Users:
    u = Users(store, clock)
    u.create("alice", Role.OPERATOR, PASSWORD)
    return u


def test_password_is_stored_as_argon2id(users: Users, store: Store) -> None:
    [[stored]] = store.read("SELECT pw_hash FROM users WHERE username = 'alice'")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert users.authenticate("alice", PASSWORD).role is Role.OPERATOR


def test_bad_accounts_are_refused(users: Users) -> None:
    with pytest.raises(UserError, match="too short"):
        users.create("bob", "auditor", "short")
    with pytest.raises(UserError, match="already exists"):
        users.create("alice", "admin", PASSWORD)
    with pytest.raises(UserError, match="role"):
        users.create("carol", "root", PASSWORD)
    with pytest.raises(UserError, match="user name"):
        users.create("Carol Smith", "admin", PASSWORD)


def test_lockout_after_repeated_failures(users: Users, clock: Clock) -> None:
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(LoginRefused, match="wrong password"):
            users.authenticate("alice", "wrong password!")
    with pytest.raises(LoginRefused, match="locked after") as locked:
        users.authenticate("alice", "wrong password!")
    assert locked.value.locked_until_ms == int(clock.t * 1000) + LOCKOUT_MS
    with pytest.raises(LoginRefused, match="account locked"):
        users.authenticate("alice", PASSWORD)  # even the right password, while locked
    clock.t += LOCKOUT_MS / 1000 + 1
    assert users.authenticate("alice", PASSWORD).username == "alice"


def test_unknown_user_gets_the_same_refusal_class(users: Users) -> None:
    with pytest.raises(LoginRefused):
        users.authenticate("nobody", PASSWORD)


def test_sessions_store_only_a_hash_and_expire_when_idle(users: Users, store: Store, clock: Clock) -> None:
    token, session = users.open_session(users.authenticate("alice", PASSWORD))
    assert store.read("SELECT count(*) FROM web_sessions WHERE token_hash = ?", (token,))[0][0] == 0
    got = users.session(token)
    assert got is not None and got.username == "alice" and got.csrf == session.csrf
    assert users.session(token + "x") is None
    clock.t += SESSION_IDLE_MS / 1000 + 1
    assert users.session(token) is None


def test_logout_ends_the_session(users: Users) -> None:
    token, _ = users.open_session(users.authenticate("alice", PASSWORD))
    users.close_session(token)
    assert users.session(token) is None


def test_roles() -> None:
    from central_hub.users import GRANTS

    assert Permission.PURGE not in GRANTS[Role.AUDITOR] and Permission.COMMAND not in GRANTS[Role.AUDITOR]
    assert Permission.PURGE not in GRANTS[Role.OPERATOR] and Permission.COMMAND in GRANTS[Role.OPERATOR]
    assert Permission.READ_AUDIT in GRANTS[Role.AUDITOR] and set(GRANTS[Role.ADMIN]) == set(Permission)


def test_cli_user_add_list_and_exist_ok(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    base = [sys.executable, "-m", "central_hub.cli", "user"]

    def run(*args: str, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], input=password + "\n", capture_output=True, text=True, timeout=60)

    assert run("add", "--db", url, "admin", "--role", "admin", "--password-stdin").returncode == 0
    again = run("add", "--db", url, "admin", "--role", "admin", "--password-stdin")
    assert again.returncode == 1 and "already exists" in again.stderr
    ok = run("add", "--db", url, "admin", "--role", "admin", "--password-stdin", "--exist-ok", password="another password 1")
    assert ok.returncode == 0 and "password set" in ok.stdout
    assert run("add", "--db", url, "admin", "--role", "auditor", "--password-stdin", "--exist-ok").returncode == 1
    assert "admin  admin" in run("list", "--db", url).stdout
    short = run("add", "--db", url, "bob", "--role", "operator", "--password-stdin", password="short")
    assert short.returncode == 1 and "too short" in short.stderr
    store = open_store(url)
    try:
        assert [e.action for e in reversed(AuditLog(store).entries())] == ["user-create", "user-password"]
        assert Users(store).authenticate("admin", "another password 1").role is Role.ADMIN
    finally:
        store.close()


def test_admin_changes_run_their_hook_in_the_same_transaction(users: Users, store: Store) -> None:
    users.create("root", Role.ADMIN, PASSWORD)
    users.create("bob", Role.OPERATOR, PASSWORD)
    log = AuditLog(store)
    users.set_role("bob", Role.AUDITOR, lambda: log.append_in_transaction("root", "user-role", "bob"))
    assert users.get("bob").role is Role.AUDITOR  # type: ignore[union-attr]

    def failing_audit() -> None:
        raise RuntimeError("audit write failed")

    with pytest.raises(RuntimeError):
        users.set_role("bob", Role.ADMIN, failing_audit)
    assert users.get("bob").role is Role.AUDITOR  # type: ignore[union-attr]  # rolled back with its audit
    assert [e.action for e in log.entries()] == ["user-role"]


def test_unlock_reset_and_disable(users: Users, clock: Clock) -> None:
    users.create("root", Role.ADMIN, PASSWORD)
    users.create("bob", Role.OPERATOR, PASSWORD)
    for _ in range(MAX_FAILURES):
        with pytest.raises(LoginRefused):
            users.authenticate("bob", "wrong wrong wrong")
    with pytest.raises(LoginRefused, match="locked"):
        users.authenticate("bob", PASSWORD)
    users.unlock("bob")
    assert users.authenticate("bob", PASSWORD).failures == 0

    token, _ = users.open_session(users.get("bob"))  # type: ignore[arg-type]
    users.set_password("bob", "a brand new passphrase")
    assert users.session(token) is None  # a reset ends the open sessions
    with pytest.raises(LoginRefused):
        users.authenticate("bob", PASSWORD)
    token, _ = users.open_session(users.authenticate("bob", "a brand new passphrase"))
    users.set_active("bob", False)
    assert users.session(token) is None
    with pytest.raises(LoginRefused, match="unknown or disabled"):
        users.authenticate("bob", "a brand new passphrase")
    users.set_active("bob", True)
    assert users.authenticate("bob", "a brand new passphrase").active


def test_the_last_active_admin_stays(users: Users) -> None:
    users.create("root", Role.ADMIN, PASSWORD)
    with pytest.raises(UserError, match="last active admin"):
        users.set_role("root", Role.OPERATOR)
    with pytest.raises(UserError, match="last active admin"):
        users.set_active("root", False)
    users.create("second", Role.ADMIN, PASSWORD)
    users.set_role("root", Role.OPERATOR)
    with pytest.raises(UserError, match="role 'god'"):
        users.set_role("root", "god")
    with pytest.raises(UserError, match="no user 'nobody'"):
        users.unlock("nobody")
    assert users.get("root").role is Role.OPERATOR  # type: ignore[union-attr]
