"""`mch-provision firmware keygen|sign|verify|trust|publish|offer|status`: the firmware pipeline.

keygen makes the signing key (sealed like the CA keys, its own passphrase); sign writes the
manifest the device verifies; trust puts the site's public keys into a device bundle; publish
copies a verified release into every hub's update channel; offer asks the hubs to offer it to
chosen devices (the hub turns it into audited update-offer commands and streams the image);
status shows what the hubs saw: who installed it, who rolled back.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from provisioning import firmware
from provisioning.cli_journal import technician
from provisioning.files import read_bytes, write_public
from provisioning.passphrase import get_passphrase

KEY_ENV_VAR = "MCH_FW_PASSPHRASE"
KEY_PROMPT = "Firmware signing key passphrase"
KEY_OPTION = "--key-passphrase-file"


def add_firmware_parser(sub: Any, site_args: Any) -> None:
    p = sub.add_parser("firmware", allow_abbrev=False, help="firmware signing, publication to the hubs, offers, status")
    fw = p.add_subparsers(dest="firmware_command", required=True, metavar="ACTION")

    def with_key(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(KEY_OPTION, type=Path, metavar="FILE", dest="key_passphrase_file",
                        help=f"file holding the signing key's passphrase (else ${KEY_ENV_VAR}, else a prompt)")

    k = fw.add_parser("keygen", allow_abbrev=False, help="a new signing key (P-256), sealed under its own passphrase")
    site_args(k, passphrase=False)
    with_key(k)
    k.add_argument("key_id", help="name of the key, e.g. fw-2026")

    s = fw.add_parser("sign", allow_abbrev=False, help="sign an image: write its manifest")
    site_args(s, passphrase=False)
    with_key(s)
    s.add_argument("image", type=Path)
    s.add_argument("--version", required=True, help="X.Y.Z; MAJOR is the anti-rollback epoch (eFuse on ESP32)")
    s.add_argument("--board", default="esp32")
    s.add_argument("--key-id", required=True)
    s.add_argument("--out", type=Path, required=True, metavar="MANIFEST")
    s.add_argument("--esp-image", action="store_true",
                   help="an ESP-IDF app image: check its secure_version equals the version's MAJOR")

    for name, text in (("verify", "check an image against its manifest and the site's keys"),
                       ("publish", "verify, then copy a release into every hub's channel")):
        sp = fw.add_parser(name, allow_abbrev=False, help=text)
        site_args(sp, passphrase=False)
        sp.add_argument("image", type=Path)
        sp.add_argument("manifest", type=Path)

    t = fw.add_parser("trust", allow_abbrev=False, help="write the site's firmware keys into a device bundle")
    site_args(t, passphrase=False)
    t.add_argument("bundle", type=Path)

    o = fw.add_parser("offer", allow_abbrev=False, help="offer a published release to devices (through the hub)")
    site_args(o, passphrase=False)
    o.add_argument("version")
    o.add_argument("devices", nargs="+", metavar="DEVICE")
    o.add_argument("--board", default="esp32")

    st = fw.add_parser("status", allow_abbrev=False, help="who installed a release, who rolled back")
    site_args(st, passphrase=False)
    st.add_argument("--json", action="store_true")


def _key_passphrase(args: argparse.Namespace, confirm: bool) -> bytes:
    return get_passphrase(args.key_passphrase_file, confirm=confirm, env_var=KEY_ENV_VAR, prompt=KEY_PROMPT,
                          option=KEY_OPTION)


def run_firmware_command(args: argparse.Namespace, out: Any = None) -> None:
    out = out or sys.stdout
    site, action = args.site, args.firmware_command
    if action == "keygen":
        pub = firmware.generate_key(site, args.key_id, _key_passphrase(args, confirm=True))
        print(f"signing key {args.key_id} in {firmware.key_path(site, args.key_id)}; public key {pub.hex()[:16]}... "
              f"in {site / firmware.FIRMWARE_DIR / firmware.KEYS_FILE}", file=out)
    elif action == "sign":
        image = read_bytes(args.image, "image")
        key = firmware.load_key(site, args.key_id, _key_passphrase(args, confirm=False))
        m = firmware.make_manifest(image, args.version, args.board, key, args.key_id, args.esp_image)
        write_public(args.out, firmware.manifest_bytes(m))
        print(f"{args.out}: {m['board']} {m['version']}, {m['size']} bytes, sha256 {m['sha256'][:16]}...", file=out)
    elif action == "verify":
        m = firmware.load_manifest(args.manifest)
        firmware.verify_manifest(read_bytes(args.image, "image"), m, firmware.trusted_keys(site))
        print(f"OK: {m['board']} {m['version']} signed by {m['key_id']}", file=out)
    elif action == "trust":
        print(f"{firmware.write_bundle_keys(site, args.bundle)}: the bundle trusts "
              f"{', '.join(sorted(firmware.trusted_keys(site)))}", file=out)
    elif action == "publish":
        m = firmware.load_manifest(args.manifest)
        for where in firmware.publish(site, read_bytes(args.image, "image"), m):
            print(f"published {firmware.release_name(m)} to {where}", file=out)
    elif action == "offer":
        for path in firmware.offer(site, args.version, args.board, args.devices, technician(args)):
            print(f"offer of {args.board}-{args.version} to {', '.join(args.devices)} queued for the hub: {path} "
                  "(sync the hub's view; mch-provision firmware status shows the outcome)", file=out)
    elif action == "status":
        _print_status(firmware.status(site), args.json, out)


def _print_status(hubs: list[dict[str, Any]], as_json: bool, out: Any) -> None:
    if as_json:
        print(json.dumps(hubs, indent=1), file=out)
        return
    console = Console(file=out, width=120)
    for hub in hubs:
        if hub.get("missing"):
            console.print(f"{hub['hub']}: no status yet (is `mch-hub firmware run` running? sync the view back)")
            continue
        table = Table(title=f"{hub['hub']}: firmware offers (as of {hub.get('at', '?')})")
        for col in ("device", "offered", "state", "result", "running"):
            table.add_column(col)
        for d in hub.get("devices", []):
            table.add_row(d["device"], d["release"], d["state"], d.get("result", ""), d.get("firmware") or "")
        console.print(table)
