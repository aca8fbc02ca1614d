"""The operators' dashboard: an ASGI app (FastAPI), server-rendered with Jinja2, live over SSE.

Pages: /login, /fleet (filters, live), /devices/{id} (history, commands), /quarantine (release, purge),
/audit, /feed, /indicators (SVG charts), /users (admin: accounts); machine endpoints: /healthz, /metrics (Prometheus text), /fleet/events (SSE).
Every page needs a session; every POST needs the session's CSRF token; each action checks
the role's permission (central_hub.users.GRANTS) and lands in the audit log. Pages are plain
functions (FastAPI runs them in its thread pool, so a database read never blocks the event loop);
only the form posts and the event stream are coroutines, and they run every store call (the
session check, the audit entry, the action) through `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from central_hub import exports, indicators
from central_hub.commands import CommandError, CommandKind
from central_hub.errors import HubError, StoreError
from central_hub.fleet import Presence
from central_hub.quarantine_admin import ReleaseRefused
from central_hub.users import SESSION_MAX_MS, LoginRefused, Permission, Session
from central_hub.web import command_forms, indicator_view, metrics, security, user_pages
from central_hub.web.fleet_view import DeviceView, FleetFilter, fault_codes, summary
from central_hub.web.i18n import LANGUAGES, fault_label, pick_language, translator
from central_hub.web.services import Dashboard

HERE = Path(__file__).parent
log = logging.getLogger(__name__)
PAGE_SIZE = 100
EXPORT_LIMIT = 10_000_000
SSE_KEEPALIVE_S = 15.0
HTML = "text/html; charset=utf-8"


class Refused(Exception):
    """Ends a request with a status and a translated message."""

    def __init__(self, status: int, key: str, session: Session | None = None) -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.session = session


class NeedLogin(Exception):
    """No live session: a page goes to /login, an htmx request is told to."""


def create_app(dash: Dashboard) -> FastAPI:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.globals.update(offered=command_forms.offered, bridge_settings=command_forms.BRIDGE_SETTINGS,
                       presences=[p.value for p in Presence], languages=LANGUAGES)
    env.filters["when"] = _when
    env.filters["age"] = _age

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dash.start()
        try:
            yield
        finally:
            dash.stop()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        security.add_headers(response, response.headers.get("content-type", "").startswith("text/html"))
        return response

    # -- helpers -----------------------------------------------------------------------
    def language(request: Request) -> str:
        return pick_language(request.cookies.get(security.LANGUAGE_COOKIE))

    def session_of(request: Request) -> Session | None:
        return dash.users.session(request.cookies.get(security.SESSION_COOKIE))

    def page(request: Request, name: str, session: Session | None, status: int = 200, **ctx: Any) -> HTMLResponse:
        lang = language(request)
        return templates.TemplateResponse(request, name, {
            "t": translator(lang), "fault_label": fault_label(lang), "lang": lang, "session": session, "site": dash.site_id,
            "can": (lambda p: session is not None and session.can(Permission(p))), **ctx}, status_code=status)

    async def form_of(request: Request, session: Session) -> dict[str, str]:
        """The posted form, once its origin and CSRF token are checked."""
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        if security.cross_site(request) or not security.same_token(values.get("csrf"), session.csrf):
            await asyncio.to_thread(dash.audit.append, session.username, "csrf-refused", request.url.path, {})
            raise Refused(403, "error.csrf", session)
        return values

    def gate(request: Request, permission: Permission) -> Session:
        """The request's live session, if its role has `permission` (refusals are audited)."""
        session = session_of(request)
        if session is None:
            raise NeedLogin()
        if not session.can(permission):
            dash.audit.append(session.username, "forbidden", request.url.path, {"needed": permission.value})
            raise Refused(403, "error.forbidden", session)
        return session

    async def gate_async(request: Request, permission: Permission) -> Session:
        """`gate` for a coroutine: its session read and refusal entry run off the event loop."""
        return await asyncio.to_thread(gate, request, permission)

    @app.exception_handler(NeedLogin)
    async def need_login(request: Request, exc: NeedLogin) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        if request.method != "GET" or request.url.path.startswith("/fleet/events"):
            return PlainTextResponse("login required\n", status_code=401)
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(StoreError)
    async def store_down(request: Request, exc: StoreError) -> Response:
        """The database is away (PostgreSQL restarting, disk full): say so, keep serving."""
        log.warning("%s %s: store error: %s", request.method, request.url.path, exc)
        if request.url.path.startswith(("/fleet/events", "/metrics", "/healthz")):
            return PlainTextResponse(f"store unavailable: {exc}\n", status_code=503)
        return page(request, "error.html", None, status=503, message_key="error.store", code=503)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return page(request, "error.html", exc.session, status=exc.status, message_key=exc.key, code=exc.status)

    # -- login -------------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        token = security.new_login_token()
        response = page(request, "login.html", None, login_csrf=token, error_key=None)
        response.set_cookie(security.LOGIN_CSRF_COOKIE, token, max_age=900, path="/login", secure=True,
                            httponly=True, samesite="strict")
        return response

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await request.form()
        username, password = str(form.get("username", ""))[:64], str(form.get("password", ""))[:1024]
        if security.cross_site(request) or not security.same_token(
                form.get("csrf"), request.cookies.get(security.LOGIN_CSRF_COOKIE)):
            return page(request, "error.html", None, status=403, message_key="error.csrf", code=403)
        try:
            user = await asyncio.to_thread(dash.users.authenticate, username, password)
        except LoginRefused as exc:
            await asyncio.to_thread(dash.audit.append, username or "-", "login-failed", username or "-", {"why": exc.why})
            token = security.new_login_token()
            key = "login.locked" if exc.locked_until_ms else "login.refused"
            refusal = page(request, "login.html", None, status=401, login_csrf=token, error_key=key)
            refusal.set_cookie(security.LOGIN_CSRF_COOKIE, token, max_age=900, path="/login", secure=True,
                               httponly=True, samesite="strict")
            return refusal
        token, _ = await asyncio.to_thread(dash.users.open_session, user)
        await asyncio.to_thread(dash.audit.append, user.username, "login", user.username, {"role": user.role.value})
        response = RedirectResponse("/fleet", status_code=303)
        security.set_session_cookie(response, token, SESSION_MAX_MS // 1000)
        response.delete_cookie(security.LOGIN_CSRF_COOKIE, path="/login")
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        session = await gate_async(request, Permission.VIEW)
        await form_of(request, session)
        await asyncio.to_thread(dash.users.close_session, request.cookies.get(security.SESSION_COOKIE, ""))
        await asyncio.to_thread(dash.audit.append, session.username, "logout", session.username, {})
        response = RedirectResponse("/login", status_code=303)
        security.clear_session_cookie(response)
        return response

    @app.get("/lang/{lang}")
    async def set_language(request: Request, lang: str) -> Response:
        back = request.query_params.get("back", "/fleet")
        local = back.startswith("/") and not back.startswith("//") and "\\" not in back  # no open redirect
        response = RedirectResponse(back if local else "/fleet", 303)
        if lang in LANGUAGES:
            response.set_cookie(security.LANGUAGE_COOKIE, lang, max_age=365 * 86400, path="/", secure=True,
                                samesite="strict")
        return response

    @app.get("/")
    async def root() -> Response:
        return RedirectResponse("/fleet", status_code=303)

    # -- fleet -------------------------------------------------------------------------
    def fleet_page(request: Request) -> tuple[FleetFilter, list[DeviceView], list[DeviceView], int, int, int]:
        """(filter, every view, this page's views, page number, pages, how many match)."""
        chosen = FleetFilter.from_params(request.query_params)
        views = dash.live.views()
        matching = [v for v in views if chosen.matches(v)]
        pages = max(1, math.ceil(len(matching) / PAGE_SIZE))
        try:
            number = min(max(1, int(request.query_params.get("page", "1"))), pages)
        except ValueError:
            number = 1
        return chosen, views, matching[(number - 1) * PAGE_SIZE:number * PAGE_SIZE], number, pages, len(matching)

    @app.get("/fleet", response_class=HTMLResponse)
    def fleet(request: Request) -> Response:
        session = gate(request, Permission.VIEW)
        chosen, views, shown, number, pages, matching = fleet_page(request)
        query = urlencode({**chosen.params(), "page": number})
        return page(request, "fleet.html", session, filter=chosen, shown=shown, total=len(views),
                    matching=matching, summary=summary(views),
                    kinds=sorted({v.kind for v in views if v.kind}), fault_codes=fault_codes(views),
                    number=number, pages=pages, query=query, filter_params=chosen.params(),
                    hub_faults=dash.live.hub_faults)

    @app.get("/fleet/events")
    async def fleet_events(request: Request) -> Response:
        await gate_async(request, Permission.VIEW)
        _, _, shown, _, _, _ = fleet_page(request)
        sub = dash.live.subscribe(v.device_id for v in shown)
        lang = language(request)
        t, label = translator(lang), fault_label(lang)
        row_template = env.get_template("_fleet_row.html")
        summary_template = env.get_template("_summary.html")

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 2000\n\n"
                while True:
                    try:
                        item = await asyncio.wait_for(sub.queue.get(), SSE_KEEPALIVE_S)
                    except TimeoutError:
                        if await request.is_disconnected():
                            return
                        yield ": keep-alive\n\n"
                        continue
                    if sub.overflowed:
                        yield _sse("reload", "reload")
                        return
                    if item is None:
                        html = summary_template.render(t=t, summary=summary(dash.live.views()))
                        yield _sse("summary", html)
                    else:
                        yield _sse(item.device_id, row_template.render(t=t, fault_label=label, v=item))
            finally:
                dash.live.unsubscribe(sub)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    # -- device ------------------------------------------------------------------------
    @app.get("/devices/{device_id}", response_class=HTMLResponse)
    def device(request: Request, device_id: str) -> Response:
        session = gate(request, Permission.VIEW)
        view = dash.live.view(device_id)
        if view is None:
            raise Refused(404, "device.not_found", session)
        return page(request, "device.html", session, v=view, entry=dash.directory.get(device_id),
                    history=dash.history(device_id), device_commands=dash.commands.for_device(device_id),
                    commands_on=dash.sender is not None, flash=request.query_params.get("flash"),
                    now_ms=_now_ms(dash))

    @app.post("/devices/{device_id}/commands")
    async def send_command(request: Request, device_id: str) -> Response:
        session = await gate_async(request, Permission.COMMAND)
        form = await form_of(request, session)
        command = form.get("command", "")
        view = dash.live.view(device_id)
        if command not in command_forms.offered(view.kind if view else None):  # the page offers no such button
            raise Refused(400, "error.not_offered", session)
        args = None
        if command == CommandKind.CONFIG_PUSH:
            try:
                args = command_forms.config_push_args(form)
            except command_forms.SettingsError:
                raise Refused(400, "error.bad_settings", session) from None
        try:
            await asyncio.to_thread(dash.commands.issue, session.username, device_id, command, args)
        except CommandError:
            raise Refused(400, "error.bad_request", session) from None
        return RedirectResponse(f"/devices/{device_id}?flash=command.issued", status_code=303)

    @app.get("/devices/{device_id}/commands", response_class=HTMLResponse)
    def device_commands(request: Request, device_id: str) -> Response:
        session = gate(request, Permission.VIEW)
        """The commands table alone: the device page polls it while a command waits for its answer."""
        return page(request, "_commands.html", session, device_commands=dash.commands.for_device(device_id),
                    device_id=device_id)

    # -- quarantine --------------------------------------------------------------------
    def quarantine_page(request: Request, session: Session, status: int = 200, refusal: str | None = None,
                        refused_id: int | None = None) -> Response:
        reason = request.query_params.get("reason") or None
        device_id = request.query_params.get("device") or None
        items = dash.quarantine.items(reason, device_id)
        return page(request, "quarantine.html", session, status=status, items=items,
                    releasable={q.id for q in items if dash.quarantine.releasable(q)},
                    counts=dash.store.quarantine_counts(), reason=reason or "", device=device_id or "",
                    flash=request.query_params.get("flash"), flash_id=request.query_params.get("id", ""),
                    flash_n=request.query_params.get("n", ""), refusal=refusal, refused_id=refused_id)

    @app.get("/quarantine", response_class=HTMLResponse)
    def quarantine(request: Request) -> Response:
        return quarantine_page(request, gate(request, Permission.VIEW))

    @app.get("/quarantine/export")
    def quarantine_export(request: Request) -> Response:
        """The quarantine (as filtered) as CSV or JSON, written by sqlite-utils (central_hub.exports); audited."""
        session = gate(request, Permission.VIEW)
        fmt = "json" if request.query_params.get("format") == "json" else "csv"
        reason = request.query_params.get("reason") or None
        device_id = request.query_params.get("device") or None
        items = dash.quarantine.items(reason, device_id, limit=EXPORT_LIMIT)
        text = exports.write(exports.quarantine_rows(items), exports.QUARANTINE_TABLE, "id", fmt, None,
                             exports.QUARANTINE_COLUMNS) or ""
        dash.audit.append(session.username, "quarantine-export", "quarantine",
                          {"format": fmt, "reason": reason, "device": device_id, "rows": len(items)})
        return _download(text, fmt, "quarantine")

    @app.post("/quarantine/{item_id}/release")
    async def release(request: Request, item_id: int) -> Response:
        session = await gate_async(request, Permission.RELEASE)
        await form_of(request, session)
        try:
            done = await asyncio.to_thread(dash.quarantine.release, session.username, item_id)
        except ReleaseRefused as exc:
            return await asyncio.to_thread(quarantine_page, request, session, 409, exc.why, item_id)
        return RedirectResponse(f"/quarantine?flash=quarantine.released&id={item_id}&n={len(done.stored)}",
                                status_code=303)

    @app.post("/quarantine/{item_id}/purge")
    async def purge(request: Request, item_id: int) -> Response:
        session = await gate_async(request, Permission.PURGE)
        await form_of(request, session)
        try:
            await asyncio.to_thread(dash.quarantine.purge, session.username, item_id)
        except HubError:
            raise Refused(404, "error.bad_request", session) from None
        return RedirectResponse(f"/quarantine?flash=quarantine.purged&id={item_id}", status_code=303)

    # -- audit, feed -------------------------------------------------------------------
    @app.get("/audit", response_class=HTMLResponse)
    def audit(request: Request) -> Response:
        session = gate(request, Permission.READ_AUDIT)
        actor = request.query_params.get("actor") or None
        action = request.query_params.get("action") or None
        check = dash.audit.verify()
        return page(request, "audit.html", session, entries=dash.audit.entries(200, actor=actor, action=action),
                    check=check, actor=actor or "", action=action or "")

    @app.get("/feed", response_class=HTMLResponse)
    def feed(request: Request) -> Response:
        session = gate(request, Permission.VIEW)
        status = dash.feed.status()
        return page(request, "feed.html", session, feed=status, dead=dash.feed.dead_letters(),
                    flash=request.query_params.get("flash"), count=request.query_params.get("n", ""))

    @app.post("/feed/requeue")
    async def feed_requeue(request: Request) -> Response:
        session = await gate_async(request, Permission.REQUEUE)
        form = await form_of(request, session)
        try:
            ids = [int(form["id"])] if form.get("id") else []
            note = form.get("note", "").strip()[:200]
            count = await asyncio.to_thread(dash.feed.requeue, session.username, ids, note) if ids and note else None
        except (ValueError, HubError):
            count = None
        if count is None:
            raise Refused(400, "feed.requeue_needs", session)
        return RedirectResponse(f"/feed?flash=feed.requeued&n={count}", status_code=303)

    @app.get("/indicators", response_class=HTMLResponse)
    def indicator_charts(request: Request) -> Response:
        session = gate(request, Permission.VIEW)
        params = request.query_params
        t = translator(language(request))
        today = datetime.fromtimestamp(dash.clock(), UTC).date()
        try:
            year = min(max(int(params.get("year", "")), 2000), 2100)
        except ValueError:
            year = indicator_view.statistical_year_of(today)
        split = str(params.get("split")) if params.get("split") in indicator_view.SPLITS else "quarter"
        start, end = indicators.statistical_year(year)
        problem, pregnancies = None, []
        try:
            pregnancies = indicators.load(dash.store, dash.data_key())
        except HubError as exc:  # no key in this process's state directory (or not the rows' key): say so
            problem = str(exc)
        known = indicator_view.areas(pregnancies)
        area = str(params.get("area")) if params.get("area") in known else indicators.ALL_AREAS
        made = indicator_view.charts(pregnancies, year, split, area, lambda k: t(f"ind.{k}"), t("ind.whole")) \
            if problem is None else []
        if params.get("format") in ("csv", "json") and problem is None:  # the year's rows as `mch-hub report` gives
            rows = [r.as_dict() for r in indicators.compute(pregnancies, start, end, by_area=True)]
            fmt = str(params.get("format"))
            dash.audit.append(session.username, "indicators-export", f"indicators/{year}", {"format": fmt})
            return _download(exports.write(rows, indicators.TABLE, indicators.KEY, fmt, None, indicators.COLUMNS)
                             or "", fmt, f"indicators-{year}")
        return page(request, "indicators.html", session, charts=made, year=year, split=split, splits=indicator_view.SPLITS,
                    area=area, areas=known, start=start.isoformat(), end=end.isoformat(), problem=problem)

    user_pages.register(app, dash.users, dash.audit, gate, gate_async, form_of, page, lambda: _now_ms(dash))

    # -- machine endpoints -------------------------------------------------------------
    @app.get("/healthz")
    def healthz() -> Response:
        try:
            dash.store.read("SELECT 1")
        except StoreError as exc:
            return PlainTextResponse(f"store unavailable: {exc}\n", status_code=503)
        return PlainTextResponse(f"ok {len(dash.live.views())} devices\n")

    @app.get("/metrics")
    def prometheus() -> Response:
        text = metrics.exposition(dash)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    return app


def _download(text: str, fmt: str, name: str) -> Response:
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    return Response(text.encode("utf-8"), media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"', "Cache-Control": "no-store"})


def _sse(event: str, data: str) -> str:
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n"


def _now_ms(dash: Dashboard) -> int:
    return int(dash.clock() * 1000)


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


__all__ = ["create_app"]
