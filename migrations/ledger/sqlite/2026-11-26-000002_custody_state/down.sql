-- Drops exactly what up.sql creates, in reverse order.
DROP INDEX request_nonces_seen;
DROP TABLE request_nonces;
DROP TABLE item_history;
DROP TABLE shipment_discrepancies;
DROP INDEX shipments_receiver;
DROP TABLE shipments;
DROP INDEX cases_parent;
DROP TABLE cases;
DROP INDEX packs_custodian;
DROP INDEX packs_case;
DROP INDEX packs_batch;
DROP TABLE packs;
DROP TABLE batches;
DROP TABLE products;
DROP INDEX party_keys_gln;
DROP TABLE party_keys;
DROP TABLE parties;
