-- Continuing professional development entries. Hours are kept in minutes so sums are exact.
CREATE TABLE cpd_entry (
    id INTEGER PRIMARY KEY,
    staff_id INTEGER NOT NULL REFERENCES staff (id),
    done_on TEXT NOT NULL,
    minutes INTEGER NOT NULL CHECK (minutes > 0),
    activity TEXT NOT NULL,
    reflection TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL
);
CREATE INDEX cpd_entry_staff ON cpd_entry (staff_id, done_on);
