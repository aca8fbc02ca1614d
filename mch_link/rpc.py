"""Request/response on the link: a device asks, the hub answers within a second.

A request is a COSE_Encrypt0 envelope like any record message (mch_link.envelope), schema
``rpc-req/1``, published QoS 1 on ``mch/v1/<device>/req`` with the MQTT 5 Response Topic
``mch/v1/<device>/rsp`` and 16 random bytes of Correlation Data. The hub answers on the
device's own ``rsp`` topic with the same Correlation Data, schema ``rpc-rsp/1``.

MQTT properties are not authenticated, so the correlation id is also inside both sealed
bodies (``corr``) and only the sealed copy counts. Keys: the request and response keys are
derived (HKDF-SHA256) from the device's uplink and downlink keys, so requests and records
never share a nonce space (a request never opens as a record, nor a response as an ack), and
the hub's response counters are independent of its acknowledgement counters.

Freshness: the hub keeps a replay window over request counters (they come from the device's
one persisted counter sequence, so they only grow); the device accepts a response only for
a request it is still waiting for, and each response counter once (`ResponseGuard`).
Every request that changes something carries an idempotency key (``idem``): the hub keeps
the first answer and gives it again to a retry, so a retry after a timeout never books or
charges twice.
"""

from __future__ import annotations

import collections
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mch_link import cose, envelope, schemas
from mch_link.envelope import Record
from mch_link.errors import EnvelopeError, LinkError, SchemaError
from mch_link.keys import DirectionKey, LinkKeys
from mch_link.topics import Kind, topic

log = logging.getLogger(__name__)

REQUEST_SCHEMA = "rpc-req/1"
RESPONSE_SCHEMA = "rpc-rsp/1"
CORRELATION_BYTES = 16
RPC_RECORD_ID = 0  # a request or response is one record, not an outbox row
REQUEST_INFO = b"mch-link rpc request key/1"
RESPONSE_INFO = b"mch-link rpc response key/1"
DEFAULT_TIMEOUT_S = 2.0
SEEN_RESPONSES = 1024


class RpcError(LinkError):
    """A call did not produce an answer the caller can use."""


class RpcTimeout(RpcError):
    """No valid answer in time (hub, broker or network down). Nothing can be assumed done."""


class RpcRefused(RpcError):
    """The hub answered with an error. `code` is stable and machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RpcKeys:
    request: DirectionKey  # device -> hub
    response: DirectionKey  # hub -> device


def _derive(key: DirectionKey, info: bytes) -> DirectionKey:
    """The request/response key of a link key, and of the key a rotation replaced (same grace window)."""
    material = HKDF(hashes.SHA256(), cose.KEY_LEN + cose.NONCE_LEN, salt=None, info=info).derive(
        key.key + key.base_iv)
    previous = None if key.previous is None else _derive(key.previous, info)
    return DirectionKey(material[:cose.KEY_LEN], material[cose.KEY_LEN:], previous, key.previous_until_ms)


def rpc_keys(keys: LinkKeys) -> RpcKeys:
    return RpcKeys(_derive(keys.uplink, REQUEST_INFO), _derive(keys.downlink, RESPONSE_INFO))


@dataclass(frozen=True)
class Request:
    device_id: str
    counter: int
    sealed_at_ms: int | None
    method: str
    corr: str  # hex of the correlation data
    idem: str | None
    args: dict[str, Any]
    epoch: bytes = b""  # the device's boot epoch: request counters are fresh per (device, epoch)


@dataclass(frozen=True)
class Response:
    counter: int
    corr: str
    ok: bool
    result: Any
    error_code: str | None = None
    error_message: str | None = None
    epoch: bytes = b""  # the hub responder's boot epoch: counters are unique per (epoch, counter)


# -- pure build / open -------------------------------------------------------------------
def seal_request(key: DirectionKey, device_id: str, counter: int, method: str, corr: bytes, args: dict[str, Any],
                 idem: str | None, now_ms: int, epoch: bytes = b"") -> bytes:
    """`epoch`: the device's boot epoch (DeviceLink.epoch), so a restored outbox, whose counters
    start again, never repeats a nonce under the request key."""
    body = {"method": method, "corr": corr.hex(), "idem": idem, "args": args}
    schemas.validate(REQUEST_SCHEMA, body)
    return envelope.seal(key, device_id, topic(device_id, Kind.REQUEST), counter, REQUEST_SCHEMA,
                         [Record(RPC_RECORD_ID, body, now_ms)], now_ms, epoch)


def open_request(key: DirectionKey, where: str, payload: bytes) -> Request:
    """Open and validate; raises EnvelopeError / SchemaError (never answer what does not open)."""
    msg = envelope.open_envelope(payload, key, where)
    if msg.schema != REQUEST_SCHEMA or len(msg.records) != 1:
        raise EnvelopeError("wrong-schema", f"{msg.schema!r} with {len(msg.records)} records on a request topic")
    body = msg.records[0].body
    schemas.validate(REQUEST_SCHEMA, body)
    return Request(msg.device_id, msg.counter, msg.sealed_at_ms, body["method"], body["corr"], body["idem"],
                   body["args"], msg.epoch)


def seal_response(key: DirectionKey, device_id: str, counter: int, corr: str, *, result: Any = None,
                  error: tuple[str, str] | None = None, now_ms: int, epoch: bytes = b"") -> bytes:
    """`epoch`: the responder's boot epoch, so a recreated services database, whose response
    counters start again, never repeats a nonce under the response key."""
    body: dict[str, Any] = {"corr": corr, "ok": error is None, "result": result if error is None else None,
                            "error": None if error is None else {"code": error[0], "message": error[1]}}
    schemas.validate(RESPONSE_SCHEMA, body)
    return envelope.seal(key, device_id, topic(device_id, Kind.RESPONSE), counter, RESPONSE_SCHEMA,
                         [Record(RPC_RECORD_ID, body, now_ms)], now_ms, epoch)


def open_response(key: DirectionKey, device_id: str, payload: bytes) -> Response:
    msg = envelope.open_envelope(payload, key, topic(device_id, Kind.RESPONSE))
    if msg.device_id != device_id or msg.schema != RESPONSE_SCHEMA or len(msg.records) != 1:
        raise EnvelopeError("wrong-schema", f"{msg.schema!r} for {msg.device_id!r} on a response topic")
    body = msg.records[0].body
    schemas.validate(RESPONSE_SCHEMA, body)
    err = body["error"] or {}
    return Response(msg.counter, body["corr"], body["ok"], body["result"], err.get("code"), err.get("message"),
                    msg.epoch)


class ResponseGuard:
    """Device-side freshness: a response counts only for a request still waiting, and each response
    counter only once (a replayed answer to an earlier request is refused)."""

    def __init__(self, remember: int = SEEN_RESPONSES) -> None:
        self._seen: collections.OrderedDict[tuple[bytes, int], None] = collections.OrderedDict()
        self._remember = remember

    def admit(self, response: Response, waiting: set[str]) -> bool:
        nonce = (response.epoch, response.counter)
        if response.corr not in waiting or nonce in self._seen:
            return False
        self._seen[nonce] = None
        while len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        return True


def set_no_delay(client: Any) -> None:
    """TCP_NODELAY on a paho client's socket (both ends call it on connect): a request and its
    answer are single small packets, which Nagle's algorithm would hold back for the peer's
    delayed ACK (measured by bench.rpc_latency: p50 90 -> 47 ms)."""
    sock = client.socket()
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            log.debug("TCP_NODELAY not set: %s", exc)


# -- the device's client -----------------------------------------------------------------
class RequestTransport(Protocol):
    """What the client needs from the device's MQTT session (mch_link.device.DeviceLink has it)."""

    on_response: Callable[[bytes, bytes | None], None] | None
    epoch: bytes  # the session's boot epoch, bound into every nonce

    def next_counter(self) -> int: ...
    def publish_request(self, payload: bytes, correlation: bytes) -> bool: ...


