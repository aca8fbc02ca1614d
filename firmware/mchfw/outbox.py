"""The flash outbox: append-only segment files with a power-loss-safe commit marker.

Entry on flash: MAGIC | length (2, BE) | CRC32 of payload (4) | payload | COMMIT. The commit
byte is written (and synced) only after the whole entry is on flash; recovery reads each
segment up to the first entry that is short, has a bad CRC or no commit marker, and the next
append goes to a new segment, so a torn tail is never written over or after. Payload = CBOR
[msg_id, kind, schema, made_at_ms, body]. Acknowledged ids go to an ack log of the same
format; a segment whose records are all acknowledged is deleted.

Capacity is bounded (`max_bytes`): when flash is full the oldest segment is dropped, the alarm
callback is raised, and a loss record (schema LOSS_SCHEMA) naming the dropped ids is appended,
so the loss itself reaches the hub. Nothing is dropped silently.
"""

from mchfw import cbor, fsutil
from mchfw.seglog import COMMIT, Segment, encode_entry, scan

__all__ = ["Outbox", "OutboxError", "scan", "LOSS_SCHEMA"]

SEG_PREFIX = "seg-"
SEG_SUFFIX = ".log"
ACK_LOG = "acks.log"
LOSS_KIND = "alarm"
LOSS_SCHEMA = "loss/1"
DEFAULT_MAX_BYTES = 1536 * 1024  # ~4 h of 1-s CTG batches on a 2 MB ESP32 filesystem
DEFAULT_SEGMENT_BYTES = 16 * 1024
ENOSPC = 28
ID_COUNTER = "msgid"


class OutboxError(Exception):
    """The outbox cannot persist a record even after dropping old ones."""


