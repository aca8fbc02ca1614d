"""The I/O board firmware on the unix port: UART on a pty, the card path simulated in memory.

    ioboard_run.py <state_dir> <tty> [version]
The physical world is driven through files in <state_dir>: `insert` (a customer puts a card at
the slot), `take` (takes the card at the mouth); the card position is written to `position`.
"""

import sys
import time

from cardworld import CardWorld
from mchfw import fsutil, hw, ioboard

POLL_EVERY = 10


def main(argv):
    state, tty = argv[1], argv[2]
    board_hw = hw.open_board(state)
    world = CardWorld(time.ticks_ms)
    board = ioboard.IoBoard(board_hw.uart(tty, 115200), world.pins, time.ticks_ms, board_hw.watchdog(5000),
                            version=argv[3] if len(argv) > 3 else ioboard.VERSION)
    n = 0
    last = "?"
    while True:
        board.step()
        n += 1
        if n % POLL_EVERY:
            continue
        if fsutil.exists(state + "/insert"):
            fsutil.remove(state + "/insert")
            world.insert()
        if fsutil.exists(state + "/take"):
            fsutil.remove(state + "/take")
            world.take()
        pos = str(world.position) + " captured=" + str(world.captured)
        if pos != last:
            fsutil.write_atomic(state + "/position", pos.encode())
            last = pos


main(sys.argv)
