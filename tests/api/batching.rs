//! No N+1: the statements a request runs do not grow with the number of
//! parents. Counted with SeaORM's metric callback on the server's own
//! connection.

use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::helpers::{limits, spawn_app, TestApp};

/// The query of the core issue, part 7.
const WIDE: &str = r#"query($n: Int!) {
  users(first: $n) {
    nodes {
      followersCount followingCount viewerIsFollowing
      followers(first: 5) { edges { followedAt node { username followersCount } } }
      posts(first: 3) { nodes { body author { username } } }
    }
  }
}"#;

/// 30 users; everybody follows the next six and posts four times. More
/// users than one page lists, so followers of listed users are partly
/// unlisted ones, whatever the page size.
async fn network(app: &TestApp) -> String {
    people(app).await[0].0.clone()
}

/// [`network`]'s people, (token, id) in order.
async fn people(app: &TestApp) -> Vec<(String, String)> {
    let mut people = Vec::new();
    for i in 0..30 {
        people.push(app.sign_up(&format!("user{i:02}")).await);
    }
    for (i, (token, _)) in people.iter().enumerate() {
        for step in 1..=6 {
            let (_, other) = &people[(i + step) % people.len()];
            app.follow(token, other).await;
        }
        for p in 0..4 {
            app.post(token, &format!("post {p} by {i}")).await;
        }
    }
    people
}

async fn count(app: &TestApp, token: Option<&str>, query: &str, n: i64) -> (usize, serde_json::Value) {
    let before = app.statements();
    let data = app.ok(token, query, json!({ "n": n })).await;
    let ran = app.statements() - before;
    eprintln!("{n} parents: {ran} statements:\n  {}", app.statements_since(before).join("\n  "));
    (ran, data)
}

#[tokio::test]
async fn wide_query_runs_the_same_statements_for_5_and_20_users() {
    let app = spawn_app().await;
    let viewer = network(&app).await;
    for token in [Some(viewer.as_str()), None] {
        let (five, data5) = count(&app, token, WIDE, 5).await;
        let (twenty, data20) = count(&app, token, WIDE, 20).await;
        assert_eq!(data5["users"]["nodes"].as_array().unwrap().len(), 5);
        assert_eq!(data20["users"]["nodes"].as_array().unwrap().len(), 20);
        let first = &data20["users"]["nodes"][0];
        assert_eq!(first["followers"]["edges"].as_array().unwrap().len(), 5);
        assert_eq!(first["posts"]["nodes"].as_array().unwrap().len(), 3);
        assert_eq!(five, twenty, "statement count must not grow with parents");
        // (session,) users page, (relationships,) followers pages with their users, posts pages
        let expected = if token.is_some() { 5 } else { 3 };
        assert_eq!(twenty, expected);
    }
}

/// W2 of the performance issue: a followers page with each follower's posts.
#[tokio::test]
async fn followers_with_their_posts_is_constant() {
    let app = spawn_app().await;
    network(&app).await;
    let q = r#"query($n: Int!) { user(username: "user00") { followers(first: $n) {
        edges { followedAt node { username posts(first: 3) { nodes { body } } } } } } }"#;
    let (two, _) = count(&app, None, q, 2).await;
    let (six, data) = count(&app, None, q, 6).await;
    assert_eq!(data["user"]["followers"]["edges"].as_array().unwrap().len(), 6);
    assert_eq!(two, six);
    // PostgreSQL reads the user, the page and the posts in one statement
    // (LATERAL joins); SQLite has none.
    let expected = if crate::helpers::on_postgres() { 1 } else { 3 };
    assert_eq!(six, expected, "the user, the followers page with its users (and their posts)");
}

