"""Driver against the board simulator on a pty."""

from __future__ import annotations

import time

import pytest

from kiosk.errors import DeviceStatusError, DeviceTimeoutError
from kiosk.ioboard import protocol as p
from kiosk.ioboard.driver import IoBoard
from kiosk.ioboard.simulator import BoardHandle, BoardSimulator, start_on_pty

pytestmark = pytest.mark.integration


def test_boot_event_heartbeat_and_self_test(board: IoBoard) -> None:
    event = board.poll_event(1.0)
    assert event is not None and event.kind == p.EVT_BOOT
    assert p.decode_boot(event.payload)[1] == "iob-sim-1.0"
    status = board.heartbeat()
    assert status.sensors == 0 and status.motor_state == p.MOTOR_IDLE
    assert "iob-sim-1.0" in board.self_test()


def test_accept_eject_capture_cycle(board: IoBoard, board_sim: BoardHandle) -> None:
    board_sim.board.insert_card()
    outcome = board.accept_card(wait_s=2)
    assert outcome.ok and outcome.sensors == p.SENSOR_INNER
    assert board.heartbeat().card_inside
    with pytest.raises(DeviceStatusError) as err:
        board.accept_card(wait_s=1)
    assert err.value.status == p.RES_CARD_PRESENT
    outcome = board.eject_card()
    assert outcome.ok and outcome.sensors == p.SENSOR_ENTRY
    outcome = board.capture_card()
    assert outcome.ok and outcome.sensors == 0
    assert board_sim.board.captured == 1


def test_accept_times_out_without_card(board: IoBoard) -> None:
    outcome = board.accept_card(wait_s=1, timeout_s=3)
    assert outcome.result == p.RES_TIMEOUT


def test_jam_reported(board: IoBoard, board_sim: BoardHandle) -> None:
    board_sim.board.jam = True
    board_sim.board.insert_card()
    outcome = board.accept_card(wait_s=2)
    assert outcome.result == p.RES_JAM and outcome.result_name == "jam"
    assert board.heartbeat().flags & p.FLAG_JAM


def test_eject_without_card_is_refused(board: IoBoard) -> None:
    with pytest.raises(DeviceStatusError, match="no card"):
        board.eject_card()


def test_sensor_events_follow_the_card(board: IoBoard, board_sim: BoardHandle) -> None:
    board_sim.board.insert_card()
    board.accept_card(wait_s=2)
    board.eject_card()
    assert board_sim.board.remove_card()
    sensors = []
    while (event := board.poll_event(0.3)) is not None:
        if event.kind == p.EVT_SENSOR:
            sensors.append(p.decode_sensor(event.payload))
    assert sensors == [p.SENSOR_ENTRY, p.SENSOR_MIDDLE, p.SENSOR_INNER, p.SENSOR_MIDDLE, p.SENSOR_ENTRY, 0]
    assert board.event_gaps == 0


def test_leds_buzzer_watchdog(board: IoBoard, board_sim: BoardHandle) -> None:
    board.set_led(p.LED_PINPAD, p.LED_BLINK_SLOW)
    board.buzz(100, 50, 2)
    board.set_watchdog(1000)
    assert board_sim.board.leds[p.LED_PINPAD] == p.LED_BLINK_SLOW
    assert board_sim.board.buzzer == (100, 50, 2)
    assert board.heartbeat().watchdog_ms == 1000


def test_host_silent_safe_state_keeps_card_inside(open_pty_port) -> None:
    handle = start_on_pty(watchdog_ms=600, motion_timeout_s=0.5)
    try:
        board = IoBoard(open_pty_port(handle.port_url, "ioboard"))
        handle.board.insert_card()
        assert board.accept_card(wait_s=2).ok
        board.set_led(p.LED_CARD_SLOT, p.LED_ON)
        time.sleep(1.0)
        kinds = []
        while (event := board.poll_event(0.2)) is not None:
            kinds.append(event.kind)
        assert p.EVT_HOST_SILENT in kinds
        assert handle.board.position == "inner"  # nothing ejected
        assert handle.board.leds[p.LED_CARD_SLOT] == p.LED_OFF
        assert handle.board.leds[p.LED_STATUS] == p.LED_BLINK_FAST
        status = board.heartbeat()
        assert status.host_silent_fired and status.card_inside
        assert not board.heartbeat().host_silent_fired
    finally:
        handle.stop()


def test_hung_board_times_out_naming_port(board: IoBoard, board_sim: BoardHandle) -> None:
    board_sim.board.ignore_host = True
    with pytest.raises(DeviceTimeoutError) as err:
        board.heartbeat()
    assert err.value.device == "ioboard" and err.value.port == board_sim.port_url
    assert board_sim.port_url in str(err.value)


def test_retransmission_answered_from_cache_not_executed_twice() -> None:
    sim = BoardSimulator(motion_timeout_s=0.5)
    sim.take_output()
    sim.insert_card()
    frame = p.encode_frame(5, p.CMD_MOTOR_ACCEPT, p.encode_accept(2))
    dec = p.FrameDecoder()
    sim.feed(frame)
    first = [f for f in dec.feed(sim.take_output()) if f[1] == p.RESP]
    sim.feed(frame)  # same seq: a retransmission; executing it again would answer BUSY
    again = [f for f in dec.feed(sim.take_output()) if f[1] == p.RESP]
    assert first == again == [(5, p.RESP, p.encode_response(p.CMD_MOTOR_ACCEPT, p.RES_OK))]
    sim.feed(p.encode_frame(6, p.CMD_MOTOR_ACCEPT, p.encode_accept(2)))
    fresh = [f for f in dec.feed(sim.take_output()) if f[1] == p.RESP]
    assert fresh == [(6, p.RESP, p.encode_response(p.CMD_MOTOR_ACCEPT, p.RES_BUSY))]


def test_simulator_runs_as_a_subprocess(open_pty_port) -> None:
    """``python -m kiosk.ioboard.simulator`` (what ``make run`` starts) prints its port and serves it."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "kiosk.ioboard.simulator"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        name, url = proc.stdout.readline().split()
        assert name == "ioboard"
        assert IoBoard(open_pty_port(url, "ioboard")).heartbeat().motor_state == p.MOTOR_IDLE
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_keepalive_holds_off_the_watchdog(open_pty_port) -> None:
    from kiosk.ioboard.keepalive import KeepAlive

    handle = start_on_pty(watchdog_ms=800, motion_timeout_s=0.5)
    try:
        board = IoBoard(open_pty_port(handle.port_url, "ioboard"))
        keeper = KeepAlive(board, interval_s=0.1).start()
        try:
            time.sleep(1.2)
        finally:
            keeper.stop()
        assert keeper.failures == 0 and keeper.last_status is not None
        assert not handle.board.silent and not handle.board.flags & p.FLAG_HOST_SILENT
        time.sleep(1.2)
        assert handle.board.silent  # and without it the board does go to the safe state
    finally:
        handle.stop()
