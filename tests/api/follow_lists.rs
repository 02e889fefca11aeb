//! followers / following filtered and ordered by the follow record: every
//! filter and both orders, paged forwards and backwards, with totalCount
//! under the filter, and cursors bound to the order and filter they came
//! from.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, strings, TestApp};

/// The owner's followers, in the order they followed, with who is mutual
/// and whom the viewer follows.
const FANS: [&str; 8] = ["ann_a", "bob_a", "ann_b", "cat_a", "ann_c", "bob_b", "cat_b", "ann_d"];
const MUTUAL: [usize; 3] = [1, 2, 5];
const VIEWER_FOLLOWS: [usize; 3] = [2, 3, 7];

struct Network {
    app: TestApp,
    viewer: String,
    /// followedAt of each fan's follow of the owner.
    followed_at: Vec<String>,
}

async fn network() -> Network {
    let app = spawn_app().await;
    let (owner, owner_id) = app.sign_up("owner").await;
    let (viewer, _) = app.sign_up("viewer").await;
    let mut ids = Vec::new();
    for name in FANS {
        let (token, id) = app.sign_up(name).await;
        app.follow(&token, &owner_id).await;
        ids.push(id);
    }
    for i in MUTUAL {
        app.follow(&owner, &ids[i]).await;
    }
    let (_, loner) = app.sign_up("loner").await;
    app.follow(&owner, &loner).await;
    for i in VIEWER_FOLLOWS {
        app.follow(&viewer, &ids[i]).await;
    }
    let data = app
        .ok(
            None,
            r#"{ user(username: "owner") { followers(first: 100, order: ASC) { edges { followedAt } } } }"#,
            json!({}),
        )
        .await;
    let followed_at = strings(&data["user"]["followers"]["edges"], "/followedAt");
    Network { app, viewer, followed_at }
}

fn names(indexes: &[usize]) -> Vec<String> {
    indexes.iter().map(|&i| FANS[i].to_owned()).collect()
}

