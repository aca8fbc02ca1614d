"""Local CTG archive (SQLite WAL, per-minute compact blobs)."""

from fetal_monitor_station.archive.codec import MinuteBlock, minute_of
from fetal_monitor_station.archive.store import Archive, ArchiveReader

__all__ = ["Archive", "ArchiveReader", "MinuteBlock", "minute_of"]
