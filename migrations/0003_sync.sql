-- Version 3: team sync. The outbox keeps only this store's own writes (what sync pushes,
-- deleted once the server acknowledged them); `changes` is the local change feed of every
-- change to a record, local or pulled, which the search indexer and the store watcher follow.

CREATE TABLE changes (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    entity    TEXT NOT NULL,
    record_id TEXT NOT NULL,
    lead_id   TEXT
);
-- The index's cursor was an outbox seq: the feed starts as a copy with the same numbers.
INSERT INTO changes (seq, entity, record_id, lead_id)
    SELECT seq, entity, record_id, lead_id FROM outbox ORDER BY seq;

-- Note bodies that lost a concurrent edit (written by the server, synced like any record).
CREATE TABLE note_conflicts (
    id      TEXT PRIMARY KEY,
    lead_id TEXT NOT NULL,
    note_id TEXT NOT NULL,
    data    TEXT NOT NULL,
    clocks  TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX note_conflicts_by_note ON note_conflicts (note_id, deleted);
CREATE INDEX note_conflicts_by_lead ON note_conflicts (lead_id, deleted, id);

-- The server body revision each note's body was last pulled at: a body edit is pushed as
-- typed over it (three-way merge on the server).
CREATE TABLE note_base (
    note_id TEXT PRIMARY KEY,
    rev     INTEGER NOT NULL
) WITHOUT ROWID;

-- The one team server this store syncs with (at most one row).
CREATE TABLE sync_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    server_url      TEXT NOT NULL,
    org_id          TEXT NOT NULL,
    org_name        TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    role            TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    device_name     TEXT NOT NULL,
    epoch           TEXT,
    -- Highest server seq applied contiguously.
    pull_cursor     INTEGER NOT NULL DEFAULT 0,
    -- Outbox seqs are pushed as `local_seq = seq - seq_base` (so a client's first op is 1).
    seq_base        INTEGER NOT NULL DEFAULT 0,
    -- Highest outbox seq the server acknowledged (its applied_local_seq + seq_base).
    acked_seq       INTEGER NOT NULL DEFAULT 0,
    -- The server's last seq as of the last page or poke (for "n changes behind").
    server_seq      INTEGER NOT NULL DEFAULT 0,
    -- Server time minus local time, added to every stamp after a clock_skew answer.
    clock_offset_ms INTEGER NOT NULL DEFAULT 0,
    -- none | in_progress | done; a bootstrap resumes after `bootstrap_after_id`.
    bootstrap       TEXT NOT NULL DEFAULT 'none' CHECK (bootstrap IN ('none', 'in_progress', 'done')),
    bootstrap_snapshot_seq INTEGER NOT NULL DEFAULT 0,
    bootstrap_after_id     TEXT,
    -- A bootstrap into a store that already held records: what the stream does not carry
    -- (the server no longer has it) is dropped at the end (`bootstrap_seen`).
    bootstrap_sweep INTEGER NOT NULL DEFAULT 0,
    last_success_at TEXT,
    last_error_code TEXT,
    last_error      TEXT,
    joined_at       TEXT NOT NULL
);

-- The ids a sweeping bootstrap has streamed so far.
CREATE TABLE bootstrap_seen (
    id TEXT PRIMARY KEY
) WITHOUT ROWID;

-- Fields where a pulled change replaced a value this store had written ("your change to
-- status was replaced by Joe's newer one"): the per-lead change history shows them.
CREATE TABLE overrides (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    entity    TEXT NOT NULL,
    record_id TEXT NOT NULL,
    lead_id   TEXT,
    field     TEXT NOT NULL,
    mine      TEXT,
    theirs    TEXT,
    by_user   TEXT,
    at        TEXT NOT NULL
);
CREATE INDEX overrides_by_lead ON overrides (lead_id, id);

-- Pulled records this version cannot read (a newer kind or shape): kept as received and
-- retried after an upgrade, never dropped.
CREATE TABLE sync_unknown (
    entity TEXT NOT NULL,
    id     TEXT NOT NULL,
    state  TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (entity, id)
) WITHOUT ROWID;

-- The node id lives once, in meta.node_id; the stored clock keeps only its time part.
UPDATE meta SET value = substr(value, 1, 16) WHERE key = 'hlc' AND length(value) = 32;
