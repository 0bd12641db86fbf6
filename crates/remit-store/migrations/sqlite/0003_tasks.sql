-- Delegated tasks and every move made on them.
CREATE TABLE task (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patient (id),
    activity TEXT NOT NULL,
    exam_region TEXT,
    delegator_id INTEGER NOT NULL REFERENCES staff (id),
    delegatee_id INTEGER NOT NULL REFERENCES staff (id),
    supervision TEXT NOT NULL CHECK (supervision IN ('none', 'indirect', 'direct')),
    supervisor_id INTEGER REFERENCES staff (id),
    due_at TEXT,
    notes TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX task_delegatee ON task (delegatee_id, status);
CREATE INDEX task_delegator ON task (delegator_id, status);
CREATE INDEX task_patient ON task (patient_id, status);
CREATE INDEX task_supervisor ON task (supervisor_id, status);

CREATE TABLE task_event (
    id INTEGER PRIMARY KEY,
    task_id INTEGER NOT NULL REFERENCES task (id),
    at TEXT NOT NULL,
    actor_id INTEGER NOT NULL REFERENCES staff (id),
    move TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    note TEXT
);
CREATE INDEX task_event_task ON task_event (task_id, id);
