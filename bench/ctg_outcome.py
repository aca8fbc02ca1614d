"""Outcome level on CTU-UHB: `python -m bench.ctg_outcome [--data DIR]`.

For the last 60 min of each CTU-UHB record (`ctu-uhb/*.hea`, umbilical artery pH in the header):
sensitivity and specificity of "FIGO pathological at any minute" and of "any high-priority alarm"
for pH < 7.05, and the AUC of the worst FIGO tier (normal < suspicious < pathological; ties count
half, Mann-Whitney). Reported, not tuned: the analysis has never been fitted to these outcomes.
"""

from __future__ import annotations

import time

from bench.ctg_data import CTU_SUBDIR, data_root, parser, require
from fetal_monitor_station.analysis.offline import analyse_trace
from fetal_monitor_station.sources.wfdb16 import read_wfdb

ACIDAEMIA_PH = 7.05
LAST_S = 3600.0
TIER = {"normal": 0, "suspicious": 1, "pathological": 2}


def worst_tier(classes: list[dict], start_s: float) -> int:  # type: ignore[type-arg]
    """Worst FIGO tier in force at any time from `start_s` on (the class before it counts from `start_s`)."""
    worst, current = -1, None
    for c in sorted(classes, key=lambda c: c["window_end_s"]):
        if c["window_end_s"] <= start_s:
            current = c["figo"]
            continue
        worst = max(worst, TIER.get(c["figo"], -1))
    return max(worst, TIER.get(current, -1) if current is not None else -1)


def auc(pos: list[int], neg: list[int]) -> float:
    if not pos or not neg:
        return float("nan")
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    root = require(data_root(args.data) / CTU_SUBDIR, "CTU-UHB records (ctu-uhb/*.hea)")
    paths = sorted(root.glob("*.hea"))
    if not paths:
        require(root / "1001.hea", "CTU-UHB records (ctu-uhb/*.hea)")
    t0 = time.perf_counter()
    rows = []
    for p in paths:
        trace = read_wfdb(p)
        try:
            ph = float(trace.provenance["pH"])
        except (KeyError, ValueError):
            print(f"{p.name}: no pH in the header, left out")
            continue
        doc = analyse_trace(trace)
        start = max(0.0, trace.duration_s - LAST_S)
        tier = worst_tier(doc["classification"], start)
        high = any(a["change"] == "raised" and a["priority"] == "high" and a["at_s"] >= start for a in doc["alarms"])
        rows.append((p.stem, ph, tier, high))
        print(f"{p.stem} pH={ph:.2f} worst_figo={tier} high_alarm={int(high)}")
    pos = [r for r in rows if r[1] < ACIDAEMIA_PH]
    neg = [r for r in rows if r[1] >= ACIDAEMIA_PH]
    if not pos or not neg:
        print("cannot measure: need records on both sides of pH 7.05")
        return 1

    def sens_spec(flag: int) -> tuple[float, float]:
        key = (lambda r: r[2] == 2) if flag == 0 else (lambda r: r[3])
        return sum(map(key, pos)) / len(pos), sum(not key(r) for r in neg) / len(neg)

    se, sp = sens_spec(0)
    se_h, sp_h = sens_spec(1)
    area = auc([r[2] for r in pos], [r[2] for r in neg])
    print(f"RESULT ctg_outcome records={len(rows)} acidaemic={len(pos)} sensitivity={se:.2f} specificity={sp:.2f} "
          f"auc={area:.2f} high_alarm_sensitivity={se_h:.2f} high_alarm_specificity={sp_h:.2f} "
          f"elapsed_s={time.perf_counter() - t0:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
