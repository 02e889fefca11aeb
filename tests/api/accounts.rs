//! Sign-up, sign-in, sign-out, profiles, email privacy, and their errors.

use serde_json::json;

use crate::helpers::spawn_app;

const SIGN_UP: &str =
    "mutation($i: SignUpInput!) { signUp(input: $i) { token user { id username displayName email } } }";
const SIGN_IN: &str = "mutation($i: SignInInput!) { signIn(input: $i) { token user { username email } } }";

#[tokio::test]
async fn sign_up_returns_a_working_token_and_the_own_email() {
    let app = spawn_app().await;
    let data = app
        .ok(
            None,
            SIGN_UP,
            json!({ "i": { "username": "Ada_L", "email": "Ada@Example.com", "password": "correct horse" } }),
        )
        .await;
    let token = data["signUp"]["token"].as_str().unwrap();
    assert!(token.len() >= 22, "a token carries at least 128 bits");
    assert_eq!(data["signUp"]["user"]["displayName"], "Ada_L", "display name defaults to the username");
    assert_eq!(data["signUp"]["user"]["email"], "Ada@Example.com");
    let me = app.ok(Some(token), "{ viewer { username email } }", json!({})).await;
    assert_eq!(me["viewer"], json!({ "username": "Ada_L", "email": "Ada@Example.com" }));
    // The token is stored only as a hash.
    let stored = app.scalar(&format!("SELECT COUNT(*) FROM sessions WHERE token_hash = '{token}'")).await;
    assert_eq!(stored, 0);
    let hashed = app.scalar("SELECT COUNT(*) FROM sessions").await;
    assert_eq!(hashed, 1);
    let argon = app.scalar("SELECT COUNT(*) FROM users WHERE password_hash LIKE '$argon2id$%'").await;
    assert_eq!(argon, 1);
}

#[tokio::test]
async fn usernames_and_emails_are_unique_case_insensitively() {
    let app = spawn_app().await;
    app.sign_up("susan").await;
    let dup_name = json!({ "i": { "username": "SUSAN", "email": "other@example.com", "password": "password1" } });
    assert_eq!(app.error_code(None, SIGN_UP, dup_name).await, "CONFLICT");
    let dup_email = json!({ "i": { "username": "susan2", "email": "Susan@EXAMPLE.com", "password": "password1" } });
    assert_eq!(app.error_code(None, SIGN_UP, dup_email).await, "CONFLICT");
    let found = app.ok(None, "{ user(username: \"SuSaN\") { username } }", json!({})).await;
    assert_eq!(found["user"]["username"], "susan");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 1, "nothing half-written");
}

#[tokio::test]
async fn sign_up_input_is_validated() {
    let app = spawn_app().await;
    for (username, email, password) in [
        ("ab", "ab@example.com", "password1"),
        ("has space", "x@example.com", "password1"),
        ("a_very_long_username_over_30_chars", "y@example.com", "password1"),
        ("valid_name", "not-an-email", "password1"),
        ("valid_name", "v@example.com", "short"),
    ] {
        let vars = json!({ "i": { "username": username, "email": email, "password": password } });
        assert_eq!(app.error_code(None, SIGN_UP, vars).await, "BAD_USER_INPUT", "{username} {email} {password}");
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 0);
}

