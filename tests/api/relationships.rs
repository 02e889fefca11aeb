//! The rules of contract-relationships.graphql, through HTTP: follow
//! policies and requests, blocks, removeFollower, hiddenFromFeed,
//! networkHidden, followMany/unfollowMany, knownFollowers, suggestedUsers,
//! deleteAccount, and every error code they answer with.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, strings, TestApp};

const REL: &str = "following followedBy requested requestedBy blocking blockedBy hiddenFromFeed followedAt";

/// Runs a relationship mutation on `user` and returns its payload.
async fn act(app: &TestApp, token: &str, mutation: &str, user: &str) -> Value {
    let q = format!(
        "mutation($u: ID!) {{ {mutation}(userId: $u) {{ status relationship {{ {REL} }} user {{ username followersCount followingCount }} viewer {{ followersCount followingCount }} }} }}"
    );
    app.ok(Some(token), &q, json!({ "u": user })).await[mutation].clone()
}

/// The error code of a relationship mutation on `user`.
async fn refused(app: &TestApp, token: Option<&str>, mutation: &str, user: &str) -> String {
    let q = format!("mutation($u: ID!) {{ {mutation}(userId: $u) {{ status }} }}");
    app.error_code(token, &q, json!({ "u": user })).await
}

async fn set_profile(app: &TestApp, token: &str, input: Value) {
    app.ok(Some(token), "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id } }", json!({ "i": input }))
        .await;
}

/// `username` as `token` sees it: counts and the relationship.
async fn seen(app: &TestApp, token: Option<&str>, username: &str) -> Value {
    let q = format!(
        "query($n: String!) {{ user(username: $n) {{ followersCount followingCount followPolicy networkHidden viewerRelationship {{ {REL} }} }} }}"
    );
    app.ok(token, &q, json!({ "n": username })).await["user"].clone()
}

async fn feed(app: &TestApp, token: &str) -> Vec<String> {
    let data = app.ok(Some(token), "{ feed(first: 50) { nodes { body } } }", json!({})).await;
    strings(&data["feed"]["nodes"], "/body")
}

async fn requests(app: &TestApp, token: &str, field: &str) -> Value {
    let q = format!(
        "{{ {field} {{ totalCount nodes {{ user {{ username }} requestedAt }} pageInfo {{ hasNextPage }} }} }}"
    );
    app.ok(Some(token), &q, json!({})).await[field].clone()
}

