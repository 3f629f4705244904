//! The request/response contract as an outside client sees it: bodies are read into the documented
//! types (strict types, unknown fields ignored), the debugging endpoint is gated, and the OpenAPI
//! document says everything a generated client needs.

use crate::support::*;
use axum::http::StatusCode;
use hikvision_isapi::build_person;
use hikvision_simulator::Faults;
use hikvision_sync::api::ApiCode;
use serde_json::{Value, json};

const DEBUG_ENDPOINT: &str = "/api/test-isapi/update-face-image";

#[tokio::test]
async fn fields_are_strictly_typed_and_unknown_fields_are_ignored() {
    let f = Fixture::memory().await;
    let id = uuid::Uuid::new_v4();
    for (body, status, code, field) in [
        (
            json!({"angajat_id": id, "create_missing_person": "yes"}),
            422,
            "invalid_field",
            "create_missing_person",
        ),
        (
            json!({"angajat_id": id, "create_missing_person": 1}),
            422,
            "invalid_field",
            "create_missing_person",
        ),
        (
            json!({"angajat_id": null}),
            422,
            "missing_field",
            "angajat_id",
        ),
        (
            json!({"angajat_id": [id]}),
            422,
            "invalid_uuid",
            "angajat_id",
        ),
        (
            json!({"angajat_id": id, "create_missing_person": null, "extra": {"x": 1}}),
            404,
            "angajat_not_found",
            "",
        ),
    ] {
        let (got, json) = f.app.post(UPDATE_ENDPOINT, body.clone()).await;
        assert_eq!(got.as_u16(), status, "{body}: {json}");
        assert_eq!(json["code"], code, "{body}: {json}");
        assert!(json["message"].as_str().unwrap().contains(field), "{json}");
    }
}

#[tokio::test]
async fn the_debug_endpoint_is_off_unless_enabled() {
    let f = Fixture::on(Store::memory(), |s| s.debug.enabled = false).await;
    let t = terminal(Faults::default()).await;
    let body = json!({"device": {"ip": "127.0.0.1", "port": t.addr().port(), "username": "admin", "password": PASSWORD},
                      "employee_no": "1", "face_url": "x.jpg"});
    let (status, json) = f.app.post(DEBUG_ENDPOINT, body).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{json}");
    assert_eq!(json["code"], "debug_endpoint_disabled");
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("DEBUG_ENDPOINT=true")
    );
    assert!(t.request_log().is_empty(), "the terminal was never called");
}

#[tokio::test]
async fn the_debug_endpoint_calls_only_the_allowed_networks() {
    let f = Fixture::memory().await;
    // The test suite allows loopback only: these are refused before any connection is tried.
    let outside = [
        "10.1.2.3",
        "192.168.1.100",
        "169.254.169.254",
        "::ffff:10.0.0.1",
        "0.0.0.0",
    ];
    // Not an address nor a host name: refused before anything is looked up.
    let long = "0".repeat(253);
    let malformed = ["not a host", " ", long.as_str()];
    let cases = outside
        .iter()
        .map(|ip| {
            (
                *ip,
                StatusCode::FORBIDDEN,
                "address_not_allowed",
                "DEBUG_ALLOWED_NETS",
            )
        })
        .chain(malformed.iter().map(|ip| {
            (
                *ip,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                "device.ip",
            )
        }));
    for (ip, status, code, hint) in cases {
        let body = json!({"device": {"ip": ip, "username": "admin", "password": "p"}, "employee_no": "1", "face_url": "x.jpg"});
        let (got, json) = f.app.post(DEBUG_ENDPOINT, body).await;
        assert_eq!(got, status, "{ip}: {json}");
        assert_eq!(json["code"], code, "{ip}");
        assert!(json["message"].as_str().unwrap().contains(hint), "{json}");
    }
}

