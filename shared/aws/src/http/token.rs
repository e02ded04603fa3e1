//! Bearer tokens verified by the function itself, for the routes API Gateway leaves open to anyone
//! (browsing performances): there no authorizer runs, so an operator's token would reach the function
//! unverified, and an operator could not see drafts. A token is accepted when it is an RS256 JWT signed
//! by one of the issuer's keys (its JWKS, `<issuer>/.well-known/jwks.json`, fetched when a key id is not
//! known yet, at most once a minute), from `JWT_ISSUER`, for `JWT_AUDIENCE` (its `aud`, or the
//! `client_id` of a Cognito access token, as API Gateway's authorizer checks), and within its `nbf` and
//! `exp`. Its claims then read as the authorizer's would.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

/// How often the keys may be fetched again for a key id they lack.
const REFETCH_AFTER: Duration = Duration::from_secs(60);
/// How far clocks may disagree.
const LEEWAY_SECONDS: i64 = 60;
/// The largest JWKS document read.
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token is not signed with RS256")]
    Algorithm,
    #[error("the token's key is not one of the issuer's")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token is from another issuer")]
    Issuer,
    #[error("the token is for another audience")]
    Audience,
    #[error("the token has expired or is not valid yet")]
    Expired,
    #[error("the issuer's keys cannot be read: {0}")]
    Keys(String),
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: Option<String>,
    kty: String,
    n: Option<String>,
    e: Option<String>,
}

struct Keys {
    by_id: HashMap<String, RsaPublicKeyComponents<Vec<u8>>>,
    fetched: Option<Instant>,
}

/// Verifies tokens of one issuer for one audience.
pub struct TokenVerifier {
    issuer: String,
    audience: String,
    jwks: hyper::Uri,
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    keys: Mutex<Keys>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl PartialEq for TokenVerifier {
    fn eq(&self, other: &Self) -> bool {
        self.issuer == other.issuer && self.audience == other.audience
    }
}

impl Eq for TokenVerifier {}

fn decode(part: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed)
}

/// A claim as API Gateway passes it on: text as is, anything else as its JSON (`["a","b"]`).
fn claim_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl TokenVerifier {
    /// Fails only when `issuer` is not a URL or the system's trusted certificates cannot be read.
    pub fn new(issuer: String, audience: String) -> Result<Self, String> {
        let jwks = format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/'))
            .parse()
            .map_err(|_| format!("JWT_ISSUER is not a URL: {issuer:?}"))?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| e.to_string())?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            issuer,
            audience,
            jwks,
            client: Client::builder(TokioExecutor::new()).build(https),
            keys: Mutex::new(Keys {
                by_id: HashMap::new(),
                fetched: None,
            }),
        })
    }

    /// The token's claims if it is valid at `now` (unix seconds).
    pub async fn verify(&self, token: &str, now: i64) -> Result<HashMap<String, String>, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let head: Header = serde_json::from_slice(&decode(header)?).map_err(|_| TokenError::Malformed)?;
        if head.alg != "RS256" {
            return Err(TokenError::Algorithm);
        }
        let key = self.key(head.kid.as_deref().unwrap_or_default()).await?;
        let signed = &token[..header.len() + 1 + payload.len()];
        key.verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &decode(signature)?)
            .map_err(|_| TokenError::Signature)?;
        let claims: serde_json::Map<String, Value> =
            serde_json::from_slice(&decode(payload)?).map_err(|_| TokenError::Malformed)?;
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(TokenError::Issuer);
        }
        let audience = match claims.get("aud") {
            Some(Value::String(aud)) => aud == &self.audience,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(self.audience.as_str())),
            _ => claims.get("client_id").and_then(Value::as_str) == Some(self.audience.as_str()),
        };
        if !audience {
            return Err(TokenError::Audience);
        }
        let expires = claims.get("exp").and_then(Value::as_i64).ok_or(TokenError::Expired)?;
        let not_before = claims.get("nbf").and_then(Value::as_i64).unwrap_or(i64::MIN);
        if now >= expires + LEEWAY_SECONDS || now + LEEWAY_SECONDS < not_before {
            return Err(TokenError::Expired);
        }
        Ok(claims.iter().map(|(k, v)| (k.clone(), claim_text(v))).collect())
    }

    /// The issuer's key `kid`, fetching the keys when it is not known (and they were not fetched within
    /// the last minute).
    async fn key(&self, kid: &str) -> Result<RsaPublicKeyComponents<Vec<u8>>, TokenError> {
        let mut keys = self.keys.lock().await;
        if let Some(key) = keys.by_id.get(kid) {
            return Ok(key.clone());
        }
        if keys.fetched.is_some_and(|at| at.elapsed() < REFETCH_AFTER) {
            return Err(TokenError::UnknownKey);
        }
        keys.fetched = Some(Instant::now());
        keys.by_id = self.fetch().await?;
        keys.by_id.get(kid).cloned().ok_or(TokenError::UnknownKey)
    }

    async fn fetch(&self) -> Result<HashMap<String, RsaPublicKeyComponents<Vec<u8>>>, TokenError> {
        let failed = |e: &dyn std::fmt::Display| TokenError::Keys(e.to_string());
        let response = self.client.get(self.jwks.clone()).await.map_err(|e| failed(&e))?;
        if !response.status().is_success() {
            return Err(failed(&response.status()));
        }
        let body = Limited::new(response.into_body(), MAX_JWKS_BYTES)
            .collect()
            .await
            .map_err(|e| failed(&e))?
            .to_bytes();
        let jwks: Jwks = serde_json::from_slice(&body).map_err(|e| failed(&e))?;
        Ok(jwks
            .keys
            .into_iter()
            .filter(|k| k.kty == "RSA")
            .filter_map(|k| {
                let n = URL_SAFE_NO_PAD.decode(k.n?).ok()?;
                let e = URL_SAFE_NO_PAD.decode(k.e?).ok()?;
                Some((k.kid.unwrap_or_default(), RsaPublicKeyComponents { n, e }))
            })
            .collect())
    }
}