#[tokio::test]
async fn approval_makes_a_request_that_moves_nothing_until_approved() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.sign_up("alice").await;
    let (bob, bob_id) = app.sign_up("bob").await;
    set_profile(&app, &bob, json!({ "followPolicy": "APPROVAL" })).await;
    app.post(&bob, "bob's post").await;

    let asked = act(&app, &alice, "follow", &bob_id).await;
    assert_eq!(asked["status"], "REQUESTED");
    assert_eq!(asked["relationship"]["requested"], true);
    assert_eq!(asked["relationship"]["following"], false);
    assert_eq!(asked["user"]["followersCount"], 0, "a request moves no counter");
    assert_eq!(asked["viewer"]["followingCount"], 0);
    // Asking again changes nothing.
    assert_eq!(act(&app, &alice, "follow", &bob_id).await["status"], "REQUESTED");

    let incoming = requests(&app, &bob, "followRequests").await;
    assert_eq!(incoming["totalCount"], 1);
    assert_eq!(strings(&incoming["nodes"], "/user/username"), ["alice"]);
    let sent = requests(&app, &alice, "sentFollowRequests").await;
    assert_eq!(strings(&sent["nodes"], "/user/username"), ["bob"]);
    assert_eq!(seen(&app, Some(&bob), "alice").await["viewerRelationship"]["requestedBy"], true);
    let lists =
        app.ok(None, r#"{ user(username: "bob") { followers { totalCount nodes { username } } } }"#, json!({})).await;
    assert_eq!(lists["user"]["followers"], json!({ "totalCount": 0, "nodes": [] }), "in no list until approved");
    assert!(!feed(&app, &alice).await.contains(&"bob's post".to_owned()), "in no feed until approved");

    let approved = act(&app, &bob, "approveFollowRequest", &alice_id).await;
    assert_eq!(approved["status"], "NOT_FOLLOWING", "status is the viewer's own follow of user");
    assert_eq!(approved["relationship"]["followedBy"], true);
    assert_eq!(approved["relationship"]["requestedBy"], false);
    assert_eq!(approved["viewer"]["followersCount"], 1);
    assert_eq!(approved["user"]["followingCount"], 1);
    assert_eq!(requests(&app, &bob, "followRequests").await["totalCount"], 0);
    assert!(feed(&app, &alice).await.contains(&"bob's post".to_owned()));
    let rel = &seen(&app, Some(&alice), "bob").await["viewerRelationship"];
    assert_eq!((rel["following"].clone(), rel["requested"].clone()), (json!(true), json!(false)));
    let requested_at = sent["nodes"][0]["requestedAt"].as_str().unwrap();
    assert!(rel["followedAt"].as_str().unwrap() > requested_at, "followedAt is the approval time");

    // Nothing left to approve or reject.
    assert_eq!(refused(&app, Some(&bob), "approveFollowRequest", &alice_id).await, "NOT_FOUND");
    assert_eq!(refused(&app, Some(&bob), "rejectFollowRequest", &alice_id).await, "NOT_FOUND");
    // Already following succeeds whatever the policy now is.
    set_profile(&app, &bob, json!({ "followPolicy": "CLOSED" })).await;
    assert_eq!(act(&app, &alice, "follow", &bob_id).await["status"], "FOLLOWING");
}

#[tokio::test]
async fn reject_and_cancel_drop_the_request() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.sign_up("alice").await;
    let (bob, bob_id) = app.sign_up("bob").await;
    set_profile(&app, &bob, json!({ "followPolicy": "APPROVAL" })).await;

    act(&app, &alice, "follow", &bob_id).await;
    let rejected = act(&app, &bob, "rejectFollowRequest", &alice_id).await;
    assert_eq!(rejected["relationship"]["requestedBy"], false);
    assert_eq!(requests(&app, &alice, "sentFollowRequests").await["totalCount"], 0);

    act(&app, &alice, "follow", &bob_id).await;
    let cancelled = act(&app, &alice, "unfollow", &bob_id).await;
    assert_eq!(cancelled["status"], "NOT_FOLLOWING");
    assert_eq!(cancelled["relationship"]["requested"], false);
    assert_eq!(requests(&app, &bob, "followRequests").await["totalCount"], 0);
    assert_eq!(refused(&app, Some(&bob), "approveFollowRequest", &alice_id).await, "NOT_FOUND");
}

