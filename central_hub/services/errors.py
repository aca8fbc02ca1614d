"""A refusal the patient must be told about; `code` is stable (the kiosk maps it to a message)."""

from __future__ import annotations

from central_hub.errors import HubError


class ServiceError(HubError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def bad_request(message: str) -> ServiceError:
    return ServiceError("bad-request", message)


def not_found(message: str) -> ServiceError:
    return ServiceError("not-found", message)
