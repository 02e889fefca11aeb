//! The `Mutation` root. Every write makes the request's loaders forget what
//! they read, so the payload (and any later mutation field in the same
//! request) reads fresh rows.

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use store::relationships::{self, Probes, Written};
use store::users::NewUser;
use store::UserId;

use super::post::Post;
use super::query::FeedMarker;
use super::relationship::{FollowPayload, FollowPolicy, FollowStatus, UpdateFollowInput};
use super::user::User;
use super::{data, db, loaders, viewer};
use std::sync::Arc;

use crate::auth::{hash_password, new_token, verify_password, Account, ClientAddr, SessionCache, SignInGuard};
use crate::error::{ApiError, ApiResult};
use crate::ids::{decode_post, decode_user, post_id};
use crate::loaders::{PostById, RelationshipWith, UserById};
use crate::validate;

/// The most accounts `followMany` / `unfollowMany` take.
pub const MAX_MANY: usize = 100;

/// A new account.
#[derive(InputObject)]
pub struct SignUpInput {
    /// Unique, case-insensitively (taken is CONFLICT); 3-30 characters of letters, digits and underscore.
    username: String,
    /// A valid address, at most 254 characters; unique (taken is CONFLICT). Only its owner ever sees it.
    email: String,
    /// 8-128 characters.
    password: String,
    /// The name shown to others, 1-50 characters; the username when absent.
    display_name: Option<String>,
}

/// The credentials of signIn.
#[derive(InputObject)]
pub struct SignInInput {
    /// Username or email.
    login: String,
    /// The account's password.
    password: String,
}

/// Changes to the viewer's profile; a field left out (or null) stays as it is.
#[derive(InputObject)]
pub struct UpdateProfileInput {
    /// The name shown to others, 1-50 characters after trimming, at least one of them visible.
    display_name: Option<String>,
    /// At most 300 characters after trimming; "" clears it.
    bio: Option<String>,
    /// Who may follow you. Leaving APPROVAL settles pending requests: to OPEN approves them all, to CLOSED rejects them all.
    follow_policy: Option<FollowPolicy>,
    /// Show your followers, following and knownFollowers lists only to yourself.
    network_hidden: Option<bool>,
}

/// The confirmation deleteAccount asks for.
#[derive(InputObject)]
pub struct DeleteAccountInput {
    /// The account's password, asked again.
    password: String,
}

/// A new post.
#[derive(InputObject)]
pub struct CreatePostInput {
    /// The text: 1-500 characters after trimming, at least one of them visible (blank, only invisible characters, or longer is BAD_USER_INPUT).
    body: String,
}

/// What signUp and signIn answer: a new session's token and its account.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Bearer token for the Authorization header.
    token: String,
    /// The signed-in account, its email included.
    user: User,
}

pub struct Mutation;

/// Writes. All but signUp and signIn need `Authorization: Bearer <token>` (UNAUTHENTICATED without).
#[Object]
impl Mutation {
    /// Creates an account and signs it in. BAD_USER_INPUT when a field breaks its rule, CONFLICT when the username or email is taken, RATE_LIMITED after too many sign-ups from one address.
    async fn sign_up(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new account's username, email, password and display name.")] input: SignUpInput,
    ) -> ApiResult<AuthPayload> {
        let username = validate::username(&input.username)?;
        let email = validate::email(&input.email)?;
        let password = validate::password(&input.password)?;
        let display_name = match input.display_name.as_deref() {
            Some(name) => validate::display_name(name)?,
            None => username,
        };
        let guard = data::<Arc<SignInGuard>>(ctx)?;
        guard.sign_up(data::<ClientAddr>(ctx)?.0)?;
        let password_hash = hash_password(guard, password.to_owned()).await?;
        let (token, token_hash) = new_token();
        // The account and its first session are one transaction, in the store.
        let new = NewUser { username, email, password_hash, display_name };
        let user = store::users::sign_up(db(ctx)?, new, &token_hash).await?;
        Ok(AuthPayload { token, user: User::owner(user) })
    }