#[tokio::test]
async fn switching_policy_settles_pending_requests() {
    let app = spawn_app().await;
    let (star, star_id) = app.sign_up("star").await;
    let mut fans = Vec::new();
    for name in ["fan1", "fan2", "fan3"] {
        fans.push(app.sign_up(name).await);
    }
    // Profile text and policy change together, in one write.
    set_profile(&app, &star, json!({ "followPolicy": "APPROVAL", "displayName": "The Star", "bio": "hi" })).await;
    let profile = app.ok(None, r#"{ user(username: "star") { displayName bio followPolicy } }"#, json!({})).await;
    assert_eq!(profile["user"], json!({ "displayName": "The Star", "bio": "hi", "followPolicy": "APPROVAL" }));
    for (token, _) in &fans[..2] {
        assert_eq!(act(&app, token, "follow", &star_id).await["status"], "REQUESTED");
    }
    // APPROVAL -> OPEN approves every pending request.
    set_profile(&app, &star, json!({ "followPolicy": "OPEN" })).await;
    let star_seen = seen(&app, None, "star").await;
    assert_eq!(star_seen["followersCount"], 2);
    assert_eq!(star_seen["followPolicy"], "OPEN");
    assert_eq!(seen(&app, None, "fan1").await["followingCount"], 1);
    assert_eq!(requests(&app, &star, "followRequests").await["totalCount"], 0);

    // APPROVAL -> CLOSED rejects them; existing follows stay.
    set_profile(&app, &star, json!({ "followPolicy": "APPROVAL" })).await;
    let (fan3, _) = &fans[2];
    assert_eq!(act(&app, fan3, "follow", &star_id).await["status"], "REQUESTED");
    set_profile(&app, &star, json!({ "followPolicy": "CLOSED" })).await;
    assert_eq!(requests(&app, &star, "followRequests").await["totalCount"], 0);
    assert_eq!(requests(&app, fan3, "sentFollowRequests").await["totalCount"], 0);
    assert_eq!(seen(&app, None, "star").await["followersCount"], 2);
    assert_eq!(refused(&app, Some(fan3), "follow", &star_id).await, "FORBIDDEN");
    assert_eq!(seen(&app, None, "fan3").await["followingCount"], 0);
}

#[tokio::test]
async fn block_ends_everything_both_ways_until_unblock() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.sign_up("alice").await;
    let (bob, bob_id) = app.sign_up("bob").await;
    let (carol, carol_id) = app.sign_up("carol").await;
    act(&app, &alice, "follow", &bob_id).await;
    act(&app, &bob, "follow", &alice_id).await;
    set_profile(&app, &carol, json!({ "followPolicy": "APPROVAL" })).await;
    act(&app, &alice, "follow", &carol_id).await;
    let bob_post = app.post(&bob, "from bob").await;
    app.post(&alice, "from alice").await;

    let blocked = act(&app, &alice, "block", &bob_id).await;
    assert_eq!(blocked["status"], "NOT_FOLLOWING");
    let rel = &blocked["relationship"];
    assert_eq!(
        (rel["blocking"].clone(), rel["following"].clone(), rel["followedBy"].clone()),
        (json!(true), json!(false), json!(false))
    );
    assert_eq!(blocked["user"]["followersCount"], 0, "counters move in the same transaction");
    assert_eq!(blocked["user"]["followingCount"], 0);
    assert_eq!(blocked["viewer"]["followersCount"], 0);
    assert_eq!(blocked["viewer"]["followingCount"], 0);
    // Idempotent.
    assert_eq!(act(&app, &alice, "block", &bob_id).await["relationship"]["blocking"], true);

    // Neither may follow or ask to follow the other.
    assert_eq!(refused(&app, Some(&bob), "follow", &alice_id).await, "FORBIDDEN");
    assert_eq!(refused(&app, Some(&alice), "follow", &bob_id).await, "FORBIDDEN");
    assert_eq!(seen(&app, Some(&bob), "alice").await["viewerRelationship"]["blockedBy"], true);

    // No posts of the other in any feed or posts list; post(id) is unaffected.
    let posts = |name: &str| format!(r#"{{ user(username: "{name}") {{ posts {{ nodes {{ body }} }} }} }}"#);
    assert_eq!(app.ok(Some(&alice), &posts("bob"), json!({})).await["user"]["posts"]["nodes"], json!([]));
    assert_eq!(app.ok(Some(&bob), &posts("alice"), json!({})).await["user"]["posts"]["nodes"], json!([]));
    assert_eq!(
        app.ok(Some(&carol), &posts("bob"), json!({})).await["user"]["posts"]["nodes"],
        json!([{ "body": "from bob" }])
    );
    assert_eq!(feed(&app, &alice).await, ["from alice"]);
    assert_eq!(feed(&app, &bob).await, ["from bob"]);
    let post = app.ok(Some(&alice), "query($p: ID!) { post(id: $p) { body } }", json!({ "p": bob_post })).await;
    assert_eq!(post["post"]["body"], "from bob");

    let blocked_list =
        app.ok(Some(&alice), "{ blockedUsers { nodes { username } edges { cursor } } }", json!({})).await;
    assert_eq!(strings(&blocked_list["blockedUsers"]["nodes"], "/username"), ["bob"]);

    // A block ends requests both ways too.
    act(&app, &carol, "block", &alice_id).await;
    assert_eq!(requests(&app, &carol, "followRequests").await["totalCount"], 0);
    assert_eq!(refused(&app, Some(&alice), "follow", &carol_id).await, "FORBIDDEN");

    // Unblock: idempotent, and the follows stay ended.
    let lifted = act(&app, &alice, "unblock", &bob_id).await;
    assert_eq!(lifted["relationship"]["blocking"], false);
    assert_eq!(lifted["relationship"]["following"], false);
    assert_eq!(act(&app, &alice, "unblock", &bob_id).await["relationship"]["blocking"], false);
    assert_eq!(act(&app, &bob, "follow", &alice_id).await["status"], "FOLLOWING");
    assert_eq!(refused(&app, Some(&alice), "block", &alice_id).await, "BAD_USER_INPUT");
    assert_eq!(store::counters::count_wrong(&app.db).await.unwrap(), 0);
}

#[tokio::test]
async fn remove_follower_is_a_soft_block() {
    let app = spawn_app().await;
    let (alice, _) = app.sign_up("alice").await;
    let (bob, bob_id) = app.sign_up("bob").await;
    let alice_id = seen_id(&app, "alice").await;
    act(&app, &bob, "follow", &alice_id).await;
    let removed = act(&app, &alice, "removeFollower", &bob_id).await;
    assert_eq!(removed["relationship"]["followedBy"], false);
    assert_eq!(removed["viewer"]["followersCount"], 0);
    assert_eq!(removed["user"]["followingCount"], 0);
    // A non-follower: succeeds, changes nothing.
    assert_eq!(act(&app, &alice, "removeFollower", &bob_id).await["viewer"]["followersCount"], 0);
    // They may follow again.
    assert_eq!(act(&app, &bob, "follow", &alice_id).await["status"], "FOLLOWING");
}

async fn seen_id(app: &TestApp, username: &str) -> String {
    let data = app.ok(None, "query($n: String!) { user(username: $n) { id } }", json!({ "n": username })).await;
    data["user"]["id"].as_str().unwrap().to_owned()
}

/// hiddenFromFeed drops the account's posts at once, on every page and
/// poll, under both feed plans; only the follower sees the flag.
#[tokio::test]
async fn hidden_from_feed_under_both_plans() {
    for broad in [0, 1_000_000] {
        let app = spawn_app_with(|c| c.feed_broad_following = broad).await;
        let (alice, _) = app.sign_up("alice").await;
        let (bob, bob_id) = app.sign_up("bob").await;
        let (carol, carol_id) = app.sign_up("carol").await;
        act(&app, &alice, "follow", &bob_id).await;
        act(&app, &alice, "follow", &carol_id).await;
        app.post(&bob, "bob 1").await;
        app.post(&carol, "carol 1").await;
        let first = app.ok(Some(&alice), "{ feed(first: 1) { edges { cursor } } }", json!({})).await;
        let cursor = first["feed"]["edges"][0]["cursor"].as_str().unwrap().to_owned();
        app.post(&bob, "bob 2").await;

        let q = "mutation($u: ID!, $h: Boolean) { updateFollow(userId: $u, input: { hiddenFromFeed: $h }) { status relationship { hiddenFromFeed following } } }";
        let hidden = app.ok(Some(&alice), q, json!({ "u": bob_id, "h": true })).await;
        assert_eq!(
            hidden["updateFollow"],
            json!({ "status": "FOLLOWING", "relationship": { "hiddenFromFeed": true, "following": true } })
        );
        assert_eq!(feed(&app, &alice).await, ["carol 1"], "plan broad={broad}");
        let poll = app
            .ok(
                Some(&alice),
                "query($c: String) { feed(last: 20, before: $c) { nodes { body } } }",
                json!({ "c": cursor }),
            )
            .await;
        assert_eq!(poll["feed"]["nodes"], json!([]), "a poll skips hidden posts too (broad={broad})");
        let after = app
            .ok(
                Some(&alice),
                "query($c: String) { feed(first: 20, after: $c) { nodes { body } } }",
                json!({ "c": cursor }),
            )
            .await;
        assert_eq!(after["feed"]["nodes"], json!([]));

        // The flag: on the follower's own following list only.
        let list = r#"{ user(username: "alice") { following { edges { hiddenFromFeed node { username } } } } }"#;
        let own = app.ok(Some(&alice), list, json!({})).await;
        let flags: Vec<(Value, Value)> = own["user"]["following"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["node"]["username"].clone(), e["hiddenFromFeed"].clone()))
            .collect();
        assert!(flags.contains(&(json!("bob"), json!(true))) && flags.contains(&(json!("carol"), json!(false))));
        let others = app.ok(Some(&bob), list, json!({})).await;
        assert!(others["user"]["following"]["edges"].as_array().unwrap().iter().all(|e| e["hiddenFromFeed"].is_null()));
        assert!(seen(&app, Some(&bob), "alice").await["viewerRelationship"]["hiddenFromFeed"] == false);

        app.ok(Some(&alice), q, json!({ "u": bob_id, "h": false })).await;
        assert_eq!(feed(&app, &alice).await, ["bob 2", "carol 1", "bob 1"]);
        // No follow, nothing to update.
        app.ok(Some(&alice), "mutation($u: ID!) { unfollow(userId: $u) { status } }", json!({ "u": carol_id })).await;
        let code = app.error_code(Some(&alice), q, json!({ "u": carol_id, "h": true })).await;
        assert_eq!(code, "NOT_FOUND");
    }
}

