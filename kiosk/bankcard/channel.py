"""The read-only APDU channel: T=0 response handling (61xx, 6Cxx) and an allow-list of commands.

The channel is the only way the EMV flow reaches a card. It refuses, before anything is sent,
every command outside ``READ_ONLY_COMMANDS``: GENERATE AC, VERIFY and the other instructions
that change card counters or try the PIN can never leave the kiosk through it.
"""

from __future__ import annotations

import logging
from typing import Protocol

from kiosk.bankcard import apdu as a
from kiosk.bankcard.errors import CardReadError, ForbiddenCommandError

MAX_GET_RESPONSE_ROUNDS = 32
log = logging.getLogger(__name__)

READ_ONLY_COMMANDS = frozenset({
    (a.CLA_ISO, a.INS_SELECT),
    (a.CLA_ISO, a.INS_READ_RECORD),
    (a.CLA_ISO, a.INS_GET_RESPONSE),
    (a.CLA_PROPRIETARY, a.INS_GET_PROCESSING_OPTIONS),
    (a.CLA_PROPRIETARY, a.INS_GET_DATA),
})


class CardTransport(Protocol):
    """Sends one raw command APDU and returns the raw response (data + SW1 SW2)."""

    def transmit(self, command: bytes) -> bytes: ...


class ReadOnlyChannel:
    def __init__(self, transport: CardTransport) -> None:
        self._transport = transport
        self.commands_sent = 0

    def exchange(self, command: a.CommandApdu) -> a.ResponseApdu:
        """Send ``command``; follow 61xx with GET RESPONSE and resend on 6Cxx with the right Le."""
        check_read_only(command)
        response = self._send(command)
        if response.sw1 == a.SW1_WRONG_LE:
            response = self._send(command.with_le(response.sw2 or a.SHORT_LE_MAX))
        data = response.data
        rounds = 0
        while response.sw1 == a.SW1_BYTES_AVAILABLE:
            rounds += 1
            if rounds > MAX_GET_RESPONSE_ROUNDS:
                raise CardReadError(f"{command.name}: card kept answering 61xx")
            response = self._send(a.get_response(response.sw2))
            data += response.data
        return a.ResponseApdu(data, response.sw)

    def _send(self, command: a.CommandApdu) -> a.ResponseApdu:
        check_read_only(command)
        self.commands_sent += 1
        response = a.parse_response(self._transport.transmit(command.encode()))
        # status only: data and command bodies may carry account data and are never logged
        log.debug("%s -> %s", command.name, a.sw_text(response.sw))
        return response


def check_read_only(command: a.CommandApdu) -> None:
    if (command.cla, command.ins) not in READ_ONLY_COMMANDS:
        raise ForbiddenCommandError(
            f"{command.name} (CLA {command.cla:02X} INS {command.ins:02X}) refused: "
            "the kiosk reads bank cards read-only and never sends it")
