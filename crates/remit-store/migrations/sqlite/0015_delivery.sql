-- Escalations delivered outside remit (a paging or messaging gateway): a transactional outbox, one row for each
-- escalation raised, raised again or moved along the cascade, written in the same transaction; a worker delivers it
-- at least once, with its idempotency key, and records the outcome.
CREATE TABLE delivery (
    id INTEGER PRIMARY KEY,
    escalation_id INTEGER NOT NULL REFERENCES escalation (id),
    event TEXT NOT NULL CHECK (event IN ('raised', 'raised-again', 'cascaded')),
    level TEXT NOT NULL,
    stage INTEGER NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    done_at TEXT
);
CREATE INDEX delivery_due ON delivery (state, next_attempt_at);
CREATE INDEX delivery_escalation ON delivery (escalation_id, id);
