//! Authentication of the HTTP APIs, the same way in every service.
//!
//! # Configuration
//!
//! [`AuthSettings`] adds two flags to a service (flattened into its settings):
//! `--api-keys` / `API_KEYS` and `--bearer-tokens` / `BEARER_TOKENS`, each a comma-separated
//! list of credentials. A credential is `<name>:<secret>`, or `<name>:sha256:<64 hex digits>`
//! to give only the SHA-256 of the secret (so the configuration need not hold it):
//!
//! ```text
//! API_KEYS=shop:3c1f9a...,crm:sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//! ```
//!
//! The name identifies the client in logs and audit records (it is never secret); the secret
//! is 1 to 4096 visible ASCII characters without spaces (what a header can carry).
//!
//! # Header rules
//!
//! * `X-Api-Key: <key>` is checked against the API keys only; `Authorization: Bearer <token>`
//!   (scheme case-insensitive) against the bearer tokens only.
//! * Exactly one of the two headers: none is `missing`, both is `malformed` (ambiguous), as is
//!   another `Authorization` scheme, an empty value, or one with spaces or non-ASCII bytes.
//! * Every failure is `401` with `WWW-Authenticate: Bearer realm="<service>"` (plus
//!   `error="invalid_request"` / `error="invalid_token"` as RFC 6750 has it) and the JSON
//!   error shape `{"error": "unauthorized", "message": "..."}`; the message says what was wrong
//!   with the request, never which credential nearly matched.
//!
//! Secrets are kept only as SHA-256 digests, compared in constant time against every
//! configured credential (no early exit), and never logged: the `Debug` impls print the
//! names only.
//!
//! # Use
//!
//! [`Authenticator::protect`] wraps a router's routes in the middleware; handlers take the
//! [`Principal`] (the client's name and scheme) as an extractor. A service with more
//! credentials than the configuration (edi-gateway's per-partner keys) reads the
//! [`Presented`] credential itself and asks [`Authenticator::verify`] first.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use sha2::{Digest, Sha256};

use crate::http::ApiError;

/// Header carrying an API key (header names are case-insensitive).
pub const API_KEY_HEADER: &str = "x-api-key";

/// Longest secret accepted, in bytes (a header line must hold it).
pub const MAX_SECRET_LEN: usize = 4096;

/// How a credential was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `X-Api-Key: <key>`.
    ApiKey,
    /// `Authorization: Bearer <token>`.
    Bearer,
}

impl Scheme {
    /// `api_key` or `bearer` (bounded, usable as a metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::ApiKey => "api_key",
            Scheme::Bearer => "bearer",
        }
    }
}

/// A configured secret, kept only as its SHA-256 digest. Two secrets are equal when their
/// digests are (a secret in the clear equals its hash).
#[derive(Clone)]
pub struct Secret {
    digest: [u8; 32],
    /// Length of the plain secret when it was configured in the clear (for length rules).
    plain_len: Option<usize>,
}

impl Secret {
    /// A secret given in the clear.
    pub fn plain(secret: &str) -> Self {
        Self {
            digest: sha256(secret.as_bytes()),
            plain_len: Some(secret.len()),
        }
    }

    /// A secret given as the hex SHA-256 of its bytes (64 hex digits, either case).
    pub fn sha256_hex(hex: &str) -> Result<Self, String> {
        parse_sha256_hex(hex)
            .map(Self::from_digest)
            .ok_or_else(|| "sha256: must be followed by 64 hex digits".to_owned())
    }

    /// A secret given as its SHA-256 digest.
    pub fn from_digest(digest: [u8; 32]) -> Self {
        Self {
            digest,
            plain_len: None,
        }
    }

    /// The secret's length when it was configured in the clear; `None` for a hash.
    pub fn plain_len(&self) -> Option<usize> {
        self.plain_len
    }

    fn matches(&self, digest: &[u8; 32]) -> bool {
        ct_eq(&self.digest, digest)
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.digest, &other.digest)
    }
}