/// A page is read one row past its end only when `pageInfo` asks the flag
/// that row answers (`hasNextPage` for `first`, `hasPreviousPage` for
/// `last`): W2 without it reads 3 posts a user and 5 followers, not 4 and
/// 6, and so does `pageInfo { endCursor }`. The flags and cursors are
/// right however the fields meet: on the list only, on the posts only, or
/// on one of two `posts` fields of a user (merged under one name, or under
/// two). The directory and the viewer's listings peek by the same rule
/// (the feed's own test is in feed.rs).
#[tokio::test]
async fn pages_read_past_their_end_only_for_page_info() {
    let app = spawn_app().await;
    // The user, the list and the posts: one statement on PostgreSQL,
    // three on SQLite, whatever is asked (no page read twice).
    let one_read = if crate::helpers::on_postgres() { 1 } else { 3 };
    // user00 has 6 followers; everyone has 4 posts.
    let token = network(&app).await;
    let info = "pageInfo { hasNextPage hasPreviousPage }";
    // (list's pageInfo, posts' pageInfo, the limits read)
    for (list_info, posts_info, want) in
        [("", "", [5, 3]), (info, "", [6, 3]), ("", info, [5, 4]), (info, info, [6, 4])]
    {
        let query = format!(
            r#"{{ user(username: "user00") {{ followers(first: 5) {{ edges {{ node {{ username
                posts(first: 3) {{ nodes {{ id }} {posts_info} }} }} }} {list_info} }} }} }}"#
        );
        let before = app.statements();
        let data = app.ok(None, &query, json!({})).await;
        assert_eq!(app.statements() - before, one_read, "{query}");
        let read = limits(&app.bound_statements_since(before));
        assert!(read.is_superset(&want.into()), "{query}: limits {read:?}, want {want:?}");
        let unwanted = if list_info.is_empty() { 6 } else { 5 };
        assert!(!read.contains(&unwanted), "{query}: limits {read:?}");
        let unwanted = if posts_info.is_empty() { 4 } else { 3 };
        assert!(!read.contains(&unwanted), "{query}: limits {read:?}");
        let list = &data["user"]["followers"];
        assert_eq!(list["edges"].as_array().unwrap().len(), 5);
        if !list_info.is_empty() {
            assert_eq!(list["pageInfo"], json!({ "hasNextPage": true, "hasPreviousPage": false }));
        }
        for edge in list["edges"].as_array().unwrap() {
            let posts = &edge["node"]["posts"];
            assert_eq!(posts["nodes"].as_array().unwrap().len(), 3);
            if !posts_info.is_empty() {
                assert_eq!(posts["pageInfo"], json!({ "hasNextPage": true, "hasPreviousPage": false }), "{query}");
            }
        }
    }
    // Only the flag that the row past the page answers reads it; the other
    // flag and the cursors answer as they do from a page read with it.
    let all = "hasNextPage hasPreviousPage startCursor endCursor";
    // (the list's arguments and pageInfo, the posts' arguments and
    // pageInfo, the posts read a user); neither list asks its flag.
    let forward = ("first: 5", "endCursor hasPreviousPage");
    let backward = ("last: 5", "startCursor hasNextPage");
    for ((list_args, list_info), args, info, posts_read) in [
        (forward, "first: 3", "startCursor endCursor hasPreviousPage", 3),
        (forward, "first: 3", "hasNextPage", 4),
        (backward, "last: 3", "startCursor endCursor hasNextPage", 3),
        (backward, "last: 3", "hasPreviousPage", 4),
    ] {
        let query = |posts_info: &str, list_info: &str| {
            format!(
                r#"{{ user(username: "user00") {{ followers({list_args}) {{ nodes {{ username
                    posts({args}) {{ nodes {{ id }} pageInfo {{ {posts_info} }} }} }} pageInfo {{ {list_info} }} }} }} }}"#
            )
        };
        let asked = query(info, list_info);
        let before = app.statements();
        let data = app.ok(None, &asked, json!({})).await;
        assert_eq!(app.statements() - before, one_read, "{asked}");
        let read = limits(&app.bound_statements_since(before));
        let unwanted = [6, 7 - posts_read];
        assert!(read.contains(&5) && read.contains(&posts_read), "{asked}: limits {read:?}");
        assert!(!unwanted.iter().any(|n| read.contains(n)), "{asked}: limits {read:?}");
        // The same fields as a page read one past its end answers them.
        let peeked = app.ok(None, &query(all, all), json!({})).await;
        let list = &data["user"]["followers"];
        let whole = &peeked["user"]["followers"];
        for field in list_info.split(' ') {
            assert_eq!(list["pageInfo"][field], whole["pageInfo"][field], "{asked}: {field}");
        }
        let (users, full) = (list["nodes"].as_array().unwrap(), whole["nodes"].as_array().unwrap());
        assert_eq!(users.len(), 5, "{asked}");
        for (user, full) in users.iter().zip(full) {
            assert_eq!(user["username"], full["username"], "{asked}");
            assert_eq!(user["posts"]["nodes"], full["posts"]["nodes"], "{asked}");
            for field in info.split(' ') {
                assert_eq!(user["posts"]["pageInfo"][field], full["posts"]["pageInfo"][field], "{asked}: {field}");
            }
        }
        assert!(list["pageInfo"][list_info.split(' ').next().unwrap()].is_string(), "{asked}: {list}");
        // user00 has 6 followers and everyone 4 posts: the flag each
        // page's extra row answers is true.
        let flag = if args.starts_with("first") { "hasNextPage" } else { "hasPreviousPage" };
        assert_eq!(whole["pageInfo"][flag], json!(true), "{asked}");
        assert_eq!(whole["nodes"][0]["posts"]["pageInfo"][flag], json!(true), "{asked}");
    }
    // The other lists read past their page for the flag alone too.
    for list in [
        "users(first: 5) { nodes { id }",
        "blockedUsers(first: 5) { nodes { id }",
        "followRequests(first: 5) { nodes { requestedAt }",
        "sentFollowRequests(first: 5) { nodes { requestedAt }",
    ] {
        for (info, want, unwanted) in [("", 5, 6), ("pageInfo { endCursor }", 5, 6), ("pageInfo { hasNextPage }", 6, 5)]
        {
            let query = format!("{{ {list} {info} }} }}");
            let before = app.statements();
            app.ok(Some(&token), &query, json!({})).await;
            let read = limits(&app.bound_statements_since(before));
            assert!(read.contains(&want) && !read.contains(&unwanted), "{query}: limits {read:?}");
        }
    }
    // Two posts fields on each user, pageInfo on one: under one name
    // (merged into one answer), and under two; forward and backward.
    for (args, flag) in [("first: 3", "hasNextPage"), ("last: 3", "hasPreviousPage")] {
        for other in ["posts", "other: posts"] {
            let query = format!(
                r#"{{ user(username: "user00") {{ followers(first: 5) {{ nodes {{ username
                    posts({args}) {{ nodes {{ id }} }} ...P }} }} }} }}
                fragment P on User {{ {other}({args}) {{ pageInfo {{ {flag} }} }} }}"#
            );
            let data = app.ok(None, &query, json!({})).await;
            for user in data["user"]["followers"]["nodes"].as_array().unwrap() {
                let key = if other == "posts" { "posts" } else { "other" };
                assert_eq!(user[key]["pageInfo"][flag], json!(true), "{query}: {user}");
                assert_eq!(user["posts"]["nodes"].as_array().unwrap().len(), 3, "{query}: {user}");
            }
        }
    }
}