    /// Opens a new session. UNAUTHENTICATED when the login or password is wrong; RATE_LIMITED after repeated failures.
    async fn sign_in(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The username or email, and the password.")] input: SignInInput,
    ) -> ApiResult<AuthPayload> {
        let guard = data::<Arc<SignInGuard>>(ctx)?;
        let login = input.login.trim();
        let db = db(ctx)?;
        let user = store::users::find_by_login(db, login).await?;
        let account = match &user {
            Some(user) => Account::User(user.id),
            None => Account::Unknown(login.to_lowercase()),
        };
        // Reserved before the password is checked: concurrent guesses
        // cannot all pass the limit.
        let attempt = guard.sign_in(account, data::<ClientAddr>(ctx)?.0)?;
        let ok = verify_password(guard, input.password, user.as_ref().map(|u| u.password_hash.clone())).await?;
        let user = match user {
            Some(user) if ok => user,
            _ => return Err(ApiError::Unauthenticated("wrong login or password".into())),
        };
        attempt.succeeded();
        let (token, token_hash) = new_token();
        store::sessions::create(db, user.id, &token_hash).await?;
        Ok(AuthPayload { token, user: User::owner(user) })
    }

    /// Revokes the token used for this request.
    async fn sign_out(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let me = viewer(ctx)?.require()?;
        store::sessions::delete(db(ctx)?, &me.token).await?;
        // Other instances hear of it from the database; this one forgets now.
        data::<Arc<SessionCache>>(ctx)?.revoke(&store::sessions::Revoked::Token(me.token.clone()));
        Ok(true)
    }

