"""TCP front of the simulator: framed ISO 8583, one thread per connection, MAC checked both ways."""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
import time
from pathlib import Path

from acquirer_simulator import wire
from acquirer_simulator.host import DROP, LATE, AcquirerHost, mask
from acquirer_simulator.wire import WireError

log = logging.getLogger(__name__)

READY_LINE = "acquirer-simulator: listening on"
LATE_S = 10.0
IDLE_S = 30.0


class _Handler(socketserver.BaseRequestHandler):
    server: AcquirerServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(IDLE_S)
        host, key = self.server.host, self.server.host.book.mac_key
        while True:
            try:
                raw = wire.receive(sock)
            except (OSError, ConnectionError, WireError):
                return
            try:
                doc = wire.unpack(raw, key)
            except WireError as exc:
                log.warning("refused a message: %s", exc)
                if not self._refuse(sock, raw, "A0" if exc.mac else "30"):
                    return
                continue
            answer, how = host.handle(doc)
            self.server.write_journal()
            if how == DROP:
                return
            if how == LATE:
                time.sleep(self.server.late_s)
            try:
                wire.send(sock, wire.pack(answer, key))
            except OSError:
                return


    def _refuse(self, sock: socket.socket, raw: bytes, code: str) -> bool:
        """Answer a message that failed its MAC (A0) or format (30); False if it cannot even be parsed."""
        try:
            plain = wire.unpack(raw, None)
            mti = {wire.REVERSAL_REQUEST: wire.REVERSAL_ANSWER, wire.VERIFY_REQUEST: wire.VERIFY_ANSWER}.get(
                str(plain.get("t")), wire.FINANCIAL_ANSWER)
            wire.send(sock, wire.pack({"t": mti, "11": plain.get("11", "000000"), "39": code},
                                      self.server.host.book.mac_key))
            return True
        except (WireError, OSError, ValueError):
            return False


class AcquirerServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], host: AcquirerHost, journal: Path | None = None,
                 late_s: float = LATE_S) -> None:
        super().__init__(address, _Handler)
        self.host, self.journal_path, self.late_s = host, journal, late_s
        self._journal_lock = threading.Lock()

    def write_journal(self) -> None:
        if self.journal_path is None:
            return
        with self._journal_lock:
            tmp = self.journal_path.with_suffix(".tmp")
            balances = {mask(p): a.balance_fen for p, a in self.host.book.accounts.items()}
            tmp.write_text(json.dumps({"journal": self.host.journal, "balances": balances}, indent=1))
            tmp.replace(self.journal_path)

