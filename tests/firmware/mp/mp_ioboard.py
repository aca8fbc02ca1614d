"""The I/O board firmware against a simulated card path, on a fake UART and a fake clock."""

from cardworld import CardWorld
from mchfw import ioboard
from mchfw import ioproto as p


class Clock:
    def __init__(self):
        self.t = 0

    def __call__(self):
        return self.t


class Uart:
    def __init__(self):
        self.rx = bytearray()
        self.tx = bytearray()

    def read(self, max_n, timeout_ms):
        data = bytes(self.rx[:max_n])
        self.rx = self.rx[max_n:]
        return data

    def write(self, data):
        self.tx.extend(data)
        return len(data)


class Rig:
    def __init__(self):
        self.clock = Clock()
        self.world = CardWorld(self.clock)
        self.uart = Uart()
        self.board = ioboard.IoBoard(self.uart, self.world.pins, self.clock, version="iob-test")
        self.host = p.FrameDecoder()
        self.seq = 0
        self.frames = []

    def run(self, ms, step=5):
        end = self.clock.t + ms
        while self.clock.t < end:
            self.board.step()
            self.clock.t += step
        self.frames += self.host.feed(bytes(self.uart.tx))
        self.uart.tx = bytearray()

    def cmd(self, ctype, payload=b"", seq=None):
        self.seq = p.next_seq(self.seq) if seq is None else seq
        self.uart.rx.extend(p.encode_frame(self.seq, ctype, payload))
        self.run(10)
        resp = [f for f in self.frames if f[1] == p.RESP and f[0] == self.seq]
        assert resp, "no response"
        return p.decode_response(resp[-1][2])

    def events(self, kind):
        return [f for f in self.frames if f[1] == kind]


def test_boot_event_and_status(tmp):
    r = Rig()
    r.run(10)
    assert r.frames[0] == (0, p.EVT_BOOT, bytes((p.RESET_POWER_ON,)) + b"iob-test")
    assert r.world.pins["led4"].level == 1 and r.world.pins["led0"].level == 0
    cmd, res, data = r.cmd(p.CMD_HEARTBEAT)
    assert (cmd, res) == (p.CMD_HEARTBEAT, p.RES_OK)
    assert p.decode_status(data) == (0, 0, p.MOTOR_IDLE, 0, p.DEFAULT_WATCHDOG_MS)
    assert r.cmd(p.CMD_GET_VERSION)[2] == b"iob-test"


def test_accept_then_eject(tmp):
    r = Rig()
    assert r.cmd(p.CMD_MOTOR_ACCEPT, p.encode_accept(5))[1] == p.RES_OK
    assert r.cmd(p.CMD_MOTOR_EJECT)[1] == p.RES_BUSY
    r.run(300)
    assert r.world.pins["motor_fwd"].level == 0  # waits for the card with the motor off
    r.world.insert()
    r.run(600)
    done = r.events(p.EVT_MOTOR_DONE)
    assert [p.decode_motor_done(d[2]) for d in done] == [(p.CMD_MOTOR_ACCEPT, p.RES_OK, p.SENSOR_INNER)]
    assert r.world.position == "inner" and r.world.pins["motor_fwd"].level == 0
    assert r.cmd(p.CMD_MOTOR_ACCEPT, p.encode_accept(5))[1] == p.RES_CARD_PRESENT
    assert r.cmd(p.CMD_MOTOR_EJECT)[1] == p.RES_OK
    r.run(600)
    assert p.decode_motor_done(r.events(p.EVT_MOTOR_DONE)[-1][2]) == (p.CMD_MOTOR_EJECT, p.RES_OK, p.SENSOR_ENTRY)
    assert r.world.position == "entry"
    sensor_events = [f[2][0] for f in r.events(p.EVT_SENSOR)]
    assert sensor_events[:3] == [p.SENSOR_ENTRY, p.SENSOR_MIDDLE, p.SENSOR_INNER]


def test_capture_and_bin_full(tmp):
    r = Rig()
    assert r.cmd(p.CMD_MOTOR_CAPTURE)[1] == p.RES_NO_CARD
    r.world.insert()
    r.run(50)
    assert r.cmd(p.CMD_MOTOR_CAPTURE)[1] == p.RES_OK
    r.run(800)
    assert p.decode_motor_done(r.events(p.EVT_MOTOR_DONE)[-1][2])[:2] == (p.CMD_MOTOR_CAPTURE, p.RES_OK)
    assert r.world.captured == 1
    r.world.bin_full = True
    r.world.insert()
    r.run(50)
    assert r.cmd(p.CMD_MOTOR_CAPTURE)[1] == p.RES_BIN_FULL
    assert p.decode_status(r.cmd(p.CMD_HEARTBEAT)[2])[3] & p.FLAG_BIN_FULL


def test_accept_timeout_and_jam(tmp):
    r = Rig()
    r.cmd(p.CMD_MOTOR_ACCEPT, p.encode_accept(1))
    r.run(1200)
    assert p.decode_motor_done(r.events(p.EVT_MOTOR_DONE)[-1][2])[1] == p.RES_TIMEOUT
    r.world.jam = True
    r.cmd(p.CMD_MOTOR_ACCEPT, p.encode_accept(5))
    r.world.insert()
    for _ in range(4):  # the host keeps talking, so its watchdog does not stop the motion first
        r.run(900)
        r.cmd(p.CMD_HEARTBEAT)
    assert p.decode_motor_done(r.events(p.EVT_MOTOR_DONE)[-1][2])[1] == p.RES_JAM
    assert r.world.pins["motor_fwd"].level == 0
    assert p.decode_status(r.cmd(p.CMD_HEARTBEAT)[2])[3] & p.FLAG_JAM