/// A list's users are read without the columns a list never shows: a
/// page of followers does not carry their password hashes (nor email
/// keys), read with the owner or apart, with posts or without. The
/// viewer's own email is still answered on their row of a list.
#[tokio::test]
async fn list_rows_leave_out_password_hashes() {
    let app = spawn_app().await;
    let people = people(&app).await;
    // user29 follows user00 .. user05.
    let me = &people[29].0;
    for q in [
        r#"{ user(username: "user00") { followers(first: 10) { nodes { username email } } } }"#,
        r#"{ user(username: "user00") { followers(first: 10) { nodes { username email posts(first: 1) { nodes { body } } } } } }"#,
        r#"{ users(first: 2) { nodes { following(first: 10) { nodes { username email } } } } }"#,
    ] {
        let before = app.statements();
        let data = app.ok(Some(me), q, json!({})).await;
        let nodes: Vec<&serde_json::Value> = match data.get("user") {
            Some(user) => user["followers"]["nodes"].as_array().unwrap().iter().collect(),
            None => data["users"]["nodes"][0]["following"]["nodes"].as_array().unwrap().iter().collect(),
        };
        assert_eq!(nodes.len(), 6, "{data}");
        for node in nodes {
            let mine = node["username"] == "user29";
            let email = if mine { json!("user29@example.com") } else { json!(null) };
            assert_eq!(node["email"], email, "{node}");
        }
        let sql = app.statements_since(before);
        assert!(sql.iter().any(|s| s.contains("FROM follows f JOIN users u")), "{sql:#?}");
        assert_no_hashes(&sql);
    }
}

/// Fails when a statement reads a password hash or an email key, or a
/// whole users row, where an answer's reads take `store::users::SHOWN`
/// (those two columns as `''`).
fn assert_no_hashes(statements: &[String]) {
    for sql in statements {
        let mut rest = sql.clone();
        for empty in ["'' AS ", "'' END AS owner_"] {
            for column in ["password_hash", "email_key"] {
                rest = rest.replace(&format!("{empty}{column}"), "");
            }
        }
        let whole = ["u.*", "users.*", "o.*", "SELECT * FROM users"];
        assert!(
            !rest.contains("password_hash") && !rest.contains("email_key") && !whole.iter().any(|w| rest.contains(w)),
            "an answer read a password hash, an email key or a whole users row:\n{sql}"
        );
    }
}

