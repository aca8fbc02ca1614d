"""The dashboard's user management (admin only): create, set role, reset password, unlock, disable/enable.

Every change goes through `central_hub.users.Users` with its audit entry written in the same
transaction; every form carries the session's CSRF token (checked by the app's `form_of`); a
refused change (weak password, the last admin, no such user) is shown with its reason and changes
nothing. Passwords never reach the audit log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from central_hub.audit import AuditLog
from central_hub.users import Permission, Role, Session, UserError, Users

Gate = Callable[[Request, Permission], Session]
AsyncGate = Callable[[Request, Permission], Awaitable[Session]]
FormOf = Callable[[Request, Session], Awaitable[dict[str, str]]]
Page = Callable[..., Response]


def register(app: FastAPI, users: Users, audit: AuditLog, gate: Gate, gate_async: AsyncGate, form_of: FormOf,
             page: Page, now_ms: Callable[[], int]) -> None:
    """`gate` for the pages (run in the thread pool), `gate_async` for the coroutines (off the event loop)."""
    def users_page(request: Request, session: Session, status: int = 200, problem: str | None = None) -> Response:
        return page(request, "users.html", session, status=status, users=users.all(), roles=[r.value for r in Role],
                    flash=request.query_params.get("flash"), flash_name=request.query_params.get("name", ""),
                    problem=problem, now_ms=now_ms())

    @app.get("/users")
    def user_list(request: Request) -> Response:
        return users_page(request, gate(request, Permission.MANAGE_USERS))

    async def change(request: Request, act: Callable[[Session, dict[str, str]], tuple[str, str]]) -> Response:
        """Run `act` (which returns the message key and the user name for it) or show why it was refused."""
        session = await gate_async(request, Permission.MANAGE_USERS)
        form = await form_of(request, session)
        try:
            flash, name = await asyncio.to_thread(act, session, form)
        except UserError as exc:
            return await asyncio.to_thread(users_page, request, session, 400, str(exc))
        return RedirectResponse(f"/users?{urlencode({'flash': flash, 'name': name})}", status_code=303)

    def audited(session: Session, action: str, target: str, detail: dict[str, Any] | None = None) -> Callable[[], Any]:
        return lambda: audit.append_in_transaction(session.username, action, target, detail or {})

    @app.post("/users")
    async def create(request: Request) -> Response:
        def act(session: Session, form: dict[str, str]) -> tuple[str, str]:
            name, role = form.get("username", "").strip(), form.get("role", "")
            users.create(name, role, form.get("password", ""), audited(session, "user-create", name, {"role": role}))
            return "users.created", name

        return await change(request, act)

    @app.post("/users/{username}/role")
    async def set_role(request: Request, username: str) -> Response:
        def act(session: Session, form: dict[str, str]) -> tuple[str, str]:
            role = form.get("role", "")
            users.set_role(username, role, audited(session, "user-role", username, {"role": role}))
            return "users.role_set", username

        return await change(request, act)

    @app.post("/users/{username}/password")
    async def reset_password(request: Request, username: str) -> Response:
        def act(session: Session, form: dict[str, str]) -> tuple[str, str]:
            users.set_password(username, form.get("password", ""), audited(session, "user-password", username))
            return "users.password_set", username

        return await change(request, act)

    @app.post("/users/{username}/unlock")
    async def unlock(request: Request, username: str) -> Response:
        def act(session: Session, form: dict[str, str]) -> tuple[str, str]:
            users.unlock(username, audited(session, "user-unlock", username))
            return "users.unlocked", username

        return await change(request, act)

    @app.post("/users/{username}/active")
    async def set_active(request: Request, username: str) -> Response:
        def act(session: Session, form: dict[str, str]) -> tuple[str, str]:
            active = form.get("active") == "1"
            if not active and username == session.username:
                raise UserError("you cannot disable your own account")
            users.set_active(username, active, audited(session, "user-enable" if active else "user-disable", username))
            return ("users.enabled_done" if active else "users.disabled_done"), username

        return await change(request, act)
