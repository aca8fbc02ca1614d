"""Update slots as files, with a bootloader model of ESP-IDF's OTA rollback.

slot0.bin / slot1.bin hold images; `otadata` (a power-safe Store) holds the confirmed slot,
the pending one and each slot's verified manifest. boot() is what the bootloader does at
reset: a freshly installed slot is tried once (pending-verify); if the image does not confirm
itself before the next reset, it is abandoned and the confirmed slot boots again. A slot
whose content no longer matches its manifest's SHA-256 is never booted.
"""

import hashlib

from mchfw import fsutil
from mchfw.store import Store

STATE_NEW = "new"
STATE_PENDING_VERIFY = "pending-verify"
READ_CHUNK = 4096


class FileSlots:
    def __init__(self, directory: str, size: int) -> None:
        self.dir, self.size = directory, size
        fsutil.makedirs(directory)
        self.ota = Store(directory + "/otadata")
        self.running = self.ota.data.get("running", self.ota.data.get("active", 0))
        self.fault_after_bytes = -1  # tests: simulate a power cut after this many bytes written

    def path(self, i: int) -> str:
        return self.dir + f"/slot{i}.bin"

    def inactive(self) -> int:
        return 1 - self.running

    def manifest(self, i: int):
        return self.ota.data.get("manifests", {}).get(str(i))

    def erase(self, i: int) -> None:
        with open(self.path(i), "wb"):
            pass

    def write(self, i: int, offset: int, data: bytes) -> None:
        if offset + len(data) > self.size:
            raise ValueError("image larger than the slot")
        if self.fault_after_bytes >= 0 and offset + len(data) > self.fault_after_bytes:
            with open(self.path(i), "ab") as f:
                f.write(data[:max(0, self.fault_after_bytes - offset)])
            raise SystemExit("power cut during install")
        with open(self.path(i), "ab") as f:
            f.write(data)
            fsutil.fsync(f)

    def sha256(self, i: int, length: int) -> bytes:
        h = hashlib.sha256()
        done = 0
        try:
            with open(self.path(i), "rb") as f:
                while done < length:
                    chunk = f.read(min(READ_CHUNK, length - done))
                    if not chunk:
                        break
                    h.update(chunk)
                    done += len(chunk)
        except OSError:
            return b""
        return h.digest() if done == length and fsutil.size(self.path(i)) == length else b""

    def valid(self, i: int) -> bool:
        return self._valid_hex(i, self.manifest(i))

    def _valid_hex(self, i: int, m) -> bool:
        import binascii

        return m is not None and self.sha256(i, m["size"]) == binascii.unhexlify(m["sha256"])

    def set_boot(self, i: int, manifest: dict) -> None:
        """Record the verified manifest and make slot i the one to try at the next reset."""
        self.ota.data.setdefault("manifests", {})[str(i)] = manifest
        self.ota.data["pending"] = {"slot": i, "state": STATE_NEW}
        self.ota.save()

    def mark_valid(self) -> None:
        """The running image is healthy: it becomes the confirmed slot (cancels rollback)."""
        pending = self.ota.data.get("pending")
        if pending is not None and pending["slot"] == self.running:
            self.ota.data["active"] = self.running
            self.ota.data["pending"] = None
            self.ota.save()

    def pending_verify(self) -> bool:
        p = self.ota.data.get("pending")
        return p is not None and p["slot"] == self.running and p["state"] == STATE_PENDING_VERIFY

    def boot(self) -> int:
        """The bootloader at reset; returns the slot that runs."""
        d = self.ota.data
        active = d.get("active", 0)
        pending = d.get("pending")
        choice = active
        if pending is not None:
            if pending["state"] == STATE_NEW and self._valid_hex(pending["slot"], self.manifest(pending["slot"])):
                pending["state"] = STATE_PENDING_VERIFY
                choice = pending["slot"]
            else:  # tried once and never confirmed, or corrupt: roll back
                d["pending"] = None
        if not self._valid_hex(choice, self.manifest(choice)) and self._valid_hex(1 - choice, self.manifest(1 - choice)):
            choice = 1 - choice
            d["active"] = choice
        d["running"] = choice
        self.ota.save()
        self.running = choice
        return choice

    def provision(self, i: int, image: bytes, manifest: dict) -> None:
        """Factory flashing: slot i holds `image` and is the confirmed slot."""
        self.erase(i)
        self.write(i, 0, image)
        self.ota.data.setdefault("manifests", {})[str(i)] = manifest
        self.ota.data["active"] = i
        self.ota.data["running"] = i
        self.ota.data["pending"] = None
        self.ota.save()
        self.running = i
