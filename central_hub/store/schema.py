"""The hub's tables, one DDL for both back ends (type names filled in per dialect).

records     one row per (device_id, msg_id): exactly-once in the store; body sealed with the data key
envelopes   digest of each accepted envelope within the replay window, to recognise a broker redelivery
windows     per-device replay window (highest counter + bitmap)
quarantine  everything rejected or held, with its reason; identical items are counted, not repeated
fleet       per-device session state (birth/death/heartbeat) and counters for the operator
downlink    per-device hub counter for sealing acks and commands, reserved in blocks
workers     each hub worker's runtime counters, for `mch-hub stats`
"""

from __future__ import annotations

SCHEMA_VERSION = 1

DDL = """
CREATE TABLE IF NOT EXISTS hub_meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    id {autoid},
    device_id TEXT NOT NULL,
    msg_id BIGINT NOT NULL,
    schema_id TEXT NOT NULL,
    made_at_ms BIGINT,
    sealed_at_ms BIGINT,
    received_at_ms BIGINT NOT NULL,
    key_id INTEGER NOT NULL,
    nonce {blob} NOT NULL,
    body {blob} NOT NULL,
    UNIQUE (device_id, msg_id)
);
CREATE TABLE IF NOT EXISTS envelopes (
    device_id TEXT NOT NULL,
    counter BIGINT NOT NULL,
    digest {blob} NOT NULL,
    received_at_ms BIGINT NOT NULL,
    PRIMARY KEY (device_id, counter)
);
CREATE TABLE IF NOT EXISTS windows (
    device_id TEXT PRIMARY KEY,
    high BIGINT NOT NULL,
    bitmap {blob} NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    id {autoid},
    fingerprint TEXT NOT NULL UNIQUE,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    topic TEXT NOT NULL,
    device_id TEXT,
    msg_id BIGINT,
    first_at_ms BIGINT NOT NULL,
    last_at_ms BIGINT NOT NULL,
    seen BIGINT NOT NULL,
    key_id INTEGER NOT NULL,
    nonce {blob} NOT NULL,
    payload {blob} NOT NULL
);
CREATE INDEX IF NOT EXISTS quarantine_reason ON quarantine (reason);
CREATE TABLE IF NOT EXISTS fleet (
    device_id TEXT PRIMARY KEY,
    online INTEGER NOT NULL,
    bdseq INTEGER,
    seq INTEGER,
    births BIGINT NOT NULL,
    birth_at_ms BIGINT,
    last_seen_ms BIGINT,
    firmware TEXT,
    kind TEXT,
    queue_depth BIGINT,
    records_stored BIGINT NOT NULL,
    rebirth_requested_ms BIGINT
);
CREATE TABLE IF NOT EXISTS downlink (device_id TEXT PRIMARY KEY, reserved BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS workers (worker TEXT PRIMARY KEY, updated_ms BIGINT NOT NULL, stats TEXT NOT NULL);
"""

SQLITE_TYPES = {"autoid": "INTEGER PRIMARY KEY AUTOINCREMENT", "blob": "BLOB"}
POSTGRES_TYPES = {"autoid": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "blob": "BYTEA"}


def statements(types: dict[str, str]) -> list[str]:
    return [s.strip() for s in DDL.format(**types).split(";") if s.strip()]
