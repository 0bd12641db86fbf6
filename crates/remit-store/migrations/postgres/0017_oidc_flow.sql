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

-- The identity a staff member signs in with at the provider (its `sub`), linked by an administrator: a name the
-- provider's users can choose or change is never what decides who someone is in remit.
ALTER TABLE staff ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX staff_oidc_subject ON staff (oidc_subject);

-- The ID token a session began with, for the provider's sign-out (`id_token_hint`); none for a password sign-in.
ALTER TABLE web_session ADD COLUMN id_token TEXT;
