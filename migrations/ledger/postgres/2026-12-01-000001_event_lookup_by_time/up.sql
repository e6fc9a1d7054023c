-- An event is looked up by its time and id, not by its id alone. Ids are hashes, so a unique
-- index on them takes every new entry at a random place: once that index outgrows the buffer
-- cache, each appended event dirties a page of its own, and append cost grows with the log
-- (ARCHITECTURE.md, "Appends stay flat"). Times grow with the log (the ledger refuses events
-- more than 72 h behind its clock), so (event_time, event_id) takes new entries at its right
-- edge. The id determines the time (it hashes the signed event, time included), so this index
-- is exactly as unique as the old one.
ALTER TABLE log_entries DROP CONSTRAINT log_entries_event_id_key;
CREATE UNIQUE INDEX log_entries_time_id ON log_entries (event_time, event_id);
