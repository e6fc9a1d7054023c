CREATE TABLE log_entries_rebuilt (
    idx        INTEGER PRIMARY KEY,          -- 0-based leaf index
    event_id   BLOB    NOT NULL UNIQUE,
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
