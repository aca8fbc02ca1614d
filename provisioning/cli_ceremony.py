"""`mch-provision ceremony`: the technician's side of the PIN-pad master-key ceremony.

Components are shown on the terminal, one custodian at a time, and the screen and scrollback
are cleared after each; the command refuses to run without a terminal (a component must never
go to a pipe or a log).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mch_link import registry
from mch_link.sitefiles import hub_view
from provisioning.ceremony import Algorithm, CeremonyError, Custodian, run_ceremony
from provisioning.passphrase import get_passphrase
from provisioning.slips import write_slip

HUB_KEY_ENV = "MCH_PINPAD_KEY_PASSPHRASE"
CLEAR = "\033[2J\033[3J\033[H"
PINPAD_DIR = "pinpad"


def add_ceremony_parser(sub: Any, site_args: Any) -> None:
    p = sub.add_parser("ceremony", allow_abbrev=False,
                       help="PIN-pad master key: one component per custodian (2-3), KCV slips, sealed hub copy")
    site_args(p, passphrase=False)
    p.add_argument("--custodian", action="append", dest="custodians", required=True, metavar="NAME",
                   help="a custodian, in the order they will enter their component (2 or 3 times)")
    p.add_argument("--slot", type=int, required=True, help="master key slot on the pad, 1..31")
    p.add_argument("--algorithm", choices=[a.value for a in Algorithm], default=Algorithm.TDES.value)
    p.add_argument("--slips", type=Path, metavar="DIR", help="where the PDF slips go (default <site>/ceremony-slips)")
    p.add_argument("--hub-copy", type=Path, metavar="FILE",
                   help="the sealed key for the hub's acquirer simulator "
                        "(default <site>/deploy/<first hub>/pinpad/master-slot-NN.json)")
    p.add_argument("--hub-passphrase-file", type=Path, metavar="FILE",
                   help=f"passphrase sealing the hub's copy (else ${HUB_KEY_ENV}, else a prompt)")
    p.add_argument("--json", action="store_true", help="print the ceremony record (KCVs, never a component)")


def _show_on_terminal(custodian: Custodian, component_hex: str) -> None:
    out = sys.stdout
    out.write(f"{CLEAR}保管员 Custodian {custodian.number}: {custodian.name}\n"
              "只有本保管员看屏幕 / only this custodian looks at the screen. Enter 显示 to show: ")
    out.flush()
    sys.stdin.readline()
    groups = " ".join(component_hex[i:i + 4] for i in range(0, len(component_hex), 4))
    out.write(f"\n  分量 component: {groups}\n  校验值 KCV:     {custodian.component_kcv}\n\n"
              "抄写到密封分量单后按 Enter 清屏 / copy it to your sealed form, then Enter to clear: ")
    out.flush()
    sys.stdin.readline()
    out.write(CLEAR)
    out.flush()


def run_ceremony_command(args: argparse.Namespace) -> None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CeremonyError("the ceremony shows each component on the screen: run it on a terminal, "
                            "not through a pipe or a log")
    info = registry.load_site_info(args.site)
    hub_copy = args.hub_copy or hub_view(args.site, info.hub_ids[0]) / PINPAD_DIR / f"master-slot-{args.slot:02d}.json"
    if hub_copy.exists():
        raise CeremonyError(f"{hub_copy} exists (an earlier ceremony for slot {args.slot}); move it aside "
                            "once the pads are reloaded, or give --hub-copy FILE")
    passphrase = get_passphrase(args.hub_passphrase_file, confirm=True, env_var=HUB_KEY_ENV,
                                prompt="Hub PIN-pad key passphrase", option="--hub-passphrase-file")
    hub_copy.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    record = run_ceremony(args.custodians, args.slot, Algorithm(args.algorithm), show=_show_on_terminal,
                          write_slip=write_slip, slips_dir=args.slips or args.site / "ceremony-slips",
                          hub_copy=hub_copy, hub_passphrase=passphrase)
    args.journal_details = record.summary()
    if args.json:
        print(json.dumps(record.summary(), ensure_ascii=False))
        return
    print(f"ceremony {record.ceremony_id}: slot {record.slot:02X} {record.algorithm.name}, combined KCV "
          f"{record.combined_kcv}")
    for custodian, slip in zip(record.custodians, record.slips, strict=True):
        print(f"  custodian {custodian.number} {custodian.name}: KCV {custodian.component_kcv}, slip {slip}")
    print(f"hub copy (sealed) {hub_copy}; next: load at each kiosk in maintenance mode, check the combined KCV")
