"""SAM_V ID-card reader simulator on a pseudo-terminal, with synthetic cards and fault modes."""

from __future__ import annotations

import datetime as dt
import enum
import random
import threading
import time
from dataclasses import dataclass, field

from kiosk.errors import FrameError
from kiosk.idcard import frames as f
from kiosk.idcard.identity import TEXT_ENCODING, Sex, encode_text_block, encode_text_fields
from kiosk.idcard.synthetic import make_id_number, synthetic_identity
from kiosk.serial_transport import DEFAULT_BAUD, PtyServer, serve_until_signal, wire_time_s

SAM_ID = bytes(range(0x10, 0x20))
CARD_SN = bytes.fromhex("0123456789ABCDEF")
PHOTO_LEN = 1024
PLACEHOLDER_WLT_MAGIC = b"WLT-SYNTHETIC"
NEWEST_ADDRESS_CHARS = 35
BAUD_CODES = frozenset(int(code) for code in f.BaudCode)


class Fault(enum.Enum):
    NONE = "none"
    BAD_CHECKSUM = "bad_checksum"  # every answer has a wrong checksum
    NO_ANSWER = "no_answer"  # the reader stays silent
    LIFTED_MID_READ = "lifted"  # the card leaves during 30 01: half an answer, then nothing


@dataclass(frozen=True)
class SimCard:
    """What a card carries; ``unreadable`` cards fail 30 01 with SW3 41."""

    text: bytes
    photo_wlt: bytes = field(default=PLACEHOLDER_WLT_MAGIC.ljust(PHOTO_LEN, b"\x00"), repr=False)
    newest_address: str | None = None
    unreadable: bool = False


def valid_card(seed: int = 1, *, long_term: bool = False, newest_address: str | None = None) -> SimCard:
    identity = synthetic_identity(random.Random(seed), long_term=long_term)
    return SimCard(encode_text_block(identity), newest_address=newest_address)


def expired_card(seed: int = 2) -> SimCard:
    rng = random.Random(seed)
    identity = synthetic_identity(rng, valid_from=dt.date(2004, 3, 1))
    return SimCard(encode_text_block(identity))


def bad_check_digit_card(seed: int = 3) -> SimCard:
    rng = random.Random(seed)
    number = make_id_number(rng, dt.date(1990, 5, 6), Sex.FEMALE)
    wrong = "0" if number[-1] != "0" else "1"
    text = encode_text_fields("测试乙", "2", "01", "19900506", "样例省样例市测试区模拟路1号",
                              number[:17] + wrong, "样例市公安局", "20200101", "20400101")
    return SimCard(text)


def unreadable_card(seed: int = 4) -> SimCard:
    return SimCard(valid_card(seed).text, unreadable=True)


class IdCardSimulator:
    """Device side of the SAM protocol; thread-safe controls ``place``/``lift``/``fault``."""

    def __init__(self, card: SimCard | None = None, *, baudrate: int | None = None) -> None:
        self._lock = threading.Lock()
        self._buf = bytearray()
        self.card = card
        self.fault = Fault.NONE
        self.selected = False
        self.baudrate = baudrate
        self.requests = 0
        self.send: PtyServer | None = None

    def place(self, card: SimCard) -> None:
        with self._lock:
            self.card, self.selected = card, False

    def lift(self) -> None:
        with self._lock:
            self.card, self.selected = None, False

    def on_bytes(self, data: bytes) -> None:
        self._buf.extend(data)
        while len(self._buf) >= f.HEADER_LEN:
            try:
                total = f.HEADER_LEN + f.body_length(bytes(self._buf[:f.HEADER_LEN]))
            except FrameError:
                del self._buf[0]  # resynchronise on the next preamble
                continue
            if len(self._buf) < total:
                return
            frame = bytes(self._buf[:total])
            del self._buf[:total]
            if self.baudrate:  # the request took this long to arrive on a real line
                time.sleep(wire_time_s(len(frame), self.baudrate))
            self._reply(self._answer(frame))

    def _reply(self, out: bytes) -> None:
        if self.send is None or not out or self.fault is Fault.NO_ANSWER:
            return
        if self.fault is Fault.BAD_CHECKSUM:
            out = out[:-1] + bytes((out[-1] ^ 0xFF,))
        self.send.write(out)

    def _answer(self, frame: bytes) -> bytes:
        self.requests += 1
        try:
            command = f.decode_request(frame)
        except FrameError as exc:
            sw3 = f.Sw3.REQUEST_CHECKSUM_ERROR if "checksum" in exc.message else f.Sw3.REQUEST_LENGTH_ERROR
            return f.encode_response(sw3)
        with self._lock:
            return self._dispatch(command)

    def _dispatch(self, command: int) -> bytes:
        card = self.card
        if command in (f.Command.SAM_STATUS, f.Command.RESET_SAM):
            return f.encode_response(f.Sw3.OK)
        if command == f.Command.READ_SAM_ID:
            return f.encode_response(f.Sw3.OK, SAM_ID)
        if command & 0xFF00 == f.Command.SET_BAUD and command & 0xFF in BAUD_CODES:
            return f.encode_response(f.Sw3.OK)
        if command == f.Command.FIND_CARD:
            return f.encode_response(f.Sw3.CARD_FOUND, bytes(4)) if card else f.encode_response(
                f.Sw3.FIND_CARD_FAILED)
        if command == f.Command.SELECT_CARD:
            self.selected = card is not None
            return f.encode_response(f.Sw3.OK, CARD_SN) if card else f.encode_response(f.Sw3.SELECT_CARD_FAILED)
        if command in (f.Command.READ_TEXT_PHOTO, f.Command.READ_NEWEST_ADDRESS):
            if card is None or not self.selected:
                return f.encode_response(f.Sw3.READ_FAILED)
            if card.unreadable:
                self.selected = False
                return f.encode_response(f.Sw3.READ_FAILED)
            if command == f.Command.READ_NEWEST_ADDRESS:
                if card.newest_address is None:
                    return f.encode_response(f.Sw3.NO_CONTENT)
                address = card.newest_address.ljust(NEWEST_ADDRESS_CHARS)[:NEWEST_ADDRESS_CHARS]
                return f.encode_response(f.Sw3.OK, address.encode(TEXT_ENCODING))
            out = f.encode_response(f.Sw3.OK, f.encode_card_data(f.CardData(card.text, card.photo_wlt)))
            if self.fault is Fault.LIFTED_MID_READ:
                self.card, self.selected = None, False
                return out[:len(out) // 2]
            return out
        return f.encode_response(f.Sw3.BAD_COMMAND)


class IdCardHandle:
    """A simulator running on a pty: ``port_url``, ``sim`` (place/lift/fault), ``stop()``."""

    def __init__(self, sim: IdCardSimulator) -> None:
        self.sim = sim
        self._server = PtyServer(sim.on_bytes, name="idcard", baudrate=sim.baudrate)
        sim.send = self._server
        self.port_url = self._server.port_url

    def stop(self) -> None:
        self._server.stop()


def start_on_pty(cards: list[SimCard] | None = None, *, paced: bool = False) -> IdCardHandle:
    """Start a reader simulator; the first of ``cards`` (if any) lies on the reader.

    ``paced=True`` sends every byte at the real 115200 baud wire time.
    """
    first = cards[0] if cards else None
    return IdCardHandle(IdCardSimulator(first, baudrate=DEFAULT_BAUD if paced else None))


if __name__ == "__main__":
    serve_until_signal(start_on_pty([valid_card()]), "idcard")
