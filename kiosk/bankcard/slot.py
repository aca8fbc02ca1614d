"""What the bank-card flow needs from the motorized slot: is a card inside the reader?

The slot's sensors and motor belong to the kiosk I/O board (``kiosk.ioboard``, protocol in
docs/ioboard-protocol.md); this module only adapts its driver to the one question asked here.
"""

from __future__ import annotations

from typing import Protocol


class CardSlot(Protocol):
    def card_inside(self) -> bool: ...


class BoardStatusLike(Protocol):
    @property
    def card_inside(self) -> bool: ...


class HeartbeatBoard(Protocol):
    def heartbeat(self) -> BoardStatusLike: ...


class IoBoardSlot:
    """A ``CardSlot`` over the I/O board driver (``kiosk.ioboard.driver.IoBoard``)."""

    def __init__(self, board: HeartbeatBoard) -> None:
        self._board = board

    def card_inside(self) -> bool:
        return self._board.heartbeat().card_inside
