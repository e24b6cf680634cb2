-- Rapport team server, SQLite backend: accounts, each org's records at their last seq, note
-- revisions, clients and the ops they pushed (for dedupe and fork detection).
CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    epoch TEXT NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0,
    horizon_seq INTEGER NOT NULL DEFAULT 0,
    hlc TEXT,
    created_at INTEGER NOT NULL
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name TEXT NOT NULL,
    password_hash TEXT,
    created_at INTEGER NOT NULL
);
CREATE TABLE memberships (
    org_id TEXT NOT NULL REFERENCES orgs(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
);
CREATE TABLE clients (
    org_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    device_name TEXT NOT NULL,
    applied_local_seq INTEGER NOT NULL DEFAULT 0,
    applied_op_id TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, client_id)
);
CREATE TABLE client_ops (
    org_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    local_seq INTEGER NOT NULL,
    op_id TEXT NOT NULL,
    PRIMARY KEY (org_id, client_id, local_seq)
);
CREATE TABLE records (
    org_id TEXT NOT NULL,
    id TEXT NOT NULL,
    entity TEXT NOT NULL,
    lead_id TEXT,
    state TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    body_rev INTEGER,
    updated_by TEXT,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX records_by_seq ON records (org_id, seq);
CREATE TABLE note_revisions (
    org_id TEXT NOT NULL,
    note_id TEXT NOT NULL,
    rev INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (org_id, note_id, rev)
);
