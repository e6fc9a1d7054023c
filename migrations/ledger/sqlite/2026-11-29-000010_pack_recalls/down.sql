-- Drops exactly what up.sql creates, in reverse order.
DROP INDEX pack_recalls_recall;
DROP INDEX pack_recalls_batch;
DROP TABLE pack_recalls;
