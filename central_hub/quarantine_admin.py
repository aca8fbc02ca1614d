"""What an operator may do with the quarantine: browse it by reason and device, purge an item (audited).

Purging deletes the row and its sealed payload in the same transaction as the audit entry that
names who did it, the reason, topic, device and fingerprint of what was purged.
"""

from __future__ import annotations

from central_hub.audit import AuditLog
from central_hub.errors import HubError
from central_hub.store.base import Store
from central_hub.store.model import QuarantineRow

_COLUMNS = "id, reason, detail, topic, device_id, msg_id, first_at_ms, last_at_ms, seen"


class QuarantineAdmin:
    def __init__(self, store: Store, audit: AuditLog) -> None:
        self.store = store
        self.audit = audit

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