/// No request that only reads runs a statement that reads a password hash
/// (only signIn and deleteAccount read one), whichever read it takes:
/// the session, users by name, by id and in lists, the directory, the
/// feed's authors, follow requests, blocks and suggestions. Checked on
/// the statements' text, and on PostgreSQL by a second server whose role
/// may not read the column at all, which must give the same answers.
#[tokio::test]
async fn answers_never_read_password_hashes() {
    let app = spawn_app().await;
    let people = people(&app).await;
    let (me, my_id) = (&people[29].0, &people[29].1);
    let id = |i: usize| json!({ "id": people[i].1 });
    app.ok(Some(me), "mutation($id: ID!) { block(userId: $id) { status } }", id(10)).await;
    let approval = "mutation { updateProfile(input: { followPolicy: APPROVAL }) { id } }";
    app.ok(Some(&people[20].0), approval, json!({})).await;
    app.ok(Some(me), "mutation($id: ID!) { follow(userId: $id) { status } }", id(20)).await;
    app.ok(Some(me), approval, json!({})).await;
    app.ok(Some(&people[12].0), "mutation($id: ID!) { follow(userId: $id) { status } }", json!({ "id": my_id })).await;
    let post = app.ok(Some(me), "{ viewer { posts(first: 1) { nodes { id } } } }", json!({})).await;
    let post = json!({ "id": post["viewer"]["posts"]["nodes"][0]["id"] });
    let lists = "followers(first: 3) { nodes { username email } } following(first: 3) { nodes { username } } \
        knownFollowers(first: 3) { nodes { username } } posts(first: 2) { nodes { body author { username } } }";
    let reads: Vec<(String, serde_json::Value)> = vec![
        ("{ viewer { username email followersCount } }".to_owned(), json!({})),
        (r#"{ user(username: "USER00") { username displayName bio createdAt } }"#.to_owned(), json!({})),
        (r#"{ user(username: "user00") { username viewerIsFollowing followsViewer } }"#.to_owned(), json!({})),
        (r#"{ user(username: "user00") { viewerRelationship { following blocking } } }"#.to_owned(), json!({})),
        (format!(r#"{{ user(username: "user01") {{ {lists} }} }}"#), json!({})),
        (format!(r#"{{ user(username: "user02") {{ followers(first: 3) {{ nodes {{ username }} }} }} users(first: 2) {{ nodes {{ {lists} }} }} }}"#), json!({})),
        ("query($id: ID!) { node(id: $id) { ... on User { username email } } }".to_owned(), id(3)),
        ("query($id: ID!) { node(id: $id) { ... on User { username } } }".to_owned(), json!({ "id": my_id })),
        ("query($id: ID!) { post(id: $id) { author { username email } } }".to_owned(), post),
        (r#"{ users(first: 5) { nodes { username } } search: users(search: "user1", first: 5) { nodes { username } } }"#.to_owned(), json!({})),
        ("{ feed(first: 10) { nodes { body author { username email } } } }".to_owned(), json!({})),
        ("{ followRequests(first: 5) { nodes { user { username } } } sentFollowRequests(first: 5) { nodes { user { username } } } }".to_owned(), json!({})),
        ("{ blockedUsers(first: 5) { nodes { username email } } }".to_owned(), json!({})),
        ("{ suggestedUsers(first: 5) { username } }".to_owned(), json!({})),
        ("{ suggestedUsers(first: 5) { username } }".to_owned(), json!({})),
    ];
    let mut answers = Vec::new();
    for (query, variables) in &reads {
        for token in [Some(me.as_str()), None] {
            if token.is_none()
                && ["viewer", "feed", "Requests", "blocked", "suggested"].iter().any(|w| query.contains(w))
            {
                continue;
            }
            let before = app.statements();
            let answer = app.gql(token, query, variables.clone()).await;
            assert!(answer.get("errors").is_none(), "{query}: {answer}");
            assert_no_hashes(&app.statements_since(before));
            answers.push((query, variables, token, answer));
        }
    }
    // What the reads found: each kind of row was there to read.
    let found = |at: usize, pointer: &str| answers[at].3.pointer(pointer).cloned().unwrap_or_default();
    assert_eq!(found(0, "/data/viewer/email"), json!("user29@example.com"));
    let shown = serde_json::to_string(&answers.iter().map(|a| &a.3).collect::<Vec<_>>()).unwrap();
    for name in ["user10", "user12", "user20"] {
        assert!(shown.contains(&format!(r#""username":"{name}""#)), "{name} in {shown}");
    }
    if !crate::helpers::on_postgres() {
        return;
    }
    let without = crate::helpers::spawn_without_hashes(&app).await;
    for (query, variables, token, answer) in &answers {
        assert_eq!(&without.gql(*token, query, (*variables).clone()).await, answer, "{query}");
    }
    // The role can read no hash: the check can fail.
    let err = without.db.query_one_raw(sea_orm::Statement::from_string(
        sea_orm::DbBackend::Postgres,
        "SELECT password_hash FROM users LIMIT 1",
    ));
    assert!(err.await.is_err(), "the role may not read password_hash");
}

/// A page of a list asked of `user(username:)` is read with the user (one
/// statement on PostgreSQL): the same answer as the list read apart (here
/// through `users(search:)`), under every argument, signed in and out,
/// for a hidden network (FORBIDDEN but to its owner), a user with an
/// empty list, and no user at all.
#[tokio::test]
async fn a_list_read_with_its_user_is_the_list_read_apart() {
    let app = spawn_app().await;
    let people = people(&app).await;
    let (viewer, other) = (people[0].0.as_str(), people[1].0.as_str());
    app.ok(Some(viewer), "mutation { updateProfile(input: { networkHidden: true }) { id } }", json!({})).await;
    app.sign_up("lonely").await;
    let page = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount";
    let cursor = app
        .ok(None, r#"{ user(username: "user10") { followers(first: 2) { pageInfo { endCursor } } } }"#, json!({}))
        .await["user"]["followers"]["pageInfo"]["endCursor"]
        .clone();
    let lists = [
        "followers(first: 3) { edges { followedAt node { username posts(first: 2) { nodes { body } } } } PAGE }"
            .to_owned(),
        "following(last: 2) { nodes { username } PAGE }".to_owned(),
        "followers(order: ASC, first: 4) { edges { followedAt hiddenFromFeed node { username } } PAGE }".to_owned(),
        "following(filter: { mutual: true }) { nodes { username posts(last: 1) { nodes { body } } } PAGE }".to_owned(),
        "followers(filter: { followedByViewer: false, usernamePrefix: \"user0\" }) { nodes { username } PAGE }"
            .to_owned(),
        format!("followers(first: 2, after: {cursor}) {{ nodes {{ username }} PAGE }}"),
    ];
    let mut compared = 0;
    for list in &lists {
        let list = list.replace("PAGE", page);
        for token in [Some(viewer), Some(other), None] {
            for name in ["user10", "user00", "lonely", "nobody"] {
                let with = format!(r#"{{ user(username: "{name}") {{ username {list} }} }}"#);
                let apart = format!(r#"{{ users(search: "{name}", first: 1) {{ nodes {{ username {list} }} }} }}"#);
                let before = app.statements();
                let with = app.gql(token, &with, json!({})).await;
                let ran = app.statements_since(before);
                let apart = app.gql(token, &apart, json!({})).await;
                let hidden = name == "user00" && token != Some(viewer);
                if name == "nobody" {
                    assert_eq!(with, json!({ "data": { "user": null } }));
                    continue;
                }
                if hidden {
                    assert_eq!(with["errors"][0]["extensions"]["code"], "FORBIDDEN", "{with}");
                    assert_eq!(apart["errors"][0]["extensions"]["code"], "FORBIDDEN", "{apart}");
                    continue;
                }
                assert!(with.get("errors").is_none(), "{with}");
                assert_eq!(with["data"]["user"], apart["data"]["users"]["nodes"][0], "{list} of {name}");
                compared += 1;
                if crate::helpers::on_postgres() {
                    // The user with the page; a filtered list's totalCount
                    // is a count apart.
                    let with_user: Vec<_> = ran.iter().filter(|s| !s.contains("FROM sessions")).collect();
                    let want = 1 + usize::from(list.contains("filter"));
                    assert_eq!(with_user.len(), want, "{list} of {name}: {with_user:#?}");
                }
            }
        }
    }
    assert_eq!(compared, lists.len() * (3 * 2 + 1), "user10 and lonely by everyone, user00 by itself");
}

/// The posts a list's page reads with it (one statement on PostgreSQL) are
/// the posts each user's own `posts` field reads alone: same items, same
/// page info, an author in a block with the viewer empty, under every
/// page argument, for lists sharing users, and with two different pages
/// asked (then read apart).
#[tokio::test]
async fn posts_read_with_a_list_are_the_posts_read_alone() {
    let app = spawn_app().await;
    let people = people(&app).await;
    let viewer = people[0].0.clone();
    // user07 follows user10 and blocks the viewer.
    app.ok(Some(&people[7].0), "mutation($u: ID!) { block(userId: $u) { status } }", json!({ "u": people[0].1 })).await;
    let posts = "{ nodes { id body } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }";
    let cursor = app
        .ok(None, &format!(r#"{{ user(username: "user08") {{ posts(first: 2) {posts} }} }}"#), json!({}))
        .await["user"]["posts"]["pageInfo"]["endCursor"]
        .clone();
    let cursor = cursor.as_str().unwrap();
    // (the query, with ARGS for the posts field's arguments; those arguments)
    let shapes = [
        (
            r#"{ user(username: "user10") { followers(first: 6) { edges { node { username posts ARGS } } } } }"#,
            "(first: 2)".to_owned(),
        ),
        (
            r#"{ user(username: "user10") { followers { nodes { username posts ARGS } } } }"#,
            format!(r#"(first: 3, after: "{cursor}")"#),
        ),
        (
            r#"{ user(username: "user10") { followers { nodes { username posts ARGS } } } }"#,
            format!(r#"(last: 1, before: "{cursor}")"#),
        ),
        (
            r#"{ users(first: 12) { nodes { followers(first: 4) { nodes { username posts ARGS } } following { nodes { username posts ARGS } } } } }"#,
            "(first: 2)".to_owned(),
        ),
        // Two different pages of posts asked: read apart, after the list.
        (
            r#"{ user(username: "user10") { followers { edges { node { username posts ARGS } } nodes { username other: posts(first: 1) SELECT } } } }"#,
            "(first: 2)".to_owned(),
        ),
    ];
    let mut blocked_seen = false;
    for token in [Some(viewer.as_str()), None] {
        for (shape, args) in &shapes {
            let query = shape.replace("ARGS", &format!("{args} {posts}")).replace("SELECT", posts);
            let before = app.statements();
            let data = app.ok(token, &query, json!({})).await;
            if token.is_none() {
                // The user or users, then the lists (all of them) with their
                // posts.
                let want = match (crate::helpers::on_postgres(), query.starts_with("{ user(")) {
                    // The user with the list (and the posts, unless two
                    // pages of them are asked: those apart).
                    (true, true) => 1 + usize::from(query.contains("other:")),
                    (true, false) => 2,
                    // SQLite: the user, the list, the posts.
                    (false, _) => 3,
                };
                assert_eq!(app.statements() - before, want, "{query}: {:?}", app.statements_since(before));
            }
            let mut listed = Vec::new();
            collect_posts(&data, args, &mut listed);
            assert!(listed.len() >= 6, "{query}: {listed:?}");
            let mut nonempty = 0;
            for (username, args, got) in listed {
                let alone = format!(r#"{{ user(username: "{username}") {{ posts{args} {posts} }} }}"#);
                let want = &app.ok(token, &alone, json!({})).await["user"]["posts"];
                assert_eq!(&got, want, "{username}'s posts{args} in {query}");
                nonempty += usize::from(!want["nodes"].as_array().unwrap().is_empty());
                if username == "user07" && token.is_some() {
                    assert_eq!(want["nodes"], json!([]), "blocked: no posts");
                    blocked_seen = true;
                }
            }
            assert!(nonempty >= 2, "{query}");
        }
    }
    assert!(blocked_seen, "the author who blocked the viewer was listed");
}

/// Lists whose users are more than one UNION ALL may hold (SQLite takes
/// 500 terms): six lists of 90 followers, each asked for their posts, in
/// one batch.
#[tokio::test]
async fn posts_of_more_listed_users_than_one_statement_takes() {
    let app = spawn_app().await;
    for t in 0..6 {
        app.sign_up(&format!("tgt{t}")).await;
    }
    app.db
        .execute_unprepared(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 540) \
             INSERT INTO users (username, email, email_key, password_hash, display_name, bio, created_at, followers_count, following_count, posts_count) \
             SELECT 'bulk' || n.i, 'bulk' || n.i || '@example.com', 'bulk' || n.i || '@example.com', u.password_hash, 'bulk', '', u.created_at, 0, 1, 0 \
             FROM n JOIN users u ON u.username = 'tgt0'",
        )
        .await
        .unwrap();
    app.db
        .execute_unprepared(
            "INSERT INTO follows (follower_id, followed_id, created_at, hidden_from_feed) \
             SELECT b.id, t.id, b.created_at, FALSE FROM users b JOIN users t ON t.username = 'tgt' || (b.id % 6) \
             WHERE b.username LIKE 'bulk%'",
        )
        .await
        .unwrap();
    let query = r#"{ users(first: 6, search: "tgt") { nodes { followers(first: 100) {
        nodes { username posts(first: 1) { nodes { id } } } } } } }"#;
    let data = app.ok(None, query, json!({})).await;
    let lists = data["users"]["nodes"].as_array().unwrap();
    let listed: usize = lists.iter().map(|u| u["followers"]["nodes"].as_array().unwrap().len()).sum();
    assert_eq!(listed, 540);
}

/// (username, the arguments of the posts field, its answer) of every user
/// in `data` with `posts` (asked with `args`) or `other` (`(first: 1)`).
fn collect_posts(data: &serde_json::Value, args: &str, out: &mut Vec<(String, String, serde_json::Value)>) {
    match data {
        serde_json::Value::Object(map) => {
            let name = map.get("username").and_then(|n| n.as_str());
            for (field, args) in [("posts", args), ("other", "(first: 1)")] {
                if let (Some(name), Some(posts)) = (name, map.get(field)) {
                    out.push((name.to_owned(), args.to_owned(), posts.clone()));
                }
            }
            map.values().for_each(|v| collect_posts(v, args, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_posts(v, args, out)),
        _ => {}
    }
}

/// W3: the feed with authors.
#[tokio::test]
async fn feed_with_authors_is_constant() {
    let app = spawn_app().await;
    let viewer = network(&app).await;
    let q = "query($n: Int!) { feed(first: $n) { edges { node { body author { username followersCount } } } } }";
    let (five, _) = count(&app, Some(&viewer), q, 5).await;
    let (twenty, data) = count(&app, Some(&viewer), q, 20).await;
    assert_eq!(data["feed"]["edges"].as_array().unwrap().len(), 20);
    assert_eq!(five, twenty);
    assert_eq!(twenty, 2, "the session, the feed with its authors");
}

/// Asking only for totalCount reads a counter, not a page.
#[tokio::test]
async fn total_count_alone_reads_no_rows() {
    let app = spawn_app().await;
    network(&app).await;
    let q = "query($n: Int!) { users(first: $n) { nodes { followers { totalCount } following { totalCount } } } }";
    let (ran, data) = count(&app, None, q, 20).await;
    assert_eq!(data["users"]["nodes"][0]["followers"]["totalCount"], 6);
    assert_eq!(ran, 1, "only the users page");
}

/// W4 of the performance issue: how the viewer and a user relate.
#[tokio::test]
async fn relationship_is_read_with_the_user() {
    let app = spawn_app().await;
    let viewer = network(&app).await;
    let q = r#"{ user(username: "user01") { viewerIsFollowing followsViewer followersCount } }"#;
    let (ran, data) = count(&app, Some(&viewer), q, 0).await;
    assert_eq!(data["user"], json!({ "viewerIsFollowing": true, "followsViewer": false, "followersCount": 6 }));
    assert_eq!(ran, 2, "the session, the user with the relationship");
}

/// W4 asks two parts of the relationship: only those two are probed, and
/// a user read for more in the same request still gets all of it.
#[tokio::test]
async fn relationship_probes_only_the_parts_asked() {
    let app = spawn_app().await;
    let people = people(&app).await;
    let viewer = people[0].0.as_str();
    let hide = "mutation($u: ID!) { updateFollow(userId: $u, input: { hiddenFromFeed: true }) { status } }";
    app.ok(Some(viewer), hide, json!({ "u": people[1].1 })).await;
    let probed = |ran: &[String]| -> Vec<String> { ran.iter().filter(|s| s.contains("rel_")).cloned().collect() };

    let q = r#"{ user(username: "user01") { viewerIsFollowing followsViewer } }"#;
    let before = app.statements();
    let data = app.ok(Some(viewer), q, json!({})).await;
    let ran = probed(&app.statements_since(before));
    assert_eq!(data["user"], json!({ "viewerIsFollowing": true, "followsViewer": false }));
    assert_eq!(ran.len(), 1, "the user with the two parts: {ran:#?}");
    for other in ["blocks", "follow_requests", "hidden_from_feed"] {
        assert!(!ran[0].contains(other), "probes {other}: {}", ran[0]);
    }

    // In a fragment; beside a read of all of it for the same user; the
    // other way round for another.
    let q = r#"{ a: user(username: "user01") { ...F }
        b: user(username: "user01") { viewerRelationship { following followedBy hiddenFromFeed blocking } }
        c: user(username: "user25") { followsViewer viewerIsFollowing } }
        fragment F on User { viewerIsFollowing }"#;
    let before = app.statements();
    let data = app.ok(Some(viewer), q, json!({})).await;
    let ran = probed(&app.statements_since(before));
    assert_eq!(data["a"], json!({ "viewerIsFollowing": true }));
    let full = json!({ "following": true, "followedBy": false, "hiddenFromFeed": true, "blocking": false });
    assert_eq!(data["b"]["viewerRelationship"], full);
    assert_eq!(data["c"], json!({ "followsViewer": true, "viewerIsFollowing": false }));
    assert_eq!(ran.len(), 3, "each user with what it asked for, no more: {ran:#?}");
    assert_eq!(ran.iter().filter(|s| s.contains("blocks")).count(), 1, "only b's probes all: {ran:#?}");
}

/// A field left out by `@skip` or `@include` is not read ahead with its
/// parent: neither the relationship's parts, nor a list, nor the posts of
/// a list's users (async-graphql drops skipped selections from the
/// document before execution, so look-ahead never sees them; this holds
/// it to that). The same document with the directives letting the fields
/// through reads them.
#[tokio::test]
async fn skipped_fields_are_not_read_ahead() {
    let app = spawn_app().await;
    let people = people(&app).await;
    let viewer = people[0].0.as_str();
    let q = r#"query($s: Boolean!) { user(username: "user01") { username viewerIsFollowing
        viewerRelationship @skip(if: $s) { blocking }
        followers(first: 3) @include(if: false) { nodes { username } } } }"#;
    let lists = |ran: &[String]| ran.iter().filter(|s| s.contains("followed_at")).count();
    let before = app.statements();
    let data = app.ok(Some(viewer), q, json!({ "s": true })).await;
    let ran = app.statements_since(before);
    assert_eq!(data["user"], json!({ "username": "user01", "viewerIsFollowing": true }));
    assert!(!ran.iter().any(|s| s.contains("blocks")), "the skipped relationship's parts were read: {ran:#?}");
    assert_eq!(lists(&ran), 0, "the left-out list was read: {ran:#?}");
    let before = app.statements();
    let data = app.ok(Some(viewer), q, json!({ "s": false })).await;
    let ran = app.statements_since(before);
    assert_eq!(data["user"]["viewerRelationship"], json!({ "blocking": false }));
    assert!(ran.iter().any(|s| s.contains("blocks")), "control: the relationship read whole: {ran:#?}");

    // Posts skipped under a list read with its user (PostgreSQL) or on
    // its own (SQLite); skipped along the path, at `node`.
    let q = r#"query($s: Boolean!) { user(username: "user01") { followers(first: 3) {
        nodes { username posts(first: 2) @skip(if: $s) { nodes { body } } }
        edges { node @skip(if: $s) { posts(first: 2) { nodes { body } } } } } } }"#;
    let posts = |ran: &[String]| ran.iter().filter(|s| s.contains("FROM posts")).count();
    let before = app.statements();
    let data = app.ok(Some(viewer), q, json!({ "s": true })).await;
    let ran = app.statements_since(before);
    assert_eq!(data["user"]["followers"]["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(data["user"]["followers"]["edges"].as_array().unwrap().len(), 3);
    assert_eq!(lists(&ran), 1, "{ran:#?}");
    assert_eq!(posts(&ran), 0, "the skipped posts were read: {ran:#?}");
    let before = app.statements();
    let data = app.ok(Some(viewer), q, json!({ "s": false })).await;
    let ran = app.statements_since(before);
    assert_eq!(data["user"]["followers"]["nodes"][0]["posts"]["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(posts(&ran), 1, "control: the posts read with the list: {ran:#?}");
}

/// W5: follow then unfollow in one request. Each write is a transaction
/// (BEGIN and COMMIT, which the metric callback does not see) of these
/// statements: lock both users rows, read the pair's relationship, write
/// the edge, its timeline part (a follow's backfill: raise the floor, copy
/// the posts; an unfollow's removal) and move the counters (one statement
/// on PostgreSQL; on SQLite four for a follow, three for an unfollow;
/// store::relationships says why the lock comes first).
#[tokio::test]
async fn follow_then_unfollow_statements() {
    let app = spawn_app().await;
    let (me, _) = app.sign_up("writer").await;
    let (_, target) = app.sign_up("target").await;
    let q = r#"mutation($u: ID!) { f: follow(userId: $u) { user { followersCount } viewer { followingCount } }
        u: unfollow(userId: $u) { user { followersCount } viewer { followingCount } } }"#;
    let before = app.statements();
    let data = app.ok(Some(&me), q, json!({ "u": target })).await;
    let ran = app.statements() - before;
    eprintln!("{}", app.statements_since(before).join("\n"));
    assert_eq!(data["f"], json!({ "user": { "followersCount": 1 }, "viewer": { "followingCount": 1 } }));
    assert_eq!(data["u"], json!({ "user": { "followersCount": 0 }, "viewer": { "followingCount": 0 } }));
    // On PostgreSQL the writes and the counters are one statement (the
    // writes in data-modifying CTEs); SQLite has no writes in CTEs.
    let writes = if crate::helpers::on_postgres() { 2 * 3 } else { (2 + 4) + (2 + 3) };
    assert_eq!(ran, 1 + writes, "the session, and the two writes");
}

/// viewerRelationship of 20 users: one statement for all their
/// relationships, as for 5.
#[tokio::test]
async fn viewer_relationship_is_one_statement_for_20_parents() {
    let app = spawn_app().await;
    let viewer = network(&app).await;
    let q = r#"query($n: Int!) { users(first: $n) { nodes { username viewerRelationship {
        following followedBy requested requestedBy blocking blockedBy hiddenFromFeed followedAt } } } }"#;
    let (five, _) = count(&app, Some(&viewer), q, 5).await;
    let (twenty, data) = count(&app, Some(&viewer), q, 20).await;
    assert_eq!(twenty, 3, "the session, the users page, the relationships");
    assert_eq!(five, twenty);
    // The page is user29..user10; user24..user29 follow the viewer (user00).
    let nodes = data["users"]["nodes"].as_array().unwrap();
    let rel = |name: &str| nodes.iter().find(|n| n["username"] == name).unwrap()["viewerRelationship"].clone();
    assert_eq!((rel("user25")["following"].clone(), rel("user25")["followedBy"].clone()), (json!(false), json!(true)));
    assert_eq!((rel("user10")["following"].clone(), rel("user10")["followedBy"].clone()), (json!(false), json!(false)));
    assert!(rel("user10")["followedAt"].is_null());
    let me = app.ok(Some(&viewer), "{ viewer { viewerRelationship { following } } }", json!({})).await;
    assert!(me["viewer"]["viewerRelationship"].is_null(), "null for the viewer themself");
}

/// knownFollowers of 20 users, with totalCount: one statement for the
/// pages and one for the counts.
#[tokio::test]
async fn known_followers_are_two_statements_for_20_parents() {
    let app = spawn_app().await;
    let viewer = network(&app).await;
    let q = r#"query($n: Int!) { users(first: $n) { nodes { username knownFollowers(first: 3) {
        totalCount nodes { username } } } } }"#;
    // The viewer (user00) follows user01..user06, and now user10 too.
    let ten = app.ok(None, r#"{ user(username: "user10") { id } }"#, json!({})).await;
    app.follow(&viewer, ten["user"]["id"].as_str().unwrap()).await;
    let (five, _) = count(&app, Some(&viewer), q, 5).await;
    let (twenty, data) = count(&app, Some(&viewer), q, 20).await;
    assert_eq!(twenty, 4, "the session, the users page, the pages, the counts");
    assert_eq!(five, twenty);
    // user12 is followed by user06..user11, user10 more recently than user06.
    let nodes = data["users"]["nodes"].as_array().unwrap();
    let n = nodes.iter().find(|n| n["username"] == "user12").unwrap();
    assert_eq!(n["knownFollowers"]["totalCount"], 2);
    assert_eq!(n["knownFollowers"]["nodes"], json!([{ "username": "user10" }, { "username": "user06" }]));
}
