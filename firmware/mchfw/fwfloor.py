"""Anti-rollback floor: the highest firmware version ever confirmed healthy, kept on flash.

The updater refuses any image not newer than max(running version, floor). Without the floor, a
device made to boot an old image (an unconfirmed update rolled back is fine; an old slot forced
by someone with flash access is not) would accept every signed release newer than that old
image, including ones with known holes. The floor only rises, when an image confirms itself
(`confirm_healthy`). It lives in its own power-safe Store beside `otadata`. On an ESP32 with
secure boot, pair it with the eFuse secure version (CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK), which
the bootloader itself enforces: a file on flash cannot stop someone who rewrites the flash.
"""

from mchfw.store import Store

FLOOR_FILE = "/fwfloor"
NO_FLOOR = (0, 0, 0)


def version_tuple(text):
    """(X, Y, Z) of "X.Y.Z", or None if it is not one."""
    try:
        parts = tuple(int(p) for p in text.split("."))
    except (AttributeError, ValueError):
        return None
    if len(parts) != 3 or any(p < 0 for p in parts):
        return None
    return parts


class VersionFloor:
    def __init__(self, store: Store) -> None:
        self.store = store

    @classmethod
    def on(cls, flash_root: str) -> "VersionFloor":
        return cls(Store(flash_root + FLOOR_FILE))

    def get(self) -> tuple:
        return version_tuple(self.store.data.get("min_version", "")) or NO_FLOOR

    def raise_to(self, version: tuple) -> None:
        if version > self.get():
            self.store.data["min_version"] = "{}.{}.{}".format(*version)
            self.store.save()


def confirm_healthy(slots, floor: VersionFloor) -> None:
    """The running image is healthy: cancel its rollback, and never again accept anything older."""
    slots.mark_valid()
    m = slots.manifest(slots.running)
    version = version_tuple(m["version"]) if m else None
    if version is not None:
        floor.raise_to(version)