class Outbox:
    def __init__(self, directory: str, counters, max_bytes: int = DEFAULT_MAX_BYTES,
                 segment_bytes: int = DEFAULT_SEGMENT_BYTES, on_alarm=None) -> None:
        self.dir = directory
        self.counters = counters
        self.max_bytes, self.segment_bytes = max_bytes, segment_bytes
        self.on_alarm = on_alarm
        self.acked: set = set()
        self.segments: list = []
        self.lost_total = 0
        self.fault_before_commit = False  # tests: simulate a power cut before the commit marker
        fsutil.makedirs(directory)
        self._recover()

    # -- recovery ---------------------------------------------------------------------
    def _recover(self) -> None:
        for name in fsutil.listdir(self.dir):
            if name.startswith(SEG_PREFIX) and name.endswith(SEG_SUFFIX):
                try:
                    number = int(name[len(SEG_PREFIX):-len(SEG_SUFFIX)])
                except ValueError:
                    continue
                seg = Segment(number, self.dir + "/" + name)
                for msg_id, _ in seg.entries():
                    seg.note(msg_id)
                seg.size = fsutil.size(seg.path)
                self.segments.append(seg)
        self.segments.sort(key=lambda s: s.number)
        path = self.dir + "/" + ACK_LOG
        if fsutil.exists(path):
            for _, payload in scan(fsutil.read_bytes(path)):
                try:
                    self.acked.update(cbor.loads(payload))  # type: ignore[call-overload,arg-type]
                except (cbor.CBORError, TypeError):
                    break
        for seg in list(self.segments):
            self._drop_if_done(seg)
        self._compact_acks()

    # -- writing ----------------------------------------------------------------------
    def bytes_used(self) -> int:
        return sum(s.size for s in self.segments)

    def _open_segment(self) -> Segment:
        number = self.segments[-1].number + 1 if self.segments else 1
        seg = Segment(number, self.dir + "/" + SEG_PREFIX + f"{number:08d}" + SEG_SUFFIX)
        seg.sealed = False
        self.segments.append(seg)
        return seg

    def _append_entry(self, path: str, entry: bytes) -> None:
        with open(path, "ab") as f:
            f.write(entry)
            fsutil.fsync(f)
            if self.fault_before_commit:
                raise SystemExit("power cut between log append and commit marker")
            f.write(bytes([COMMIT]))
            fsutil.fsync(f)

    def add(self, kind: str, schema: str, body, made_at_ms=None) -> int:
        """Commit one record to flash and return its msg_id (durable when this returns)."""
        msg_id = self.counters.next(ID_COUNTER, 1)
        payload = cbor.dumps([msg_id, kind, schema, made_at_ms, cbor.Raw(cbor.dumps(body))])
        self._store(msg_id, payload)
        return msg_id

    def raise_ids_above(self, floor: int) -> None:
        """New records get ids above `floor`: the hub already holds records up to it (this flash was
        restored or re-flashed with the bundle, and old ids were handed out again)."""
        self.counters.raise_to(ID_COUNTER, floor + 1)

    def _store(self, msg_id: int, payload: bytes) -> None:
        entry = encode_entry(payload)
        need = len(entry) + 1
        lost = self._make_room(need)
        seg = self.segments[-1] if self.segments and not self.segments[-1].sealed else None
        if seg is None or seg.size + need > self.segment_bytes:
            if seg is not None:
                seg.sealed = True
            seg = self._open_segment()
        try:
            self._append_entry(seg.path, entry)
        except OSError as exc:
            seg.sealed = True  # whatever reached flash is a torn tail now
            seg.size = fsutil.size(seg.path)
            if exc.args and exc.args[0] == ENOSPC and len(self.segments) > 1:
                lost += self._drop_oldest()
                seg = self._open_segment()
                self._append_entry(seg.path, entry)
            else:
                raise OutboxError(f"flash write failed: {exc!r}") from None
        seg.note(msg_id)
        seg.size += need
        if lost:
            self._record_loss(lost)

    def _make_room(self, need: int) -> list:
        lost = []
        while self.bytes_used() + need > self.max_bytes and len(self.segments) > 1:
            lost += self._drop_oldest()
        return lost

    def _drop_oldest(self) -> list:
        seg = self.segments.pop(0)
        lost = [i for i, _ in seg.entries() if i not in self.acked]
        self._forget(seg)
        return lost

    def _forget(self, seg: Segment) -> None:
        for i in [i for i in self.acked if seg.holds(i)]:
            self.acked.discard(i)
        fsutil.remove(seg.path)

    def _record_loss(self, lost: list) -> None:
        self.lost_total += len(lost)
        body = {"event": "outbox-overflow", "lost": len(lost), "first_id": min(lost), "last_id": max(lost),
                "lost_total": self.lost_total}
        if self.on_alarm is not None:
            self.on_alarm(body)
        self.add(LOSS_KIND, LOSS_SCHEMA, body)

    # -- reading and acknowledging ----------------------------------------------------
    def pending(self, after_id: int = 0, limit: int = 100) -> list:
        """[(msg_id, kind, schema, made_at_ms, body_cbor_bytes)] not yet acknowledged, oldest first."""
        out = []
        for seg in self.segments:
            if not seg.count or seg.last_id <= after_id:
                continue
            for msg_id, payload in seg.entries():
                if msg_id <= after_id or msg_id in self.acked:
                    continue
                item: list = cbor.loads(payload)  # type: ignore[assignment]
                out.append((item[0], item[1], item[2], item[3], cbor.dumps(item[4])))
                if len(out) >= limit:
                    return out
        return out

    def depth(self) -> int:
        return sum(s.count for s in self.segments) - len(self.acked)

    def ack(self, ids) -> int:
        """Mark acknowledged (the hub has them durably); returns how many were pending."""
        new = []
        for i in ids:
            if isinstance(i, int) and i not in self.acked and i not in new:
                for seg in self.segments:
                    if seg.holds(i):
                        new.append(i)
                        break
        if not new:
            return 0
        self._append_entry(self.dir + "/" + ACK_LOG, encode_entry(cbor.dumps(new)))
        self.acked.update(new)
        for seg in list(self.segments):
            self._drop_if_done(seg)
        if fsutil.size(self.dir + "/" + ACK_LOG) > self.segment_bytes:
            self._compact_acks()
        return len(new)

    def _acked_in(self, seg: Segment) -> int:
        return sum(1 for i in self.acked if seg.holds(i))

    def _drop_if_done(self, seg: Segment) -> None:
        if not seg.sealed or self._acked_in(seg) < seg.count:
            return
        self.segments.remove(seg)
        self._forget(seg)

    def _compact_acks(self) -> None:
        live = [i for i in self.acked if any(s.holds(i) for s in self.segments)]
        self.acked = set(live)
        data = encode_entry(cbor.dumps(live)) + bytes([COMMIT]) if live else b""
        fsutil.write_atomic(self.dir + "/" + ACK_LOG, data)
