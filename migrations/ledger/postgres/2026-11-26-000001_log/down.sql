-- Drops exactly what up.sql creates, in reverse order.
DROP TABLE cosignatures;
DROP TABLE checkpoints;
DROP TABLE tree_nodes;
DROP TABLE event_items;
DROP INDEX log_entries_actor;
DROP TABLE log_entries;
