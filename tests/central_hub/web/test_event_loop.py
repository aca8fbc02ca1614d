"""No store call on the event loop: the form posts run the session check, the audit entry and the
action in a worker thread, so one slow database call never stalls every other request and the
live stream (app.py's docstring). Each store call records whether an event loop runs in its thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from central_hub.web.services import Dashboard
from tests.central_hub.web.conftest import PASSWORD, Feeder, csrf_of, login
from tests.central_hub.web.test_app import dead_letter

CALLS = ("read", "execute", "executemany", "write", "transaction")


@pytest.fixture
def on_loop(dashboard: Dashboard) -> list[str]:
    """The names of the store calls made on the event loop's thread (from here on)."""
    seen: list[str] = []

    def watched(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                pass  # a worker thread: fine
            else:
                seen.append(f"{name} {args[0] if args else ''}"[:80])
            return call(*args, **kwargs)

        return run

    for name in CALLS:
        setattr(dashboard.store, name, watched(name, getattr(dashboard.store, name)))
    return seen


def test_the_watch_sees_a_call_on_the_loop(dashboard: Dashboard, on_loop: list[str]) -> None:
    async def on_the_loop() -> None:
        dashboard.store.read("SELECT 1")

    asyncio.run(on_the_loop())
    assert on_loop[0] == "read SELECT 1"


def test_form_posts_keep_the_store_off_the_event_loop(client: TestClient, dashboard: Dashboard, feeder: Feeder,
                                                       on_loop: list[str]) -> None:
    feeder.quarantine_garbage("kiosk-001")
    feeder.quarantine_garbage("kiosk-002")
    first, second = (q.id for q in dashboard.quarantine.items())
    letter = dead_letter(dashboard)
    assert login(client, "alice", "wrong password!").status_code == 401
    login(client, "alice")
    token = csrf_of(client.get("/devices/kiosk-001").text)
    assert client.post("/devices/kiosk-001/commands", data={"command": "rebirth", "csrf": token}).status_code == 303
    assert client.post("/devices/kiosk-001/commands", data={"command": "rebirth", "csrf": "forged"}).status_code == 403
    assert client.post(f"/quarantine/{first}/purge", data={"csrf": token}).status_code == 403  # forbidden, audited
    assert client.post(f"/quarantine/{first}/release", data={"csrf": token}).status_code in (303, 409)
    assert client.post("/feed/requeue", data={"csrf": token, "id": str(letter), "note": "fixed"}).status_code == 303
    assert client.post("/logout", data={"csrf": token}).status_code == 303
    login(client, "adam", PASSWORD)
    token = csrf_of(client.get("/users").text)
    assert client.post(f"/quarantine/{second}/purge", data={"csrf": token}).status_code == 303
    assert client.post("/users/olga/unlock", data={"csrf": token}).status_code in (303, 400)
    assert on_loop == []
