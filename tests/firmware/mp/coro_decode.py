"""Decode a byte stream file in given chunk sizes; print events and stats as JSON lines.

    micropython coro_decode.py <stream.bin> <chunk_sizes comma-separated>
"""

import binascii
import json
import sys

from mchfw import corometrics as cm

with open(sys.argv[1], "rb") as f:
    data = f.read()
sizes = [int(x) for x in sys.argv[2].split(",")]
d = cm.Decoder()
pos = 0
i = 0
while pos < len(data):
    n = sizes[i % len(sizes)]
    for ev in d.feed(data[pos:pos + n]):
        out = list(ev)
        if ev[0] == cm.EV_ANNOTATION:
            out[2] = binascii.hexlify(ev[2]).decode()
        print(json.dumps(out))
    pos += n
    i += 1
print(json.dumps(["stats", d.stats]))
