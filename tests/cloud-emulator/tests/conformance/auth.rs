//! Authentication: `Authorization: ApiKey <key>` only.

use reqwest::Method;

use crate::support::{Cloud, OWNER_KEY};

#[tokio::test]
async fn anything_but_a_valid_api_key_is_unauthorized() {
    let cloud = Cloud::start().await;
    let bearer = format!("Bearer {OWNER_KEY}");
    let basic = "Basic b3duZXI6c2VjcmV0".to_owned();
    let bare = OWNER_KEY.to_owned();
    for authorization in [
        None,
        Some(bearer.as_str()),
        Some(basic.as_str()),
        Some(bare.as_str()),
        Some("ApiKey "),
        Some("ApiKey wrong-key"),
    ] {
        for path in [
            "/api/v1/organizations",
            "/api/v1/deployments",
            "/api/v1/users/auth/keys",
            "/api/v1/users/bob-1/role_assignments",
        ] {
            let reply = cloud
                .send(Method::GET, path, authorization, None)
                .await
                .expect("request completes");
            reply.assert_error(401, "root.unauthorized");
            assert_eq!(
                reply.body["errors"][0]["message"],
                "Credentials were invalid."
            );
        }
    }
}

#[tokio::test]
async fn the_scheme_is_case_insensitive() {
    let cloud = Cloud::start().await;
    let reply = cloud
        .send(
            Method::GET,
            "/api/v1/organizations",
            Some(&format!("apikey {OWNER_KEY}")),
            None,
        )
        .await
        .expect("request completes");
    reply.assert_ok(200);
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_the_cloud_error_shape() {
    let cloud = Cloud::start().await;
    cloud
        .get("/no/such/thing", OWNER_KEY)
        .await
        .assert_error(404, "root.not_found");
    cloud
        .api(Method::PUT, "/deployments", OWNER_KEY, None)
        .await
        .assert_error(405, "root.method_not_allowed");
}