impl Eq for Secret {}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::plain(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret::plain(&s)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// One configured credential: the client's name and its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The client's name (logs, audit, order-intake's `submitted_by`).
    pub name: String,
    /// The API key or bearer token.
    pub secret: Secret,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("name", &self.name)
            .field("secret", &"***")
            .finish()
    }
}

/// The format of a credential, for error messages and flag help.
pub const CREDENTIAL_FORMAT: &str = "<name>:<secret> or <name>:sha256:<64 hex digits>";

impl FromStr for Credential {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let Some((name, rest)) = s.split_once(':') else {
            return Err(format!("expected {CREDENTIAL_FORMAT}"));
        };
        let (name, rest) = (name.trim(), rest.trim());
        if name.is_empty() || rest.is_empty() {
            return Err(format!("expected {CREDENTIAL_FORMAT}"));
        }
        if name.chars().any(char::is_control) {
            return Err("the name must not contain control characters".to_owned());
        }
        let secret = match rest.strip_prefix("sha256:") {
            Some(hex) => Secret::sha256_hex(hex.trim())?,
            None => {
                if let Err(why) = check_token(rest) {
                    return Err(format!("the secret of {name} {why}"));
                }
                Secret::plain(rest)
            }
        };
        Ok(Credential {
            name: name.to_owned(),
            secret,
        })
    }
}

/// clap value parser of a credential.
pub fn parse_credential(s: &str) -> Result<Credential, String> {
    s.parse()
}

/// The authentication flags every HTTP service takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AuthSettings {
    /// API keys accepted in the `X-Api-Key` header: comma-separated `<name>:<key>`, or
    /// `<name>:sha256:<64 hex digits>` to configure only the key's SHA-256. The name
    /// identifies the client in logs and audit (order-intake records it as `submitted_by`).
    /// Never logged.
    #[arg(long = "api-keys", env = "API_KEYS", value_delimiter = ',', value_parser = parse_credential, hide_env_values = true)]
    pub api_keys: Vec<Credential>,

    /// Bearer tokens accepted in the `Authorization: Bearer <token>` header, in the same
    /// format as `--api-keys` (`<name>:<token>` or `<name>:sha256:<64 hex digits>`). Never
    /// logged.
    #[arg(long = "bearer-tokens", env = "BEARER_TOKENS", value_delimiter = ',', value_parser = parse_credential, hide_env_values = true)]
    pub bearer_tokens: Vec<Credential>,
}

impl AuthSettings {
    /// No credential at all.
    pub fn is_empty(&self) -> bool {
        self.api_keys.is_empty() && self.bearer_tokens.is_empty()
    }

    /// The name of the first credential given in the clear with fewer than `min` characters.
    pub fn shorter_than(&self, min: usize) -> Option<&str> {
        self.api_keys
            .iter()
            .chain(&self.bearer_tokens)
            .find(|c| c.secret.plain_len().is_some_and(|l| l < min))
            .map(|c| c.name.as_str())
    }
}

/// The authenticated client, in the request's extensions once the middleware let it through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    name: Arc<str>,
    scheme: Scheme,
}

impl Principal {
    /// A principal (for services that authenticate against more than the configuration).
    pub fn new(name: impl Into<Arc<str>>, scheme: Scheme) -> Self {
        Self {
            name: name.into(),
            scheme,
        }
    }

    /// The client's configured name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How the credential was presented.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Unauthorized;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Unauthorized> {
        // Only a route behind `Authenticator::protect` has one; anything else is refused.
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(Unauthorized {
                realm: Arc::from("api"),
                failure: AuthFailure::Missing,
            })
    }
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// Neither header.
    Missing,
    /// A header that breaks the rules (the reason says which).
    Malformed(&'static str),
    /// A well-formed credential that is not configured.
    Invalid(Scheme),
}

