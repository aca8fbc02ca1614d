"""Payment gateway to the acquirer host: one 0200 per authorisation, a 0400 reversal whenever the
answer is not known (timeout, dropped line, an answer that fails its MAC); one 0100 account
verification (amount 0) per cardholder PIN check at signing and unbinding.

The outcome is never ambiguous: "approved" (0210 with 00), "declined" (0210 with another code),
or "not-charged" (never sent, or reversed). A verification is "verified", "declined" (with the
code: 55 wrong PIN, 75 locked) or "unavailable"; it moves no money, so an unanswered one needs no
reversal. The PAN is only ever in the outgoing message.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
from dataclasses import dataclass

from central_hub.services import iso8583
from central_hub.services.iso8583 import Iso8583Error

log = logging.getLogger(__name__)

APPROVED, DECLINED, NOT_CHARGED = "approved", "declined", "not-charged"
VERIFIED, UNAVAILABLE = "verified", "unavailable"


@dataclass(frozen=True)
class GatewayConfig:
    host: str
    port: int
    mac_key: bytes
    merchant_id: str = "898110155110001"
    connect_timeout_s: float = 2.0
    answer_timeout_s: float = 3.0
    reversal_timeout_s: float = 2.0
    reversal_attempts: int = 3


@dataclass(frozen=True)
class Authorisation:
    pan: str
    pan_sequence: str | None
    expiry_yymm: str
    amount_fen: int
    pin_block_hex: str
    terminal_id: str
    stan: str  # 6 digits
    transmitted_at: dt.datetime
    terminal_mac_hex: str | None = None  # the PIN pad's MAC over the terminal MAC block (field 63)


@dataclass(frozen=True)
class GatewayResult:
    outcome: str
    response_code: str | None
    reason: str
    auth_code: str | None = None
    reversed: bool = False
    reversal_pending: bool = False  # not-charged, but the acquirer has not yet confirmed the reversal


@dataclass(frozen=True)
class VerifyResult:
    outcome: str  # VERIFIED, DECLINED or UNAVAILABLE
    response_code: str | None
    reason: str


class AcquirerGateway:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config

    def verify(self, check: Authorisation) -> VerifyResult:
        """0100 account verification of card + PIN (`check.amount_fen` must be 0)."""
        request = {**self._financial(check), "t": iso8583.VERIFY_REQUEST, "3": iso8583.ACCOUNT_VERIFICATION,
                   "4": f"{0:012d}"}
        try:
            with socket.create_connection((self.config.host, self.config.port), self.config.connect_timeout_s) as sock:
                answer = self._exchange(sock, request, iso8583.VERIFY_ANSWER)
        except (OSError, ConnectionError, Iso8583Error) as exc:
            log.warning("acquirer: no usable answer to verification %s (%s)", check.stan, exc.__class__.__name__)
            return VerifyResult(UNAVAILABLE, None, "the bank did not answer; the card could not be checked")
        code = answer.get("39")
        if code == iso8583.APPROVED:
            return VerifyResult(VERIFIED, code, "cardholder verified")
        return VerifyResult(DECLINED, code, iso8583.reason_text(code))

    def authorise(self, auth: Authorisation) -> GatewayResult:
        request = self._financial(auth)
        try:
            sock = socket.create_connection((self.config.host, self.config.port), self.config.connect_timeout_s)
        except OSError as exc:
            log.warning("acquirer %s:%s unreachable (%s): payment %s not sent", self.config.host, self.config.port,
                        exc.__class__.__name__, auth.stan)
            return GatewayResult(NOT_CHARGED, None, "the bank could not be reached; nothing was charged")
        try:
            with sock:
                answer = self._exchange(sock, request, iso8583.FINANCIAL_ANSWER)
        except (OSError, ConnectionError, Iso8583Error) as exc:
            log.warning("acquirer: no usable answer to trace %s (%s); reversing", auth.stan, exc.__class__.__name__)
            return self._reverse(auth, request)
        code = answer.get("39")
        if code == iso8583.APPROVED:
            return GatewayResult(APPROVED, code, iso8583.reason_text(code), answer.get("38"))
        return GatewayResult(DECLINED, code, iso8583.reason_text(code))

    def _exchange(self, sock: socket.socket, request: dict[str, str], answer_mti: str) -> dict[str, str]:
        """Send one request and read its answer (MAC checked, same trace), within the answer timeout."""
        sock.settimeout(self.config.answer_timeout_s)
        iso8583.send_frame(sock, iso8583.encode(request, self.config.mac_key))
        answer = iso8583.decode(iso8583.recv_frame(sock), self.config.mac_key)
        if answer.get("t") != answer_mti or answer.get("11") != request["11"]:
            raise Iso8583Error(f"unexpected answer {answer.get('t')} for trace {answer.get('11')}")
        return answer

    def _financial(self, auth: Authorisation) -> dict[str, str]:
        when = auth.transmitted_at.astimezone(dt.UTC)
        doc = {"t": iso8583.FINANCIAL_REQUEST, "2": auth.pan, "3": iso8583.PURCHASE, "4": f"{auth.amount_fen:012d}",
               "7": f"{when:%m%d%H%M%S}", "11": auth.stan, "12": f"{when:%H%M%S}", "13": f"{when:%m%d}",
               "14": auth.expiry_yymm, "22": iso8583.POS_ENTRY_CHIP_WITH_PIN, "41": auth.terminal_id,
               "42": self.config.merchant_id, "49": iso8583.CURRENCY_CNY, "52": auth.pin_block_hex}
        if auth.pan_sequence is not None:
            doc["23"] = f"{int(auth.pan_sequence):03d}"
        if auth.terminal_mac_hex is not None:
            doc[iso8583.TERMINAL_MAC_FIELD] = auth.terminal_mac_hex
        return doc

    def reverse_unsettled(self, stan: str, terminal_id: str, amount_fen: int, transmitted_at: dt.datetime) -> bool:
        """Reverse a 0200 whose outcome is unknown (the hub stopped while waiting, or an earlier
        reversal was never confirmed); the PAN is not kept, so the 0400 names trace and terminal.
        True once the acquirer confirms."""
        when = transmitted_at.astimezone(dt.UTC)
        original = {"t": iso8583.FINANCIAL_REQUEST, "3": iso8583.PURCHASE, "4": f"{amount_fen:012d}",
                    "7": f"{when:%m%d%H%M%S}", "11": stan, "41": terminal_id, "42": self.config.merchant_id,
                    "49": iso8583.CURRENCY_CNY}
        return self._send_reversal(stan, original)

    def _reverse(self, auth: Authorisation, original: dict[str, str]) -> GatewayResult:
        if self._send_reversal(auth.stan, original):
            return GatewayResult(NOT_CHARGED, None,
                                 "no answer from the bank in time; the payment was reversed, nothing was charged",
                                 reversed=True)
        return GatewayResult(NOT_CHARGED, None, "no answer from the bank; a reversal is pending and any charge will be"
                             " returned", reversal_pending=True)

    def _send_reversal(self, stan: str, original: dict[str, str]) -> bool:
        reversal = {k: v for k, v in original.items() if k not in ("52", iso8583.TERMINAL_MAC_FIELD, "t")}
        reversal["t"] = iso8583.REVERSAL_REQUEST
        reversal["90"] = (iso8583.FINANCIAL_REQUEST + stan + original["7"]).ljust(42, "0")
        for attempt in range(1, self.config.reversal_attempts + 1):
            try:
                with socket.create_connection((self.config.host, self.config.port),
                                              self.config.connect_timeout_s) as sock:
                    sock.settimeout(self.config.reversal_timeout_s)
                    iso8583.send_frame(sock, iso8583.encode(reversal, self.config.mac_key))
                    answer = iso8583.decode(iso8583.recv_frame(sock), self.config.mac_key)
                if answer.get("t") == iso8583.REVERSAL_ANSWER and answer.get("11") == stan:
                    return True
            except (OSError, ConnectionError, Iso8583Error) as exc:
                log.warning("acquirer: reversal of trace %s, attempt %d: %s", stan, attempt, exc.__class__.__name__)
        return False
