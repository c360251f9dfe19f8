//! `GET /audit`: the administrators' audit log across subjects, newest first, filtered by
//! integration, actor, action and time, paged across days; refused to anyone else and for
//! malformed windows, filters and cursors.

use chrono::{Duration, SecondsFormat};
use fixtures::flows::{approve, ask, call, discover_app, flows, provision_app, register};
use fixtures::{ADMIN, ALICE, DEV, Env, MALLORY, Person, es_seed, event, http};
use serde_json::{Value, json};
use shared::clock::Clock;

fn audit(who: Person, params: &[(&str, &str)]) -> Value {
    let mut ev = http(event("provision/get-audit.json"), "/audit", who, None);
    let url = reqwest::Url::parse_with_params("http://x/audit", params).unwrap();
    ev["rawQueryString"] = json!(url.query().unwrap_or_default());
    ev["queryStringParameters"] = json!(
        params
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect::<serde_json::Map<String, Value>>()
    );
    ev
}

async fn list(p: &provision::App, params: &[(&str, &str)]) -> Value {
    let (s, body) = call(p, audit(ADMIN, params)).await;
    assert_eq!(s, 200, "{params:?}: {body}");
    body
}

fn actions(body: &Value) -> Vec<String> {
    body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

fn ids(body: &Value) -> Vec<String> {
    body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// Every page of a listing, following its cursors with the window the first answer fixed.
async fn all_pages(p: &provision::App, params: &[(&str, &str)]) -> (Vec<String>, usize) {
    let first = list(p, params).await;
    let (since, until) = (
        first["since"].as_str().unwrap().to_string(),
        first["until"].as_str().unwrap().to_string(),
    );
    let mut seen = ids(&first);
    let mut next = first["next_cursor"].as_str().map(str::to_string);
    let mut pages = 1;
    while let Some(c) = next {
        pages += 1;
        assert!(pages < 200, "the cursors never end");
        let mut more: Vec<(&str, &str)> = params
            .iter()
            .filter(|(k, _)| *k != "since" && *k != "until")
            .copied()
            .collect();
        more.extend([
            ("since", since.as_str()),
            ("until", until.as_str()),
            ("cursor", c.as_str()),
        ]);
        let page = list(p, &more).await;
        seen.extend(ids(&page));
        next = page["next_cursor"].as_str().map(str::to_string);
    }
    (seen, pages)
}

#[tokio::test]
async fn an_admin_lists_every_event_newest_first_and_filters_it() {
    let env = Env::start(es_seed()).await;
    let (d, p) = (discover_app(&env), provision_app(&env));
    register(&env, &d, json!({})).await;
    flows(&d, &["logs-read"]).await;
    let ask_body = json!({"integration": "prod-search", "resources": ["logs-2026.11"],
        "permission": "read", "duration": "1h", "justification": "INC-1", "flow": "logs-read"});
    let (s, r) = ask(&p, DEV, ask_body.clone()).await;
    assert_eq!(s, 201, "{r}");
    let first_id = r["id"].as_str().unwrap().to_string();
    assert_eq!(approve(&p, ALICE, &first_id).await.0, 200);

    // Everything, newest first: the integration's registration, the flow, the request's own
    // events (kept on the request, copied to the log) and the grant.
    let body = list(&p, &[]).await;
    let events = body["events"].as_array().unwrap();
    let times: Vec<&str> = events.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first: {body}");
    let all = actions(&body);
    for wanted in ["request.created", "request.approved"] {
        assert!(all.iter().any(|a| a == wanted), "{wanted} missing: {all:?}");
    }
    assert!(
        events.iter().any(|e| e["subject"]["type"] == "integration"),
        "{all:?}"
    );
    assert!(body["next_cursor"].is_null(), "{body}");
    // The request's own events name its integration, so the filter finds them.
    let approved = events
        .iter()
        .find(|e| e["action"] == "request.approved")
        .unwrap();
    assert_eq!(approved["integration"], "prod-search", "{approved}");
    assert_eq!(approved["subject"]["id"], first_id.as_str());

    // Filters: a prefix of actions, one actor, one integration.
    let requests = list(&p, &[("action", "request.")]).await;
    assert!(!actions(&requests).is_empty());
    assert!(
        actions(&requests).iter().all(|a| a.starts_with("request.")),
        "{requests}"
    );
    let exact = list(&p, &[("action", "request.approved")]).await;
    assert_eq!(actions(&exact), ["request.approved"], "{exact}");
    let actor = approved["actor"].as_str().unwrap();
    let by_actor = list(&p, &[("actor", actor)]).await;
    assert!(
        by_actor["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"] == actor),
        "{by_actor}"
    );
    assert!(ids(&by_actor).contains(&approved["id"].as_str().unwrap().to_string()));
    let this = list(&p, &[("integration", "prod-search")]).await;
    assert!(this["events"].as_array().unwrap().len() >= 2, "{this}");
    let other = list(&p, &[("integration", "another-cluster")]).await;
    assert_eq!(other["events"], json!([]), "{other}");

    // Paging one event at a time walks the same listing, nothing twice, nothing missed.
    let (paged, pages) = all_pages(&p, &[("limit", "1")]).await;
    assert_eq!(paged, ids(&body));
    assert!(pages >= paged.len());

    // Days later: both days' events are listed, and a window can leave the old day out.
    env.clock.advance(Duration::days(3));
    let (s, r) = ask(&p, DEV, ask_body).await;
    assert_eq!(s, 201, "{r}");
    let second_id = r["id"].as_str().unwrap().to_string();
    let both = list(&p, &[("action", "request.created")]).await;
    let subjects: Vec<&str> = both["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, [second_id.as_str(), first_id.as_str()], "{both}");
    let since = (env.clock.now() - Duration::days(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let recent = list(&p, &[("action", "request.created"), ("since", &since)]).await;
    assert_eq!(recent["events"].as_array().unwrap().len(), 1, "{recent}");
    let (paged, _) = all_pages(&p, &[("limit", "1"), ("action", "request.created")]).await;
    assert_eq!(paged.len(), 2);
}

#[tokio::test]
async fn a_long_window_with_a_selective_filter_answers_in_bounded_pages() {
    let env = Env::start(es_seed()).await;
    let (d, p) = (discover_app(&env), provision_app(&env));
    register(&env, &d, json!({})).await;
    let since = (env.clock.now() - Duration::days(300)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let first = list(&p, &[("since", &since), ("actor", "nobody@example.com")]).await;
    assert_eq!(first["events"], json!([]));
    assert!(
        first["next_cursor"].is_string(),
        "one page does not read 300 days: {first}"
    );
    let (seen, pages) = all_pages(&p, &[("since", &since), ("actor", "nobody@example.com")]).await;
    assert!(seen.is_empty());
    assert!((10..=60).contains(&pages), "{pages} pages");
    // The integration's registration is found at the end of the same long window.
    let (found, _) = all_pages(&p, &[("since", &since), ("integration", "prod-search")]).await;
    assert!(!found.is_empty());
}

#[tokio::test]
async fn only_admins_read_the_log_and_bad_queries_are_refused_in_words() {
    let env = Env::start(es_seed()).await;
    let (d, p) = (discover_app(&env), provision_app(&env));
    register(&env, &d, json!({})).await;
    for who in [DEV, ALICE, MALLORY] {
        let (s, body) = call(&p, audit(who, &[])).await;
        assert_eq!(
            (s, &body["error"]["code"]),
            (403, &json!("forbidden")),
            "{body}"
        );
    }
    let now = env.clock.now();
    let at = |d: Duration| (now + d).to_rfc3339_opts(SecondsFormat::Secs, true);
    let long_ago = at(-Duration::days(401));
    let later = at(Duration::hours(1));
    let earlier = at(-Duration::hours(1));
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("since", "yesterday")],
        vec![("until", "2026-13-01T00:00:00Z")],
        vec![("since", &long_ago)],
        // `until` is capped at now, so a since in the future is after it.
        vec![("since", &later)],
        vec![("since", &earlier), ("until", &long_ago)],
        vec![("actor", "")],
        vec![("action", "request.\u{1b}[2J")],
        vec![("limit", "201")],
    ];
    for params in cases {
        let (s, body) = call(&p, audit(ADMIN, &params)).await;
        assert_eq!(s, 400, "{params:?}: {body}");
        assert_eq!(
            body["error"]["code"], "invalid_parameter",
            "{params:?}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty() && !message.contains('{'), "{body}");
    }

    // A cursor of another listing, or of a day outside the window, is not followed.
    let (_, failed) = call(
        &p,
        http(
            event("provision/get-failed-revocations.json"),
            "/failed-revocations",
            ADMIN,
            None,
        ),
    )
    .await;
    assert!(failed["next_cursor"].is_null());
    use base64::Engine;
    let forge = |pk: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(json!({"pk": pk, "sk": "000000000000000#x"}).to_string())
    };
    let other_list = forge("REQUEST#r-1");
    let old_day = forge("AUDITLOG#2020-01-01");
    // Today, written as no listing writes it (a lenient date parser would take it).
    let today = env.clock.now().date_naive();
    let odd_day = forge(&format!("AUDITLOG#+{}", today.format("%Y-%m-%d")));
    // Today's partition, but a position outside the window's key range.
    let out_of_range = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        json!({"pk": format!("AUDITLOG#{}", today.format("%Y-%m-%d")), "sk": "999999999999999#x"})
            .to_string(),
    );
    for cursor in [
        other_list.as_str(),
        old_day.as_str(),
        odd_day.as_str(),
        out_of_range.as_str(),
        "not-a-cursor",
    ] {
        let (s, body) = call(&p, audit(ADMIN, &[("cursor", cursor)])).await;
        assert_eq!(s, 400, "{cursor}: {body}");
        assert_eq!(body["error"]["code"], "invalid_cursor", "{body}");
    }
}
