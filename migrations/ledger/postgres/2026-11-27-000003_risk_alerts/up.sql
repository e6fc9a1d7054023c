-- Risk alerts: verifications the risk model scored at or above its alert threshold, for
-- regulators to review (ranked by score). Operational data, not derived from the log: the
-- audit neither rebuilds nor compares it.
--
-- Times are unix microseconds; `reasons` is a JSON array of strings.

CREATE TABLE risk_alerts (
    id         BIGSERIAL        PRIMARY KEY,
    created_at BIGINT           NOT NULL,
    gtin       TEXT             NOT NULL,
    serial     TEXT             NOT NULL,
    party      TEXT             NOT NULL,
    score      DOUBLE PRECISION NOT NULL,
    reasons    TEXT             NOT NULL,
    state      TEXT             NOT NULL DEFAULT 'open'
);

CREATE INDEX risk_alerts_queue ON risk_alerts (state, score);
