"""The hub's firmware update channel: published releases, offers turned into audited commands, the
image streamed to the device in sealed pieces, and who installed or rolled back.

The channel is a directory of the hub's view that `mch-provision firmware publish|offer` fills
(provisioning.firmware; technicians work offline and sync the view):

    firmware/releases/<board>-<version>/{manifest.json,image.bin}
    firmware/offers/<at>-<n>.json      {"format": "mchfw-offer/1", version, board, devices, technician}
    firmware/status.json               written here: the outcome of every offer (read back by the laptop)

For each device of an offer the channel issues `update-offer` through central_hub.commands (so it is
audited, in the technician's name, and waits for the device's answer), then sends the image as
`fw-chunk/1` messages on the device's cmd topic, sealed with its downlink key like any command.
The device checks the signed manifest before it writes a byte (a refusal answers the command and
the channel stops sending), writes the pieces in order, reboots into the new image, and answers
the command once the image confirmed itself (`done: installed X`) or was rolled back
(`failed: rolled back ...`, also a fault in its state). The hub does not trust the files either:
a release whose image does not match its manifest is never offered. Pieces go through the
broker's persistent session, so a device offline during the transfer receives them on reconnect.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from central_hub.audit import AuditLog
from central_hub.commands import Commands, CommandState
from central_hub.errors import HubError
from central_hub.fleet import faults_of
from central_hub.report import terminal_safe
from central_hub.store.base import Store

log = logging.getLogger(__name__)

FIRMWARE_DIR = "firmware"
RELEASES, OFFERS, STATUS_FILE = "releases", "offers", "status.json"
MANIFEST_FILE, IMAGE_FILE = "manifest.json", "image.bin"
OFFER_FORMAT = "mchfw-offer/1"
STATUS_FORMAT = "mchfw-status/1"
MANIFEST_FORMAT = "mchfw-manifest/1"
OFFER_ACTION = "firmware-offer"  # audit action of an offer file taken in (its name is the target)
PIECE_BYTES = 2048  # raw bytes per fw-chunk/1 (base64 2,732 chars): small sealed messages for a small device
PIECES_PER_PUMP = 8  # per transfer and turn, so a refusal stops the stream early
UPDATE_TIMEOUT_S = 1800  # transfer + reboot + health check
PUMP_EVERY_S = 0.1
STATUS_EVERY_S = 1.0
STATUS_COMMANDS = 500
ROLLED_BACK = "rolled back"  # how the device's answer to a rolled-back update-offer begins (fwupdate.py)


class ChannelError(HubError):
    """A release or offer file is unusable; the message names the file and the fix."""


class PieceSender(Protocol):
    """central_hub.command_link.CommandLink: sends one fw-chunk/1 body, HubError if the broker did not take it."""

    @property
    def connected(self) -> bool: ...

    def send_chunk(self, device_id: str, body: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class Release:
    name: str  # <board>-<version>
    manifest: dict[str, Any]
    image: bytes


def load_release(where: Path) -> Release:
    try:
        manifest = json.loads((where / MANIFEST_FILE).read_text())
        image = (where / IMAGE_FILE).read_bytes()
    except (OSError, ValueError) as exc:
        raise ChannelError(f"{where}: unreadable release ({exc}); publish it again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ChannelError(f"{where}/{MANIFEST_FILE}: not a {MANIFEST_FORMAT} manifest")
    if len(image) != manifest.get("size") or hashlib.sha256(image).hexdigest() != manifest.get("sha256"):
        raise ChannelError(f"{where}: image.bin is not the image the manifest names (half copied?); publish again")
    if where.name != f"{manifest.get('board')}-{manifest.get('version')}":
        raise ChannelError(f"{where}: directory name does not match the manifest's board and version")
    return Release(where.name, manifest, image)


@dataclass
class Transfer:
    command_id: int
    device_id: str
    release: Release
    offset: int = 0


class FirmwareChannel:
    def __init__(self, channel_dir: Path, store: Store, sender: PieceSender, commands: Commands,
                 clock: Callable[[], float] = time.time) -> None:
        self.dir, self.store, self.sender, self.commands, self.clock = Path(channel_dir), store, sender, commands, clock
        self.audit = AuditLog(store, clock)
        self.transfers: dict[int, Transfer] = {}
        self.taken = {e.target for e in self.audit.entries(limit=100_000, action=OFFER_ACTION)}
        self.waiting: set[str] = set()  # offers whose release is not (completely) here yet

    # -- offers -----------------------------------------------------------------------------
    def take_offers(self) -> list[int]:
        """Every offer file not taken yet: one audited update-offer per device; returns the command ids."""
        issued: list[int] = []
        offers = self.dir / OFFERS
        for path in sorted(offers.glob("*.json")) if offers.is_dir() else []:
            if path.name in self.taken:
                continue
            try:
                offer = _read_offer(path)
                actor = f"technician:{offer['technician']}"
            except ChannelError as exc:
                log.error("firmware offer %s refused: %s", path.name, exc)
                self._taken(path.name, "?", {"error": str(exc)})
                continue
            try:
                release = load_release(self.dir / RELEASES / f"{offer['board']}-{offer['version']}")
            except ChannelError as exc:  # not synced yet, or half copied: tried again next turn
                if path.name not in self.waiting:
                    log.error("firmware offer %s waits for its release: %s", path.name, exc)
                    self.waiting.add(path.name)
                continue
            self._taken(path.name, actor, {"release": release.name, "devices": offer["devices"]})
            for device_id in offer["devices"]:
                issued.extend(self._offer(actor, device_id, release))
        return issued

    def _taken(self, name: str, actor: str, detail: dict[str, Any]) -> None:
        self.audit.append(actor, OFFER_ACTION, name, detail)
        self.taken.add(name)

    def _offer(self, actor: str, device_id: str, release: Release) -> list[int]:
        args = {"release": release.name, "manifest": release.manifest, "piece_bytes": PIECE_BYTES}
        try:
            row = self.commands.issue(actor, device_id, "update-offer", args, timeout_s=UPDATE_TIMEOUT_S)
        except HubError as exc:  # unknown or revoked device: named in the log and the audit log
            log.error("firmware offer of %s to %s refused: %s", release.name, device_id, exc)
            self.audit.append(actor, "firmware-offer-refused", device_id, {"release": release.name, "error": str(exc)})
            return []
        if row.state is CommandState.SENT:
            self.transfers[row.id] = Transfer(row.id, device_id, release)
        return [row.id]

    # -- the image, piece by piece --------------------------------------------------------
    def pump(self) -> int:
        """Send the next pieces of every transfer whose offer is still open; returns how many went out."""
        sent = 0
        for command_id, t in list(self.transfers.items()):
            if self.commands.get(command_id).state is not CommandState.SENT:
                del self.transfers[command_id]  # refused, failed or timed out: stop sending
                continue
            for _ in range(PIECES_PER_PUMP):
                piece = t.release.image[t.offset:t.offset + PIECE_BYTES]
                body = {"sha256": t.release.manifest["sha256"], "offset": t.offset,
                        "data": base64.b64encode(piece).decode()}
                try:
                    self.sender.send_chunk(t.device_id, body)
                except HubError as exc:
                    log.warning("firmware piece at %d to %s not sent (retried): %s", t.offset, t.device_id, exc)
                    break
                t.offset += len(piece)
                sent += 1
                if t.offset >= len(t.release.image):
                    del self.transfers[command_id]  # all sent: the device's answer closes the command
                    break
        return sent

    # -- who installed, who rolled back ---------------------------------------------------
    def status(self) -> dict[str, Any]:
        fleet = {r.device_id: r for r in self.store.fleet_rows()}
        devices = []
        for c in self.commands.recent(STATUS_COMMANDS):
            if c.command != "update-offer" or "release" not in c.args:
                continue
            row = fleet.get(c.device_id)
            faults = [f.get("code") for f in faults_of(row)] if row else []
            devices.append({"device": c.device_id, "release": c.args["release"], "command": c.id,
                            "state": c.state.value, "result": c.result, "actor": c.actor,
                            "firmware": row.firmware if row else None,
                            "rolled_back": c.state is CommandState.FAILED and c.result.startswith(ROLLED_BACK),
                            "device_faults": faults, "sending": c.id in self.transfers})
        releases = sorted(p.name for p in (self.dir / RELEASES).iterdir()) if (self.dir / RELEASES).is_dir() else []
        return {"format": STATUS_FORMAT, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock())),
                "releases": releases, "devices": devices}

    def write_status(self) -> Path:
        path = self.dir / STATUS_FILE
        tmp = path.with_name(f".{STATUS_FILE}.{os.getpid()}")
        tmp.write_text(json.dumps(self.status(), indent=1, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
        return path

    def run(self, stopping: threading.Event) -> None:
        next_status = 0.0
        while not stopping.is_set():
            try:
                self.commands.expire()
                if self.sender.connected:  # an offer taken while the broker is away would fail at once
                    self.take_offers()
                    self.pump()
                if time.monotonic() >= next_status:
                    self.write_status()
                    next_status = time.monotonic() + STATUS_EVERY_S
            except HubError as exc:  # the store or broker is away for a moment: keep going
                log.warning("firmware channel: %s", exc)
            stopping.wait(PUMP_EVERY_S if self.transfers else STATUS_EVERY_S / 2)


def _read_offer(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
        if doc.get("format") != OFFER_FORMAT:
            raise ValueError(f"format must be {OFFER_FORMAT}")
        if not (isinstance(doc["devices"], list) and all(isinstance(d, str) for d in doc["devices"])):
            raise ValueError("devices must be a list of device ids")
        for key in ("version", "board", "technician"):
            if not isinstance(doc[key], str):
                raise ValueError(f"{key} must be text")
        return doc
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        raise ChannelError(f"{path}: not an offer ({exc})") from None


def terminal_json(doc: Any) -> str:
    """`doc` as JSON safe to print: devices' strings may carry C1 controls, DEL or bidi overrides,
    which json.dumps leaves raw; they become \\u escapes (still valid JSON, Chinese stays readable)."""
    text = json.dumps(doc, indent=1, ensure_ascii=False)
    escapes = {ord(c): f"\\u{ord(c):04x}" for c in set(text) if c != "\n" and terminal_safe(c) != c}
    return text.translate(escapes)


# -- mch-hub firmware run|status ------------------------------------------------------------------
def add_parser(sub: Any, common: Callable[[argparse.ArgumentParser, bool], None]) -> None:
    p = sub.add_parser("firmware", help="the firmware update channel: offers, pieces, status")
    fw = p.add_subparsers(dest="firmware_command", required=True, metavar="ACTION")
    run = fw.add_parser("run", help="take offers, stream images, write status.json (until SIGTERM/SIGINT)")
    common(run, True)
    run.add_argument("--hub-id", required=True, help="hub identity to send with (hub-<n>, not the workers' own)")
    run.add_argument("--broker", help="HOST:PORT instead of the one in <site>/site.json")
    common(fw.add_parser("status", help="offers and their outcome"), True)


def main(args: argparse.Namespace, db_url: Callable[[argparse.Namespace], str]) -> int:
    from central_hub.command_link import CommandLink
    from central_hub.directory import Directory
    from central_hub.store import open_store
    from mch_link.registry import hub_identity, load_site_info

    store = open_store(db_url(args))
    directory = Directory.from_site(args.site)
    try:
        if args.firmware_command == "status":
            commands = Commands(store, AuditLog(store), None, lambda d: False)
            channel = FirmwareChannel(args.site / FIRMWARE_DIR, store, _NoSender(), commands)
            print(terminal_json(channel.status()))
            return 0
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
        info = load_site_info(args.site)
        host, _, port = (args.broker or f"{info.broker_host}:{info.broker_port}").rpartition(":")
        if not host or not port.isdigit():
            raise HubError(f"--broker {args.broker!r}: want HOST:PORT")
        sender_store = open_store(db_url(args))  # its own connection: downlink counters are reserved on send
        link = CommandLink(hub_identity(args.site, args.hub_id), (host, int(port)), directory, sender_store)
        link.start()
        commands = Commands(store, AuditLog(store), link, lambda d: (e := directory.get(d)) is not None and e.active)
        channel = FirmwareChannel(args.site / FIRMWARE_DIR, store, link, commands)
        stopping = threading.Event()
        for s in (signal.SIGTERM, signal.SIGINT):
            signal.signal(s, lambda *_: stopping.set())
        print(f"firmware channel on {args.site / FIRMWARE_DIR} as {args.hub_id}", file=sys.stderr, flush=True)
        try:
            channel.run(stopping)
        finally:
            link.stop()
            sender_store.close()
        return 0
    finally:
        store.close()


class _NoSender:
    connected = False

    def send_chunk(self, device_id: str, body: dict[str, Any]) -> None:
        raise HubError("status only: nothing is sent")
