-- Sign-ins through the trust's OpenID Connect provider under way: one row from the redirect to the provider until the
-- browser comes back (or ten minutes pass), found by a digest of its state and taken once. The PKCE verifier and the
-- nonce never leave the server.
CREATE TABLE oidc_flow (
    state_digest TEXT PRIMARY KEY,
    verifier TEXT NOT NULL,
    nonce TEXT NOT NULL,
    next TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX oidc_flow_created ON oidc_flow (created_at);
