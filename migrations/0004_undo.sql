-- Version 4: the undo journal (local to this store, never synced). Each user action (one
-- operation, or one bulk action over many leads) is a row of `undo_actions`; `undo_records`
-- keeps, per record the action wrote, its state before and the clock keys it wrote. Undoing
-- writes those fields back as a new write (new stamps, outbox, feed) and marks the action
-- undone. Only the newest actions are kept.

CREATE TABLE undo_actions (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    label   TEXT NOT NULL,
    at      TEXT NOT NULL,
    undone  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE undo_records (
    action         INTEGER NOT NULL,
    entity         TEXT NOT NULL,
    record_id      TEXT NOT NULL,
    -- the record's JSON before the action; NULL when the action created it
    before         TEXT,
    before_deleted INTEGER NOT NULL DEFAULT 0,
    -- JSON list of the clock keys the action wrote
    fields         TEXT NOT NULL
);
CREATE INDEX undo_records_by_action ON undo_records (action);

-- Activities by kind and time (reports: calls per day) and opportunities by lead for the
-- pipeline come from these.
CREATE INDEX activities_by_kind_at ON activities (kind, deleted, at);