impl AuthFailure {
    /// What the client is told.
    pub fn message(&self) -> &'static str {
        match self {
            AuthFailure::Missing => {
                "a valid API key (X-Api-Key) or bearer token (Authorization: Bearer) is required"
            }
            AuthFailure::Malformed(why) => why,
            AuthFailure::Invalid(Scheme::ApiKey) => "the API key (X-Api-Key) is not valid",
            AuthFailure::Invalid(Scheme::Bearer) => "the bearer token is not valid",
        }
    }
}

/// The credential a request carries, already hashed (the plain secret is not kept).
#[derive(Clone)]
pub struct Presented {
    scheme: Scheme,
    digest: [u8; 32],
}

impl fmt::Debug for Presented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presented")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl Presented {
    /// The credential of a request, by the header rules of this module.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, AuthFailure> {
        let authorization = one(
            headers,
            header::AUTHORIZATION.as_str(),
            "the Authorization header is repeated",
            "the Authorization header must be visible ASCII",
        )?;
        let api_key = one(
            headers,
            API_KEY_HEADER,
            "the X-Api-Key header is repeated",
            "the X-Api-Key header must be visible ASCII without spaces",
        )?;
        let (scheme, secret) = match (authorization, api_key) {
            (Some(_), Some(_)) => {
                return Err(AuthFailure::Malformed(
                    "send either X-Api-Key or Authorization: Bearer, not both",
                ))
            }
            (None, None) => return Err(AuthFailure::Missing),
            (None, Some(key)) => (Scheme::ApiKey, key),
            (Some(value), None) => (Scheme::Bearer, bearer_token(value)?),
        };
        if let Err(why) = check_token(secret) {
            return Err(AuthFailure::Malformed(match (scheme, why) {
                (Scheme::ApiKey, TokenError::Empty) => "the X-Api-Key header is empty",
                (Scheme::ApiKey, TokenError::Chars) => {
                    "the X-Api-Key header must be visible ASCII without spaces"
                }
                (Scheme::ApiKey, TokenError::Long) => "the X-Api-Key header is too long",
                (Scheme::Bearer, TokenError::Empty) => "the bearer token is empty",
                (Scheme::Bearer, TokenError::Chars) => {
                    "the bearer token must be visible ASCII without spaces"
                }
                (Scheme::Bearer, TokenError::Long) => "the bearer token is too long",
            }));
        }
        Ok(Self {
            scheme,
            digest: sha256(secret.as_bytes()),
        })
    }

    /// How it was presented.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Whether its SHA-256 is `digest` (constant time).
    pub fn matches_digest(&self, digest: &[u8; 32]) -> bool {
        ct_eq(&self.digest, digest)
    }

    /// The configured credential it matches, if any. Every credential is compared, so the
    /// time taken does not tell which one nearly matched.
    fn find<'a>(&self, creds: &'a [Credential]) -> Option<&'a Credential> {
        let mut found = None;
        for c in creds {
            if c.secret.matches(&self.digest) && found.is_none() {
                found = Some(c);
            }
        }
        found
    }
}

/// At most one value of a header, as a trimmed string (None when absent).
fn one<'a>(
    headers: &'a HeaderMap,
    name: &str,
    repeated: &'static str,
    not_ascii: &'static str,
) -> Result<Option<&'a str>, AuthFailure> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthFailure::Malformed(repeated));
    }
    first
        .to_str()
        .map(|v| Some(v.trim()))
        .map_err(|_| AuthFailure::Malformed(not_ascii))
}

fn bearer_token(value: &str) -> Result<&str, AuthFailure> {
    let (scheme, token) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthFailure::Malformed(
            "the Authorization scheme must be Bearer",
        ));
    }
    Ok(token.trim())
}

enum TokenError {
    Empty,
    Chars,
    Long,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenError::Empty => "is empty",
            TokenError::Chars => "must be visible ASCII without spaces",
            TokenError::Long => "is longer than 4096 bytes",
        })
    }
}

