-- Packs under a recall that lists serials (a selective `recall` event), derived from the log
-- by the custody rules like every state table: one row per recalled pack, removed when the
-- recall is lifted. Whole-batch recalls stay on `batches`. The reason stays in the log entry.
--
-- PostgreSQL flavour.

CREATE TABLE pack_recalls (
    gtin        TEXT    NOT NULL,
    serial      TEXT    NOT NULL,
    lot         TEXT    NOT NULL,
    recalled_by TEXT    NOT NULL,
    recall_idx  BIGINT  NOT NULL,
    PRIMARY KEY (gtin, serial)
);

CREATE INDEX pack_recalls_batch ON pack_recalls (gtin, lot);
CREATE INDEX pack_recalls_recall ON pack_recalls (recall_idx);