def test_retransmission_is_not_executed_twice(tmp):
    r = Rig()
    r.world.insert()
    r.run(50)
    first = r.cmd(p.CMD_MOTOR_CAPTURE, seq=40)
    again = r.cmd(p.CMD_MOTOR_CAPTURE, seq=40)  # the host lost our response and resends
    assert first == again == (p.CMD_MOTOR_CAPTURE, p.RES_OK, b"")
    r.run(800)
    assert len(r.events(p.EVT_MOTOR_DONE)) == 1


def test_host_silence_stops_motor_and_ejects_nothing(tmp):
    r = Rig()
    r.cmd(p.CMD_SET_WATCHDOG, p.encode_watchdog(500))
    r.cmd(p.CMD_SET_LED, p.encode_led(p.LED_CARD_SLOT, p.LED_ON))
    r.world.insert()
    r.cmd(p.CMD_MOTOR_ACCEPT, p.encode_accept(5))
    r.run(70)  # the card is on its way in when the host goes quiet
    r.world.jam = True
    r.run(600)
    assert r.events(p.EVT_HOST_SILENT), "no host-silent event"
    assert p.decode_motor_done(r.events(p.EVT_MOTOR_DONE)[-1][2])[1] == p.RES_STOPPED
    assert r.world.pins["motor_fwd"].level == 0 and r.world.pins["motor_rev"].history == [0]  # never ejected
    assert r.world.pins["led0"].level == 0
    r.run(2000)
    assert len(r.events(p.EVT_HOST_SILENT)) == 1  # once, not every turn
    status = p.decode_status(r.cmd(p.CMD_HEARTBEAT)[2])
    assert status[3] & p.FLAG_HOST_SILENT and status[2] == p.MOTOR_IDLE
    assert not p.decode_status(r.cmd(p.CMD_HEARTBEAT)[2])[3] & p.FLAG_HOST_SILENT


def test_debounce_ignores_glitches(tmp):
    r = Rig()
    r.run(10)
    r.world.glitch = ("s_entry", r.clock.t + 10)
    r.run(100)
    assert not r.events(p.EVT_SENSOR)
    r.world.insert()
    r.run(100)
    assert [f[2] for f in r.events(p.EVT_SENSOR)] == [bytes((p.SENSOR_ENTRY,))]


def test_leds_and_buzzer(tmp):
    r = Rig()
    r.cmd(p.CMD_SET_LED, p.encode_led(p.LED_PRINTER, p.LED_BLINK_FAST))
    r.cmd(p.CMD_BUZZER, p.encode_buzzer(100, 50, 2))
    r.run(1000, step=5)
    led = r.world.pins["led3"].history
    assert led.count(1) >= 3  # 4 Hz over a second
    assert r.world.pins["buzzer"].history == [0, 1, 0, 1, 0]
    assert r.cmd(p.CMD_SET_LED, b"\x09\x01")[1] == p.RES_BAD_PARAM
    assert r.cmd(p.CMD_BUZZER, b"\x00")[1] == p.RES_BAD_PARAM
    assert r.cmd(0x55)[1] == p.RES_UNKNOWN_CMD
    assert r.cmd(p.CMD_MOTOR_EJECT, b"\x01")[1] == p.RES_BAD_PARAM


def test_noise_never_crashes(tmp):
    r = Rig()
    seed = 99
    for _ in range(200):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        r.uart.rx.extend(bytes(((seed >> s) & 0xFF) for s in range(0, 24, 3)))
        if seed % 7 == 0:
            r.uart.rx.extend(b"\xa5\x5a")
        r.run(5)
    r.run(100)
    assert r.cmd(p.CMD_HEARTBEAT)[1] == p.RES_OK


def test_doc_vectors(tmp):
    assert p.encode_frame(0, p.CMD_HEARTBEAT) == b"\xa5\x5a\x02\x00\x01\xb2\xdd"
    assert p.encode_frame(1, p.CMD_MOTOR_ACCEPT, p.encode_accept(30)) == b"\xa5\x5a\x03\x01\x10\x1e\xd8\xa0"
    assert p.encode_frame(7, p.EVT_SENSOR, b"\x01") == b"\xa5\x5a\x03\x07\xc1\x01\xaf\xc8"
    assert p.encode_frame(8, p.EVT_MOTOR_DONE, p.encode_motor_done(0x10, 0, 4)) == \
        b"\xa5\x5a\x05\x08\xc2\x10\x00\x04\x12\x17"
    assert p.crc16_ccitt(b"123456789") == 0x29B1


def test_runs_on_the_host_board_with_file_pins(tmp):
    import os

    from mchfw import app, hw_host

    board = hw_host.Board(tmp + "/hw")
    fifo = tmp + "/uart"
    with open(fifo, "wb"):
        pass  # a plain file as the UART: reads return nothing, writes are kept
    io = app.run_ioboard(board, fifo, steps=20)
    with open(tmp + "/hw/gpio/s_entry", "w") as f:
        f.write("1")
    for _ in range(20):
        io.step()
        time_sleep_ms(2)
    assert io.sensors == p.SENSOR_ENTRY
    assert os.stat(fifo)[6] > 0  # EVT_BOOT and EVT_SENSOR were written
    with open(tmp + "/hw/gpio/led4") as f:
        assert f.read() == "1"


def time_sleep_ms(ms):
    import time

    if hasattr(time, "sleep_ms"):
        time.sleep_ms(ms)
    else:
        time.sleep(ms / 1000)
