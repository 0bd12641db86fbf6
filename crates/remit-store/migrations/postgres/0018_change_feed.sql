-- Changes open pages must see are announced by NOTIFY on the channel remit_changes, in the transaction that made
-- them: PostgreSQL delivers a notification only if its transaction commits. Nothing is stored. (SQLite keeps a
-- change_feed table instead; the number keeps the two dialects' migrations in step.)
SELECT 1;
