"""Archive: find an episode by hospital number (exact) or name (part of it), newest first."""

from __future__ import annotations

from fetal_monitor_station.episodes import Episode, EpisodeBook

MAX_RESULTS = 200


def search(book: EpisodeBook, query: str) -> list[Episode]:
    q = query.strip()
    if not q:
        return []
    episodes = book.history()
    by_number = [e for e in episodes if e.patient_id == q]
    hits = by_number or [e for e in episodes if e.patient_name and q.casefold() in e.patient_name.casefold()]
    return sorted(hits, key=lambda e: -e.admitted_ms)[:MAX_RESULTS]
