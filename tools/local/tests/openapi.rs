//! `openapi.yaml` against the code: every documented operation is served (and nothing else is), every
//! answer the handlers give to bad input is documented, and the error codes are the documented shape.
//! Schemathesis (`scripts/schemathesis.sh`, run by `make test`) checks every body against the schemas.

use std::collections::BTreeSet;

use lambda_http::http::Method;
use ticketing_testkit::test_app::{memory, request, Setup, USER};

fn spec() -> serde_norway::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).expect("openapi.yaml")).expect("valid YAML")
}

fn operations(spec: &serde_norway::Value) -> BTreeSet<(String, String)> {
    let paths = spec["paths"].as_mapping().expect("paths");
    paths
        .iter()
        .flat_map(|(path, ops)| {
            let path = path.as_str().unwrap_or_default().to_owned();
            ops.as_mapping()
                .into_iter()
                .flatten()
                .filter_map(move |(method, _)| Some((method.as_str()?.to_uppercase(), path.clone())))
        })
        .collect()
}

#[test]
fn the_spec_is_openapi_3_1() {
    assert_eq!(spec()["openapi"].as_str(), Some("3.1.0"));
}

#[tokio::test]
async fn every_documented_operation_is_served_and_documents_its_answers() {
    let spec = spec();
    let documented = operations(&spec);
    let served: BTreeSet<(String, String)> = [
        ("POST", "/bookings"),
        ("POST", "/payments/execute"),
        ("GET", "/bookings/my"),
        ("GET", "/performances/{performanceId}/seats"),
        ("POST", "/bookings/{bookingId}/cancel"),
        ("GET", "/performances"),
        ("POST", "/performances"),
        ("GET", "/performances/{performanceId}"),
        ("PATCH", "/performances/{performanceId}"),
        ("GET", "/performances/{performanceId}/sales"),
        ("POST", "/webhooks/pg"),
    ]
    .iter()
    .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
    .collect();
    assert_eq!(documented, served, "openapi.yaml and the routes differ");

    let app = Setup::seats(10).secret("whsec_spec").build(memory()).await;
    for (method, path) in &documented {
        let concrete = path
            .replace("{performanceId}", "perf_001")
            .replace("{bookingId}", "no-such-booking");
        let method: Method = method.parse().expect("method");
        let responses = &spec["paths"][path.as_str()][method.as_str().to_lowercase().as_str()]["responses"];
        // No caller (or no signature), and a wrong method: both documented, and neither is a 404 route.
        for req in [
            request(method.clone(), &concrete, None, Some("{}")),
            request(Method::PUT, &concrete, Some(USER), None),
        ] {
            let what = format!("{} {}", req.method(), req.uri().path());
            let (status, body) = app.call(req).await;
            assert_ne!(body["error"]["code"], "NOT_FOUND", "{what} is routed");
            assert!(
                responses.get(status.as_str()).is_some(),
                "{what} answered {status}, which openapi.yaml does not document for {method} {path}"
            );
            // A public route (browsing performances) answers without a caller.
            assert!(
                status.is_success()
                    || body["error"]["code"]
                        .as_str()
                        .is_some_and(|c| c.chars().all(|c| c.is_ascii_uppercase() || c == '_')),
                "{what}: {body}"
            );
        }
    }
    let (status, _) = app.call(request(Method::GET, "/undocumented", Some(USER), None)).await;
    assert_eq!(status.as_u16(), 404);
}
