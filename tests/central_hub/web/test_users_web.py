"""User management on the dashboard over HTTP: admin only, CSRF on every form, every change audited,
refusals with their reason, and the change taking effect (a disabled user's session ends)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from central_hub.audit import AuditLog
from central_hub.users import MAX_FAILURES, Role
from central_hub.web.app import create_app
from central_hub.web.services import Dashboard
from tests.central_hub.web.conftest import PASSWORD, csrf_of, login

NEW_PASSWORD = "another long passphrase"
ACTIONS = [("/users", {"username": "eve", "role": "admin", "password": NEW_PASSWORD}),
           ("/users/alice/role", {"role": "admin"}), ("/users/alice/password", {"password": NEW_PASSWORD}),
           ("/users/alice/unlock", {}), ("/users/alice/active", {"active": "0"})]


def audit_actions(dashboard: Dashboard) -> list[str]:
    return [e.action for e in reversed(AuditLog(dashboard.store).entries())]


def test_an_admin_manages_accounts(client: TestClient, dashboard: Dashboard) -> None:
    login(client, "adam")
    page = client.get("/users")
    assert page.status_code == 200 and 'id="user-alice"' in page.text and 'href="/users"' in page.text
    csrf = csrf_of(page.text)

    made = client.post("/users", data={"csrf": csrf, "username": "nina", "role": "operator", "password": NEW_PASSWORD})
    assert made.status_code == 303
    assert "已新建用户 nina" in client.get(made.headers["location"]).text
    assert dashboard.users.authenticate("nina", NEW_PASSWORD).role is Role.OPERATOR

    assert client.post("/users/nina/role", data={"csrf": csrf, "role": "auditor"}).status_code == 303
    assert dashboard.users.get("nina").role is Role.AUDITOR  # type: ignore[union-attr]

    for _ in range(MAX_FAILURES):
        login(TestClient(create_app(dashboard), base_url="https://testserver"), "nina", "wrong wrong wrong")
    assert dashboard.users.get("nina").locked_until_ms > 0  # type: ignore[union-attr]
    assert 'class="unlock"' in client.get("/users").text
    assert client.post("/users/nina/unlock", data={"csrf": csrf}).status_code == 303
    assert dashboard.users.get("nina").locked_until_ms == 0  # type: ignore[union-attr]

    assert client.post("/users/nina/password", data={"csrf": csrf, "password": "yet another passphrase"}
                       ).status_code == 303
    assert dashboard.users.authenticate("nina", "yet another passphrase")

    assert client.post("/users/nina/active", data={"csrf": csrf, "active": "0"}).status_code == 303
    assert dashboard.users.get("nina").active is False  # type: ignore[union-attr]
    assert client.post("/users/nina/active", data={"csrf": csrf, "active": "1"}).status_code == 303
    assert dashboard.users.get("nina").active is True  # type: ignore[union-attr]

    actions = audit_actions(dashboard)
    for action in ("user-create", "user-role", "user-unlock", "user-password", "user-disable", "user-enable"):
        assert action in actions
    assert all(NEW_PASSWORD not in e.detail and "yet another" not in e.detail
               for e in AuditLog(dashboard.store).entries())  # no password in the log
    assert AuditLog(dashboard.store).verify().ok


def test_refusals_show_the_reason_and_change_nothing(client: TestClient, dashboard: Dashboard) -> None:
    login(client, "adam")
    csrf = csrf_of(client.get("/users").text)
    short = client.post("/users", data={"csrf": csrf, "username": "tim", "role": "operator", "password": "short"})
    assert short.status_code == 400 and "password too short" in short.text and dashboard.users.get("tim") is None
    own = client.post("/users/adam/active", data={"csrf": csrf, "active": "0"})
    assert own.status_code == 400 and "your own account" in own.text
    last = client.post("/users/adam/role", data={"csrf": csrf, "role": "operator"})
    assert last.status_code == 400 and "last active admin" in last.text
    assert dashboard.users.get("adam").role is Role.ADMIN  # type: ignore[union-attr]
    assert client.post("/users/ghost/unlock", data={"csrf": csrf}).status_code == 400


def test_a_disabled_users_session_ends_at_once(client: TestClient, dashboard: Dashboard) -> None:
    other = TestClient(create_app(dashboard), base_url="https://testserver", follow_redirects=False)
    login(other, "alice")
    assert other.get("/fleet").status_code == 200
    login(client, "adam")
    client.post("/users/alice/active", data={"csrf": csrf_of(client.get("/users").text), "active": "0"})
    assert other.get("/fleet").status_code == 303  # back to the login page
    assert login(other, "alice").status_code == 401


@pytest.mark.parametrize("user", ["alice", "olga"])
def test_an_operator_or_auditor_cannot_manage_users(client: TestClient, dashboard: Dashboard, user: str) -> None:
    login(client, user)
    fleet = client.get("/fleet")
    assert 'href="/users"' not in fleet.text
    assert client.get("/users").status_code == 403
    csrf = csrf_of(fleet.text)
    for path, form in ACTIONS:
        assert client.post(path, data={"csrf": csrf, **form}).status_code == 403, path
    assert dashboard.users.get("eve") is None
    alice = dashboard.users.get("alice")
    assert alice is not None and alice.role is Role.OPERATOR and alice.active
    assert dashboard.users.authenticate("alice", PASSWORD)
    assert audit_actions(dashboard).count("forbidden") == 1 + len(ACTIONS)


def test_a_forged_or_cross_site_form_is_refused(client: TestClient, dashboard: Dashboard) -> None:
    login(client, "adam")
    csrf = csrf_of(client.get("/users").text)
    form = {"username": "mallory", "role": "admin", "password": NEW_PASSWORD}
    assert client.post("/users", data={"csrf": "forged", **form}).status_code == 403
    assert client.post("/users", data=form).status_code == 403
    assert client.post("/users", data={"csrf": csrf, **form}, headers={"Origin": "https://evil.example"}
                       ).status_code == 403
    assert dashboard.users.get("mallory") is None
    assert audit_actions(dashboard).count("csrf-refused") == 3
