-- An event is looked up by its time and id, not by its id alone. Ids are hashes, so a unique
-- index on them takes every new entry at a random place: once that index outgrows the page
-- cache, each appended event dirties a page of its own, and append cost grows with the log
-- (ARCHITECTURE.md, "Appends stay flat"). Times grow with the log (the ledger refuses events
-- more than 72 h behind its clock), so (event_time, event_id) takes new entries at its right
-- edge. The id determines the time (it hashes the signed event, time included), so this index
-- is exactly as unique as the old one.
--
-- SQLite cannot drop a column's UNIQUE constraint: the table is rebuilt (once, O(entries)).
CREATE TABLE log_entries_rebuilt (
    idx        INTEGER PRIMARY KEY,          -- 0-based leaf index
    event_id   BLOB    NOT NULL,
    leaf_hash  BLOB    NOT NULL,
    kind       TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    event_time INTEGER NOT NULL,
    entry      BLOB    NOT NULL
) STRICT;

INSERT INTO log_entries_rebuilt (idx, event_id, leaf_hash, kind, actor, event_time, entry)
    SELECT idx, event_id, leaf_hash, kind, actor, event_time, entry FROM log_entries ORDER BY idx;

DROP TABLE log_entries;
ALTER TABLE log_entries_rebuilt RENAME TO log_entries;

CREATE INDEX log_entries_actor ON log_entries (actor, idx);
CREATE UNIQUE INDEX log_entries_time_id ON log_entries (event_time, event_id);
