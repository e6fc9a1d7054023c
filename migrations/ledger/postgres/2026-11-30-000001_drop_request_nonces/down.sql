CREATE TABLE request_nonces (
    public_key BYTEA  NOT NULL,
    nonce      TEXT   NOT NULL,
    seen_at    BIGINT NOT NULL,
    PRIMARY KEY (public_key, nonce)
);

CREATE INDEX request_nonces_seen ON request_nonces (seen_at);
