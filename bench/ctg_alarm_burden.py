"""Alarm burden on real recordings: `python -m bench.ctg_alarm_burden [--data DIR]`.

Runs the station's analysis and alarm manager (sample clock) over every FHRMA training recording
and CTU-UHB record found, and counts raised alarms per bed-hour by priority (at raise time) and by
the rule that fired. On the CTU-UHB records with a normal outcome (pH >= 7.25, Apgar5 >= 9) it
also counts clinical alarms per bed per 12 h and the records with a high-priority alarm in their
last hour. Data: FHRMA `fhrma/FHRMAdataset/traindata/*.fhr`, CTU-UHB `ctu-uhb/*.hea`.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from bench.ctg_data import CTU_SUBDIR, FHRMA_SUBDIR, data_root, parser, require
from fetal_monitor_station.analysis.offline import analyse_trace
from fetal_monitor_station.sources.fhrma import read_fhr
from fetal_monitor_station.sources.wfdb16 import read_wfdb
from fetal_monitor_station.trace import Trace

NOT_CLINICAL = {"signal_loss", "monitor_disconnected", "maternal_fetal_coincidence"}  # technical alarms
NORMAL_PH = 7.25
NORMAL_APGAR5 = 9


def recordings(root: Path) -> list[tuple[str, Path]]:
    fhrma = sorted((root / FHRMA_SUBDIR / "traindata").glob("*.fhr"))
    ctu = sorted((root / CTU_SUBDIR).glob("*.hea"))
    if not fhrma and not ctu:
        require(root / FHRMA_SUBDIR / "traindata" / "train01.fhr", "FHRMA (.fhr) or CTU-UHB (.hea) recordings")
    return [("fhrma", p) for p in fhrma] + [("ctu", p) for p in ctu]


def normal_outcome(trace: Trace) -> bool:
    prov = trace.provenance
    try:
        return float(prov["pH"]) >= NORMAL_PH and float(prov["Apgar5"]) >= NORMAL_APGAR5
    except (KeyError, ValueError):
        return False


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    root = data_root(args.data)
    t0 = time.perf_counter()
    by_priority: Counter[str] = Counter()
    by_rule: Counter[tuple[str, str]] = Counter()
    normal_by_rule: Counter[str] = Counter()
    hours = 0.0
    normal_hours, normal_clinical, normal_high_last_hour, n_normal = 0.0, 0, 0, 0
    files = recordings(root)
    for source, path in files:
        trace = read_fhr(path) if source == "fhrma" else read_wfdb(path)
        doc = analyse_trace(trace)
        h = trace.duration_s / 3600.0
        hours += h
        raised = [a for a in doc["alarms"] if a["change"] == "raised"]
        for a in raised:
            by_priority[a["priority"]] += 1
            by_rule[(a["kind"], a["priority"])] += 1
        if source == "ctu" and normal_outcome(trace):
            n_normal += 1
            normal_hours += h
            normal_clinical += sum(1 for a in raised if a["kind"] not in NOT_CLINICAL)
            normal_by_rule.update(a["kind"] for a in raised if a["kind"] not in NOT_CLINICAL)
            last = trace.duration_s - 3600.0
            normal_high_last_hour += any(a["priority"] == "high" and a["at_s"] >= last for a in raised)
    print(f"{len(files)} recordings, {hours:.1f} bed-hours ({root})")
    print("rule                           priority  raised  per bed-hour")
    for (kind, prio), n in sorted(by_rule.items(), key=lambda kv: -kv[1]):
        print(f"{kind:30s} {prio:8s} {n:7d} {n / hours:13.3f}")
    print("normal-outcome CTU-UHB records, clinical alarms by rule: "
          + (", ".join(f"{k}={n}" for k, n in normal_by_rule.most_common()) or "none"))
    per12 = 12.0 * normal_clinical / normal_hours if normal_hours else float("nan")
    print(f"normal-outcome CTU-UHB records: {n_normal}, {normal_hours:.1f} h, {normal_clinical} clinical alarms "
          f"({per12:.2f} per bed per 12 h), {normal_high_last_hour} with a high-priority alarm in the last hour")
    print(f"RESULT ctg_alarm_burden files={len(files)} bed_hours={hours:.1f} "
          f"high_per_bed_hour={by_priority['high'] / hours:.3f} medium_per_bed_hour={by_priority['medium'] / hours:.3f} "
          f"low_per_bed_hour={by_priority['low'] / hours:.3f} normal_records={n_normal} "
          f"normal_clinical_per_bed_12h={per12:.2f} normal_with_high_last_hour={normal_high_last_hour} "
          f"elapsed_s={time.perf_counter() - t0:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
