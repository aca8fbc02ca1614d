"""Offline analysis speed vs the PyPI peer `fhr-monitor-analyzer` 0.2.2, and memory over a long run.

`python -m bench.ctg_offline`. Same synthetic 2-hour trace for both. Ours: `analyse_trace`
(the streaming analysis sample by sample: baseline, events, contractions, per-minute
classification; with and without the alarm manager). Peer: `analyze_csv` in rolling mode
(30-min window every 60 s, i.e. a classification per minute like ours) and in its default
single-chunk mode. Memory: a 12-hour accelerated run of one bed, traced with tracemalloc.
"""

from __future__ import annotations

import time
import tracemalloc
from datetime import datetime, timedelta

from fetal_monitor_station.analysis import StreamingAnalyzer
from fetal_monitor_station.analysis.offline import analyse_trace
from fetal_monitor_station.sources.synthetic import SyntheticSpec, generate
from fetal_monitor_station.trace import SAMPLE_HZ, Trace

HOURS = 2.0
LONG_RUN_HOURS = 12
REPEATS = 5


def to_peer_csv(trace: Trace) -> str:
    start = datetime(2026, 1, 1, 8, 0, 0)
    lines = ["Date,HR1,HR2,HR3,HRM,TOCO"]
    for i, (f, toco) in enumerate(zip(trace.fhr1_bpm.tolist(), trace.toco.tolist(), strict=True)):
        t = start + timedelta(seconds=i / SAMPLE_HZ)
        hr = "0" if f != f else f"{f:.2f}"
        lines.append(f"{t:%Y-%m-%d %H:%M:%S.%f}"[:-3] + f",{hr},0,0,0,{toco:.1f}")
    return "\n".join(lines) + "\n"


def best_of(fn, repeats: int = REPEATS) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def memory_run() -> tuple[float, float]:
    trace, _ = generate(SyntheticSpec(duration_s=LONG_RUN_HOURS * 3600.0, seed=77,
                                      decel_types=("early", "variable"), signal_loss_fraction=0.1))
    samples = list(trace.samples())
    an = StreamingAnalyzer()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    per_hour = []
    for i, s in enumerate(samples):
        an.push(s)
        if (i + 1) % (3600 * SAMPLE_HZ) == 0:
            per_hour.append((tracemalloc.get_traced_memory()[0] - base) / 1e6)
    tracemalloc.stop()
    return per_hour[1], per_hour[-1]


def main() -> None:
    trace, _ = generate(SyntheticSpec(duration_s=HOURS * 3600.0, seed=5, decel_types=("early", "late", "variable"),
                                      signal_loss_fraction=0.1))
    ours_alarms = best_of(lambda: analyse_trace(trace)) / HOURS
    ours = best_of(lambda: analyse_trace(trace, with_alarms=False)) / HOURS
    print(f"ours: {ours * 1000:.0f} ms per hour of trace (analysis), {ours_alarms * 1000:.0f} ms with alarms")
    try:
        import fhr_monitor_analyzer as peer

        have_peer = True
    except ImportError:
        have_peer = False
    peer_roll = peer_chunk = float("nan")
    if have_peer:
        csv = to_peer_csv(trace)
        peer_roll = best_of(lambda: peer.analyze_csv(csv, channel="HR1", window_min=30, step_sec=60)) / HOURS
        peer_chunk = best_of(lambda: peer.analyze_csv(csv, channel="HR1")) / HOURS
        print(f"peer fhr-monitor-analyzer 0.2.2: {peer_roll * 1000:.0f} ms per hour rolling (30 min / 60 s), "
              f"{peer_chunk * 1000:.0f} ms per hour single chunk (last 30 min only)")
    else:
        print("peer fhr-monitor-analyzer not installed: no comparison")
    m2, m_end = memory_run()
    print(f"memory of one bed's analyzer (tracemalloc): {m2:.2f} MB after 2 h, {m_end:.2f} MB after "
          f"{LONG_RUN_HOURS} h")
    print(f"RESULT ctg_offline ours_ms_per_hour={ours * 1000:.0f} ours_with_alarms_ms_per_hour={ours_alarms * 1000:.0f} "
          f"peer_rolling_ms_per_hour={peer_roll * 1000:.0f} peer_chunk_ms_per_hour={peer_chunk * 1000:.0f} "
          f"ratio_ours_over_peer_rolling={ours / peer_roll:.2f} mem_mb_2h={m2:.2f} mem_mb_{LONG_RUN_HOURS}h={m_end:.2f}")


if __name__ == "__main__":
    main()