const LIST: &str = r#"query($f: FollowFilter, $o: OrderDirection, $first: Int, $after: String, $last: Int, $before: String) {
  user(username: "owner") { SIDE(filter: $f, order: $o, first: $first, after: $after, last: $last, before: $before) {
    totalCount nodes { username } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"#;

async fn page(net: &Network, side: &str, vars: Value) -> Value {
    let q = LIST.replace("SIDE", side);
    net.app.ok(Some(&net.viewer), &q, vars).await["user"][side].clone()
}

/// The whole list in one page, then walked two at a time forwards and
/// backwards: all three must agree, and totalCount must count it.
async fn check(net: &Network, side: &str, filter: Value, order: &str, expected: Vec<String>) {
    let base = json!({ "f": filter, "o": order });
    let with = |extra: Value| {
        let mut v = base.clone();
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        v
    };
    let whole = page(net, side, with(json!({ "first": 100 }))).await;
    let label = format!("{side} {filter} {order}");
    assert_eq!(strings(&whole["nodes"], "/username"), expected, "{label}");
    assert_eq!(whole["totalCount"], expected.len(), "totalCount counts the filtered list: {label}");

    let (mut forward, mut after) = (Vec::new(), Value::Null);
    loop {
        let p = page(net, side, with(json!({ "first": 2, "after": after }))).await;
        forward.extend(strings(&p["nodes"], "/username"));
        if p["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = p["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(forward, expected, "forwards: {label}");

    let (mut backward, mut before) = (Vec::new(), Value::Null);
    loop {
        let p = page(net, side, with(json!({ "last": 2, "before": before }))).await;
        let mut chunk = strings(&p["nodes"], "/username");
        chunk.extend(backward);
        backward = chunk;
        if p["pageInfo"]["hasPreviousPage"] != true {
            break;
        }
        before = p["pageInfo"]["startCursor"].clone();
    }
    assert_eq!(backward, expected, "backwards: {label}");
}

#[tokio::test]
async fn every_filter_and_order_pages_both_ways() {
    let net = network().await;
    let desc = |idx: &[usize]| names(&idx.iter().rev().copied().collect::<Vec<_>>());
    let asc = |idx: &[usize]| names(idx);
    let all: Vec<usize> = (0..FANS.len()).collect();
    let cases: Vec<(Value, Vec<usize>)> = vec![
        (json!(null), all.clone()),
        (json!({ "usernamePrefix": "ANN" }), vec![0, 2, 4, 7]),
        (json!({ "mutual": true }), MUTUAL.to_vec()),
        (json!({ "mutual": false }), vec![0, 3, 4, 6, 7]),
        (json!({ "followedByViewer": true }), VIEWER_FOLLOWS.to_vec()),
        (json!({ "followedByViewer": false }), vec![0, 1, 4, 5, 6]),
        (json!({ "followedAfter": net.followed_at[2], "followedBefore": net.followed_at[6] }), vec![3, 4, 5]),
        (json!({ "usernamePrefix": "ann", "mutual": false, "followedByViewer": false }), vec![0, 4]),
    ];
    for (filter, kept) in cases {
        check(&net, "followers", filter.clone(), "DESC", desc(&kept)).await;
        check(&net, "followers", filter, "ASC", asc(&kept)).await;
    }
    // On a following list, mutual means "follows the owner back".
    let following_mutual: Vec<String> = MUTUAL.iter().rev().map(|&i| FANS[i].to_owned()).collect();
    check(&net, "following", json!({ "mutual": true }), "DESC", following_mutual).await;
    check(&net, "following", json!({ "mutual": false }), "DESC", vec!["loner".to_owned()]).await;
    check(&net, "following", json!({ "mutual": false }), "ASC", vec!["loner".to_owned()]).await;
}

#[tokio::test]
async fn a_cursor_is_bound_to_its_order_and_filter() {
    let net = network().await;
    let cursor = |p: &Value| p["pageInfo"]["endCursor"].clone();
    let default = cursor(&page(&net, "followers", json!({ "first": 2 })).await);
    let ascending = cursor(&page(&net, "followers", json!({ "first": 2, "o": "ASC" })).await);
    let anns = cursor(&page(&net, "followers", json!({ "first": 2, "f": { "usernamePrefix": "ann" } })).await);
    let q = LIST.replace("SIDE", "followers");
    for (vars, why) in [
        (json!({ "o": "ASC", "after": default }), "a default cursor under ASC"),
        (json!({ "o": "DESC", "after": ascending }), "an ASC cursor under DESC"),
        (json!({ "after": anns }), "a filtered cursor without the filter"),
        (json!({ "f": { "usernamePrefix": "bob" }, "after": anns }), "another prefix"),
        (json!({ "f": { "usernamePrefix": "ann", "mutual": true }, "before": anns }), "another filter"),
        (json!({ "f": { "mutual": false }, "after": default }), "a default cursor under a filter"),
    ] {
        assert_eq!(net.app.error_code(Some(&net.viewer), &q, vars).await, "BAD_USER_INPUT", "{why}");
    }
    // Bound to the exact values: another date, the opposite boolean.
    let at = &net.followed_at[4];
    let dated = cursor(&page(&net, "followers", json!({ "first": 1, "f": { "followedBefore": at } })).await);
    let known = cursor(&page(&net, "followers", json!({ "first": 1, "f": { "followedByViewer": true } })).await);
    for (vars, why) in [
        (json!({ "f": { "followedBefore": net.followed_at[5] }, "after": dated }), "another date"),
        (json!({ "f": { "followedByViewer": false }, "after": known }), "followedByViewer false"),
    ] {
        assert_eq!(net.app.error_code(Some(&net.viewer), &q, vars).await, "BAD_USER_INPUT", "{why}");
    }
    // The same order and filter take it.
    let same = page(&net, "followers", json!({ "first": 2, "f": { "usernamePrefix": "ann" }, "after": anns })).await;
    assert_eq!(strings(&same["nodes"], "/username"), ["ann_b", "ann_a"]);
    // A filtered cursor is refused by other lists too.
    let posts = r#"query($a: String) { user(username: "owner") { posts(after: $a) { nodes { id } } } }"#;
    assert_eq!(net.app.error_code(None, posts, json!({ "a": anns })).await, "BAD_USER_INPUT");
    // Too long a prefix, characters no username has, dates out of range.
    for filter in [
        json!({ "usernamePrefix": "a".repeat(31) }),
        json!({ "usernamePrefix": "a%" }),
        json!({ "followedAfter": "-5000-01-01T00:00:00Z" }),
        json!({ "followedBefore": "+12000-01-01T00:00:00Z" }),
    ] {
        let vars = json!({ "f": filter, "first": 2 });
        let code = net.app.error_code(Some(&net.viewer), &q, vars).await;
        assert!(["BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"].contains(&code.as_str()), "{filter}: {code}");
    }
    // A list that may read its whole range costs more: 40 fit the budget, 41 do not.
    let lists = |n: usize| -> String {
        let fields: Vec<String> =
            (0..n).map(|i| format!("l{i}: followers(first: 0, filter: {{ mutual: true }}) {{ totalCount }}")).collect();
        format!(r#"{{ user(username: "owner") {{ {} }} }}"#, fields.join(" "))
    };
    net.app.ok(None, &lists(39), json!({})).await;
    assert_eq!(net.app.error_code(None, &lists(41), json!({})).await, "GRAPHQL_VALIDATION_FAILED");
}

/// Signed out, followedByViewer: true keeps nobody and false everybody.
#[tokio::test]
async fn followed_by_viewer_signed_out() {
    let net = network().await;
    let q = LIST.replace("SIDE", "followers");
    let none = net.app.ok(None, &q, json!({ "f": { "followedByViewer": true } })).await;
    assert_eq!(none["user"]["followers"]["totalCount"], 0);
    assert_eq!(none["user"]["followers"]["nodes"], json!([]));
    let all = net.app.ok(None, &q, json!({ "f": { "followedByViewer": false } })).await;
    assert_eq!(all["user"]["followers"]["totalCount"], FANS.len());
}
