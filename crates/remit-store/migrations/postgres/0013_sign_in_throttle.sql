-- Sign-in throttling by key (a username from one address, an address, a username from anywhere): failures counted
-- and the time the next attempt may be made, changed only by a compare-and-set on `version`, so that parallel
-- attempts cannot both take the last free try. Replaces the per-username attempt log, which counted after checking
-- and could lock the rightful user out.
DROP TABLE sign_in_attempt;
CREATE TABLE sign_in_throttle (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    last_failure_at TEXT NOT NULL,
    blocked_until TEXT NOT NULL,
    version BIGINT NOT NULL
);
