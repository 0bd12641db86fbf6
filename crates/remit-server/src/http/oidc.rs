//! Sign-in through the trust's OpenID Connect provider (NHS Care Identity Service 2 is one): the authorisation code
//! flow with PKCE, state and nonce, through the `openidconnect` crate. The provider is discovered when remit starts;
//! its published keys check each ID token's signature (read again, at most once a minute, when a token is signed with
//! a key remit has not seen: providers rotate them), and its issuer, audience, expiry and nonce are checked too. The
//! provider is asked to authenticate the person every time (`prompt=login`): on a shared ward PC the provider's own
//! session must not sign the next person in as the last. The configured claim names the remit staff member: `sub`,
//! the identity an administrator linked to them (`remit staff link-identity`), or `preferred_username`, matched
//! exactly to their username where the trust's provider alone sets usernames. A person remit does not know, or whose
//! account is suspended, is refused and the refusal audited: signing in gives nobody permissions. Sign-out ends
//! remit's session and, where the provider offers an end-session endpoint, the provider's (with the session's ID
//! token as `id_token_hint`).
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

/// The cookie that carries a sign-in's state from the redirect to the provider to the way back: over HTTPS with the
/// `__Host-` prefix, which no other host (a sibling subdomain) and no plain-HTTP page can set.
fn state_cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-remit_oidc" } else { "remit_oidc" }
}

/// The `Set-Cookie` value that carries `value` for `max_age` seconds (0: removes it).
pub(crate) fn state_set_cookie(secure: bool, value: &str, max_age: i64) -> String {
    let name = state_cookie_name(secure);
    if secure {
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}; Secure")
    } else {
        format!("{name}={value}; Path=/login/oidc; HttpOnly; SameSite=Lax; Max-Age={max_age}")
    }
}

/// Which claim of the ID token names the remit staff member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The subject, linked to a staff member by an administrator.
    Subject,
    /// The provider's username, the same as remit's (for providers whose users cannot choose or change it).
    PreferredUsername,
}

impl Claim {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "sub" => Ok(Self::Subject),
            "preferred_username" => Ok(Self::PreferredUsername),
            other => Err(format!(
                "`{other}` is not a claim remit maps to staff: sub or preferred_username"
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::PreferredUsername => "preferred_username",
            Self::Subject => "sub",
        }
    }
}

/// Who the provider signed in: the configured claim's value, and the ID token as received (for sign-out).
pub(crate) struct SignedIn {
    pub(crate) claim: Claim,
    pub(crate) value: String,
    pub(crate) id_token: String,
}

