"""Sessions, CSRF and the headers every response carries.

- Session cookie: random token (only its hash is stored, central_hub.users), HttpOnly,
  SameSite=Strict, Secure, path /. Browsers keep Secure cookies over plain HTTP only on
  loopback (localhost, 127.0.0.1): anywhere else serve HTTPS (`--tls-cert/--tls-key`) or behind
  a TLS proxy.
- CSRF: every POST carries the session's token in a hidden `csrf` field (the login form: a
  double-submit token, since there is no session yet), and a cross-site Origin is refused.
- CSP allows scripts and styles only from /static (htmx and its SSE extension are served from
  the package), no framing.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response

SESSION_COOKIE = "mch_session"
LOGIN_CSRF_COOKIE = "mch_login_csrf"
LANGUAGE_COOKIE = "mch_lang"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # "no-referrer" makes Chromium send Origin: null on form posts
    "Cross-Origin-Opener-Policy": "same-origin",
}


def set_session_cookie(response: Response, token: str, max_age_s: int) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age_s, path="/", secure=True, httponly=True,
                        samesite="strict")


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(given: object, expected: str | None) -> bool:
    return isinstance(given, str) and bool(expected) and hmac.compare_digest(given.encode(), str(expected).encode())


def cross_site(request: Request) -> bool:
    """A POST whose Origin (or Referer) names another host than the one it was sent to."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin == "null"
    return urlsplit(origin).netloc != request.headers.get("host", "")


def add_headers(response: Response, html: bool) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if html:
        response.headers.setdefault("Cache-Control", "no-store")