    /// Changes the viewer's profile and answers with it. BAD_USER_INPUT when a field breaks its rule.
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The fields to change; those left out stay as they are.")] input: UpdateProfileInput,
    ) -> ApiResult<User> {
        let viewer = viewer(ctx)?.require()?.id;
        let display_name = input.display_name.as_deref().map(validate::display_name).transpose()?;
        let bio = input.bio.as_deref().map(validate::bio).transpose()?;
        let change = relationships::ProfileChange {
            display_name,
            bio,
            policy: input.follow_policy.map(Into::into),
            network_hidden: input.network_hidden,
        };
        let me = relationships::update_profile(db(ctx)?, viewer, change).await?;
        loaders(ctx)?.forget();
        Ok(User::new(me))
    }

    /// Publishes a post by the viewer; it shows at once in their followers' feeds.
    async fn create_post(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The post's text.")] input: CreatePostInput,
    ) -> ApiResult<Post> {
        let viewer = viewer(ctx)?.require()?.id;
        let body = validate::post_body(&input.body)?;
        let timelines = data::<Arc<crate::timelines::Timelines>>(ctx)?;
        let (post, queued) = store::posts::create(db(ctx)?, viewer, body, timelines.delivery).await?;
        if queued {
            timelines.deliver();
        }
        loaders(ctx)?.forget();
        Ok(Post(post))
    }

    /// Only the author may delete a post (FORBIDDEN otherwise); returns the deleted ID.
    async fn delete_post(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The post's global ID (Post.id); malformed is BAD_USER_INPUT, unknown NOT_FOUND.")] id: ID,
    ) -> ApiResult<ID> {
        let viewer = viewer(ctx)?.require()?.id;
        let post = decode_post(&id)?;
        let loaders = loaders(ctx)?;
        let row = loaders.load_one(PostById(post)).await?.ok_or_else(|| ApiError::not_found("no post has that ID"))?;
        if row.user_id != viewer {
            return Err(ApiError::Forbidden("only the author may delete a post".into()));
        }
        // Deleted by a racing request in between: the outcome is the same.
        store::posts::delete(db(ctx)?, post, viewer).await?;
        loaders.forget();
        Ok(post_id(post))
    }

    /// Follows the account by its followPolicy: OPEN at once, APPROVAL by a request (status REQUESTED), CLOSED or blocked FORBIDDEN. Idempotent: following an account already followed succeeds and changes nothing, whatever its policy now. Following yourself is BAD_USER_INPUT.
    async fn follow(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The other account's User.id; malformed or your own is BAD_USER_INPUT, unknown NOT_FOUND.")]
        user_id: ID,
    ) -> ApiResult<FollowPayload> {
        let (me, target) = (me(ctx)?, other(ctx, &user_id, "follow")?);
        one(ctx, relationships::follow(db(ctx)?, me, &[target], delivery(ctx)?).await?).await
    }

    /// Ends the viewer's follow, or cancels their pending request. Idempotent: unfollowing someone not followed succeeds and changes nothing.
    async fn unfollow(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The other account's User.id; malformed or your own is BAD_USER_INPUT, unknown NOT_FOUND.")]
        user_id: ID,
    ) -> ApiResult<FollowPayload> {
        let (me, target) = (me(ctx)?, other(ctx, &user_id, "unfollow")?);
        one(ctx, relationships::unfollow(db(ctx)?, me, &[target]).await?).await
    }

    /// Follows each account like `follow`, in one transaction: at most 100 IDs, each checked first; one bad ID (malformed, unknown, yourself, CLOSED, blocked) fails the call with nothing changed. Repeated IDs count once; one payload per distinct ID, in order of first appearance.
    async fn follow_many(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The accounts' global IDs (User.id), at most 100; each checked like `follow`'s userId.")]
        user_ids: Vec<ID>,
    ) -> ApiResult<Vec<FollowPayload>> {
        let (me, targets) = (me(ctx)?, others(ctx, &user_ids, "follow")?);
        many(ctx, relationships::follow(db(ctx)?, me, &targets, delivery(ctx)?).await?).await
    }

    /// Unfollows (or cancels the request to) each account like `unfollow`, in one transaction, with the rules of followMany.
    async fn unfollow_many(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The accounts' global IDs (User.id), at most 100; each checked like `unfollow`'s userId.")]
        user_ids: Vec<ID>,
    ) -> ApiResult<Vec<FollowPayload>> {
        let (me, targets) = (me(ctx)?, others(ctx, &user_ids, "unfollow")?);
        many(ctx, relationships::unfollow(db(ctx)?, me, &targets).await?).await
    }

    /// Turns the account's pending request into a follow of the viewer, dated now. NOT_FOUND without a pending request. The payload's status is the viewer's own follow of the account; the approved follow shows as relationship.followedBy.
    async fn approve_follow_request(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The other account's User.id; malformed or your own is BAD_USER_INPUT, unknown NOT_FOUND.")]
        user_id: ID,
    ) -> ApiResult<FollowPayload> {
        let (me, requester) = (me(ctx)?, other(ctx, &user_id, "approve")?);
        one(ctx, relationships::approve(db(ctx)?, me, requester, delivery(ctx)?).await?).await
    }

    /// Drops the account's pending request. NOT_FOUND without a pending request.
    async fn reject_follow_request(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The other account's User.id; malformed or your own is BAD_USER_INPUT, unknown NOT_FOUND.")]
        user_id: ID,
    ) -> ApiResult<FollowPayload> {
        let (me, requester) = (me(ctx)?, other(ctx, &user_id, "reject")?);
        one(ctx, relationships::reject(db(ctx)?, me, requester).await?).await
    }

    /// Ends the account's follow of the viewer; they may follow again later (a soft block). Idempotent: a non-follower changes nothing.
    async fn remove_follower(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The other account's User.id; malformed or your own is BAD_USER_INPUT, unknown NOT_FOUND.")]
        user_id: ID,
    ) -> ApiResult<FollowPayload> {
        let (me, follower) = (me(ctx)?, other(ctx, &user_id, "remove")?);
        one(ctx, relationships::remove_follower(db(ctx)?, me, follower).await?).await
    }

    /// Blocks the account: ends follows and requests both ways, and until unblock neither may follow or ask to follow the other (FORBIDDEN); neither sees the other's posts in feeds or posts lists. Idempotent. Blocking yourself is BAD_USER_INPUT.
    async fn block(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The other account's User.id; malformed or your own is BAD_USER_INPUT, unknown NOT_FOUND.")]
        user_id: ID,
    ) -> ApiResult<FollowPayload> {
        let (me, target) = (me(ctx)?, other(ctx, &user_id, "block")?);
        one(ctx, relationships::block(db(ctx)?, me, target).await?).await
    }

    /// Lifts the viewer's block. Idempotent: unblocking someone not blocked changes nothing. Follows the block ended stay ended.
    async fn unblock(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The other account's User.id; malformed or your own is BAD_USER_INPUT, unknown NOT_FOUND.")]
        user_id: ID,
    ) -> ApiResult<FollowPayload> {
        let (me, target) = (me(ctx)?, other(ctx, &user_id, "unblock")?);
        one(ctx, relationships::unblock(db(ctx)?, me, target).await?).await
    }

    /// Changes the viewer's follow of the account (only the viewer sees its settings). NOT_FOUND when the viewer does not follow it.
    async fn update_follow(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The other account's User.id; malformed or your own is BAD_USER_INPUT, unknown NOT_FOUND.")]
        user_id: ID,
        #[graphql(desc = "The settings to change; those left out stay as they are.")] input: UpdateFollowInput,
    ) -> ApiResult<FollowPayload> {
        let (me, target) = (me(ctx)?, other(ctx, &user_id, "update a follow of")?);
        one(ctx, relationships::update_follow(db(ctx)?, me, target, input.hidden_from_feed, delivery(ctx)?).await?)
            .await
    }

    /// Saves the viewer's reading position in the feed (one per user, shared by all their devices; the last one saved wins). `cursor` is a feed cursor; malformed is BAD_USER_INPUT.
    async fn set_feed_marker(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A cursor from `feed`: an edge's cursor, or pageInfo.startCursor or endCursor.")]
        cursor: String,
    ) -> ApiResult<FeedMarker> {
        let me = me(ctx)?;
        let cursor = crate::pagination::decode_cursor(&cursor)?;
        if cursor.scope != 0 {
            return Err(ApiError::bad_input("`cursor` takes a feed cursor"));
        }
        Ok(store::feed::set_marker(db(ctx)?, me, cursor).await?.into())
    }

    /// Deletes the viewer's account, its posts, sessions, follows, requests and blocks, for good; the counts of everyone it followed or was followed by move. Asks for the password again (UNAUTHENTICATED when wrong).
    async fn delete_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account's password, to confirm.")] input: DeleteAccountInput,
    ) -> ApiResult<bool> {
        let me = viewer(ctx)?.require()?;
        let guard = data::<Arc<SignInGuard>>(ctx)?;
        let attempt = guard.sign_in(Account::User(me.id), data::<ClientAddr>(ctx)?.0)?;
        // Read on its own: no row read for an answer carries it.
        let hash = store::users::password_hash(db(ctx)?, me.id).await?;
        if !verify_password(guard, input.password, hash).await? {
            return Err(ApiError::Unauthenticated("wrong password".into()));
        }
        attempt.succeeded();
        relationships::delete_account(db(ctx)?, me.id).await?;
        data::<Arc<SessionCache>>(ctx)?.revoke(&store::sessions::Revoked::User(me.id));
        loaders(ctx)?.forget();
        Ok(true)
    }
}