#[tokio::test]
async fn sign_in_by_username_or_email_and_sign_out_revokes() {
    let app = spawn_app().await;
    app.sign_up("john").await;
    for login in ["john", "JOHN", "john@example.com", "John@Example.COM"] {
        let data = app.ok(None, SIGN_IN, json!({ "i": { "login": login, "password": "password-john" } })).await;
        assert_eq!(data["signIn"]["user"]["email"], "john@example.com");
    }
    let wrong = json!({ "i": { "login": "john", "password": "wrong-password" } });
    assert_eq!(app.error_code(None, SIGN_IN, wrong).await, "UNAUTHENTICATED");
    let nobody = json!({ "i": { "login": "nobody", "password": "whatever1" } });
    assert_eq!(app.error_code(None, SIGN_IN, nobody).await, "UNAUTHENTICATED");

    let data = app.ok(None, SIGN_IN, json!({ "i": { "login": "john", "password": "password-john" } })).await;
    let token = data["signIn"]["token"].as_str().unwrap().to_owned();
    assert_eq!(app.ok(Some(&token), "mutation { signOut }", json!({})).await["signOut"], true);
    // The revoked token is refused, with 401 and the GraphQL error shape.
    let res = app
        .client
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&token)
        .json(&json!({ "query": "{ viewer { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert_eq!(app.error_code(None, "mutation { signOut }", json!({})).await, "UNAUTHENTICATED");
}

#[tokio::test]
async fn malformed_authorization_is_unauthenticated() {
    let app = spawn_app().await;
    for header in ["Basic abc", "Bearer", "Bearer not-a-real-token"] {
        let res = app
            .client
            .post(format!("{}/graphql", app.url))
            .header("Authorization", header)
            .json(&json!({ "query": "{ viewer { id } }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{header}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{header}");
    }
    let anon = app.ok(None, "{ viewer { id } }", json!({})).await;
    assert!(anon["viewer"].is_null());
}

#[tokio::test]
async fn repeated_failed_sign_ins_are_rate_limited() {
    let app = spawn_app().await;
    app.sign_up("mary").await;
    let wrong = json!({ "i": { "login": "mary", "password": "not-her-password" } });
    for _ in 0..5 {
        assert_eq!(app.error_code(None, SIGN_IN, wrong.clone()).await, "UNAUTHENTICATED");
    }
    assert_eq!(app.error_code(None, SIGN_IN, wrong).await, "RATE_LIMITED");
    // Even the right password waits out the window.
    let right = json!({ "i": { "login": "MARY", "password": "password-mary" } });
    assert_eq!(app.error_code(None, SIGN_IN, right).await, "RATE_LIMITED");
    // Other logins are unaffected.
    app.sign_up("david").await;
    let david = json!({ "i": { "login": "david", "password": "password-david" } });
    app.ok(None, SIGN_IN, david).await;
}

#[tokio::test]
async fn email_is_visible_only_to_its_owner() {
    let app = spawn_app().await;
    let (john, _) = app.sign_up("john").await;
    let (susan, _) = app.sign_up("susan").await;
    let q = "{ user(username: \"john\") { email } users { nodes { username email } } }";
    let own = app.ok(Some(&john), q, json!({})).await;
    assert_eq!(own["user"]["email"], "john@example.com");
    let other = app.ok(Some(&susan), q, json!({})).await;
    assert!(other["user"]["email"].is_null());
    let anon = app.ok(None, q, json!({})).await;
    assert!(anon["user"]["email"].is_null());
    for node in other["users"]["nodes"].as_array().unwrap() {
        let visible = node["username"] == "susan";
        assert_eq!(!node["email"].is_null(), visible, "{node}");
    }
}

#[tokio::test]
async fn update_profile() {
    let app = spawn_app().await;
    let (token, _) = app.sign_up("john").await;
    let q = "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { displayName bio } }";
    let data = app.ok(Some(&token), q, json!({ "i": { "displayName": "  John Smith ", "bio": "Hello" } })).await;
    assert_eq!(data["updateProfile"], json!({ "displayName": "John Smith", "bio": "Hello" }));
    let data = app.ok(Some(&token), q, json!({ "i": { "bio": "" } })).await;
    assert_eq!(data["updateProfile"], json!({ "displayName": "John Smith", "bio": "" }));
    assert_eq!(app.error_code(Some(&token), q, json!({ "i": { "displayName": "  " } })).await, "BAD_USER_INPUT");
    let invisible = json!({ "i": { "displayName": "\u{200b}\u{200b}" } });
    assert_eq!(app.error_code(Some(&token), q, invisible).await, "BAD_USER_INPUT");
    assert_eq!(app.error_code(Some(&token), q, json!({ "i": { "bio": "x".repeat(301) } })).await, "BAD_USER_INPUT");
    assert_eq!(app.error_code(None, q, json!({ "i": { "bio": "x" } })).await, "UNAUTHENTICATED");
}
