"""TCP front of the simulator: framed ISO 8583, one thread per connection, MAC checked both ways."""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
import time
from pathlib import Path

from acquirer_simulator.host import DROP, LATE, AcquirerHost, mask
from central_hub.services import iso8583
from central_hub.services.iso8583 import Iso8583Error

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
                raw = iso8583.recv_frame(sock)
            except (OSError, ConnectionError, Iso8583Error):
                return
            try:
                doc = iso8583.decode(raw, key)
            except Iso8583Error as exc:
                log.warning("refused a message: %s", exc)
                code = "A0" if str(exc).startswith("mac") else "30"
                try:
                    plain, _ = iso8583.iso8583.decode(raw, iso8583.SPEC)
                    mti = iso8583.REVERSAL_ANSWER if plain.get("t") == iso8583.REVERSAL_REQUEST \
                        else iso8583.FINANCIAL_ANSWER
                    iso8583.send_frame(sock, iso8583.encode({"t": mti, "11": plain.get("11", "000000"), "39": code},
                                                            key))
                except Exception:  # not even parseable: drop the line
                    return
                continue
            answer, how = host.handle(doc)
            self.server.write_journal()
            if how == DROP:
                return
            if how == LATE:
                time.sleep(self.server.late_s)
            try:
                iso8583.send_frame(sock, iso8583.encode(answer, key))
            except OSError:
                return


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

