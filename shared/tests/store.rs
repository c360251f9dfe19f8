//! The DynamoDB store against moto's server (or `AWS_ENDPOINT_URL`).

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Duration;
use common::{fresh_store, request, t0};
use shared::model::{
    AccessFlow, AccessFlowSpec, AuditEvent, AuditSubject, CredentialMode, Integration,
    IntegrationKind, IntegrationSpec, PrincipalRef, PrincipalState, RequestStatus, Resource,
    ResourceKind,
};
use shared::store::{
    AuditStore, Created, Cursor, FlowStore, IntegrationStore, Lease, PrincipalStore, RequestStore,
    ResourceStore, StoreError,
};

fn integration(name: &str) -> Integration {
    Integration {
        name: name.into(),
        spec: IntegrationSpec {
            kind: IntegrationKind::Elasticsearch,
            url: Some("https://es.example.com:9200".into()),
            organization_id: None,
            secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:es-AbCdEf".into(),
            tls: Default::default(),
            credential_rotation_days: Some(30),
            user_cleanup_days: Some(7),
            api_key_max_lifetime_days: None,
            custom_access_details: Some("Use Kibana at https://kibana.example.com".into()),
            integration_owners: vec![PrincipalRef::group("search-admins")],
            resource_owner: None,
            discovery: Default::default(),
            user_prefix: None,
            custom_permissions: vec![],
            allow_insecure_http: false,
            notifications: None,
            authorization: Default::default(),
            proxy_url: None,
            kibana_url: None,
        },
        version: 0,
        created_at: t0(),
        updated_at: t0(),
        last_discovery_at: None,
        last_discovery_error: None,
        pending_retires: vec![],
        managed_by: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_transitions_of_one_request_leave_exactly_one_winner() {
    let (store, _) = fresh_store().await;
    let store = Arc::new(store);
    for round in 0..5 {
        let id = format!("race-{round}");
        let created = match store
            .create_request(
                &request(&id, "dev", RequestStatus::Pending, t0()),
                None,
                &[],
            )
            .await
            .unwrap()
        {
            Created::New(r) => r,
            Created::Existing(_) => panic!("no idempotency key was given"),
        };
        assert_eq!(created.version, 1);
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let mut tasks = Vec::new();
        for (who, next) in [
            ("approver-a", RequestStatus::Approved),
            ("approver-b", RequestStatus::Rejected),
        ] {
            let (store, barrier, mut r) = (store.clone(), barrier.clone(), created.clone());
            tasks.push(tokio::spawn(async move {
                r.transition(next, t0() + Duration::minutes(1)).unwrap();
                let audit = AuditEvent::new(
                    t0(),
                    who,
                    "request.decided",
                    AuditSubject::Request(r.id.clone()),
                );
                barrier.wait().await;
                store.update_request(&r, 1, &[audit]).await
            }));
        }
        let results: Vec<_> = futures::future::join_all(tasks)
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        let losers: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        assert_eq!(losers.len(), 1);
        assert!(
            matches!(
                losers[0],
                StoreError::Conflict {
                    entity: "request",
                    ..
                }
            ),
            "the loser gets a typed conflict: {:?}",
            losers[0]
        );
        let stored = store.get_request(&id).await.unwrap().unwrap();
        assert_eq!(stored.status, winners[0].status);
        assert_eq!(stored.version, 2);
        // Only the winner's audit event was written: the loser's transaction rolled back whole.
        let trail = store
            .audit_of(&AuditSubject::Request(id.clone()), 10, None)
            .await
            .unwrap();
        assert_eq!(trail.items.len(), 1);
    }
}

#[tokio::test]
async fn due_index_returns_exactly_the_due_items_across_pages() {
    let (store, _) = fresh_store().await;
    let now = t0() + Duration::days(2);
    let mut expected = Vec::new();
    for i in 0..23 {
        let mut r = request(
            &format!("g{i:02}"),
            &format!("u{}", i % 3),
            RequestStatus::Active,
            t0(),
        );
        // Ends spread around `now`: even ones are overdue, odd ones in the future.
        let offset = Duration::minutes(if i % 2 == 0 {
            -(i as i64) - 1
        } else {
            i as i64 + 1
        });
        r.ends_at = Some(now + offset);
        if i % 2 == 0 {
            expected.push((now + offset, r.id.clone()));
        }
        store.create_request(&r, None, &[]).await.unwrap();
    }
    // Items in other states, overdue or not, never show up under `active`.
    let mut pending = request(
        "p-old",
        "u9",
        RequestStatus::Pending,
        t0() - Duration::days(3),
    );
    pending.approval_expires_at = t0() - Duration::days(2);
    store.create_request(&pending, None, &[]).await.unwrap();
    let mut done = request("done", "u9", RequestStatus::Revoked, t0());
    done.ends_at = Some(t0());
    store.create_request(&done, None, &[]).await.unwrap();

    let mut seen = Vec::new();
    let mut cursor: Option<Cursor> = None;
    let mut pages = 0;
    loop {
        let page = store
            .due_requests("active", Some(now), 4, cursor.as_ref())
            .await
            .unwrap();
        pages += 1;
        seen.extend(page.items.into_iter().map(|r| (r.ends_at.unwrap(), r.id)));
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    expected.sort();
    assert_eq!(
        seen, expected,
        "exactly the overdue active grants, oldest due first"
    );
    assert!(pages >= 3, "the query really paged ({pages} pages)");

    let pending_due = store
        .due_requests("pending", Some(now), 10, None)
        .await
        .unwrap();
    assert_eq!(pending_due.items.len(), 1);
    assert_eq!(pending_due.items[0].id, "p-old");
}

#[tokio::test]
async fn idempotency_key_returns_the_first_request() {
    let (store, _) = fresh_store().await;
    let first = request("first", "dev", RequestStatus::Pending, t0());
    let Created::New(made) = store
        .create_request(&first, Some(("dev", "key-1")), &[])
        .await
        .unwrap()
    else {
        panic!("first create must be new");
    };
    let second = request("second", "dev", RequestStatus::Pending, t0());
    match store
        .create_request(&second, Some(("dev", "key-1")), &[])
        .await
        .unwrap()
    {
        Created::Existing(r) => assert_eq!(r, made),
        Created::New(_) => panic!("the retry must return the first request"),
    }
    assert!(
        store.get_request("second").await.unwrap().is_none(),
        "nothing half-stored"
    );
    // The same key from another requester is a different key.
    let other = request("third", "someone-else", RequestStatus::Pending, t0());
    assert!(matches!(
        store
            .create_request(&other, Some(("someone-else", "key-1")), &[])
            .await
            .unwrap(),
        Created::New(_)
    ));
    // After the window the key may be reused even though TTL has not removed the item.
    let later = request(
        "fourth",
        "dev",
        RequestStatus::Pending,
        t0() + Duration::hours(25),
    );
    assert!(matches!(
        store
            .create_request(&later, Some(("dev", "key-1")), &[])
            .await
            .unwrap(),
        Created::New(_)
    ));
}

#[tokio::test]
async fn integrations_and_flows_are_versioned_and_audited_atomically() {
    let (store, _) = fresh_store().await;
    let audit = |action: &str| {
        AuditEvent::new(
            t0(),
            "admin@example.com",
            action,
            AuditSubject::Integration("prod".into()),
        )
    };
    let saved = store
        .save_integration(
            &integration("prod"),
            None,
            &[audit("integration.registered")],
        )
        .await
        .unwrap();
    assert_eq!(saved.version, 1);
    assert!(matches!(
        store
            .save_integration(&integration("prod"), None, &[])
            .await,
        Err(StoreError::AlreadyExists {
            entity: "integration",
            ..
        })
    ));
    let updated = store
        .save_integration(&saved, Some(1), &[audit("integration.updated")])
        .await
        .unwrap();
    assert_eq!(updated.version, 2);
    // A stale writer loses, and its audit event is not written.
    assert!(
        store
            .save_integration(&saved, Some(1), &[audit("integration.stale")])
            .await
            .unwrap_err()
            .is_conflict()
    );
    store
        .save_integration(&integration("other"), None, &[])
        .await
        .unwrap();
    let names: Vec<_> = store
        .list_integrations()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, ["other", "prod"]);
    assert!(
        store
            .delete_integration("prod", 1, &[])
            .await
            .unwrap_err()
            .is_conflict()
    );
    store
        .delete_integration("prod", 2, &[audit("integration.deleted")])
        .await
        .unwrap();
    assert!(store.get_integration("prod").await.unwrap().is_none());
    let actions: Vec<_> = store
        .audit_of(&AuditSubject::Integration("prod".into()), 50, None)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions.len(), 3);
    assert!(!actions.contains(&"integration.stale".to_string()));

    let flow = AccessFlow {
        name: "logs".into(),
        spec: AccessFlowSpec {
            integration: "other".into(),
            requesters: vec![PrincipalRef::group("dev")],
            resources: vec!["logs-*".into()],
            permissions: vec!["read".into()],
            max_duration: Some("4h".into()),
            auto_approve: false,
            require_justification: true,
            approvers: vec![],
            credential_mode: CredentialMode::User,
            approval_window: None,
            schedule_horizon: None,
            description: None,
            notifications: None,
            approval: None,
            break_glass: false,
            extension: None,
            bundle: None,
        },
        version: 0,
        created_at: t0(),
        updated_at: t0(),
        managed_by: None,
    };
    let f = store.save_flow(&flow, None, &[]).await.unwrap();
    assert_eq!(store.get_flow("logs").await.unwrap().unwrap(), f);
    assert_eq!(store.list_flows().await.unwrap().len(), 1);
    store.delete_flow("logs", 1, &[]).await.unwrap();
    assert!(store.list_flows().await.unwrap().is_empty());
}

#[tokio::test]
async fn resources_page_and_batch_read() {
    let (store, _) = fresh_store().await;
    let resources: Vec<Resource> = (0..60)
        .map(|i| Resource {
            integration: "prod".into(),
            name: format!("logs-{i:03}"),
            kind: ResourceKind::Index,
            display_name: None,
            owner: (i % 2 == 0).then(|| "alice".to_string()),
            targets: vec![],
            discovered_at: t0(),
            gone_since: None,
        })
        .collect();
    store.put_resources(&resources).await.unwrap();
    let mut names = BTreeSet::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_resources("prod", 25, cursor.as_ref())
            .await
            .unwrap();
        names.extend(page.items.into_iter().map(|r| r.name));
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(names.len(), 60);
    assert_eq!(store.all_resources("prod").await.unwrap().len(), 60);
    let wanted: Vec<String> = ["logs-002", "logs-002", "logs-059", "missing"]
        .map(String::from)
        .to_vec();
    let got = store.get_resources("prod", &wanted).await.unwrap();
    assert_eq!(
        got.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["logs-002", "logs-059"]
    );
    assert_eq!(got[0].owner.as_deref(), Some("alice"));
    store
        .delete_resources("prod", &["logs-002".to_string()])
        .await
        .unwrap();
    assert_eq!(store.all_resources("prod").await.unwrap().len(), 59);
    // A cursor from another list is refused before it reaches DynamoDB.
    let page = store.list_resources("prod", 10, None).await.unwrap();
    let foreign = page.next.unwrap();
    assert!(matches!(
        store.list_resources("other", 10, Some(&foreign)).await,
        Err(StoreError::InvalidCursor)
    ));
    assert!(matches!(
        store
            .list_resources("prod", 10, Some(&Cursor::parse("bm9wZQ").unwrap()))
            .await,
        Err(StoreError::InvalidCursor)
    ));
}

#[tokio::test]
async fn finished_requests_carry_a_ttl_and_leave_the_due_index() {
    let (store, client) = fresh_store().await;
    let mut r = request("ttl", "dev", RequestStatus::Pending, t0());
    let Created::New(r1) = store.create_request(&r, None, &[]).await.unwrap() else {
        panic!()
    };
    r = r1;
    let raw = |id: &'static str| {
        let client = client.clone();
        let table = store.table().to_string();
        async move {
            client
                .get_item()
                .table_name(table)
                .key("pk", AttributeValue::S(format!("REQUEST#{id}")))
                .key("sk", AttributeValue::S("REQUEST".into()))
                .send()
                .await
                .unwrap()
                .item
                .unwrap()
        }
    };
    let item = raw("ttl").await;
    assert_eq!(item["due_status"].as_s().unwrap(), "pending");
    assert!(!item.contains_key("expires_at"));
    r.transition(RequestStatus::Rejected, t0() + Duration::hours(1))
        .unwrap();
    store.update_request(&r, 1, &[]).await.unwrap();
    let item = raw("ttl").await;
    assert!(
        !item.contains_key("due_status"),
        "sparse index: finished records leave it"
    );
    let ttl: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    assert_eq!(
        ttl,
        (t0() + Duration::hours(1) + Duration::days(90)).timestamp()
    );
}

