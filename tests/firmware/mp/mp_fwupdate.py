"""The device's update session (fwupdate.py): offer, pieces, reboot, confirm or roll back.

Manifests are real signatures from fwupdate_vectors.json (made by provisioning.firmware, see its
"about"); slots are slots_host files with its bootloader model, one Session per "boot".
"""

import binascii
import json

from mchfw import commands, fwfloor, fwupdate, slots_host, update
from mchfw.store import Store

SLOT = 64 * 1024
PIECE = 2048

with open("fwupdate_vectors.json") as _f:
    VEC = json.load(_f)
TRUSTED = {VEC["key_id"]: binascii.unhexlify(VEC["pub"])}


def image(tag, size=9000):
    t = ("mchfw " + tag + " ").encode()
    return (t * (size // len(t) + 1))[:size]


class Clock:
    def __init__(self):
        self.t = 0

    def ticks(self):
        return self.t


class Hw:
    def __init__(self, v):
        self.v = v

    def get(self):
        return self.v


class Device:
    """One boot of a board: slots booted by the bootloader model, then a Session over them."""

    def __init__(self, tmp, hw_floor=None, window=5000):
        self.tmp, self.hw_floor, self.window = tmp, hw_floor, window
        self.resets = 0
        self.clock = Clock()
        self.slots = slots_host.FileSlots(tmp + "/slots", SLOT)
        self.slots.boot()
        self.cmds = commands.Commands(Store(tmp + "/commands"))
        updater = update.Updater(self.slots, TRUSTED, "esp32", fwfloor.VersionFloor.on(tmp), hw_floor)
        self.session = fwupdate.Session(updater, Store(tmp + "/fwupdate"), self.cmds, self._reset, self.clock,
                                        window)

    def _reset(self):
        self.resets += 1

    def reboot(self):
        return Device(self.tmp, self.hw_floor, self.window)

    def offer(self, version, command_id):
        body = {"command": "update-offer", "id": command_id, "args": {"manifest": VEC["releases"][version]["manifest"]}}
        assert self.cmds.handle(body)
        return self.cmds.take_results()

    def pieces(self, version):
        data = image(version, VEC["releases"][version]["size"])
        sha = VEC["releases"][version]["manifest"]["sha256"]
        return [{"sha256": sha, "offset": o, "data": binascii.b2a_base64(data[o:o + PIECE]).decode().strip()}
                for o in range(0, len(data), PIECE)]


def _factory(tmp):
    s = slots_host.FileSlots(tmp + "/slots", SLOT)
    s.provision(0, image("1.0.0"), VEC["releases"]["1.0.0"]["manifest"])


def test_offer_pieces_reboot_and_confirm(tmp):
    _factory(tmp)
    d = Device(tmp)
    assert d.offer("1.1.0", 5) == []  # accepted: answered once installed or rolled back
    pieces = d.pieces("1.1.0")
    for p in pieces[:2] + pieces[1:2] + pieces[2:]:  # one piece delivered twice (broker redelivery)
        d.session.chunk(p)
    assert d.resets == 1 and d.session.stats["ignored"] == 1
    d2 = d.reboot()
    assert d2.session.on_trial and d2.session.running_version() == "1.1.0"
    assert d2.cmds.take_results() == []  # not answered before it proved itself
    d2.session.healthy()
    assert d2.cmds.take_results() == [{"id": 5, "status": "done", "detail": "installed 1.1.0"}]
    assert d2.session.faults() == []
    d3 = d2.reboot()
    assert d3.session.running_version() == "1.1.0" and not d3.session.on_trial and d3.cmds.take_results() == []


def test_a_missing_piece_fails_the_offer(tmp):
    _factory(tmp)
    d = Device(tmp)
    d.offer("1.1.0", 6)
    pieces = d.pieces("1.1.0")
    d.session.chunk(pieces[0])
    d.session.chunk(pieces[2])
    assert d.cmds.take_results() == [{"id": 6, "status": "failed", "detail": "piece at byte 2048 never arrived"}]
    assert [f["code"] for f in d.session.faults()] == ["update-failed"] and d.resets == 0
    assert d.reboot().session.running_version() == "1.0.0"


def test_unconfirmed_image_is_rolled_back_and_reported(tmp):
    _factory(tmp)
    d = Device(tmp, window=5000)
    d.offer("1.1.0", 7)
    for p in d.pieces("1.1.0"):
        d.session.chunk(p)
    d2 = d.reboot()
    assert d2.session.on_trial
    d2.clock.t = 4000
    d2.session.tick()
    assert d2.resets == 0
    d2.clock.t = 6000  # the hub never acknowledged: the health window is over
    d2.session.tick()
    assert d2.resets == 1
    d3 = d2.reboot()  # the bootloader goes back to the confirmed slot
    assert d3.session.running_version() == "1.0.0"
    [result] = d3.cmds.take_results()
    assert result["id"] == 7 and result["status"] == "failed" and result["detail"].startswith("rolled back: 1.1.0")
    assert [f["code"] for f in d3.session.faults()] == ["update-rolled-back"]


def test_refused_before_a_byte_is_written(tmp):
    _factory(tmp)
    d = Device(tmp)
    [r] = d.offer("0.9.0", 8)
    assert r["status"] == "refused" and r["detail"].startswith("downgrade")
    bad = dict(VEC["releases"]["1.1.0"]["manifest"])
    bad["key_id"] = "someone-else"
    assert d.cmds.handle({"command": "update-offer", "id": 9, "args": {"manifest": bad}})
    assert d.cmds.take_results()[0]["detail"].startswith("unknown-key")
    assert d.cmds.handle({"command": "update-offer", "id": 10, "args": {}})
    assert d.cmds.take_results()[0]["detail"].startswith("malformed")
    d.offer("1.1.0", 11)
    [busy] = d.offer("2.0.0", 12)
    assert busy["status"] == "refused" and "being written" in busy["detail"]


def test_hardware_secure_version_refuses_a_lower_major(tmp):
    """The eFuse counter (hw_esp32.SecureVersion) is 2: a signed 1.1.0 is refused even though the flash
    floor (rewritable) says nothing; 2.0.0 is accepted. The unix port has no such counter (hw_host: None)."""
    _factory(tmp)
    d = Device(tmp, hw_floor=Hw(2))
    [r] = d.offer("1.1.0", 13)
    assert r["status"] == "refused" and "secure version 2" in r["detail"]
    assert d.offer("2.0.0", 14) == []


def test_a_reset_while_writing_answers_the_offer_at_the_next_boot(tmp):
    """Else the hub would wait for the command's timeout (30 min) and keep sending pieces."""
    _factory(tmp)
    d = Device(tmp)
    d.offer("1.1.0", 15)
    d.session.chunk(d.pieces("1.1.0")[0])
    d2 = d.reboot()  # power cut mid-transfer
    assert d2.cmds.take_results() == [{"id": 15, "status": "failed",
                                       "detail": "reset while 1.1.0 was being written; offer it again"}]
    assert [f["code"] for f in d2.session.faults()] == ["update-failed"]
    assert d2.session.running_version() == "1.0.0"
    assert d2.offer("1.1.0", 16) == []  # offered again, it goes through
    for p in d2.pieces("1.1.0"):
        d2.session.chunk(p)
    d3 = d2.reboot()
    d3.session.healthy()
    assert d3.cmds.take_results() == [{"id": 16, "status": "done", "detail": "installed 1.1.0"}]
    assert d3.session.faults() == []
