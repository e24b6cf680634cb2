-- The public API's `Idempotency-Key`s: per key (token) and Idempotency-Key, the request it was
-- first sent with (method, path, SHA-256 of the body) and, once answered with a 2xx, that
-- answer (status 0 while the first request runs). Rows older than 24 h are dropped.
CREATE TABLE api_idempotency (
    token_id TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (token_id, idem_key)
);