#[tokio::test]
async fn a_hidden_network_is_forbidden_to_others_but_counts_stay() {
    let app = spawn_app().await;
    let (owner, owner_id) = app.sign_up("owner").await;
    let (fan, _) = app.sign_up("fan").await;
    act(&app, &fan, "follow", &owner_id).await;
    set_profile(&app, &owner, json!({ "networkHidden": true })).await;
    for list in ["followers", "following", "knownFollowers"] {
        let q = format!(r#"{{ user(username: "owner") {{ {list} {{ totalCount }} }} }}"#);
        assert_eq!(app.error_code(Some(&fan), &q, json!({})).await, "FORBIDDEN", "{list}");
        assert_eq!(app.error_code(None, &q, json!({})).await, "FORBIDDEN", "{list} signed out");
        app.ok(Some(&owner), &q, json!({})).await;
    }
    let counts = seen(&app, Some(&fan), "owner").await;
    assert_eq!((counts["followersCount"].clone(), counts["networkHidden"].clone()), (json!(1), json!(true)));
}

const FOLLOW_MANY: &str =
    "mutation($ids: [ID!]!) { followMany(userIds: $ids) { status user { username } relationship { following requested } } }";
const UNFOLLOW_MANY: &str = "mutation($ids: [ID!]!) { unfollowMany(userIds: $ids) { status user { username } } }";

#[tokio::test]
async fn follow_many_is_all_or_nothing() {
    let app = spawn_app().await;
    let (me, me_id) = app.sign_up("myself").await;
    let mut ids = Vec::new();
    for name in ["open1", "open2", "asks", "shut"] {
        ids.push(app.sign_up(name).await);
    }
    set_profile(&app, &ids[2].0, json!({ "followPolicy": "APPROVAL" })).await;
    set_profile(&app, &ids[3].0, json!({ "followPolicy": "CLOSED" })).await;
    let (open1, open2, asks, shut) = (&ids[0].1, &ids[1].1, &ids[2].1, &ids[3].1);

    // One bad ID fails the call with nothing changed.
    for (bad, code) in [
        (shut.clone(), "FORBIDDEN"),
        (crate::helpers::global_id("User", 999_999), "NOT_FOUND"),
        ("garbage".to_owned(), "BAD_USER_INPUT"),
        (me_id.clone(), "BAD_USER_INPUT"),
    ] {
        let code_got = app.error_code(Some(&me), FOLLOW_MANY, json!({ "ids": [open1, asks, bad] })).await;
        assert_eq!(code_got, code);
        assert_eq!(seen(&app, None, "myself").await["followingCount"], 0, "nothing changed after {code}");
        assert_eq!(requests(&app, &me, "sentFollowRequests").await["totalCount"], 0);
    }
    // Blocked either way: FORBIDDEN, nothing changed.
    let (blocker, blocker_id) = app.sign_up("blocker").await;
    act(&app, &blocker, "block", &me_id).await;
    let code = app.error_code(Some(&me), FOLLOW_MANY, json!({ "ids": [open1, blocker_id] })).await;
    assert_eq!(code, "FORBIDDEN");
    assert_eq!(seen(&app, None, "myself").await["followingCount"], 0);
    let too_many: Vec<&String> = std::iter::repeat_n(open1, 101).collect();
    assert_eq!(app.error_code(Some(&me), UNFOLLOW_MANY, json!({ "ids": too_many })).await, "BAD_USER_INPUT");
    assert_eq!(app.error_code(Some(&me), FOLLOW_MANY, json!({ "ids": too_many })).await, "BAD_USER_INPUT");

    // Repeats count once; one payload per distinct ID, in order of first appearance.
    let done = app.ok(Some(&me), FOLLOW_MANY, json!({ "ids": [asks, open2, asks, open1, open2] })).await;
    assert_eq!(strings(&done["followMany"], "/user/username"), ["asks", "open2", "open1"]);
    assert_eq!(strings(&done["followMany"], "/status"), ["REQUESTED", "FOLLOWING", "FOLLOWING"]);
    assert_eq!(seen(&app, None, "myself").await["followingCount"], 2);
    // Idempotent.
    let again = app.ok(Some(&me), FOLLOW_MANY, json!({ "ids": [open1, asks] })).await;
    assert_eq!(strings(&again["followMany"], "/status"), ["FOLLOWING", "REQUESTED"]);
    assert_eq!(seen(&app, None, "myself").await["followingCount"], 2);

    let undone = app.ok(Some(&me), UNFOLLOW_MANY, json!({ "ids": [open1, asks, open1, open2] })).await;
    assert_eq!(strings(&undone["unfollowMany"], "/status"), ["NOT_FOLLOWING"; 3]);
    assert_eq!(seen(&app, None, "myself").await["followingCount"], 0);
    assert_eq!(requests(&app, &me, "sentFollowRequests").await["totalCount"], 0);
    assert_eq!(store::counters::count_wrong(&app.db).await.unwrap(), 0);
}

/// The statements of followMany do not grow with the number of IDs.
#[tokio::test]
async fn follow_many_runs_a_fixed_number_of_statements() {
    let app = spawn_app().await;
    let (me, _) = app.sign_up("myself").await;
    let mut ids = Vec::new();
    for i in 0..60 {
        ids.push(app.sign_up(&format!("user{i:02}")).await.1);
    }
    let mut ran = Vec::new();
    for (q, chunk) in
        [(FOLLOW_MANY, &ids[..2]), (FOLLOW_MANY, &ids[2..]), (UNFOLLOW_MANY, &ids[..2]), (UNFOLLOW_MANY, &ids[2..])]
    {
        let before = app.statements();
        app.ok(Some(&me), q, json!({ "ids": chunk })).await;
        ran.push(app.statements() - before);
    }
    assert_eq!(ran[0], ran[1], "followMany of 2 and of 58");
    assert_eq!(ran[2], ran[3], "unfollowMany of 2 and of 58");
    // SQLite: session, lock, read, insert, floor, copy, counters; one
    // statement fewer for each write that PostgreSQL puts in the UPDATE.
    assert!(ran[1] <= 7, "session, lock, read, the writes, counters: {ran:?}");
}

#[tokio::test]
async fn known_followers_are_the_followers_the_viewer_follows() {
    let app = spawn_app().await;
    let (viewer, _) = app.sign_up("viewer").await;
    let (_, star_id) = app.sign_up("star").await;
    let mut fans = Vec::new();
    for name in ["ann", "ben", "cat", "dan"] {
        let (token, id) = app.sign_up(name).await;
        act(&app, &token, "follow", &star_id).await;
        fans.push(id);
    }
    for id in [&fans[0], &fans[2], &fans[3]] {
        act(&app, &viewer, "follow", id).await;
    }
    let q = r#"{ user(username: "star") { knownFollowers(first: 2) { totalCount nodes { username } pageInfo { hasNextPage endCursor } } } }"#;
    let data = app.ok(Some(&viewer), q, json!({})).await;
    let known = &data["user"]["knownFollowers"];
    assert_eq!(known["totalCount"], 3);
    assert_eq!(strings(&known["nodes"], "/username"), ["dan", "cat"], "newest follow of star first");
    assert_eq!(known["pageInfo"]["hasNextPage"], true);
    let q2 = r#"query($a: String) { user(username: "star") { knownFollowers(after: $a) { nodes { username } } } }"#;
    let rest = app.ok(Some(&viewer), q2, json!({ "a": known["pageInfo"]["endCursor"] })).await;
    assert_eq!(strings(&rest["user"]["knownFollowers"]["nodes"], "/username"), ["ann"]);
    let signed_out = app.ok(None, q, json!({})).await;
    assert_eq!(signed_out["user"]["knownFollowers"]["totalCount"], 0);
    assert_eq!(signed_out["user"]["knownFollowers"]["nodes"], json!([]));
}

#[tokio::test]
async fn suggestions_rank_friends_of_friends_then_fall_back_to_popular() {
    let app = spawn_app().await;
    let (me, _) = app.sign_up("myself").await;
    let mut users = std::collections::HashMap::new();
    for name in ["fan_a", "fan_b", "fan_c", "xavier", "yvonne", "zelda", "shut", "hater", "pop"] {
        users.insert(name, app.sign_up(name).await);
    }
    let id = |n: &str| users[n].1.clone();
    let token = |n: &str| users[n].0.clone();
    for friend in ["fan_a", "fan_b", "fan_c"] {
        act(&app, &me, "follow", &id(friend)).await;
    }
    // fa and fb follow x; fa follows y; fc (network hidden) follows z.
    act(&app, &token("fan_a"), "follow", &id("xavier")).await;
    act(&app, &token("fan_b"), "follow", &id("xavier")).await;
    act(&app, &token("fan_a"), "follow", &id("yvonne")).await;
    act(&app, &token("fan_c"), "follow", &id("zelda")).await;
    set_profile(&app, &token("fan_c"), json!({ "networkHidden": true })).await;
    // shut is CLOSED, hater blocks me: neither is suggested however followed.
    for other in ["shut", "hater"] {
        act(&app, &token("fan_a"), "follow", &id(other)).await;
        act(&app, &token("fan_b"), "follow", &id(other)).await;
    }
    set_profile(&app, &token("shut"), json!({ "followPolicy": "CLOSED" })).await;
    let me_id = seen_id(&app, "myself").await;
    act(&app, &token("hater"), "block", &me_id).await;
    // pop is popular but nobody I follow follows it.
    for fan in ["yvonne", "zelda", "xavier", "shut"] {
        act(&app, &token(fan), "follow", &id("pop")).await;
    }

    let q = "query($n: Int) { suggestedUsers(first: $n) { username } }";
    let got = app.ok(Some(&me), q, json!({ "n": 2 })).await;
    assert_eq!(strings(&got["suggestedUsers"], "/username"), ["xavier", "yvonne"]);
    let more = app.ok(Some(&me), q, json!({ "n": 50 })).await;
    let names = strings(&more["suggestedUsers"], "/username");
    assert_eq!(&names[..3], ["xavier", "yvonne", "pop"], "popular accounts fill in: {names:?}");
    for excluded in ["myself", "fan_a", "fan_b", "fan_c", "shut", "hater"] {
        assert!(!names.contains(&excluded.to_owned()), "{excluded} in {names:?}");
    }
    // Fresh at once: a followed suggestion is gone, and an account that
    // hides its network stops contributing paths (fan_a was yvonne's only one).
    act(&app, &me, "follow", &id("xavier")).await;
    set_profile(&app, &token("fan_a"), json!({ "networkHidden": true })).await;
    let after = app.ok(Some(&me), q, json!({ "n": 2 })).await;
    assert_eq!(strings(&after["suggestedUsers"], "/username"), ["pop", "yvonne"]);
    // A viewer who follows nobody gets popular accounts.
    let (fresh, _) = app.sign_up("fresh").await;
    let popular = app.ok(Some(&fresh), q, json!({ "n": 1 })).await;
    assert_eq!(strings(&popular["suggestedUsers"], "/username"), ["pop"]);
    assert_eq!(app.error_code(Some(&me), q, json!({ "n": 51 })).await, "BAD_USER_INPUT");
    assert_eq!(app.error_code(None, q, json!({ "n": 5 })).await, "UNAUTHENTICATED");
}

#[tokio::test]
async fn signed_out_is_unauthenticated_everywhere_it_must_be() {
    let app = spawn_app().await;
    let (_, someone) = app.sign_up("someone").await;
    for mutation in
        ["follow", "unfollow", "approveFollowRequest", "rejectFollowRequest", "removeFollower", "block", "unblock"]
    {
        assert_eq!(refused(&app, None, mutation, &someone).await, "UNAUTHENTICATED", "{mutation}");
    }
    for q in [
        "mutation($u: ID!) { updateFollow(userId: $u, input: { hiddenFromFeed: true }) { status } }",
        "mutation($u: ID!) { followMany(userIds: [$u]) { status } }",
        "mutation($u: ID!) { unfollowMany(userIds: [$u]) { status } }",
        "mutation { updateProfile(input: { followPolicy: APPROVAL }) { id } }",
        "{ followRequests { totalCount } }",
        "{ sentFollowRequests { totalCount } }",
        "{ blockedUsers { nodes { id } } }",
        "{ suggestedUsers { id } }",
    ] {
        assert_eq!(app.error_code(None, q, json!({ "u": someone })).await, "UNAUTHENTICATED", "{q}");
    }
    // Unknown accounts are NOT_FOUND for every mutation that names one.
    let (me, _) = app.sign_up("myself").await;
    let ghost = crate::helpers::global_id("User", 999_999);
    for mutation in ["follow", "unfollow", "approveFollowRequest", "removeFollower", "block", "unblock"] {
        assert_eq!(refused(&app, Some(&me), mutation, &ghost).await, "NOT_FOUND", "{mutation}");
        assert_eq!(refused(&app, Some(&me), mutation, "nonsense").await, "BAD_USER_INPUT", "{mutation}");
    }
}

#[tokio::test]
async fn deleting_an_account_moves_everyones_counters() {
    let app = spawn_app().await;
    let (gone, gone_id) = app.sign_up("gone").await;
    let (stay, stay_id) = app.sign_up("stay").await;
    let (other, _) = app.sign_up("other").await;
    act(&app, &gone, "follow", &stay_id).await;
    act(&app, &stay, "follow", &gone_id).await;
    act(&app, &other, "follow", &gone_id).await;
    app.post(&gone, "bye").await;
    let q = "mutation($p: String!) { deleteAccount(input: { password: $p }) }";
    assert_eq!(app.error_code(Some(&gone), q, json!({ "p": "wrong-password" })).await, "UNAUTHENTICATED");
    app.ok(Some(&gone), q, json!({ "p": "password-gone" })).await;
    let after = seen(&app, None, "stay").await;
    assert_eq!((after["followersCount"].clone(), after["followingCount"].clone()), (json!(0), json!(0)));
    assert_eq!(seen(&app, None, "other").await["followingCount"], 0);
    assert!(app.ok(None, r#"{ user(username: "gone") { id } }"#, json!({})).await["user"].is_null());
    assert_eq!(app.error_code(Some(&gone), "{ feed { nodes { id } } }", json!({})).await, "UNAUTHENTICATED");
    assert_eq!(store::counters::count_wrong(&app.db).await.unwrap(), 0);
}
