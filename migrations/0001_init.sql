-- Rapport local store, version 1. Every record table keeps the whole record as JSON (`data`,
-- the canonical shape), its per-field HLC clocks (`clocks`: {"*": created, "<field>": stamp,
-- "_deleted": stamp}) and a tombstone flag; indexed columns are copies for lookups.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    id      TEXT PRIMARY KEY,
    data    TEXT NOT NULL,
    clocks  TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE lead_statuses (
    id       TEXT PRIMARY KEY,
    label    TEXT NOT NULL,
    position INTEGER NOT NULL,
    data     TEXT NOT NULL,
    clocks   TEXT NOT NULL,
    deleted  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE custom_fields (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    data    TEXT NOT NULL,
    clocks  TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE smart_views (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    data    TEXT NOT NULL,
    clocks  TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE leads (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    status_label    TEXT NOT NULL,
    date_updated    TEXT NOT NULL,
    city            TEXT,
    data            TEXT NOT NULL,
    clocks          TEXT NOT NULL,
    deleted         INTEGER NOT NULL DEFAULT 0,
    -- Aggregates, maintained by every write that touches the lead (never computed on read).
    primary_contact TEXT,
    n_contacts      INTEGER NOT NULL DEFAULT 0,
    n_calls         INTEGER NOT NULL DEFAULT 0,
    n_emails        INTEGER NOT NULL DEFAULT 0,
    n_notes         INTEGER NOT NULL DEFAULT 0,
    n_meetings      INTEGER NOT NULL DEFAULT 0,
    n_activities    INTEGER NOT NULL DEFAULT 0,
    n_tasks         INTEGER NOT NULL DEFAULT 0,
    n_opportunities INTEGER NOT NULL DEFAULT 0,
    last_called     TEXT,
    last_emailed    TEXT,
    email_opened    TEXT,
    last_activity   TEXT
);
CREATE INDEX leads_by_updated ON leads (deleted, date_updated, id);

CREATE TABLE contacts (
    id      TEXT PRIMARY KEY,
    lead_id TEXT NOT NULL,
    data    TEXT NOT NULL,
    clocks  TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX contacts_by_lead ON contacts (lead_id, deleted, id);

CREATE TABLE activities (
    id       TEXT PRIMARY KEY,
    lead_id  TEXT NOT NULL,
    kind     TEXT NOT NULL,
    at       TEXT NOT NULL,
    -- emails: the newest open
    extra_at TEXT,
    data     TEXT NOT NULL,
    clocks   TEXT NOT NULL,
    deleted  INTEGER NOT NULL DEFAULT 0
);
-- The timeline: one range read, newest first.
CREATE INDEX activities_by_lead ON activities (lead_id, deleted, id);
-- Aggregates per kind (counts and latest dates) come from this covering index.
CREATE INDEX activities_by_lead_kind ON activities (lead_id, kind, deleted, at, extra_at);

CREATE TABLE tasks (
    id      TEXT PRIMARY KEY,
    lead_id TEXT NOT NULL,
    done    INTEGER NOT NULL,
    data    TEXT NOT NULL,
    clocks  TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tasks_by_lead ON tasks (lead_id, deleted, done, id);

CREATE TABLE opportunities (
    id      TEXT PRIMARY KEY,
    lead_id TEXT NOT NULL,
    data    TEXT NOT NULL,
    clocks  TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX opportunities_by_lead ON opportunities (lead_id, deleted, id);

-- Every accepted local write, in commit order; `seq` is never reused (AUTOINCREMENT).
-- Sync pushes entries and reads the fields' current values and clocks from the record.
CREATE TABLE outbox (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    entity    TEXT NOT NULL,
    record_id TEXT NOT NULL,
    lead_id   TEXT,
    op        TEXT NOT NULL CHECK (op IN ('create', 'update', 'delete')),
    fields    TEXT NOT NULL,
    hlc       TEXT NOT NULL
);
