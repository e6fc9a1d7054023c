-- Triage of the regulators' alert queue. Alerts now come from the risk model (`source`
-- 'classifier') and from the verification rules (`source` the rule's rejection code, e.g.
-- 'serial_unknown'); each carries the batch and the region of the verifying party, for
-- filtering. `state` moves open -> investigating -> closed_false_positive | closed_confirmed
-- (and back to open); every move or note is kept in `risk_alert_notes`.
--
-- SQLite flavour: STRICT, INTEGER for BIGINT. Times are unix microseconds. `region` is the
-- country (ISO 3166-1 alpha-2) of the GS1 member organisation that issued the party's GLN
-- prefix; NULL when the prefix maps to none.

ALTER TABLE risk_alerts ADD COLUMN source TEXT NOT NULL DEFAULT 'classifier';
ALTER TABLE risk_alerts ADD COLUMN lot TEXT;
ALTER TABLE risk_alerts ADD COLUMN region TEXT;
ALTER TABLE risk_alerts ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE risk_alerts SET updated_at = created_at;

CREATE INDEX risk_alerts_created ON risk_alerts (created_at);

CREATE TABLE risk_alert_notes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    alert_id     INTEGER NOT NULL REFERENCES risk_alerts (id),
    author       TEXT    NOT NULL,
    author_party TEXT    NOT NULL,
    written_at   INTEGER NOT NULL,
    from_state   TEXT    NOT NULL,
    to_state     TEXT    NOT NULL,
    note         TEXT    NOT NULL
) STRICT;

CREATE INDEX risk_alert_notes_alert ON risk_alert_notes (alert_id, id);
