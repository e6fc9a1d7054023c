-- Drops exactly what up.sql creates, in reverse order.
DROP INDEX dashboard_sessions_expiry;
DROP TABLE dashboard_sessions;
DROP TABLE dashboard_logins;