class _Waiter:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.response: Response | None = None


class RpcClient:
    """Blocking calls over a device's link; thread-safe; each call has its own timeout."""

    def __init__(self, transport: RequestTransport, device_id: str, keys: LinkKeys,
                 clock: Callable[[], float] = time.time) -> None:
        self._transport = transport
        self._device_id = device_id
        self._keys = rpc_keys(keys)
        self._clock = clock
        self._lock = threading.Lock()
        self._waiting: dict[str, _Waiter] = {}
        self._guard = ResponseGuard()
        self.refused_responses = 0
        transport.on_response = self._on_response

    def rekey(self, keys: LinkKeys) -> None:
        """After a key rotation (DeviceLink.rotate_keys): requests under the new keys, answers under either."""
        self._keys = rpc_keys(keys)

    @staticmethod
    def new_idempotency_key() -> str:
        return secrets.token_hex(16)

    def call(self, method: str, args: dict[str, Any], *, idempotency_key: str | None = None,
             timeout_s: float = DEFAULT_TIMEOUT_S) -> Any:
        """The result, or RpcRefused (the hub said no) / RpcTimeout (no valid answer in time)."""
        corr = secrets.token_bytes(CORRELATION_BYTES)
        waiter = _Waiter()
        try:
            payload = seal_request(self._keys.request, self._device_id, self._transport.next_counter(), method, corr,
                                   args, idempotency_key, int(self._clock() * 1000), self._transport.epoch)
        except SchemaError as exc:
            raise RpcError(f"{method}: request does not match {REQUEST_SCHEMA}: {exc}") from None
        with self._lock:
            self._waiting[corr.hex()] = waiter
        try:
            if not self._transport.publish_request(payload, corr):
                raise RpcTimeout(f"{method}: not connected to the broker")
            if not waiter.done.wait(timeout_s):
                raise RpcTimeout(f"{method}: no answer within {timeout_s:.1f} s")
        finally:
            with self._lock:
                self._waiting.pop(corr.hex(), None)
        response = waiter.response
        if response is None:  # done is set only after the response; kept for the type checker
            raise RpcTimeout(f"{method}: no answer")
        if not response.ok:
            raise RpcRefused(response.error_code or "error", response.error_message or "")
        return response.result

    def _on_response(self, payload: bytes, correlation: bytes | None) -> None:
        try:
            response = open_response(self._keys.response, self._device_id, payload)
        except LinkError as exc:
            self.refused_responses += 1
            log.warning("%s: refused a response that does not open: %s", self._device_id, exc)
            return
        with self._lock:
            if correlation is not None and correlation.hex() != response.corr:
                admitted = False
            else:
                admitted = self._guard.admit(response, set(self._waiting))
            waiter = self._waiting.get(response.corr) if admitted else None
        if waiter is None:
            self.refused_responses += 1
            log.warning("%s: refused a response to no waiting request (late, replayed or foreign)", self._device_id)
            return
        waiter.response = response
        waiter.done.set()
