//! Who may grant and revoke door access, over HTTP with real signed tokens (HS256, the project's
//! legacy secret) and `AUTH_ADMIN_ROLE=hr_admin`: a signed-in user without the role gets 403 from
//! the bulk resync, remove-angajat, the reconcile fix and the audit, and nothing reaches the
//! terminal; a user with the role and the API key pass, and the audit names each of them (the
//! token's `sub`, "api-key"). Reading status and starting a reconcile (which changes nothing) stay
//! open to every signed-in user.

use std::time::Duration;

use crate::auth_support::{API_KEY, JWT_SECRET, hs256, user_claims};
use crate::support::*;
use hikvision_simulator::Faults;
use secrecy::SecretString;
use serde_json::{Value, json};

const ISSUER: &str = "http://127.0.0.1:54321/auth/v1";
const ADMIN_ROLE: &str = "hr_admin";
const DOOR: &str = "device-0000";

async fn fixture() -> Fixture {
    Fixture::on(Store::memory(), |s| {
        fast_retries(s);
        s.sync.rate_limit_delay = Duration::ZERO;
        s.api_key = Some(SecretString::from(API_KEY));
        s.auth.jwt_secret = Some(SecretString::from(JWT_SECRET));
        s.auth.issuer = Some(ISSUER.into());
        s.auth.admin_role = Some(ADMIN_ROLE.into());
    })
    .await
}

/// A signed-in user's token, with `app_metadata.role` when given; and its `sub`.
fn token(role: Option<&str>) -> (String, String) {
    let mut claims = user_claims(ISSUER);
    if let Some(role) = role {
        claims["app_metadata"]["role"] = json!(role);
    }
    let sub = claims["sub"].as_str().unwrap().to_string();
    (hs256(JWT_SECRET, &claims), sub)
}

/// How a request authenticates.
#[derive(Clone, Copy)]
enum As<'a> {
    Bearer(&'a str),
    ApiKey,
}

