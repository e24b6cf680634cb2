-- Rapport team server, PostgreSQL backend: accounts, each org's records at their last seq, note
-- revisions, clients and the ops they pushed (for dedupe and fork detection).
CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    epoch TEXT NOT NULL,
    last_seq BIGINT NOT NULL DEFAULT 0,
    horizon_seq BIGINT NOT NULL DEFAULT 0,
    hlc TEXT,
    created_at BIGINT NOT NULL
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    password_hash TEXT,
    created_at BIGINT NOT NULL
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
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE TABLE clients (
    org_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    device_name TEXT NOT NULL,
    applied_local_seq BIGINT NOT NULL DEFAULT 0,
    applied_op_id TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, client_id)
);
CREATE TABLE client_ops (
    org_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    local_seq BIGINT NOT NULL,
    op_id TEXT NOT NULL,
    PRIMARY KEY (org_id, client_id, local_seq)
);
CREATE TABLE records (
    org_id TEXT NOT NULL,
    id TEXT NOT NULL,
    entity TEXT NOT NULL,
    lead_id TEXT,
    state TEXT NOT NULL,
    deleted BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    body_rev BIGINT,
    updated_by TEXT,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX records_by_seq ON records (org_id, seq);
CREATE TABLE note_revisions (
    org_id TEXT NOT NULL,
    note_id TEXT NOT NULL,
    rev BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (org_id, note_id, rev)
);
CREATE UNIQUE INDEX orgs_by_name ON orgs (lower(name));
CREATE UNIQUE INDEX users_by_email ON users (lower(email));
