-- Drops exactly what up.sql creates, in reverse order.
DROP INDEX risk_alerts_queue;
DROP TABLE risk_alerts;
