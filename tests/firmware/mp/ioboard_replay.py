"""Feed a host byte stream to the I/O board firmware (no time passes, no card): print its output.

    ioboard_replay.py <stream.bin> <chunk> <version>   -> hex of everything the board sent
"""

import binascii
import sys

from cardworld import CardWorld
from mchfw import ioboard


class Uart:
    def __init__(self, data, chunk):
        self.data, self.chunk, self.tx = data, chunk, bytearray()

    def read(self, max_n, timeout_ms):
        n = min(max_n, self.chunk)
        out, self.data = self.data[:n], self.data[n:]
        return out

    def write(self, data):
        self.tx.extend(data)
        return len(data)


def clock():
    return 0


with open(sys.argv[1], "rb") as f:
    uart = Uart(f.read(), int(sys.argv[2]))
board = ioboard.IoBoard(uart, CardWorld(clock).pins, clock, version=sys.argv[3])
while uart.data:
    board.step()
print(binascii.hexlify(uart.tx).decode())
