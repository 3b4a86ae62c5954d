use super::*;
use axum::body::{to_bytes, Body};
use axum::routing::get;
use clap::Parser;
use tower::ServiceExt as _;

fn hex(d: &[u8; 32]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn cred(s: &str) -> Credential {
    s.parse().expect("credential")
}

fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            HeaderValue::from_bytes(v).expect("value"),
        );
    }
    h
}

fn auth() -> Authenticator {
    let hashed = format!("crm:sha256:{}", hex(&sha256(b"s3cret-token")));
    Authenticator::with_credentials(
        "test-service",
        vec![cred("shop:key-1"), cred("erp:key-2")],
        vec![cred(&hashed), cred("bot:tok-9")],
    )
}

#[test]
fn digests_compare_in_full() {
    let a = sha256(b"a");
    let mut b = a;
    assert!(ct_eq(&a, &b));
    b[31] ^= 1;
    assert!(!ct_eq(&a, &b));
    b = a;
    b[0] ^= 0x80;
    assert!(!ct_eq(&a, &b));
}

#[test]
fn hashes_are_the_sha256_of_the_secret() {
    // The well-known SHA-256 of "test", as `sha256sum` prints it.
    let c = cred("t:sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    assert_eq!(c.secret, Secret::plain("test"));
}

#[test]
fn credentials_parse_plain_and_hashed() {
    let c = cred(" shop : key-1 ");
    assert_eq!(c.name, "shop");
    assert_eq!(c.secret, Secret::plain("key-1"));
    assert_eq!(c.secret.plain_len(), Some(5));

    let digest = sha256(b"s3cret-token");
    let c = cred(&format!("crm:sha256:{}", hex(&digest).to_uppercase()));
    assert_eq!(c.name, "crm");
    assert_eq!(c.secret, Secret::from_digest(digest));
    assert_eq!(c.secret.plain_len(), None);

    for bad in [
        "nosecret",
        ":secret",
        "name:",
        "name:  ",
        "name:sha256:abc",
        "name:sha256:",
        &format!("name:sha256:{}", "g".repeat(64)),
        "name:two words",
        "name:caf\u{e9}",
    ] {
        let err = bad.parse::<Credential>().expect_err(bad);
        assert!(!err.is_empty(), "{bad}");
    }
    assert!(
        "a:b".parse::<Credential>().is_ok(),
        "short secrets are a service's rule"
    );
    // A secret may contain ':' (only the first one separates the name).
    assert_eq!(cred("a:b:c").secret, Secret::plain("b:c"));
}

#[test]
fn secrets_never_appear_in_debug() {
    #[derive(Debug, clap::Parser)]
    struct Flags {
        #[command(flatten)]
        auth: AuthSettings,
    }
    let f = Flags::try_parse_from([
        "x",
        "--api-keys",
        "shop:very-secret-1,erp:very-secret-2",
        "--bearer-tokens",
        "crm:very-secret-3",
    ])
    .expect("flags");
    assert_eq!(f.auth.api_keys.len(), 2);
    assert_eq!(f.auth.bearer_tokens[0].name, "crm");
    let a = Authenticator::new("svc", &f.auth);
    let presented =
        Presented::from_headers(&headers(&[("x-api-key", b"very-secret-1")])).expect("presented");
    for text in [
        format!("{f:?}"),
        format!("{a:?}"),
        format!("{presented:?}"),
        format!("{:?}", f.auth.api_keys[0].secret),
    ] {
        assert!(!text.contains("very-secret"), "{text}");
    }
    assert!(format!("{a:?}").contains("shop"), "names are shown");
    assert!(Flags::try_parse_from(["x", "--api-keys", "nosecret"]).is_err());
}

#[test]
fn short_secrets_are_found_by_name() {
    let s = AuthSettings {
        api_keys: vec![cred("long:0123456789abcdef")],
        bearer_tokens: vec![
            cred("short:abc"),
            cred(&format!("h:sha256:{}", "0".repeat(64))),
        ],
    };
    assert_eq!(s.shorter_than(16), Some("short"));
    assert_eq!(s.shorter_than(3), None);
    assert!(!s.is_empty());
    assert!(AuthSettings::default().is_empty());
}

#[test]
fn header_rules() {
    let ok = |pairs: &[(&str, &[u8])]| Presented::from_headers(&headers(pairs)).map(|p| p.scheme());
    assert_eq!(ok(&[("x-api-key", b"k")]), Ok(Scheme::ApiKey));
    assert_eq!(ok(&[("X-API-KEY", b"  k  ")]), Ok(Scheme::ApiKey));
    assert_eq!(ok(&[("authorization", b"Bearer t")]), Ok(Scheme::Bearer));
    assert_eq!(ok(&[("authorization", b"bearer t")]), Ok(Scheme::Bearer));
    assert_eq!(ok(&[("authorization", b"BEARER   t ")]), Ok(Scheme::Bearer));

    assert_eq!(ok(&[]), Err(AuthFailure::Missing));
    let malformed = |pairs: &[(&str, &[u8])]| match ok(pairs) {
        Err(AuthFailure::Malformed(m)) => m,
        other => panic!("{pairs:?}: {other:?}"),
    };
    assert!(malformed(&[("x-api-key", b"k"), ("authorization", b"Bearer t")]).contains("not both"));
    assert!(malformed(&[("authorization", b"Basic dTpw")]).contains("Bearer"));
    assert!(malformed(&[("authorization", b"Bearer")]).contains("empty"));
    assert!(malformed(&[("authorization", b"Bearer  ")]).contains("empty"));
    assert!(malformed(&[("authorization", b"Bearertoken")]).contains("Bearer"));
    assert!(malformed(&[("authorization", b"Bearer a b")]).contains("without spaces"));
    assert!(malformed(&[("x-api-key", b"")]).contains("empty"));
    assert!(malformed(&[("x-api-key", b"a b")]).contains("without spaces"));
    assert!(malformed(&[("x-api-key", b"caf\xc3\xa9")]).contains("visible ASCII"));
    assert!(malformed(&[("x-api-key", b"a"), ("x-api-key", b"b")]).contains("repeated"));
    let long = vec![b'k'; MAX_SECRET_LEN + 1];
    assert!(malformed(&[("x-api-key", &long)]).contains("too long"));
}

#[test]
fn each_scheme_checks_its_own_credentials() {
    let a = auth();
    let who = |pairs: &[(&str, &[u8])]| {
        a.authenticate(&headers(pairs))
            .map(|p| (p.name().to_owned(), p.scheme()))
            .map_err(|e| e.failure().clone())
    };
    assert_eq!(
        who(&[("x-api-key", b"key-2")]),
        Ok(("erp".into(), Scheme::ApiKey))
    );
    assert_eq!(
        who(&[("authorization", b"Bearer tok-9")]),
        Ok(("bot".into(), Scheme::Bearer))
    );
    // The hashed token.
    assert_eq!(
        who(&[("authorization", b"Bearer s3cret-token")]),
        Ok(("crm".into(), Scheme::Bearer))
    );
    // An API key is not a bearer token and the other way round.
    assert_eq!(
        who(&[("authorization", b"Bearer key-1")]),
        Err(AuthFailure::Invalid(Scheme::Bearer))
    );
    assert_eq!(
        who(&[("x-api-key", b"tok-9")]),
        Err(AuthFailure::Invalid(Scheme::ApiKey))
    );
    // Whole secrets only; the hash itself is not the secret.
    for wrong in [&b"key-"[..], b"key-1x", b"KEY-1"] {
        assert_eq!(
            who(&[("x-api-key", wrong)]),
            Err(AuthFailure::Invalid(Scheme::ApiKey))
        );
    }
    let hash = hex(&sha256(b"s3cret-token"));
    assert_eq!(
        who(&[("authorization", format!("Bearer {hash}").as_bytes())]),
        Err(AuthFailure::Invalid(Scheme::Bearer))
    );
    let p = Presented::from_headers(&headers(&[("x-api-key", b"partner-key")])).expect("p");
    assert!(p.matches_digest(&sha256(b"partner-key")));
    assert!(!p.matches_digest(&sha256(b"partner-key2")));
}

async fn call(
    router: Router,
    pairs: &[(&str, &[u8])],
) -> (StatusCode, Option<String>, serde_json::Value) {
    let mut req = Request::builder().uri("/who");
    for (k, v) in pairs {
        req = req.header(*k, *v);
    }
    let resp = router
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = resp.status();
    let challenge = resp
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = to_bytes(resp.into_body(), 1 << 16).await.expect("body");
    (
        status,
        challenge,
        serde_json::from_slice(&body).expect("JSON body"),
    )
}

#[tokio::test]
async fn the_middleware_answers_401_or_hands_the_principal_on() {
    async fn who(p: Principal) -> axum::Json<serde_json::Value> {
        axum::Json(serde_json::json!({ "name": p.name(), "scheme": p.scheme().as_str() }))
    }
    let router = || auth().protect(Router::new().route("/who", get(who)));

    let (s, challenge, body) = call(router(), &[("x-api-key", b"key-1")]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(challenge, None);
    assert_eq!(
        body,
        serde_json::json!({"name": "shop", "scheme": "api_key"})
    );

    let (s, challenge, body) = call(router(), &[]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.as_deref(), Some("Bearer realm=\"test-service\""));
    assert_eq!(body["error"], "unauthorized");
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains("X-Api-Key")));

    let (s, challenge, body) = call(router(), &[("authorization", b"Bearer nope")]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge.as_deref(),
        Some("Bearer realm=\"test-service\", error=\"invalid_token\"")
    );
    assert_eq!(body["message"], "the bearer token is not valid");

    let (s, challenge, body) = call(router(), &[("authorization", b"Basic dTpw")]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(challenge.is_some_and(|c| c.ends_with("error=\"invalid_request\"")));
    assert_eq!(body["message"], "the Authorization scheme must be Bearer");

    // A handler asking for the principal outside `protect` refuses rather than guesses.
    let open = Router::new().route("/who", get(who));
    let (s, _, body) = call(open, &[("x-api-key", b"key-1")]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");
}
