//! Bearer tokens on the routes API Gateway leaves open (browsing performances): deployed no authorizer
//! runs there, so the function verifies an operator's token itself against the issuer's keys (JWKS),
//! served here by a local issuer.

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use ticketing_aws::http::{AuthMode, TokenError, TokenVerifier};
use ticketing_testkit::http_server::serve;
use ticketing_testkit::test_app::{memory, request, with_token, Setup};
use tokio::net::TcpListener;

const AUDIENCE: &str = "client-123";

/// An issuer: its key, served as a JWKS on a local port.
struct Issuer {
    url: String,
    key: Arc<KeyPair>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Issuer {
    async fn start() -> Self {
        let key = Arc::new(KeyPair::generate(KeySize::Rsa2048).expect("an RSA key"));
        let public = key.public_key();
        let jwks = json!({"keys": [{
            "kid": "k1", "kty": "RSA", "alg": "RS256", "use": "sig",
            "n": b64(public.modulus().big_endian_without_leading_zero()),
            "e": b64(public.exponent().big_endian_without_leading_zero()),
        }]})
        .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        tokio::spawn(serve(listener, move |req: Request| {
            let jwks = jwks.clone();
            async move {
                let mut response = Response::new(Body::Text(jwks));
                if req.uri().path() != "/.well-known/jwks.json" {
                    *response.status_mut() = StatusCode::NOT_FOUND;
                }
                response
            }
        }));
        Self { url, key }
    }

    /// A token with `claims` (the issuer's `iss` unless they say otherwise), signed with its key.
    fn token(&self, claims: Value) -> String {
        let mut claims = claims;
        if claims.get("iss").is_none() {
            claims["iss"] = json!(self.url);
        }
        let header = b64(json!({"alg": "RS256", "kid": "k1", "typ": "JWT"})
            .to_string()
            .as_bytes());
        let payload = b64(claims.to_string().as_bytes());
        let signed = format!("{header}.{payload}");
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signed.as_bytes(),
                &mut signature,
            )
            .expect("signed");
        format!("{signed}.{}", b64(&signature))
    }

    fn verifier(&self) -> TokenVerifier {
        TokenVerifier::new(self.url.clone(), AUDIENCE.to_owned()).expect("a verifier")
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn operator_claims() -> Value {
    json!({"sub": "op_1", "aud": AUDIENCE, "cognito:groups": ["operators"], "exp": now() + 600, "token_use": "id"})
}

#[tokio::test]
async fn a_token_of_the_issuer_for_the_audience_is_accepted_with_its_claims() {
    let issuer = Issuer::start().await;
    let claims = issuer
        .verifier()
        .verify(&issuer.token(operator_claims()), now())
        .await
        .expect("valid");
    assert_eq!(claims["sub"], "op_1");
    assert_eq!(claims["cognito:groups"], r#"["operators"]"#);
    // A Cognito access token names its client in client_id instead of aud.
    let access = json!({"sub": "op_1", "client_id": AUDIENCE, "exp": now() + 600, "token_use": "access"});
    assert!(issuer.verifier().verify(&issuer.token(access), now()).await.is_ok());
}

#[tokio::test]
async fn a_token_that_is_late_foreign_forged_or_malformed_is_refused() {
    let issuer = Issuer::start().await;
    let verifier = issuer.verifier();
    let mut expired = operator_claims();
    expired["exp"] = json!(now() - 120);
    let mut elsewhere = operator_claims();
    elsewhere["aud"] = json!("another-client");
    let mut foreign = operator_claims();
    foreign["iss"] = json!("https://issuer.example");
    let cases = [
        (issuer.token(expired), TokenError::Expired),
        (issuer.token(elsewhere), TokenError::Audience),
        (issuer.token(foreign), TokenError::Issuer),
        ("not.a-token".to_owned(), TokenError::Malformed),
    ];
    for (token, expected) in cases {
        assert_eq!(verifier.verify(&token, now()).await, Err(expected));
    }
    let token = issuer.token(operator_claims());
    let (signed, _) = token.rsplit_once('.').expect("three parts");
    let forged = format!("{signed}.{}", b64(&[7; 256]));
    assert_eq!(verifier.verify(&forged, now()).await, Err(TokenError::Signature));
    let mut parts: Vec<&str> = token.split('.').collect();
    let other_payload = b64(json!({"sub": "mallory", "aud": AUDIENCE, "exp": now() + 600})
        .to_string()
        .as_bytes());
    parts[1] = &other_payload;
    assert_eq!(
        verifier.verify(&parts.join("."), now()).await,
        Err(TokenError::Signature)
    );
    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none"}"#),
        b64(operator_claims().to_string().as_bytes())
    );
    assert_eq!(verifier.verify(&unsigned, now()).await, Err(TokenError::Algorithm));
}

#[tokio::test]
async fn on_the_open_routes_an_operators_token_shows_drafts_and_a_customers_does_not() {
    let issuer = Issuer::start().await;
    let auth = AuthMode::Jwt {
        user_claim: "sub".to_owned(),
        groups_claim: "cognito:groups".to_owned(),
        operator_group: "operators".to_owned(),
        open_routes: Some(Arc::new(issuer.verifier())),
    };
    let app = Setup::seats(1).auth(auth).build(memory()).await;
    let show = json!({"performanceId": "draft_1", "title": "T", "venue": "V", "startsAt": "2099-01-02T00:00:00Z",
        "salesOpenAt": "2020-01-01T00:00:00Z", "salesCloseAt": "2099-01-01T00:00:00Z", "currency": "KRW",
        "maxSeatsPerBooking": 2, "sections": [{"name": "A", "price": 10, "rows": [{"row": "A", "seats": 5}]}]});
    let create = with_token(
        request(Method::POST, "/performances", None, Some(&show.to_string())),
        "op_1",
        &["operators"],
    );
    assert_eq!(app.call(create).await.0, StatusCode::CREATED);

    let bearer = |token: &str| {
        let mut req = request(Method::GET, "/performances/draft_1", None, None);
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().expect("header"));
        req
    };
    let (status, seen) = app.call(bearer(&issuer.token(operator_claims()))).await;
    assert_eq!((status, &seen["status"]), (StatusCode::OK, &json!("draft")));
    let customer = json!({"sub": "c_1", "aud": AUDIENCE, "exp": now() + 600});
    assert_eq!(app.call(bearer(&issuer.token(customer))).await.0, StatusCode::NOT_FOUND);
    let anonymous = request(Method::GET, "/performances/draft_1", None, None);
    assert_eq!(app.call(anonymous).await.0, StatusCode::NOT_FOUND);
    let (status, refused) = app.call(bearer("forged.token.here")).await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (StatusCode::UNAUTHORIZED, &json!("UNAUTHENTICATED"))
    );

    let mut list = request(Method::GET, "/performances?status=draft", None, None);
    let token = issuer.token(operator_claims());
    list.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().expect("header"));
    let (status, drafts) = app.call(list).await;
    assert_eq!(
        (status, &drafts["performances"][0]["performanceId"]),
        (StatusCode::OK, &json!("draft_1"))
    );
}