/// The signed-in viewer, or UNAUTHENTICATED.
fn me(ctx: &Context<'_>) -> ApiResult<UserId> {
    Ok(viewer(ctx)?.require()?.id)
}

/// Another account's ID: BAD_USER_INPUT when malformed or the viewer's own.
fn other(ctx: &Context<'_>, id: &ID, verb: &str) -> ApiResult<UserId> {
    let id = decode_user(id)?;
    if Some(id) == viewer(ctx)?.id() {
        return Err(ApiError::bad_input(format!("you cannot {verb} yourself")));
    }
    Ok(id)
}

/// The IDs of followMany / unfollowMany: at most [`MAX_MANY`] as sent, each
/// checked like [`other`], repeats dropped (first appearance kept).
fn others(ctx: &Context<'_>, ids: &[ID], verb: &str) -> ApiResult<Vec<UserId>> {
    if ids.len() > MAX_MANY {
        return Err(ApiError::bad_input(format!("at most {MAX_MANY} IDs per call")));
    }
    let mut out: Vec<UserId> = Vec::with_capacity(ids.len());
    for id in ids {
        let id = other(ctx, id, verb)?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// The payload of a write that named one account.
async fn one(ctx: &Context<'_>, written: Written) -> ApiResult<FollowPayload> {
    many(ctx, written).await?.pop().ok_or_else(|| ApiError::internal("a write named one account and told of none"))
}

/// One payload per account named, from what the write returned: the loaders
/// forget what they read before it and learn the fresh rows and
/// relationships, so the payload's fields cost no query.
async fn many(ctx: &Context<'_>, written: Written) -> ApiResult<Vec<FollowPayload>> {
    let loaders = loaders(ctx)?;
    loaders.forget();
    let viewer = written.viewer;
    loaders.feed_one(UserById(viewer.id), viewer.clone()).await;
    loaders.feed_many(written.outcomes.iter().map(|o| (UserById(o.user.id), o.user.clone()))).await;
    loaders
        .feed_many(written.outcomes.iter().map(|o| (RelationshipWith(o.user.id, Probes::ALL), o.relationship)))
        .await;
    Ok(written
        .outcomes
        .into_iter()
        .map(|o| FollowPayload {
            status: FollowStatus::of(&o.relationship),
            relationship: o.relationship.into(),
            user: User::new(o.user),
            viewer: User::new(viewer.clone()),
        })
        .collect())
}

/// How this server's writes deliver posts to timelines.
fn delivery(ctx: &Context<'_>) -> ApiResult<store::timeline::Delivery> {
    Ok(data::<Arc<crate::timelines::Timelines>>(ctx)?.delivery)
}
