-- Drops exactly what up.sql creates, in reverse order.
DROP TABLE witness_alerts;
DROP TABLE witnessed_checkpoints;
DROP INDEX outbox_status;
DROP TABLE outbox;
DROP TABLE operator_tokens;
