//! Who is calling, decided here and nowhere else. Deployed (`AUTH_MODE=jwt`), API Gateway's JWT
//! authorizer has verified the caller's token and put its claims in the request context: the user is a
//! claim (`sub`), the roles come from the groups claim (`cognito:groups`), and any `x-user-id` header is
//! ignored. On one machine (`AUTH_MODE=header`: `make run`, `make dev`, the tests) the caller names
//! itself in `x-user-id`, and an operator says so in `x-user-roles: operator`. On a route API Gateway
//! leaves open, a bearer token is verified here instead ([`super::token`]).

use std::collections::HashMap;
use std::sync::Arc;

use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use ticketing_core::domain::{Clock, SystemClock, UserId};

use super::token::TokenVerifier;
use super::ApiError;

/// How the caller is decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// From the claims of a token API Gateway verified.
    Jwt {
        /// The claim that names the user (`sub`).
        user_claim: String,
        /// The claim that lists the user's groups (`cognito:groups`).
        groups_claim: String,
        /// The group whose members are operators (`operators`).
        operator_group: String,
        /// On the routes open to anyone, where no authorizer runs: verifies a bearer token itself
        /// (none: such a route treats every caller as anonymous).
        open_routes: Option<Arc<TokenVerifier>>,
    },
    /// From `x-user-id` and `x-user-roles`, which anyone can write: for one machine only.
    Header,
}

impl AuthMode {
    /// JWT claims as a Cognito user pool issues them.
    pub fn cognito() -> Self {
        Self::Jwt {
            user_claim: "sub".to_owned(),
            groups_claim: "cognito:groups".to_owned(),
            operator_group: "operators".to_owned(),
            open_routes: None,
        }
    }
}

/// What a caller may do. Every authenticated caller is a customer; some are operators too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Customer,
    Operator,
}

/// The authenticated caller of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user: UserId,
    operator: bool,
}

impl Caller {
    pub fn has(&self, role: Role) -> bool {
        match role {
            Role::Customer => true,
            Role::Operator => self.operator,
        }
    }

    /// `403 FORBIDDEN` unless the caller has `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.has(role) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "this route is for operators",
            ))
        }
    }
}

fn unauthenticated(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message)
}

fn user(raw: &str) -> Result<UserId, ApiError> {
    UserId::try_from(raw).map_err(|e| ApiError::bad_request("INVALID_USER_ID", e.to_string()))
}

impl AuthMode {
    /// The caller of `req` on a route open to anyone: `None` when it presents no credential at all;
    /// a credential that is there but not valid (an empty `x-user-id`, a bearer token that does not
    /// verify) is refused as on any route.
    pub async fn optional_caller(&self, req: &Request) -> Result<Option<Caller>, ApiError> {
        let presented = match self {
            Self::Jwt { open_routes, .. } if jwt_claims(req).is_none() => {
                let (Some(verifier), Some(token)) = (open_routes, bearer(req)) else {
                    return Ok(None);
                };
                let now = SystemClock.now().as_millis() / 1000;
                let claims = verifier
                    .verify(token, now)
                    .await
                    .map_err(|e| unauthenticated(&e.to_string()))?;
                return self.caller_in(&claims).map(Some);
            }
            Self::Jwt { .. } => true,
            Self::Header => req.headers().contains_key("x-user-id"),
        };
        if !presented {
            return Ok(None);
        }
        self.caller(req).map(Some).map_err(|e| {
            if e.status == StatusCode::UNAUTHORIZED {
                ApiError::bad_request("INVALID_USER_ID", e.message)
            } else {
                e
            }
        })
    }

    /// The caller of `req`: `401 UNAUTHENTICATED` when there is none.
    pub fn caller(&self, req: &Request) -> Result<Caller, ApiError> {
        match self {
            Self::Jwt { .. } => {
                let claims = jwt_claims(req).ok_or_else(|| unauthenticated("a valid bearer token is required"))?;
                self.caller_in(claims)
            }
            Self::Header => {
                let raw = header(req, "x-user-id")?.unwrap_or("");
                if raw.is_empty() {
                    return Err(unauthenticated("the x-user-id header is required"));
                }
                let operator =
                    header(req, "x-user-roles")?.is_some_and(|roles| group_list(roles).any(|r| r == "operator"));
                Ok(Caller {
                    user: user(raw)?,
                    operator,
                })
            }
        }
    }
}

impl AuthMode {
    /// The caller a verified token's claims name.
    fn caller_in(&self, claims: &HashMap<String, String>) -> Result<Caller, ApiError> {
        let Self::Jwt {
            user_claim,
            groups_claim,
            operator_group,
            ..
        } = self
        else {
            return Err(unauthenticated("tokens are not accepted here"));
        };
        let subject = claims
            .get(user_claim)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| unauthenticated("the token names no user"))?;
        let operator = claims
            .get(groups_claim)
            .is_some_and(|groups| group_list(groups).any(|g| g == operator_group));
        Ok(Caller {
            user: user(subject)?,
            operator,
        })
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get("authorization")?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A header's value, trimmed; `400 INVALID_USER_ID` when it is not printable text.
fn header<'r>(req: &'r Request, name: &str) -> Result<Option<&'r str>, ApiError> {
    req.headers()
        .get(name)
        .map(|v| v.to_str().map(str::trim))
        .transpose()
        .map_err(|_| ApiError::bad_request("INVALID_USER_ID", format!("{name} must be printable text")))
}

