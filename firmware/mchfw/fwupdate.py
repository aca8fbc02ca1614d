"""A firmware update on the device: offer -> image in pieces -> reboot -> confirm or roll back.

1. The hub's `update-offer` command carries the signed manifest (args {"manifest": {...}}).
   update.Updater checks it (key, signature, board, anti-rollback floors, size) before a byte is
   written; a refusal is the command's answer at once.
2. The image follows on the device's cmd topic as `fw-chunk/1` messages
   {"sha256": <image hash hex>, "offset": n, "data": <base64>}, sealed like every downlink message.
   Pieces are written in order; a repeated piece (a redelivery) is skipped, a missing one fails
   the update (the technician offers it again).
3. The last piece: the slot is hashed from flash, marked to boot, and the device reboots.
4. The new image is on trial: it confirms itself when the hub first acknowledges one of its
   records (the health check: it reaches the hub over mTLS and the hub opens what it seals).
   Without that within `health_window_ms` it resets unconfirmed and the bootloader rolls back.
5. Either way the command is answered after the reboot, from what is kept in `<flash>/fwupdate`:
   done "installed X.Y.Z", or failed "rolled back ...", and a rolled-back or failed update is also
   reported as a fault in every state message until the next update installs.
"""

import binascii

from mchfw import clock as ticks
from mchfw import commands as cmds
from mchfw.store import Store
from mchfw.update import UpdateError

STATE_WRITING = "writing"  # pieces arriving (a reset now ends the offer: answered at the next boot)
STATE_BOOTING = "booting"  # installed and marked to boot; the reset is next
STATE_TRIAL = "trial"  # running the new image, not yet confirmed
STATE_INSTALLED = "installed"
STATE_ROLLED_BACK = "rolled-back"
STATE_FAILED = "failed"  # a piece missing, the hash wrong, or a reset while writing
FAULT_ROLLED_BACK = "update-rolled-back"
FAULT_FAILED = "update-failed"
DEFAULT_HEALTH_WINDOW_MS = 300000


class Session:
    def __init__(self, updater, store: Store, commands, request_reset, clock,
                 health_window_ms: int = DEFAULT_HEALTH_WINDOW_MS) -> None:
        self.updater, self.store, self.commands = updater, store, commands
        self.request_reset, self.clock = request_reset, clock
        self.health_window_ms = health_window_ms
        self.announce = None  # fn(): send a state message now (link.publish_state)
        self.job = None  # update.Install being written
        self.job_command = None
        self.stats = {"chunks": 0, "ignored": 0}
        self.booted_at = clock.ticks()
        commands.on("update-offer", self.offer)
        self._after_boot()

    # -- what the last boot did -------------------------------------------------------
    def running_version(self) -> str:
        return "{}.{}.{}".format(*self.updater.running_version())

    def _after_boot(self) -> None:
        d = self.store.data
        if d.get("state") == STATE_WRITING:
            detail = "reset while {} was being written; offer it again".format(d.get("version"))
            self._end(STATE_FAILED, cmds.STATUS_FAILED, detail, FAULT_FAILED)
            return
        if d.get("state") not in (STATE_BOOTING, STATE_TRIAL):
            return
        on_new = self.updater.slots.running == d.get("slot") and self.running_version() == d.get("version")
        if on_new and d["state"] == STATE_BOOTING:
            d["state"] = STATE_TRIAL
            self.store.save()
        elif not on_new:
            detail = "rolled back: {} did not pass its health check; running {}".format(d.get("version"),
                                                                                          self.running_version())
            self._end(STATE_ROLLED_BACK, cmds.STATUS_FAILED, detail, FAULT_ROLLED_BACK)

    def _end(self, state: str, status: str, detail: str, fault_code=None) -> None:
        d = self.store.data
        if d.get("command"):
            self.commands.finish(d["command"], status, detail)
        d.update(state=state, command=None, detail=detail)
        d["fault"] = {"code": fault_code, "severity": "warning", "detail": detail[:200]} if fault_code else None
        self.store.save()

    def faults(self) -> list:
        f = self.store.data.get("fault")
        return [f] if f else []

    @property
    def on_trial(self) -> bool:
        return self.store.data.get("state") == STATE_TRIAL

    def healthy(self) -> None:
        """The hub acknowledged this image's records: confirm it (cancels the rollback, raises the floor)."""
        self.updater.confirm()
        if self.on_trial:
            self._end(STATE_INSTALLED, cmds.STATUS_DONE, "installed " + self.running_version())
            if self.announce is not None:
                self.announce()

    def tick(self) -> None:
        """Called every loop turn: an image on trial that has not proved itself in time is abandoned."""
        if self.on_trial and ticks.diff(self.clock.ticks(), self.booted_at) > self.health_window_ms:
            self.request_reset()  # unconfirmed: the bootloader boots the confirmed slot again

    # -- the offer and the pieces -----------------------------------------------------
    def offer(self, args: dict, command_id):
        if self.job is not None:
            return cmds.STATUS_REFUSED, "an update to {} is being written".format(self.job.manifest["version"])
        if self.on_trial:
            return cmds.STATUS_REFUSED, "the running image is still on trial"
        if not isinstance(args.get("manifest"), dict):
            return cmds.STATUS_REFUSED, "malformed: want args {\"manifest\": {...}}"
        try:
            job = self.updater.begin(args["manifest"])
        except UpdateError as exc:
            return cmds.STATUS_REFUSED, str(exc)
        self.job, self.job_command = job, command_id
        self.store.data.update(state=STATE_WRITING, command=command_id, version=job.manifest["version"])
        self.store.save()
        return None  # answered once installed or rolled back (after the reboot)

    def chunk(self, body) -> None:
        job = self.job
        if job is None or not isinstance(body, dict) or body.get("sha256") != job.manifest["sha256"]:
            self.stats["ignored"] += 1
            return
        offset = body.get("offset")
        if not isinstance(offset, int) or offset < job.done:
            self.stats["ignored"] += 1  # a redelivered piece
            return
        if offset > job.done:
            return self._fail(f"piece at byte {job.done} never arrived")
        try:
            data = binascii.a2b_base64(body.get("data", ""))
            job.write(data)
            self.stats["chunks"] += 1
            if job.done < job.manifest["size"]:
                return
            slot = job.finish()
        except (UpdateError, ValueError, TypeError, OSError) as exc:
            return self._fail(str(exc))
        self.store.data.update(state=STATE_BOOTING, slot=slot, version=job.manifest["version"],
                               command=self.job_command, came_from=self.running_version())
        self.store.save()
        self.job = None
        self.request_reset()

    def _fail(self, detail: str) -> None:
        if self.job_command is not None:
            self.commands.finish(self.job_command, cmds.STATUS_FAILED, detail)
        self.store.data.update(state=STATE_FAILED, command=None,
                               fault={"code": FAULT_FAILED, "severity": "warning", "detail": detail[:200]})
        self.store.save()
        self.job, self.job_command = None, None
        if self.announce is not None:
            self.announce()