#[tokio::test]
async fn requests_of_a_requester_come_newest_first_in_pages() {
    let (store, _) = fresh_store().await;
    for i in 0..7 {
        let r = request(
            &format!("m{i}"),
            "me",
            RequestStatus::Pending,
            t0() + Duration::minutes(i),
        );
        store.create_request(&r, None, &[]).await.unwrap();
    }
    store
        .create_request(
            &request("x", "you", RequestStatus::Pending, t0()),
            None,
            &[],
        )
        .await
        .unwrap();
    let first = store.requests_of("me", 5, None).await.unwrap();
    assert_eq!(
        first
            .items
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        ["m6", "m5", "m4", "m3", "m2"]
    );
    let second = store
        .requests_of("me", 5, first.next.as_ref())
        .await
        .unwrap();
    assert_eq!(
        second
            .items
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        ["m1", "m0"]
    );
    assert!(second.next.is_none());
}

#[tokio::test]
async fn principals_serialize_changes_and_idle_ones_become_due() {
    let (store, _) = fresh_store().await;
    let p = PrincipalState {
        integration: "prod".into(),
        name: "ejit_dev".into(),
        owner_sub: "dev".into(),
        owner_issuer: None,
        active_grants: vec!["g1".into()],
        roles: vec!["ejit_grant_g1".into()],
        enabled: true,
        credential_secret_arn: None,
        created_at: t0(),
        updated_at: t0(),
        last_grant_ended_at: None,
        password_rotated_at: None,
        cleanup_due_at: None,
        provisioned: true,
        shared_objects: vec![],
        lock_owner: None,
        lock_until: None,
        version: 0,
    };
    let saved = store.save_principal(&p, None, &[]).await.unwrap();
    // Two writers that both read version 1: one wins.
    let mut a = saved.clone();
    a.active_grants.push("g2".into());
    let mut b = saved.clone();
    b.active_grants.push("g3".into());
    store.save_principal(&a, Some(1), &[]).await.unwrap();
    assert!(
        store
            .save_principal(&b, Some(1), &[])
            .await
            .unwrap_err()
            .is_conflict()
    );

    let mut idle = store
        .get_principal("prod", "ejit_dev")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(idle.active_grants, ["g1", "g2"]);
    idle.active_grants.clear();
    idle.cleanup_due_at = Some(t0() + Duration::days(7));
    store.save_principal(&idle, Some(2), &[]).await.unwrap();
    assert!(
        store
            .due_principals(t0() + Duration::days(6), 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let due = store
        .due_principals(t0() + Duration::days(7), 10, None)
        .await
        .unwrap();
    assert_eq!(due.items.len(), 1);
    assert_eq!(
        store
            .principals_of("prod", 10, None)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    store
        .delete_principal("prod", "ejit_dev", 3, &[])
        .await
        .unwrap();
    assert!(
        store
            .get_principal("prod", "ejit_dev")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn approvers_find_their_pending_requests_by_key_and_lose_them_once_decided() {
    use shared::model::{ApprovalStep, Identity};
    let (store, _) = fresh_store().await;
    let step = |who: PrincipalRef| ApprovalStep::new("owner", vec![who]);
    let mut by_group = request("a", "dev", RequestStatus::Pending, t0());
    by_group.approval_steps = vec![step(PrincipalRef::group("leads"))];
    let mut by_email = request(
        "b",
        "dev2",
        RequestStatus::Pending,
        t0() + Duration::minutes(1),
    );
    by_email.approval_steps = vec![step(PrincipalRef::user("Alice@Example.com"))];
    for r in [&by_group, &by_email] {
        store.create_request(r, None, &[]).await.unwrap();
    }
    let alice = Identity {
        sub: "alice-sub".into(),
        email: Some("alice@example.com".into()),
        groups: vec!["leads".into()],
        ..Identity::default()
    };
    let queue = store.pending_for_approver(&alice, 10).await.unwrap();
    let ids: Vec<&str> = queue.items.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        (ids, queue.truncated),
        (vec!["b", "a"], false),
        "newest first"
    );
    let stranger = Identity {
        sub: "x".into(),
        email: Some("x@example.com".into()),
        groups: vec!["Leads".into()],
        ..Identity::default()
    };
    assert!(
        store
            .pending_for_approver(&stranger, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // A `sub` that looks like an email never stands in for one, not even to find the request.
    let sub_like_email = Identity {
        sub: "alice@example.com".into(),
        ..Identity::default()
    };
    assert!(
        store
            .pending_for_approver(&sub_like_email, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        store
            .pending_for_approver(&alice, 1)
            .await
            .unwrap()
            .truncated
    );

    // Rejecting removes it from the index in the same write.
    let mut stored = store.get_request("a").await.unwrap().unwrap();
    stored.transition(RequestStatus::Rejected, t0()).unwrap();
    store.update_request(&stored, 1, &[]).await.unwrap();
    let queue = store.pending_for_approver(&alice, 10).await.unwrap();
    assert_eq!(queue.items.len(), 1);
}

#[tokio::test]
async fn open_requests_are_capped_but_a_replay_still_answers() {
    let (plain, client) = fresh_store().await;
    let mut cfg = shared::store::StoreConfig::new(plain.table());
    cfg.max_open_requests = 2;
    let store = shared::store::DynamoStore::with_config(client, cfg);
    for id in ["o1", "o2"] {
        let r = request(id, "dev", RequestStatus::Pending, t0());
        store
            .create_request(&r, Some(("dev", id)), &[])
            .await
            .unwrap();
    }
    let third = request("o3", "dev", RequestStatus::Pending, t0());
    let err = store.create_request(&third, None, &[]).await.unwrap_err();
    assert!(matches!(err, StoreError::TooManyOpen { limit: 2 }), "{err}");
    // A retry of an earlier create is answered with that request, cap or not.
    let again = request("o2-retry", "dev", RequestStatus::Pending, t0());
    match store
        .create_request(&again, Some(("dev", "o2")), &[])
        .await
        .unwrap()
    {
        Created::Existing(r) => assert_eq!(r.id, "o2"),
        Created::New(_) => panic!("the key was used before"),
    }
    // Finished requests free their slot.
    let mut first = store.get_request("o1").await.unwrap().unwrap();
    first.transition(RequestStatus::Expired, t0()).unwrap();
    store.update_request(&first, 1, &[]).await.unwrap();
    store.create_request(&third, None, &[]).await.unwrap();
}

fn account(name: &str) -> PrincipalState {
    PrincipalState::new("prod", name, "dev", t0())
}

#[tokio::test]
async fn a_lease_is_one_update_that_returns_the_account_and_waits_for_another_holder() {
    let (store, client) = fresh_store().await;
    let until = t0() + Duration::seconds(60);
    assert_eq!(
        store
            .lease_principal("prod", "ejit_none", "a", t0(), until)
            .await
            .unwrap(),
        Lease::Absent,
        "a lease never creates an account"
    );
    store
        .save_principal(&account("ejit_dev"), None, &[])
        .await
        .unwrap();
    let Lease::Taken(mine) = store
        .lease_principal("prod", "ejit_dev", "a", t0(), until)
        .await
        .unwrap()
    else {
        panic!("a free account is leased");
    };
    assert_eq!(
        (mine.lock_owner.as_deref(), mine.lock_until, mine.version),
        (Some("a"), Some(until), 2)
    );
    let held = store
        .lease_principal("prod", "ejit_dev", "b", t0() + Duration::seconds(30), until)
        .await
        .unwrap();
    assert!(matches!(held, Lease::Held(p) if p.lock_owner.as_deref() == Some("a")));
    assert!(
        matches!(
            store
                .lease_principal("prod", "ejit_dev", "a", t0(), until)
                .await
                .unwrap(),
            Lease::Taken(_)
        ),
        "a holder finds its own lease free"
    );
    let later = until + Duration::seconds(1);
    let Lease::Taken(taken) = store
        .lease_principal(
            "prod",
            "ejit_dev",
            "b",
            later,
            later + Duration::seconds(60),
        )
        .await
        .unwrap()
    else {
        panic!("an expired lease is taken over");
    };
    assert_eq!(taken.lock_owner.as_deref(), Some("b"));

    // A lease written without its millisecond end (before it existed) that has run out.
    let mut old = account("ejit_old");
    old.lock_owner = Some("gone".into());
    old.lock_until = Some(t0());
    let saved = store.save_principal(&old, None, &[]).await.unwrap();
    client
        .update_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S("PRINCIPAL#prod".into()))
        .key("sk", AttributeValue::S("ejit_old".into()))
        .update_expression("REMOVE lease_until_ms")
        .send()
        .await
        .unwrap();
    let Lease::Taken(p) = store
        .lease_principal(
            "prod",
            "ejit_old",
            "c",
            later,
            later + Duration::seconds(60),
        )
        .await
        .unwrap()
    else {
        panic!("an expired lease without its millisecond end is taken over");
    };
    assert_eq!(
        (p.lock_owner.as_deref(), p.version),
        (Some("c"), saved.version + 1)
    );
}

#[tokio::test]
async fn a_request_and_its_account_commit_together_or_not_at_all() {
    let (store, _) = fresh_store().await;
    let Created::New(r) = store
        .create_request(
            &request("both", "dev", RequestStatus::Approved, t0()),
            None,
            &[],
        )
        .await
        .unwrap()
    else {
        panic!("new");
    };
    let mut active = r.clone();
    active.status = RequestStatus::Active;
    // The account changed since it was read: nothing is written.
    store
        .save_principal(&account("ejit_dev"), None, &[])
        .await
        .unwrap();
    let err = store
        .update_request_and_principal(&active, r.version, &account("ejit_dev"), None, &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                entity: "principal",
                ..
            }
        ),
        "{err}"
    );
    let unchanged = store.get_request("both").await.unwrap().unwrap();
    assert_eq!(unchanged.status, RequestStatus::Approved);
    // Both at the versions read: both written.
    let (stored, p) = store
        .update_request_and_principal(&active, r.version, &account("ejit_dev"), Some(1), &[])
        .await
        .unwrap();
    assert_eq!((stored.version, p.version), (r.version + 1, 2));
    // The request changed since: a conflict on the request, the account untouched.
    let err = store
        .update_request_and_principal(&active, r.version, &p, Some(2), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                entity: "request",
                ..
            }
        ),
        "{err}"
    );
    let now = store
        .get_principal("prod", "ejit_dev")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.version, 2);
}

#[tokio::test]
async fn a_snapshot_hash_counts_only_for_its_generation_its_last_writer_and_a_while() {
    let (store, _) = fresh_store().await;
    let now = t0();
    let trust = Duration::hours(6);
    let store = Arc::new(store);
    let current = |at| {
        let s = store.clone();
        async move {
            s.snapshot_hash("prod-search", "gen-1", at, trust)
                .await
                .unwrap()
        }
    };
    assert_eq!(current(now).await, None, "nothing recorded yet");
    store
        .begin_snapshot("prod-search", "gen-1", "writer-a")
        .await
        .unwrap();
    assert_eq!(current(now).await, None, "begun, not finished");
    assert!(
        store
            .finish_snapshot("prod-search", "gen-1", "writer-a", "h1", now)
            .await
            .unwrap()
    );
    assert_eq!(current(now).await.as_deref(), Some("h1"));
    // Another generation of the integration (deleted and registered again): not its hash.
    assert_eq!(
        store
            .snapshot_hash("prod-search", "gen-2", now, trust)
            .await
            .unwrap(),
        None
    );
    // Too old: compared in full again.
    assert_eq!(current(now + Duration::hours(7)).await, None);

    // Two discoveries overlap: the one that began last wins; the other records nothing.
    store
        .begin_snapshot("prod-search", "gen-1", "writer-b")
        .await
        .unwrap();
    store
        .begin_snapshot("prod-search", "gen-1", "writer-c")
        .await
        .unwrap();
    assert!(
        !store
            .finish_snapshot("prod-search", "gen-1", "writer-b", "h2", now)
            .await
            .unwrap()
    );
    assert_eq!(current(now).await, None);
    assert!(
        store
            .finish_snapshot("prod-search", "gen-1", "writer-c", "h3", now)
            .await
            .unwrap()
    );
    assert_eq!(current(now).await.as_deref(), Some("h3"));
    // Resources changed outside a discovery (the integration deleted): forgotten.
    store.forget_snapshot("prod-search").await.unwrap();
    assert_eq!(current(now).await, None);
    store.forget_snapshot("prod-search").await.unwrap();
}
