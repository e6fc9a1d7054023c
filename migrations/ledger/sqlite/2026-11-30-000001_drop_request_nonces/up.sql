-- Replay nonces now live in the ledger process (auth::ReplayGuard): a signed
-- read no longer costs a durable write.
DROP INDEX request_nonces_seen;
DROP TABLE request_nonces;