#[tokio::test]
async fn the_debug_endpoint_builds_its_terminal_like_a_devices_row() {
    let f = Fixture::memory().await;
    let t = terminal(Faults::default()).await;
    t.add_person(build_person(&"88".parse().unwrap(), "X"));
    let url = f.photos.put("88.jpg", jpeg(7));
    let device = json!({"ip": "localhost", "port": t.addr().port(), "username": "admin", "password": PASSWORD});
    let (status, body) = f
        .app
        .post(
            DEBUG_ENDPOINT,
            json!({"device": device, "employee_no": "88", "face_url": url}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let d = &body["per_device"][0];
    assert_eq!(d["status"], "success", "{d}");
    assert_eq!(d["device_name"], "localhost");
    assert!(
        d["device_ip"] == "127.0.0.1" || d["device_ip"] == "::1",
        "{d}"
    );
    assert_eq!(d["device_id"], "", "no row, so no row id");
    assert!(
        body.get("angajat_id").is_none(),
        "no angajat is invented: {body}"
    );
    assert_eq!(t.face("88").unwrap().bytes, jpeg(7));

    // No password: refused before any call (HIKVISION_PASSWORD is never used here).
    let (status, body) = f
        .app
        .post(
            DEBUG_ENDPOINT,
            json!({"device": {"ip": "127.0.0.1", "port": t.addr().port(), "username": "admin"}, "employee_no": "88", "face_url": url}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "missing_field");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("device.password"),
        "{body}"
    );

    for (bad, field) in [
        (
            json!({"device": {"ip": "127.0.0.1", "port": 0, "username": "a", "password": "p"}, "employee_no": "1", "face_url": "x"}),
            "device.port",
        ),
        (
            json!({"device": {"ip": "127.0.0.1", "port": 70000, "username": "a", "password": "p"}, "employee_no": "1", "face_url": "x"}),
            "device.port",
        ),
        (
            json!({"device": {"ip": "", "username": "a", "password": "p"}, "employee_no": "1", "face_url": "x"}),
            "device.ip",
        ),
        (
            json!({"device": {"ip": "127.0.0.1", "username": "a", "password": "p"}, "employee_no": 1001, "face_url": "x"}),
            "employee_no",
        ),
        (
            json!({"device": {"ip": "127.0.0.1", "username": "a", "password": "p"}, "employee_no": "1", "face_url": ""}),
            "face_url",
        ),
        (
            json!({"device": {"ip": "127.0.0.1", "username": "", "password": "p"}, "employee_no": "1", "face_url": "x"}),
            "device.username",
        ),
        (
            json!({"device": {"ip": "127.0.0.1", "username": "a", "password": 123456}, "employee_no": "1", "face_url": "x"}),
            "device.password",
        ),
    ] {
        let (status, json) = f.app.post(DEBUG_ENDPOINT, bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {json}");
        assert_eq!(json["code"], "invalid_field", "{bad}");
        let message = json["message"].as_str().unwrap();
        assert!(message.contains(field), "{bad}: {message}");
        assert!(
            !message.contains("123456"),
            "a password is never quoted: {message}"
        );
    }
}

#[tokio::test]
async fn unsupported_methods_are_405_with_an_allow_header() {
    let f = Fixture::memory().await;
    for (method, path, allowed) in [
        (reqwest::Method::PUT, UPDATE_ENDPOINT, "POST"),
        (reqwest::Method::DELETE, "/health", "GET"),
    ] {
        let r = f
            .app
            .http
            .request(method.clone(), f.app.base.join(path).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 405, "{method} {path}");
        let allow = r
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_string());
        assert!(
            allow.is_some_and(|a| a.contains(allowed)),
            "{method} {path}"
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "method_not_allowed");
    }
}

async fn document(f: &Fixture) -> Value {
    f.app
        .http
        .get(f.app.base.join("/api/openapi.json").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_document_says_what_a_generated_client_needs() {
    let f = Fixture::memory().await;
    let doc = document(&f).await;
    let schemas = &doc["components"]["schemas"];

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["bearer"]["bearerFormat"], "JWT");
    assert_eq!(schemes["api_key"]["in"], "header");
    assert_eq!(schemes["api_key"]["name"], "x-api-key");

    let sync = &schemas["SyncRequest"];
    assert_eq!(sync["required"], json!(["angajat_id"]));
    assert_eq!(sync["properties"]["angajat_id"]["format"], "uuid");
    assert_eq!(
        sync["additionalProperties"], true,
        "unknown fields are ignored"
    );
    assert_eq!(
        sync["example"]["angajat_id"],
        "6f1d3a52-7c1e-4c55-9a0e-1d2b3c4d5e01"
    );
    let device = &schemas["DebugDevice"]["properties"];
    let formats: Vec<&str> = device["ip"]["anyOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["format"].as_str().unwrap())
        .collect();
    assert_eq!(formats, ["ipv4", "ipv6", "hostname"]);
    assert_eq!(device["port"]["minimum"], 1);
    assert_eq!(device["port"]["maximum"], 65535);
    assert_eq!(device["password"]["format"], "password");
    assert_eq!(
        schemas["DebugRequest"]["properties"]["employee_no"]["maxLength"],
        32
    );

    let codes: Vec<&str> = schemas["ApiCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for code in ApiCode::ALL {
        assert!(
            codes.contains(&code.as_str()),
            "{code} missing from the code enum"
        );
    }
    assert_eq!(
        schemas["SyncStatus"]["enum"],
        json!(["success", "partial", "skipped", "fatal"])
    );
    assert!(
        schemas["PerDevice"]["properties"]["method"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("FDModify"))
    );
    assert_eq!(
        schemas["SyncResponse"]["properties"]["angajat_id"]["format"],
        "uuid"
    );

    for (path, own) in [
        (
            UPDATE_ENDPOINT,
            vec![
                ("404", "angajat_not_found"),
                ("503", "supabase_unavailable"),
            ],
        ),
        (
            DEBUG_ENDPOINT,
            vec![
                ("403", "address_not_allowed"),
                ("404", "debug_endpoint_disabled"),
            ],
        ),
    ] {
        let op = &doc["paths"][path]["post"];
        assert_eq!(
            op["security"],
            json!([{"bearer": []}, {"api_key": []}]),
            "{path}"
        );
        let responses = &op["responses"];
        for status in [
            "200", "400", "401", "403", "408", "413", "422", "500", "503",
        ] {
            assert!(responses[status].is_object(), "{path}: {status} missing");
            assert!(
                responses[status]["headers"]["x-request-id"].is_object(),
                "{path} {status}: x-request-id"
            );
        }
        for (status, code) in own
            .into_iter()
            .chain([("408", "body_timeout"), ("503", "request_timeout")])
        {
            let content = &responses[status]["content"]["application/json"];
            assert_eq!(
                content["schema"]["$ref"], "#/components/schemas/ErrorBody",
                "{path} {status}"
            );
            assert_eq!(
                content["examples"][code]["value"]["code"], code,
                "{path} {status}"
            );
        }
    }
    for path in ["/health", "/ready", "/metrics", "/api/openapi.json"] {
        let op = &doc["paths"][path]["get"];
        assert!(op["responses"]["200"].is_object(), "{path}");
        assert!(op.get("security").is_none(), "{path} needs no credentials");
    }
}

#[tokio::test]
async fn the_delivery_endpoints_keep_the_same_contract() {
    let f = Fixture::on(Store::memory(), |s| {
        s.delivery.webhook_secret = Some(secrecy::SecretString::from("hook-secret"));
    })
    .await;
    // No employee number known: nothing to remove, a conflict with the record, not a bad body.
    let no_number = f.store.insert_angajat(None, Some("x.jpg")).await;
    let (status, json) = f
        .app
        .post(
            "/api/hikvision/remove-angajat",
            json!({"angajat_id": no_number, "extra": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    assert_eq!(json["code"], "no_employee_no");
    let (status, json) = f
        .app
        .post(
            "/api/hikvision/remove-angajat",
            json!({"angajat_id": "nope"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{json}");
    assert_eq!(json["code"], "invalid_uuid");

    let r = f
        .app
        .http
        .get(
            f.app
                .base
                .join("/api/hikvision/angajat/not-a-uuid/status")
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let json: Value = r.json().await.unwrap();
    assert_eq!(json["code"], "invalid_uuid", "{json}");

    // The secret is checked before the body is read: a stranger learns nothing about bodies.
    let (status, json) = f
        .app
        .post_raw("/api/hikvision/webhooks/supabase", "{not json")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{json}");
    assert_eq!(json["code"], "unauthorized");
    let r = f
        .app
        .http
        .post(f.app.base.join("/api/hikvision/webhooks/supabase").unwrap())
        .header("x-webhook-secret", "hook-secret")
        .json(&json!({"type": "UPDATE"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let json: Value = r.json().await.unwrap();
    assert_eq!(json["code"], "missing_field");
    assert!(
        json["message"].as_str().unwrap().contains("'table'"),
        "{json}"
    );

    let doc = document(&f).await;
    let webhook = &doc["paths"]["/api/hikvision/webhooks/supabase"]["post"];
    assert_eq!(webhook["security"], json!([{"webhook_secret": []}]));
    assert_eq!(
        doc["components"]["securitySchemes"]["webhook_secret"]["name"],
        "x-webhook-secret"
    );
    for (path, method) in [
        ("/api/hikvision/remove-angajat", "post"),
        ("/api/hikvision/angajat/{angajat_id}/status", "get"),
        ("/api/hikvision/devices/status", "get"),
    ] {
        let op = &doc["paths"][path][method];
        assert_eq!(
            op["security"],
            json!([{"bearer": []}, {"api_key": []}]),
            "{path}"
        );
        for status in ["200", "401", "403", "500", "503"] {
            assert!(
                op["responses"][status].is_object(),
                "{path}: {status} missing"
            );
        }
    }
}