/// The claims API Gateway's JWT authorizer verified, if it ran.
fn jwt_claims(req: &Request) -> Option<&HashMap<String, String>> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => Some(&context.authorizer.as_ref()?.jwt.as_ref()?.claims),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The entries of a list claim or header: HTTP APIs pass an array claim as `[a b]`; a JSON array, a
/// comma-separated list and a single value read the same.
fn group_list(raw: &str) -> impl Iterator<Item = &str> {
    raw.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|g| g.trim_matches('"'))
        .filter(|g| !g.is_empty())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use lambda_http::aws_lambda_events::apigw::{
        ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription, ApiGatewayV2httpRequestContext,
    };
    use lambda_http::Body;

    use super::*;

    fn request(headers: &[(&str, &str)], claims: Option<&[(&str, &str)]>) -> Request {
        let mut builder = lambda_http::http::Request::builder().uri("http://localhost/bookings/my");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let req = builder.body(Body::Empty).expect("request");
        let Some(claims) = claims else {
            return req;
        };
        let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
        jwt.claims = claims
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<HashMap<_, _>>();
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.jwt = Some(jwt);
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.authorizer = Some(authorizer);
        req.with_request_context(RequestContext::ApiGatewayV2(context))
    }

    fn code(result: Result<Caller, ApiError>) -> (StatusCode, &'static str) {
        let e = result.expect_err("refused");
        (e.status, e.code)
    }

    #[test]
    fn under_jwt_the_claims_decide_the_caller_and_the_header_is_ignored() {
        let req = request(&[("x-user-id", "someone_else")], Some(&[("sub", "user-123")]));
        let caller = AuthMode::cognito().caller(&req).expect("a caller");
        assert_eq!(caller.user.as_str(), "user-123");
        assert!(caller.has(Role::Customer) && !caller.has(Role::Operator));
    }

    #[test]
    fn under_jwt_a_request_without_claims_is_unauthenticated_whatever_its_headers() {
        let req = request(&[("x-user-id", "user_test_001"), ("x-user-roles", "operator")], None);
        assert_eq!(
            code(AuthMode::cognito().caller(&req)),
            (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED")
        );
        let no_subject = request(&[], Some(&[("email", "a@b.c")]));
        assert_eq!(
            code(AuthMode::cognito().caller(&no_subject)),
            (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED")
        );
    }

    #[test]
    fn under_jwt_operators_are_the_members_of_the_operator_group() {
        for groups in [
            "[operators]",
            "[customers operators]",
            r#"["customers","operators"]"#,
            "operators",
        ] {
            let req = request(&[], Some(&[("sub", "op-1"), ("cognito:groups", groups)]));
            let caller = AuthMode::cognito().caller(&req).expect("a caller");
            assert!(caller.has(Role::Operator), "{groups}");
        }
        let req = request(
            &[],
            Some(&[("sub", "u-1"), ("cognito:groups", "[operators-in-training]")]),
        );
        assert!(!AuthMode::cognito().caller(&req).expect("a caller").has(Role::Operator));
        // A role header means nothing under jwt.
        let req = request(&[("x-user-roles", "operator")], Some(&[("sub", "u-1")]));
        assert!(!AuthMode::cognito().caller(&req).expect("a caller").has(Role::Operator));
    }

    #[test]
    fn the_claim_names_are_configurable() {
        let mode = AuthMode::Jwt {
            user_claim: "email".to_owned(),
            groups_claim: "roles".to_owned(),
            operator_group: "box-office".to_owned(),
            open_routes: None,
        };
        let req = request(
            &[],
            Some(&[("sub", "x"), ("email", "ann@example.com"), ("roles", "[box-office]")]),
        );
        let caller = mode.caller(&req).expect("a caller");
        assert_eq!(caller.user.as_str(), "ann@example.com");
        assert!(caller.has(Role::Operator));
    }

    #[test]
    fn under_header_the_caller_names_itself() {
        let req = request(&[("x-user-id", "user_test_001")], None);
        let caller = AuthMode::Header.caller(&req).expect("a caller");
        assert_eq!(caller.user.as_str(), "user_test_001");
        assert!(!caller.has(Role::Operator));
        let operator = request(&[("x-user-id", "ops"), ("x-user-roles", "customer, operator")], None);
        assert!(AuthMode::Header
            .caller(&operator)
            .expect("a caller")
            .has(Role::Operator));
        assert_eq!(
            code(AuthMode::Header.caller(&request(&[], None))),
            (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED")
        );
        assert_eq!(
            code(AuthMode::Header.caller(&request(&[("x-user-id", "bad user")], None))),
            (StatusCode::BAD_REQUEST, "INVALID_USER_ID")
        );
    }

    #[test]
    fn a_customer_on_an_operator_route_is_forbidden() {
        let customer = AuthMode::Header
            .caller(&request(&[("x-user-id", "user_test_001")], None))
            .expect("a caller");
        let refused = customer.require(Role::Operator).expect_err("forbidden");
        assert_eq!((refused.status, refused.code), (StatusCode::FORBIDDEN, "FORBIDDEN"));
        assert!(customer.require(Role::Customer).is_ok());
    }
}
