"""The hub's tables, one DDL for both back ends (type names filled in per dialect).

records     one row per (device_id, msg_id): exactly-once in the store; body sealed with the data key
envelopes   digest of each accepted envelope within the replay window, to recognise a broker redelivery
windows     per-device replay window (highest counter + bitmap) of the device's current boot epoch
device_epochs  the boot epochs a device has left behind: an envelope of one of them is a replay
quarantine  everything rejected or held, with its reason; identical items are counted, not repeated; held
            records keep their schema id, so they can be re-checked and released (central_hub.quarantine_admin)
quarantine_overflow  per device and reason, what went past the quarantine quota (counted, not kept)
hub_faults  what the hub itself reports for the fleet view (bad registry files, low disk, device resets)
fleet       per-device session state (birth/death/heartbeat) and counters for the operator
downlink    per-device hub counter for sealing acks and commands, reserved in blocks
workers     each hub worker's runtime counters, for `mch-hub stats`
fleet_events  per-device history: online/offline, firmware, faults raised/cleared, command results
commands    commands to devices (central_hub.commands): state, deadline, result
audit_log   hash-chained log of every operator action (central_hub.audit)
users, web_sessions  dashboard accounts (argon2 hashes, lockout) and sessions (central_hub.users)
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
    digest TEXT,
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
    bitmap {blob} NOT NULL,
    epoch TEXT
);
CREATE TABLE IF NOT EXISTS device_epochs (
    device_id TEXT NOT NULL,
    epoch TEXT NOT NULL,
    retired_at_ms BIGINT NOT NULL,
    PRIMARY KEY (device_id, epoch)
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
    payload {blob} NOT NULL,
    schema_id TEXT
);
CREATE INDEX IF NOT EXISTS quarantine_reason ON quarantine (reason);
CREATE INDEX IF NOT EXISTS quarantine_device ON quarantine (device_id);
CREATE TABLE IF NOT EXISTS quarantine_overflow (
    device_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    dropped BIGINT NOT NULL,
    dropped_bytes BIGINT NOT NULL,
    first_at_ms BIGINT NOT NULL,
    last_at_ms BIGINT NOT NULL,
    PRIMARY KEY (device_id, reason)
);
CREATE TABLE IF NOT EXISTS hub_faults (
    source TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    since_ms BIGINT NOT NULL,
    PRIMARY KEY (source, subject)
);
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
    rebirth_requested_ms BIGINT,
    state_at_ms BIGINT,
    heartbeat_s INTEGER,
    oldest_record_age_s BIGINT,
    faults TEXT,
    alarm_beds INTEGER,
    alarm_highest TEXT
);
CREATE TABLE IF NOT EXISTS downlink (device_id TEXT PRIMARY KEY, reserved BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS workers (worker TEXT PRIMARY KEY, updated_ms BIGINT NOT NULL, stats TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fleet_events (
    id {autoid},
    device_id TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    event TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS fleet_events_device ON fleet_events (device_id, id);
CREATE TABLE IF NOT EXISTS commands (
    id {autoid},
    device_id TEXT NOT NULL,
    command TEXT NOT NULL,
    args TEXT NOT NULL,
    actor TEXT NOT NULL,
    state TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    deadline_ms BIGINT NOT NULL,
    done_ms BIGINT,
    result TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS commands_device ON commands (device_id, id);
CREATE INDEX IF NOT EXISTS commands_state ON commands (state);
CREATE TABLE IF NOT EXISTS audit_log (
    seq BIGINT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    pw_hash TEXT NOT NULL,
    failures INTEGER NOT NULL,
    locked_until_ms BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    active INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS web_sessions (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    seen_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
"""

# Columns added to tables of an earlier schema: (table, column, type), added by `Store.migrate` when missing.
ADDED_COLUMNS = (("records", "digest", "TEXT"), ("windows", "epoch", "TEXT"),
                 ("fleet", "state_at_ms", "BIGINT"), ("fleet", "heartbeat_s", "INTEGER"),
                 ("fleet", "oldest_record_age_s", "BIGINT"), ("fleet", "faults", "TEXT"),
                 ("fleet", "alarm_beds", "INTEGER"), ("fleet", "alarm_highest", "TEXT"),
                 ("quarantine", "schema_id", "TEXT"))

SQLITE_TYPES = {"autoid": "INTEGER PRIMARY KEY AUTOINCREMENT", "blob": "BLOB"}
POSTGRES_TYPES = {"autoid": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "blob": "BYTEA"}


def statements(types: dict[str, str]) -> list[str]:
    return [s.strip() for s in DDL.format(**types).split(";") if s.strip()]
