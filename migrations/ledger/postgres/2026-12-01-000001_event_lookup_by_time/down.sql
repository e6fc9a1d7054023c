DROP INDEX log_entries_time_id;
ALTER TABLE log_entries ADD CONSTRAINT log_entries_event_id_key UNIQUE (event_id);
