//! Sign-in through the trust's OpenID Connect provider (NHS Care Identity Service 2 is one): the authorisation code
//! flow with PKCE, state and nonce, through the `openidconnect` crate. The provider is discovered when remit starts;
//! its published keys check each ID token's signature, and its issuer, audience, expiry and nonce are checked too.
//! A configured claim names the remit staff member; a person remit does not know, or whose account is suspended, is
//! refused and the refusal audited: signing in gives nobody permissions. Sign-out ends remit's session and, where the
//! provider offers an end-session endpoint, the provider's.
//!
//! The flow: `GET /login/oidc?next=…` keeps the PKCE verifier and nonce in the store under a digest of a random
//! state (ten minutes, taken once), sets the state in a cookie, and sends the browser to the provider;
//! `GET /login/oidc/callback?code=…&state=…` takes the flow back only with the same state in the cookie (so nobody can
//! sign another person's browser in as themselves), exchanges the code, checks the ID token and starts a session.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, ProviderMetadataWithLogout, RedirectUrl, Scope,
    TokenResponse,
};

type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// The cookie that carries a sign-in's state from the redirect to the provider to the way back.
pub(crate) const STATE_COOKIE: &str = "remit_oidc";

/// Which claim of the ID token names the remit staff member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    PreferredUsername,
    Email,
    Subject,
}

impl Claim {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "preferred_username" => Ok(Self::PreferredUsername),
            "email" => Ok(Self::Email),
            "sub" => Ok(Self::Subject),
            other => Err(format!(
                "`{other}` is not a claim remit maps to staff: preferred_username, email or sub"
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::PreferredUsername => "preferred_username",
            Self::Email => "email",
            Self::Subject => "sub",
        }
    }
}

/// What the administrator configures.
#[derive(Debug, Clone)]
pub struct Settings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// remit's callback as the provider knows it: `https://remit.trust.nhs.uk/login/oidc/callback`.
    pub redirect_url: String,
    /// Where the provider sends the browser after its sign-out: remit's sign-in page.
    pub post_logout_url: String,
    pub claim: Claim,
    /// The provider's name on the sign-in button.
    pub label: String,
}

/// The provider, discovered.
pub struct Oidc {
    client: Client,
    http: openidconnect::reqwest::Client,
    claim: Claim,
    pub(crate) label: String,
    end_session: Option<String>,
    client_id: String,
    post_logout_url: String,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl Oidc {
    /// Reads the provider's metadata and keys from its discovery document.
    pub async fn discover(s: Settings) -> Result<Self, String> {
        // No redirects: a provider that answers elsewhere is not followed (the library's advice against SSRF).
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let issuer = IssuerUrl::new(s.issuer.clone()).map_err(|e| format!("--oidc-issuer `{}`: {e}", s.issuer))?;
        let meta = ProviderMetadataWithLogout::discover_async(issuer, &http)
            .await
            .map_err(|e| {
                format!(
                    "could not read the provider's discovery document at {}: {}",
                    s.issuer,
                    chain(&e)
                )
            })?;
        let end_session = meta
            .additional_metadata()
            .end_session_endpoint
            .as_ref()
            .map(|u| u.url().to_string());
        let redirect = RedirectUrl::new(s.redirect_url.clone())
            .map_err(|e| format!("--oidc-redirect-url `{}`: {e}", s.redirect_url))?;
        let client = CoreClient::from_provider_metadata(
            meta,
            ClientId::new(s.client_id.clone()),
            Some(ClientSecret::new(s.client_secret)),
        )
        .set_redirect_uri(redirect);
        Ok(Self {
            client,
            http,
            claim: s.claim,
            label: s.label,
            end_session,
            client_id: s.client_id,
            post_logout_url: s.post_logout_url,
        })
    }

    /// Begins a sign-in: the provider's URL to send the browser to, and the flow to keep under its state.
    pub(crate) fn begin(&self, next: &str) -> (String, String, remit_store::session::OidcFlow) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(challenge)
            .url();
        let flow = remit_store::session::OidcFlow {
            verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
            next: next.to_owned(),
        };
        (url.to_string(), state.secret().clone(), flow)
    }

    /// Finishes a sign-in: exchanges the code, checks the ID token, and answers the value of the configured claim;
    /// an error says in words what failed (never the token).
    pub(crate) async fn finish(&self, code: &str, flow: &remit_store::session::OidcFlow) -> Result<String, String> {
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| format!("the provider has no token endpoint: {e}"))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| format!("the provider did not exchange the code: {}", chain(&e)))?;
        let id_token = token
            .id_token()
            .ok_or_else(|| "the provider gave no ID token".to_owned())?;
        let claims = id_token
            .claims(&self.client.id_token_verifier(), &Nonce::new(flow.nonce.clone()))
            .map_err(|e| format!("the ID token did not pass its checks: {}", chain(&e)))?;
        let value = match self.claim {
            Claim::PreferredUsername => claims.preferred_username().map(|u| u.as_str().to_owned()),
            Claim::Email => claims.email().map(|e| e.as_str().to_owned()),
            Claim::Subject => Some(claims.subject().as_str().to_owned()),
        };
        if let Some(v) = value {
            return Ok(v);
        }
        // Not in the ID token: the provider's UserInfo endpoint, for the same subject (the library checks it).
        let info: openidconnect::core::CoreUserInfoClaims = self
            .client
            .user_info(token.access_token().to_owned(), Some(claims.subject().clone()))
            .map_err(|e| {
                format!(
                    "the ID token has no `{}` claim and the provider no UserInfo endpoint: {e}",
                    self.claim.name()
                )
            })?
            .request_async(&self.http)
            .await
            .map_err(|e| format!("the provider's UserInfo did not answer: {}", chain(&e)))?;
        let value = match self.claim {
            Claim::PreferredUsername => info.preferred_username().map(|u| u.as_str().to_owned()),
            Claim::Email => info.email().map(|e| e.as_str().to_owned()),
            Claim::Subject => Some(info.subject().as_str().to_owned()),
        };
        value.ok_or_else(|| format!("neither the ID token nor UserInfo has a `{}` claim", self.claim.name()))
    }

    /// The origin of the provider's end-session endpoint, which sign-out's form is redirected to (for the page's
    /// `form-action`).
    pub(crate) fn end_session_origin(&self) -> Option<String> {
        let url = openidconnect::url::Url::parse(self.end_session.as_deref()?).ok()?;
        Some(url.origin().ascii_serialization())
    }

    /// Where to send the browser after remit's sign-out: the provider's end-session endpoint, or remit's sign-in.
    pub(crate) fn after_sign_out(&self) -> String {
        match &self.end_session {
            Some(end) => {
                let query = form_urlencoded::Serializer::new(String::new())
                    .append_pair("client_id", &self.client_id)
                    .append_pair("post_logout_redirect_uri", &self.post_logout_url)
                    .finish();
                let sep = if end.contains('?') { '&' } else { '?' };
                format!("{end}{sep}{query}")
            }
            None => "/login".to_owned(),
        }
    }
}

/// An error with its causes, as one line: the library's own words are often only "Request failed".
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The state a sign-in's cookie carries, if any.
pub(crate) fn state_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == STATE_COOKIE)
        .map(|(_, v)| v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_claims_remit_reads_are_taken() {
        assert_eq!(Claim::parse("email").unwrap(), Claim::Email);
        assert!(Claim::parse("groups").unwrap_err().contains("preferred_username"));
    }
}