fn check_token(s: &str) -> Result<(), TokenError> {
    if s.is_empty() {
        Err(TokenError::Empty)
    } else if s.len() > MAX_SECRET_LEN {
        Err(TokenError::Long)
    } else if !s.bytes().all(|b| b.is_ascii_graphic()) {
        Err(TokenError::Chars)
    } else {
        Ok(())
    }
}

/// A `401` answer: JSON error shape and `WWW-Authenticate`.
#[derive(Debug, Clone)]
pub struct Unauthorized {
    realm: Arc<str>,
    failure: AuthFailure,
}

impl Unauthorized {
    /// Why.
    pub fn failure(&self) -> &AuthFailure {
        &self.failure
    }
}

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        let mut challenge = format!("Bearer realm=\"{}\"", self.realm);
        match self.failure {
            AuthFailure::Missing => {}
            AuthFailure::Malformed(_) => challenge.push_str(", error=\"invalid_request\""),
            AuthFailure::Invalid(_) => challenge.push_str(", error=\"invalid_token\""),
        }
        let mut resp = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            self.failure.message(),
        )
        .into_response();
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

/// Checks requests against the configured credentials. Cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    realm: Arc<str>,
    api_keys: Vec<Credential>,
    bearer_tokens: Vec<Credential>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |c: &[Credential]| c.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        f.debug_struct("Authenticator")
            .field("realm", &self.inner.realm)
            .field("api_keys", &names(&self.inner.api_keys))
            .field("bearer_tokens", &names(&self.inner.bearer_tokens))
            .finish()
    }
}

impl Authenticator {
    /// The credentials of `settings`; `realm` (the service's name) goes into
    /// `WWW-Authenticate`.
    pub fn new(realm: &str, settings: &AuthSettings) -> Self {
        Self::with_credentials(
            realm,
            settings.api_keys.clone(),
            settings.bearer_tokens.clone(),
        )
    }

    /// Explicit lists of API keys and bearer tokens.
    pub fn with_credentials(
        realm: &str,
        api_keys: Vec<Credential>,
        bearer_tokens: Vec<Credential>,
    ) -> Self {
        let realm: String = realm
            .chars()
            .filter(|c| (c.is_ascii_graphic() && *c != '"' && *c != '\\') || *c == ' ')
            .collect();
        Self {
            inner: Arc::new(Inner {
                realm: realm.into(),
                api_keys,
                bearer_tokens,
            }),
        }
    }

    /// The configured client a presented credential belongs to, if any.
    pub fn verify(&self, presented: &Presented) -> Option<Principal> {
        let creds = match presented.scheme {
            Scheme::ApiKey => &self.inner.api_keys,
            Scheme::Bearer => &self.inner.bearer_tokens,
        };
        presented
            .find(creds)
            .map(|c| Principal::new(c.name.as_str(), presented.scheme))
    }

    /// The client a request comes from, or the `401` to answer.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, Unauthorized> {
        let presented = Presented::from_headers(headers).map_err(|f| self.unauthorized(f))?;
        self.verify(&presented)
            .ok_or_else(|| self.unauthorized(AuthFailure::Invalid(presented.scheme)))
    }

    /// The `401` answer for `failure`.
    pub fn unauthorized(&self, failure: AuthFailure) -> Unauthorized {
        Unauthorized {
            realm: Arc::clone(&self.inner.realm),
            failure,
        }
    }

    /// `router`'s routes (those added so far) answer `401` unless the request authenticates;
    /// their handlers can take the [`Principal`].
    pub fn protect<S: Clone + Send + Sync + 'static>(&self, router: Router<S>) -> Router<S> {
        router.route_layer(middleware::from_fn_with_state(self.clone(), require))
    }
}

async fn require(State(auth): State<Authenticator>, mut req: Request, next: Next) -> Response {
    match auth.authenticate(req.headers()) {
        Ok(principal) => {
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        Err(e) => {
            tracing::debug!(reason = e.failure.message(), "request not authenticated");
            e.into_response()
        }
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Equality of two digests without an early exit.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// Parses 64 hex digits (either case) into a SHA-256 digest.
pub fn parse_sha256_hex(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests;
