"""Which commands the device page offers each kind of device, and the arguments its forms may carry.

Only what that kind carries out, so that no button is bound to be refused:
- kiosks and stations (mch_link DeviceLink + the renewal runner): rebirth, renew;
- bridges (firmware/mchfw): rebirth, reboot, config-push of the bounded settings below (they refuse
  crl-refresh and renew: MicroPython has no CRL check and cannot make its own key);
- simulated devices: rebirth only.
A firmware update offer needs a signed release published to the hub's firmware channel, which streams
the image: that is `mch-provision firmware offer` (central_hub.firmware_channel), not a button here.
Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from central_hub.commands import CommandKind

OFFERED: dict[str, tuple[CommandKind, ...]] = {
    "kiosk": (CommandKind.REBIRTH, CommandKind.RENEW),
    "station": (CommandKind.REBIRTH, CommandKind.RENEW),
    "bridge": (CommandKind.REBIRTH, CommandKind.CONFIG_PUSH, CommandKind.REBOOT),
    "sim": (CommandKind.REBIRTH,),
}
# what a bridge's config-push accepts, with its bounds (firmware/mchfw/commands.py SETTINGS, which
# is MicroPython and cannot be imported here; tests check the two agree)
BRIDGE_SETTINGS: dict[str, tuple[int, int]] = {"heartbeat_ms": (1000, 3_600_000), "health_window_ms": (10_000, 3_600_000)}


class SettingsError(ValueError):
    """A config-push form the bridge would refuse; the message says which field and its bounds."""


def offered(kind: str | None) -> tuple[str, ...]:
    """The commands shown (and accepted) for a device of `kind`; none for an unknown kind."""
    return tuple(c.value for c in OFFERED.get(kind or "", ()))


def config_push_args(form: Mapping[str, str]) -> dict[str, dict[str, int]]:
    """`{"bridge": {name: value}}` from the form's filled-in fields; empty fields are left unchanged."""
    chosen: dict[str, int] = {}
    for name, (lo, hi) in BRIDGE_SETTINGS.items():
        text = form.get(name, "").strip()
        if not text:
            continue
        if not text.isdigit() or not lo <= int(text) <= hi:
            raise SettingsError(f"{name} must be an integer {lo}..{hi}")
        chosen[name] = int(text)
    if not chosen:
        raise SettingsError("fill in at least one of " + ", ".join(BRIDGE_SETTINGS))
    return {"bridge": chosen}
