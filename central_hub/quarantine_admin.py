"""What an operator may do with the quarantine: browse it by reason and device, release held records
(audited), purge an item (audited).

Purging deletes the row and its sealed payload in the same transaction as the audit entry that
names who did it, the reason, topic, device and fingerprint of what was purged.

Releasing is for records the hub opened and held (schema-invalid, unknown schema, a bad time...):
their row keeps the schema id, so they are checked again against the schema this hub has now
(`handler.recheck`, the ingest's own checks). When every record of the row passes, they are stored
through the ingest transaction (`Store.transaction` -> `Txn.add_records`: the same insert, hence the
county feed's outbox trigger, hence the same exactly-once rule), the row is deleted and the audit
entry written, all in one transaction. Anything else is refused with the reason and nothing changes:
a whole message refused before it could be opened (forged, replayed, malformed) is never released,
only purged. A second release of the same item finds no row and is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import cbor2

from central_hub import handler
from central_hub.audit import AuditLog
from central_hub.datakey import DataCipher
from central_hub.errors import HubError
from central_hub.outcome import Reason
from central_hub.store.base import Store
from central_hub.store.model import QuarantineRow, RecordTuple, quarantine_aad, record_aad, record_digest
from mch_link.envelope import Record
from mch_link.errors import TopicError
from mch_link.topics import Kind, Topic

_COLUMNS = "id, reason, detail, topic, device_id, msg_id, first_at_ms, last_at_ms, seen, schema_id"


class ReleaseRefused(HubError):
    """The item stays in quarantine; `why` says what a technician needs to know (no record content)."""

    def __init__(self, item_id: int, why: str) -> None:
        super().__init__(f"quarantine item #{item_id} not released: {why}")
        self.item_id = item_id
        self.why = why


@dataclass(frozen=True)
class Released:
    item: QuarantineRow
    stored: tuple[int, ...]  # record ids stored by this release
    already: tuple[int, ...]  # ids that were in the store already with the same content (the device resent them)


class QuarantineAdmin:
    def __init__(self, store: Store, audit: AuditLog, cipher: Callable[[], DataCipher] | None = None) -> None:
        """`cipher`: gives the hub data key (read when a release needs it); None: releases are refused."""
        self.store = store
        self.audit = audit
        self._cipher = cipher

    def items(self, reason: str | None = None, device_id: str | None = None, limit: int = 100,
              before_id: int | None = None) -> list[QuarantineRow]:
        where, params = [], []
        for clause, value in (("reason = ?", reason), ("device_id = ?", device_id), ("id < ?", before_id)):
            if value:
                where.append(clause)
                params.append(value)
        text = (f"SELECT {_COLUMNS} FROM quarantine" + (" WHERE " + " AND ".join(where) if where else "")
                + " ORDER BY id DESC LIMIT ?")
        return [QuarantineRow(*r) for r in self.store.read(text, (*params, limit))]

    def item(self, item_id: int) -> QuarantineRow | None:
        rows = self.store.read(f"SELECT {_COLUMNS} FROM quarantine WHERE id = ?", (item_id,))
        return QuarantineRow(*rows[0]) if rows else None

    def purge(self, actor: str, item_id: int) -> QuarantineRow:
        """Delete one item; raises HubError if it is not there (already purged by someone else)."""
        row = self.item(item_id)
        if row is None:
            raise HubError(f"no quarantine item #{item_id}")
        with self.store.write():
            fingerprint = self.store.execute("SELECT fingerprint FROM quarantine WHERE id = ?", (item_id,)).fetchone()
            deleted = self.store.execute("DELETE FROM quarantine WHERE id = ?", (item_id,)).rowcount
            if deleted:
                self.audit.append_in_transaction(actor, "quarantine-purge", f"quarantine/{item_id}", {
                    "reason": row.reason, "topic": row.topic, "device": row.device_id, "msg_id": row.msg_id,
                    "seen": row.seen, "fingerprint": fingerprint[0] if fingerprint else None})
        if not deleted:
            raise HubError(f"no quarantine item #{item_id}")
        return row

    # -- release ------------------------------------------------------------------------
    def releasable(self, row: QuarantineRow) -> bool:
        """Whether the page offers a release: held records of a record topic (the re-check decides)."""
        return row.schema_id is not None and row.device_id is not None and row.schema_id != handler.STATE_SCHEMA

    def release(self, actor: str, item_id: int) -> Released:
        """Store the item's records if they pass today's checks; ReleaseRefused (audited) otherwise."""
        try:
            return self._release(actor, item_id)
        except ReleaseRefused as exc:
            self.audit.append(actor, "quarantine-release-refused", f"quarantine/{item_id}", {"why": exc.why})
            raise

    def _release(self, actor: str, item_id: int) -> Released:
        row = self.item(item_id)
        if row is None:
            raise ReleaseRefused(item_id, "no such item (released or purged already)")
        device_id, schema_id = row.device_id, row.schema_id
        if schema_id is None or device_id is None:
            why = ("a whole message refused before its records could be read; it can only be purged"
                   if row.msg_id is None else "held before this hub kept schema ids with held records; it cannot be"
                   " checked again, only purged")
            raise ReleaseRefused(item_id, why)
        try:
            kind = Topic.parse(row.topic).kind
        except TopicError:
            raise ReleaseRefused(item_id, f"topic {row.topic!r} is not a device topic") from None
        if kind is Kind.STATE or schema_id == handler.STATE_SCHEMA:
            raise ReleaseRefused(item_id, "fleet state is applied when it arrives, not stored; nothing to release")
        cipher = self._data_key(item_id)
        records = self._records(item_id, row, cipher)
        for rec in records:
            problem = handler.recheck(schema_id, kind, rec)
            if problem:
                raise ReleaseRefused(item_id, f"record {rec.msg_id} still fails: {problem[0]}: {problem[1]}")
        with self.store.transaction([device_id]) as txn:
            # first, so that of two releases racing the second finds no row (and rolls back)
            if not self.store.execute("DELETE FROM quarantine WHERE id = ?", (item_id,)).rowcount:
                raise ReleaseRefused(item_id, "no such item (released or purged already)")
            known = txn.stored_digests(device_id, [r.msg_id for r in records])
            rows: list[RecordTuple] = []
            already: list[int] = []
            for rec in records:
                plain = cbor2.dumps(rec.body)
                content = record_digest(rec.made_at_ms, plain)
                if rec.msg_id in known:
                    if known[rec.msg_id] not in (None, content):
                        raise ReleaseRefused(item_id, f"{Reason.ID_REUSED}: record id {rec.msg_id} is stored with"
                                             " other content")
                    already.append(rec.msg_id)
                    continue
                known[rec.msg_id] = content
                key_id, nonce, body = cipher.seal(record_aad(device_id, rec.msg_id), plain)
                # received when the hub first had it; the envelope's seal time was not kept with held records
                rows.append((device_id, rec.msg_id, schema_id, rec.made_at_ms, None, row.first_at_ms, key_id, nonce,
                             body, content))
            txn.add_records(rows)
            fleet_row = txn.fleet(device_id)
            if fleet_row is not None and rows:
                txn.put_fleet(replace(fleet_row, records_stored=fleet_row.records_stored + len(rows)))
            self.audit.append_in_transaction(actor, "quarantine-release", f"quarantine/{item_id}", {
                "reason": row.reason, "topic": row.topic, "device": device_id, "schema": schema_id,
                "stored": [r[1] for r in rows], "already_stored": already, "seen": row.seen})
        return Released(row, tuple(r[1] for r in rows), tuple(already))

    def _data_key(self, item_id: int) -> DataCipher:
        if self._cipher is None:
            raise ReleaseRefused(item_id, "this process has no hub data key")
        try:
            return self._cipher()
        except HubError as exc:
            raise ReleaseRefused(item_id, f"the hub data key cannot be read: {exc}") from None

    def _records(self, item_id: int, row: QuarantineRow, cipher: DataCipher) -> list[Record]:
        sealed = self.store.quarantine_payload(item_id)
        if sealed is None:
            raise ReleaseRefused(item_id, "no such item (released or purged already)")
        fingerprint, key_id, nonce, payload = sealed
        try:
            items = cbor2.loads(cipher.open(key_id, nonce, payload, quarantine_aad(fingerprint)))
            records = [Record(int(o["id"]), o["b"], o["t"]) for o in items]
        except HubError as exc:
            raise ReleaseRefused(item_id, f"its payload does not open: {exc}") from None
        except (ValueError, TypeError, KeyError, cbor2.CBORDecodeError):
            raise ReleaseRefused(item_id, "its payload is not a list of held records") from None
        if not records:
            raise ReleaseRefused(item_id, "it holds no records")
        return records
