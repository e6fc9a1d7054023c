-- Drops exactly what up.sql creates, in reverse order.
DROP INDEX risk_alert_notes_alert;
DROP TABLE risk_alert_notes;
DROP INDEX risk_alerts_created;
ALTER TABLE risk_alerts DROP COLUMN updated_at;
ALTER TABLE risk_alerts DROP COLUMN region;
ALTER TABLE risk_alerts DROP COLUMN lot;
ALTER TABLE risk_alerts DROP COLUMN source;
