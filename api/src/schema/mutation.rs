//! The `Mutation` root. Every write clears the request's loader caches, so
//! the payload (and any later mutation field in the same request) reads
//! fresh rows.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};

use super::post::Post;
use super::user::User;
use super::{auth, data, db, loaders};
use crate::auth::{hash_password, new_token, verify_password, SignInLimiter};
use crate::db as queries;
use crate::error::ApiError;
use crate::ids::{decode_id, encode_id, Kind};
use crate::loaders::{self as loader, PostId, UserId};
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
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> Result<AuthPayload> {
        let username = validate::username(&input.username)?;
        let email = validate::email(&input.email)?;
        let password = validate::password(&input.password)?;
        let display_name = match input.display_name.as_deref() {
            Some(name) => validate::display_name(name)?,
            None => username,
        };
        let password_hash = hash_password(password.to_owned()).await?;
        let db = db(ctx)?;
        // The account and its first session are one transaction.
        let txn = queries::begin_write(db).await.map_err(ApiError::from)?;
        let user = queries::users::create(
            &txn,
            queries::users::NewUser { username, email, password_hash, display_name },
        )
        .await?;
        let (token, token_hash) = new_token();
        queries::sessions::create(&txn, user.id, token_hash).await?;
        txn.commit().await.map_err(ApiError::from)?;
        Ok(AuthPayload { token, user: User { row: user, owner: true } })
    }

    async fn sign_in(&self, ctx: &Context<'_>, input: SignInInput) -> Result<AuthPayload> {
        let limiter = data::<SignInLimiter>(ctx)?;
        let login = input.login.trim();
        limiter.check(login)?;
        let db = db(ctx)?;
        let user = queries::users::find_by_login(db, login).await?;
        let ok = verify_password(input.password, user.as_ref().map(|u| u.password_hash.clone())).await?;
        let user = match user {
            Some(user) if ok => user,
            _ => {
                limiter.failed(login);
                return Err(ApiError::Unauthenticated("wrong login or password".into()).into());
            }
        };
        limiter.succeeded(login);
        let (token, token_hash) = new_token();
        queries::sessions::create(db, user.id, token_hash).await?;
        Ok(AuthPayload { token, user: User { row: user, owner: true } })
    }

    /// Revokes the token used for this request.
    async fn sign_out(&self, ctx: &Context<'_>) -> Result<bool> {
        let viewer = auth(ctx)?.require()?;
        queries::sessions::delete(db(ctx)?, &viewer.token_hash).await?;
        Ok(true)
    }

    async fn update_profile(&self, ctx: &Context<'_>, input: UpdateProfileInput) -> Result<User> {
        let viewer = auth(ctx)?.require()?.user_id;
        let display_name = input.display_name.as_deref().map(validate::display_name).transpose()?;
        let bio = input.bio.as_deref().map(validate::bio).transpose()?;
        let loaders = loaders(ctx)?;
        let me = loaders
            .load_one(UserId(viewer))
            .await?
            .ok_or_else(|| ApiError::Unauthenticated("this account no longer exists".into()))?;
        let me = queries::users::update_profile(db(ctx)?, me, display_name.map(Into::into), bio.map(Into::into))
            .await?;
        loader::clear(loaders);
        Ok(User::new(me))
    }

    async fn create_post(&self, ctx: &Context<'_>, input: CreatePostInput) -> Result<Post> {
        let viewer = auth(ctx)?.require()?.user_id;
        let body = validate::post_body(&input.body)?;
        let post = queries::posts::create(db(ctx)?, viewer, body).await?;
        loader::clear(loaders(ctx)?);
        Ok(Post(post))
    }

    /// Only the author may delete a post (FORBIDDEN otherwise); returns the deleted ID.
    async fn delete_post(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let viewer = auth(ctx)?.require()?.user_id;
        let post_id = decode_id(Kind::Post, &id)?;
        let loaders = loaders(ctx)?;
        let post = loaders
            .load_one(PostId(post_id))
            .await?
            .ok_or_else(|| ApiError::not_found("no post has that ID"))?;
        if post.user_id != viewer {
            return Err(ApiError::Forbidden("only the author may delete a post".into()).into());
        }
        // Deleted by a racing request in between: the outcome is the same.
        queries::posts::delete(db(ctx)?, post_id, viewer).await?;
        loader::clear(loaders);
        Ok(encode_id(Kind::Post, post_id))
    }

    /// Idempotent: following someone already followed succeeds and changes nothing. Following yourself is BAD_USER_INPUT.
    async fn follow(&self, ctx: &Context<'_>, user_id: ID) -> Result<FollowPayload> {
        let (viewer, target) = follow_target(ctx, &user_id).await?;
        let fresh = queries::follows::follow(db(ctx)?, viewer, target).await?;
        follow_payload(ctx, viewer, target, fresh).await
    }

    /// Idempotent: unfollowing someone not followed succeeds and changes nothing.
    async fn unfollow(&self, ctx: &Context<'_>, user_id: ID) -> Result<FollowPayload> {
        let (viewer, target) = follow_target(ctx, &user_id).await?;
        let fresh = queries::follows::unfollow(db(ctx)?, viewer, target).await?;
        follow_payload(ctx, viewer, target, fresh).await
    }
}

/// The viewer and the existing other user a follow or unfollow is about.
async fn follow_target(ctx: &Context<'_>, user_id: &ID) -> Result<(i64, i64)> {
    let viewer = auth(ctx)?.require()?.user_id;
    let target = decode_id(Kind::User, user_id)?;
    if target == viewer {
        return Err(ApiError::bad_input("you cannot follow yourself").into());
    }
    if loaders(ctx)?.load_one(UserId(target)).await?.is_none() {
        return Err(ApiError::not_found("no user has that ID").into());
    }
    Ok((viewer, target))
}

/// Both users as they are after the write: the rows the write returned when
/// it changed something; otherwise the rows this request already read
/// (nothing changed them), or read now.
async fn follow_payload(
    ctx: &Context<'_>,
    viewer: i64,
    target: i64,
    fresh: Option<Vec<entity::user::Model>>,
) -> Result<FollowPayload> {
    let loaders = loaders(ctx)?;
    if let Some(rows) = fresh {
        loader::clear(loaders);
        loaders.feed_many(rows.into_iter().map(|u| (UserId(u.id), u))).await;
    }
    let mut users = loaders.load_many([UserId(viewer), UserId(target)]).await?;
    let (Some(me), Some(them)) = (users.remove(&UserId(viewer)), users.remove(&UserId(target))) else {
        return Err(ApiError::not_found("no user has that ID").into());
    };
    Ok(FollowPayload { user: User::new(them), viewer: User::new(me) })
}
