"""Drive the updater like a device would, one step per process (a process exit = a reset).

    update_cli.py provision <state> <image> <manifest>
    update_cli.py install   <state> <manifest> <image> <trusted_pub_hex> [power_cut_after_bytes]
    update_cli.py boot      <state>            (the bootloader: prints the slot that runs)
    update_cli.py confirm   <state>            (the new image declares itself healthy)
    update_cli.py force-boot <state> <slot>    (someone with flash access makes an old slot boot)
Prints one JSON line.
"""

import binascii
import json
import sys

from mchfw import fwfloor, slots_host, update

BOARD = "esp32"
KEY_ID = "fw-test"
SLOT_SIZE = 64 * 1024


def _slots(state):
    return slots_host.FileSlots(state + "/slots", SLOT_SIZE)


def _floor(state):
    return fwfloor.VersionFloor.on(state)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _report(s):
    m = s.manifest(s.running)
    print(json.dumps({"running": s.running, "version": m["version"] if m else None, "valid": s.valid(s.running),
                      "pending_verify": s.pending_verify()}))


def main(argv):
    cmd, state = argv[1], argv[2]
    s = _slots(state)
    if cmd == "provision":
        s.provision(0, _read(argv[3]), json.loads(_read(argv[4])))
        _report(s)
    elif cmd == "install":
        trusted = {KEY_ID: binascii.unhexlify(argv[5])}
        if len(argv) > 6:
            s.fault_after_bytes = int(argv[6])
        image = open(argv[4], "rb")
        try:
            target = update.Updater(s, trusted, BOARD, _floor(state)).install(_read(argv[3]), image.read)
            print(json.dumps({"installed": target}))
        except update.UpdateError as exc:
            print(json.dumps({"refused": exc.reason}))
        finally:
            image.close()
    elif cmd == "boot":
        s.boot()
        _report(s)
    elif cmd == "confirm":
        update.Updater(s, {}, BOARD, _floor(state)).confirm()
        _report(s)
    elif cmd == "force-boot":
        s.ota.data["active"] = s.ota.data["running"] = int(argv[3])
        s.ota.data["pending"] = None
        s.ota.save()
        s.running = int(argv[3])
        _report(s)


main(sys.argv)