async fn call(
    f: &Fixture,
    who: As<'_>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = f.app.base.join(path).unwrap();
    let mut request = match method {
        "GET" => f.app.http.get(url),
        _ => f.app.http.post(url),
    };
    request = match who {
        As::Bearer(token) => request.bearer_auth(token),
        As::ApiKey => request.header("x-api-key", API_KEY),
    };
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("service answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn reconcile_done(f: &Fixture, who: As<'_>, id: &str) -> Value {
    let path = format!("/api/hikvision/devices/{DOOR}/reconcile/{id}");
    reconcile_finished(|| call(f, who, "GET", &path, None)).await
}

#[tokio::test]
async fn only_admins_and_the_api_key_grant_or_revoke_access_and_the_audit_names_them() {
    let f = fixture().await;
    let t = terminal(Faults::default()).await;
    f.only_device("door", &t).await;
    let (no, id) = f.employee(jpeg(3)).await;
    enrol(&t, "hand-enrolled", None);

    let (user, _) = token(None);
    let (other_role, _) = token(Some("viewer"));
    let (admin, admin_sub) = token(Some(ADMIN_ROLE));
    let resync = format!("/api/hikvision/devices/{DOOR}/resync");
    let audit = format!("/api/hikvision/devices/{DOOR}/audit");
    let remove = "/api/hikvision/remove-angajat";

    // Signed in without the role: refused, with a message saying what is missing.
    for token in [&user, &other_role] {
        let (status, body) = call(&f, As::Bearer(token), "POST", &resync, Some(json!({}))).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["code"], "forbidden", "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("AUTH_ADMIN_ROLE"),
            "{body}"
        );
        let (status, body) = call(
            &f,
            As::Bearer(token),
            "POST",
            remove,
            Some(json!({"angajat_id": id})),
        )
        .await;
        assert_eq!(status, 403, "{body}");
        let (status, body) = call(&f, As::Bearer(token), "GET", &audit, None).await;
        assert_eq!(status, 403, "{body}");
    }
    // Reading and comparing change nothing: any signed-in user may.
    let (status, body) = call(
        &f,
        As::Bearer(&user),
        "GET",
        "/api/hikvision/devices/status",
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        &f,
        As::Bearer(&user),
        "POST",
        &format!("/api/hikvision/devices/{DOOR}/reconcile"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let run = body["reconcile_id"].as_str().unwrap().to_string();
    let done = reconcile_done(&f, As::Bearer(&user), &run).await;
    assert_eq!(
        done["report"]["unknown_on_terminal"][0]["employee_no"], "hand-enrolled",
        "{done}"
    );
    let fix = format!("/api/hikvision/devices/{DOOR}/reconcile/{run}/fix");
    let (status, body) = call(
        &f,
        As::Bearer(&user),
        "POST",
        &fix,
        Some(json!({"schedule_missing": false, "remove": ["hand-enrolled"]})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // A kept sleep: nothing may reach the terminal afterwards either (no event for "nothing").
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(t.person(&no).is_none(), "a refused resync wrote nothing");
    assert!(
        t.person("hand-enrolled").is_some(),
        "a refused fix removed nothing"
    );
    let (_, body) = call(&f, As::ApiKey, "GET", &audit, None).await;
    assert_eq!(
        body["entries"],
        json!([]),
        "nothing refused is in the audit"
    );

    // The administrator: the resync goes through and is recorded under the token's sub.
    let (status, body) = call(&f, As::Bearer(&admin), "POST", &resync, Some(json!({}))).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["scheduled"], 1, "{body}");
    assert!(
        wait_until(Duration::from_secs(30), async || t.face(&no).is_some()).await,
        "the admin's resync enrols the employee"
    );
    // The API key: the fix removes exactly the named person, recorded as "api-key".
    let (status, body) = call(
        &f,
        As::ApiKey,
        "POST",
        &fix,
        Some(json!({"schedule_missing": false, "remove": ["hand-enrolled"]})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert!(
        wait_until(Duration::from_secs(30), async || t
            .person("hand-enrolled")
            .is_none())
        .await,
        "the named person is removed"
    );
    assert!(t.person(&no).is_some(), "and nobody else");

    let (status, body) = call(&f, As::Bearer(&admin), "GET", &audit, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["device_id"], DOOR);
    let lines: Vec<(String, String, String)> = body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (text("actor"), text("action"), text("employee_no"))
        })
        .collect();
    assert_eq!(
        lines,
        [
            (
                "api-key".into(),
                "reconcile_remove".into(),
                "hand-enrolled".into()
            ),
            (admin_sub, "resync".into(), no.clone()),
        ],
        "newest first, each under who asked"
    );
}

#[tokio::test]
async fn enrolling_and_restoring_need_an_admin_while_a_photo_update_stays_open() {
    let f = fixture().await;
    let t = terminal(Faults::default()).await;
    f.only_device("door", &t).await;
    let (no, id) = f.employee(jpeg(4)).await;
    let audit = format!("/api/hikvision/devices/{DOOR}/audit");
    let (user, _) = token(None);
    let (admin, admin_sub) = token(Some(ADMIN_ROLE));
    let body = json!({"angajat_id": id});
    let enrolling = json!({"angajat_id": id, "create_missing_person": true});

    for (path, body) in [
        ("/api/hikvision/sync-angajat", &body),
        ("/api/hikvision/update-angajat-photo", &enrolling),
        ("/api/hikvision/sync-angajat-photo-only", &enrolling),
        ("/api/hikvision/restore-angajat", &body),
    ] {
        let (status, answer) = call(&f, As::Bearer(&user), "POST", path, Some(body.clone())).await;
        assert_eq!(status, 403, "{path}: {answer}");
        assert_eq!(answer["code"], "forbidden", "{path}: {answer}");
    }
    assert!(t.person(&no).is_none(), "nothing reached the terminal");
    assert!(
        t.request_log().iter().all(|e| !e.path.contains("UserInfo")),
        "no person call at all"
    );
    let (_, entries) = call(&f, As::ApiKey, "GET", &audit, None).await;
    assert_eq!(entries["entries"], json!([]), "nothing audited as done");

    // The admin enrols; the audit names them; then any signed-in user may update the photo.
    let (status, answer) = call(
        &f,
        As::Bearer(&admin),
        "POST",
        "/api/hikvision/sync-angajat",
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(t.person(&no).is_some() && t.face(&no).is_some());
    let (_, entries) = call(&f, As::ApiKey, "GET", &audit, None).await;
    assert_eq!(entries["entries"][0]["action"], "enrol", "{entries}");
    assert_eq!(entries["entries"][0]["actor"], admin_sub, "{entries}");
    let (status, answer) = call(
        &f,
        As::Bearer(&user),
        "POST",
        "/api/hikvision/update-angajat-photo",
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["summary"]["success"], 1, "{answer}");
}

#[tokio::test]
async fn serve_refuses_to_start_with_every_user_an_admin_unless_told_so() {
    let base = [
        ("SUPABASE_URL", "http://127.0.0.1:9/"),
        ("SUPABASE_SERVICE_ROLE_KEY", "service-key"),
        ("DATABASE_URL", "postgres://hs@127.0.0.1:9/postgres"),
        ("API_KEY", API_KEY),
    ];
    let out = crate::support::service::serve_refusal(&base).await;
    assert!(
        out.contains("AUTH_ADMIN_ROLE") && out.contains("AUTH_ALL_USERS_ADMIN=true"),
        "{out}"
    );
    // With the opt-in it gets past that check (and stops at the unreachable database instead).
    let mut opted_in = base.to_vec();
    opted_in.push(("AUTH_ALL_USERS_ADMIN", "true"));
    let out = crate::support::service::serve_refusal(&opted_in).await;
    assert!(!out.contains("AUTH_ALL_USERS_ADMIN"), "{out}");
    assert!(
        !out.contains("service-key"),
        "no secret in the message: {out}"
    );
}
