-- Import checkpoints: one row per CSV import, rewritten in the same transaction as every
-- committed chunk, so a cancelled or killed import can resume exactly after its last chunk.
-- Local bookkeeping only: never synced, never in the outbox.

CREATE TABLE imports (
    id          TEXT PRIMARY KEY,
    -- File identity: canonical path, size and SHA-256 of the first MiB.
    path        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    head_hash   TEXT NOT NULL,
    -- The mapping and options the import runs with (JSON), reused on resume.
    mapping     TEXT NOT NULL,
    options     TEXT NOT NULL,
    -- Data records (after the header) consumed by committed chunks.
    rows_done   INTEGER NOT NULL DEFAULT 0,
    -- Offset in the decoded text and line number where the next record starts.
    byte_offset INTEGER NOT NULL DEFAULT 0,
    next_line   INTEGER NOT NULL DEFAULT 0,
    -- Length of the error CSV that belongs to the committed chunks.
    errors_len  INTEGER NOT NULL DEFAULT 0,
    -- Running counts (JSON), so a resumed import reports the whole file.
    summary     TEXT NOT NULL DEFAULT '{}',
    state       TEXT NOT NULL CHECK (state IN ('running', 'done')),
    started_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX imports_by_file ON imports (path, size, head_hash, state);
