-- Changes open pages must see, announced by the transaction that made them, for the other processes using this file
-- (a server notices what the command line wrote). Read by each server's follower and pruned after a few minutes.
-- AUTOINCREMENT: a number is never used twice, even once every row has been pruned, so a follower's place holds.
CREATE TABLE change_feed (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    payload TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX change_feed_at ON change_feed (at);
