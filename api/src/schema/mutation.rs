//! The `Mutation` root. Every write makes the request's loaders forget what
//! they read, so the payload (and any later mutation field in the same
//! request) reads fresh rows.

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use store::follows::EdgeChange;
use store::users::NewUser;
use store::{user, UserId};

use super::post::Post;
use super::user::User;
use super::{data, db, loaders, viewer};
use crate::auth::{hash_password, new_token, verify_password, Account, ClientAddr, SignInGuard};
use crate::error::{ApiError, ApiResult};
use crate::ids::{decode_post, decode_user, post_id};
use crate::loaders::{Loaders, PostById, UserById};
use crate::validate;

#[derive(InputObject)]
pub struct SignUpInput {
    username: String,
    email: String,
    /// 8-128 characters.
    password: String,
    display_name: Option<String>,
}

#[derive(InputObject)]
pub struct SignInInput {
    /// Username or email.
    login: String,
    password: String,
}

#[derive(InputObject)]
pub struct UpdateProfileInput {
    display_name: Option<String>,
    bio: Option<String>,
}

#[derive(InputObject)]
pub struct CreatePostInput {
    body: String,
}

#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Bearer token for the Authorization header.
    token: String,
    user: User,
}

#[derive(SimpleObject)]
pub struct FollowPayload {
    /// The user followed or unfollowed, with fresh counts and relationship fields.
    user: User,
    /// The signed-in viewer, with fresh counts.
    viewer: User,
}

pub struct Mutation;

#[Object]
impl Mutation {
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> ApiResult<AuthPayload> {
        let username = validate::username(&input.username)?;
        let email = validate::email(&input.email)?;
        let password = validate::password(&input.password)?;
        let display_name = match input.display_name.as_deref() {
            Some(name) => validate::display_name(name)?,
            None => username,
        };
        let guard = data::<SignInGuard>(ctx)?;
        guard.sign_up(data::<ClientAddr>(ctx)?.0)?;
        let password_hash = hash_password(guard, password.to_owned()).await?;
        let (token, token_hash) = new_token();
        // The account and its first session are one transaction, in the store.
        let new = NewUser { username, email, password_hash, display_name };
        let user = store::users::sign_up(db(ctx)?, new, &token_hash).await?;
        Ok(AuthPayload { token, user: User { row: user, owner: true } })
    }

    async fn sign_in(&self, ctx: &Context<'_>, input: SignInInput) -> ApiResult<AuthPayload> {
        let guard = data::<SignInGuard>(ctx)?;
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
        Ok(AuthPayload { token, user: User { row: user, owner: true } })
    }

    /// Revokes the token used for this request.
    async fn sign_out(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let me = viewer(ctx)?.require()?;
        store::sessions::delete(db(ctx)?, &me.token).await?;
        Ok(true)
    }

    async fn update_profile(&self, ctx: &Context<'_>, input: UpdateProfileInput) -> ApiResult<User> {
        let viewer = viewer(ctx)?.require()?.user.id;
        let display_name = input.display_name.as_deref().map(validate::display_name).transpose()?;
        let bio = input.bio.as_deref().map(validate::bio).transpose()?;
        let loaders = loaders(ctx)?;
        let me = loaders
            .load_one(UserById(viewer))
            .await?
            .ok_or_else(|| ApiError::Unauthenticated("this account no longer exists".into()))?;
        let me = store::users::update_profile(db(ctx)?, me, display_name, bio).await?;
        loaders.forget();
        Ok(User::new(me))
    }

    async fn create_post(&self, ctx: &Context<'_>, input: CreatePostInput) -> ApiResult<Post> {
        let viewer = viewer(ctx)?.require()?.user.id;
        let body = validate::post_body(&input.body)?;
        let post = store::posts::create(db(ctx)?, viewer, body).await?;
        loaders(ctx)?.forget();
        Ok(Post(post))
    }

    /// Only the author may delete a post (FORBIDDEN otherwise); returns the deleted ID.
    async fn delete_post(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        let viewer = viewer(ctx)?.require()?.user.id;
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

    /// Idempotent: following someone already followed succeeds and changes nothing. Following yourself is BAD_USER_INPUT.
    async fn follow(&self, ctx: &Context<'_>, user_id: ID) -> ApiResult<FollowPayload> {
        change_follow(ctx, &user_id, EdgeChange::Follow).await
    }

    /// Idempotent: unfollowing someone not followed succeeds and changes nothing.
    async fn unfollow(&self, ctx: &Context<'_>, user_id: ID) -> ApiResult<FollowPayload> {
        change_follow(ctx, &user_id, EdgeChange::Unfollow).await
    }
}

/// Follows or unfollows an existing other user; the payload has both users
/// as they are after the write.
async fn change_follow(ctx: &Context<'_>, user_id: &ID, change: EdgeChange) -> ApiResult<FollowPayload> {
    let me = viewer(ctx)?.require()?.user.id;
    let target = decode_user(user_id)?;
    if target == me {
        return Err(ApiError::bad_input("you cannot follow yourself"));
    }
    let loaders = loaders(ctx)?;
    if loaders.load_one(UserById(target)).await?.is_none() {
        return Err(ApiError::not_found("no user has that ID"));
    }
    // The rows the write returned when it changed something; otherwise the
    // rows this request already read (nothing changed them), or read now.
    if let Some(rows) = store::follows::change(db(ctx)?, me, target, change).await? {
        loaders.forget();
        loaders.feed_many(rows.into_iter().map(|u| (UserById(u.id), u))).await;
    }
    let (Some(me), Some(them)) = both(loaders, me, target).await? else {
        return Err(ApiError::not_found("no user has that ID"));
    };
    Ok(FollowPayload { user: User::new(them), viewer: User::new(me) })
}

/// Two users' rows, through the loader (one statement for those not cached).
async fn both(loaders: &Loaders, a: UserId, b: UserId) -> ApiResult<(Option<user::Model>, Option<user::Model>)> {
    let mut users = loaders.load_many([UserById(a), UserById(b)]).await?;
    Ok((users.remove(&UserById(a)), users.remove(&UserById(b))))
}
