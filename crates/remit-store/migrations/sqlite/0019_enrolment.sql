-- Learning in progress: a staff member enrolled on a programme that leads to a registration (an apprenticeship or a
-- degree), as the education lead records it. `route` is the id of a route in the pack's routes.toml, when it is one.
CREATE TABLE enrolment (
    id INTEGER PRIMARY KEY,
    staff_id INTEGER NOT NULL REFERENCES staff (id),
    route TEXT,
    programme TEXT NOT NULL,
    provider TEXT NOT NULL,
    starts_on TEXT NOT NULL,
    expected_end TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL
);
CREATE INDEX enrolment_staff ON enrolment (staff_id);
