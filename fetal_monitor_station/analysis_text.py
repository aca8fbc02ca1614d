"""The human-readable form of `mch-station analyse` (the JSON document is `--json`)."""

from __future__ import annotations

from typing import Any


def _mmss(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 60:d}:{s % 60:02d}"


def format_analysis(doc: dict[str, Any]) -> str:
    """A summary a clinician can read in a terminal: events, the latest classification, the alarms."""
    lines = [f"{doc['source']}: {_mmss(doc['duration_s'])} (min:s) at {doc['sample_hz']:g} Hz"]
    for label, key in (("accelerations", "accelerations"), ("decelerations", "decelerations"),
                       ("contractions", "contractions")):
        events = doc[key]
        lines.append(f"  {label}: {len(events)}")
        if key == "decelerations":
            for e in events:
                kind = e.get("type", "untyped")
                lines.append(f"    {_mmss(e['start_s'])}-{_mmss(e['end_s'])}  {kind}, "
                             f"nadir {e['amplitude']:+.0f} bpm")
    classes = doc["classification"]
    if classes:
        last = classes[-1]
        base = "—" if last["baseline_bpm"] is None else f"{last['baseline_bpm']:.0f} bpm"
        var = "—" if last["variability_bpm"] is None else f"{last['variability_bpm']:.0f} bpm"
        lines.append(f"  classification at {_mmss(last['at_s'])}: FIGO {last['figo']}, NICHD {last['nichd']}, "
                     f"baseline {base}, variability {var}")
        lines += [f"    - {r}" for r in last["reasons"]]
    else:
        lines.append("  classification: none (recording too short)")
    raised = [a for a in doc["alarms"] if a["change"] == "raised"]
    lines.append(f"  alarms raised: {len(raised)}")
    lines += [f"    {_mmss(a['at_s'])}  {a['priority']:<6} {a['kind']}: {a['message']}" for a in raised]
    return "\n".join(lines) + "\n"