/// What the administrator configures. (Not `Debug`: it holds the client secret.)
#[derive(Clone)]
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
    client: std::sync::RwLock<std::sync::Arc<Client>>,
    /// When the provider's metadata and keys were last read.
    read_at: std::sync::Mutex<std::time::Instant>,
    settings: Settings,
    http: openidconnect::reqwest::Client,
    pub(crate) label: String,
    end_session: Option<String>,
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
        let (client, end_session) = read_provider(&s, &http).await?;
        Ok(Self {
            client: std::sync::RwLock::new(std::sync::Arc::new(client)),
            read_at: std::sync::Mutex::new(std::time::Instant::now()),
            label: s.label.clone(),
            settings: s,
            http,
            end_session,
        })
    }

    fn client(&self) -> std::sync::Arc<Client> {
        self.client
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the provider's metadata and keys again, unless they were read in the last minute: `true` when read.
    async fn reread(&self) -> Result<bool, String> {
        {
            let mut at = self.read_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if at.elapsed() < std::time::Duration::from_secs(60) {
                return Ok(false);
            }
            *at = std::time::Instant::now();
        }
        let (client, _) = read_provider(&self.settings, &self.http).await?;
        *self.client.write().unwrap_or_else(std::sync::PoisonError::into_inner) = std::sync::Arc::new(client);
        Ok(true)
    }

    /// Begins a sign-in: the provider's URL to send the browser to, and the flow to keep under its state.
    pub(crate) fn begin(&self, next: &str) -> (String, String, remit_store::session::OidcFlow) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = self.client();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_prompt(openidconnect::core::CoreAuthPrompt::Login)
            .set_pkce_challenge(challenge)
            .url();
        let flow = remit_store::session::OidcFlow {
            verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
            next: next.to_owned(),
        };
        (url.to_string(), state.secret().clone(), flow)
    }

    /// Finishes a sign-in: exchanges the code, checks the ID token, and answers who it names; an error says in words
    /// what failed (never the token).
    pub(crate) async fn finish(&self, code: &str, flow: &remit_store::session::OidcFlow) -> Result<SignedIn, String> {
        let client = self.client();
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| format!("the provider has no token endpoint: {e}"))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| format!("the provider did not exchange the code: {}", chain(&e)))?;
        let id_token = token
            .id_token()
            .ok_or_else(|| "the provider gave no ID token".to_owned())?;
        let nonce = Nonce::new(flow.nonce.clone());
        let (client, claims) = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(c) => (client.clone(), c.clone()),
            // Perhaps signed with a key published since remit read them: read them again (once a minute at most).
            Err(first) => {
                if !self.reread().await? {
                    return Err(format!("the ID token did not pass its checks: {}", chain(&first)));
                }
                let client = self.client();
                let claims = id_token
                    .claims(&client.id_token_verifier(), &nonce)
                    .map_err(|e| format!("the ID token did not pass its checks: {}", chain(&e)))?
                    .clone();
                (client, claims)
            }
        };
        let claim = self.settings.claim;
        let value = match claim {
            Claim::PreferredUsername => claims.preferred_username().map(|u| u.as_str().to_owned()),
            Claim::Subject => Some(claims.subject().as_str().to_owned()),
        };
        let value = match value {
            Some(v) => v,
            None => {
                // Not in the ID token: the provider's UserInfo, for the same subject (the library checks it).
                let info: openidconnect::core::CoreUserInfoClaims = client
                    .user_info(token.access_token().to_owned(), Some(claims.subject().clone()))
                    .map_err(|e| {
                        format!(
                            "the ID token has no `{}` claim and the provider no UserInfo endpoint: {e}",
                            claim.name()
                        )
                    })?
                    .request_async(&self.http)
                    .await
                    .map_err(|e| format!("the provider's UserInfo did not answer: {}", chain(&e)))?;
                info.preferred_username()
                    .map(|u| u.as_str().to_owned())
                    .ok_or_else(|| format!("neither the ID token nor UserInfo has a `{}` claim", claim.name()))?
            }
        };
        Ok(SignedIn {
            claim,
            value,
            id_token: id_token.to_string(),
        })
    }

    /// The origin of the provider's end-session endpoint, which sign-out's form is redirected to (for the page's
    /// `form-action`).
    pub(crate) fn end_session_origin(&self) -> Option<String> {
        let url = openidconnect::url::Url::parse(self.end_session.as_deref()?).ok()?;
        Some(url.origin().ascii_serialization())
    }

    /// Where to send the browser after remit's sign-out: the provider's end-session endpoint (with the session's ID
    /// token as the hint, where it began at the provider), or remit's sign-in.
    pub(crate) fn after_sign_out(&self, id_token: Option<&str>) -> String {
        match &self.end_session {
            Some(end) => {
                let mut query = form_urlencoded::Serializer::new(String::new());
                query
                    .append_pair("client_id", &self.settings.client_id)
                    .append_pair("post_logout_redirect_uri", &self.settings.post_logout_url);
                if let Some(t) = id_token {
                    query.append_pair("id_token_hint", t);
                }
                let query = query.finish();
                let sep = if end.contains('?') { '&' } else { '?' };
                format!("{end}{sep}{query}")
            }
            None => "/login".to_owned(),
        }
    }
}

/// The client for the provider as its discovery document now describes it, and its end-session endpoint.
async fn read_provider(
    s: &Settings,
    http: &openidconnect::reqwest::Client,
) -> Result<(Client, Option<String>), String> {
    let issuer = IssuerUrl::new(s.issuer.clone()).map_err(|e| format!("--oidc-issuer `{}`: {e}", s.issuer))?;
    let meta = ProviderMetadataWithLogout::discover_async(issuer, http)
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
        Some(ClientSecret::new(s.client_secret.clone())),
    )
    .set_redirect_uri(redirect);
    Ok((client, end_session))
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
pub(crate) fn state_cookie(headers: &axum::http::HeaderMap, secure: bool) -> Option<String> {
    crate::http::auth::cookie(headers, state_cookie_name(secure))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_claims_remit_reads_are_taken() {
        assert_eq!(Claim::parse("sub").unwrap(), Claim::Subject);
        assert!(Claim::parse("email").unwrap_err().contains("preferred_username"));
    }
}
