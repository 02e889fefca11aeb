//! DataLoaders, built fresh for every request (the viewer differs per
//! request, and a cache shared between requests would serve stale rows).
//!
//! One [`Loader`] answers several kinds of key; each kind is batched on its
//! own into one statement per round of resolvers:
//! - [`UserId`] -> the user row (counters included, so counts cost nothing);
//! - [`PostId`] -> the post row;
//! - [`RelationshipWith`] -> the viewer's relationship with a user, both ways;
//! - [`FollowPage`] -> a page of a user's followers or following, with
//!   the listed users' rows (joined: their `node` costs nothing more);
//! - [`PostPage`] -> a page of a user's posts.
//!
//! The page keys carry their page arguments, so `users { followers(first: 5) }`
//! over 20 users is one UNION ALL of 20 index range scans.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, HashMapCache};
use entity::{post, user};
use sea_orm::DatabaseConnection;

use crate::db::{self, follows::{Edge, Relationship, Side}};
use crate::error::ApiError;
use crate::pagination::{Page, PageRequest};

/// Several hundred keys per statement at most: SQLite caps a compound
/// SELECT at 500 terms.
const MAX_BATCH: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserId(pub i64);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PostId(pub i64);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RelationshipWith(pub i64);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FollowPage(pub i64, pub Side, pub PageRequest);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PostPage(pub i64, pub PageRequest);

pub struct Loader {
    db: DatabaseConnection,
    viewer: Option<i64>,
}

pub type Loaders = DataLoader<Loader, HashMapCache>;

pub fn new(db: DatabaseConnection, viewer: Option<i64>) -> Loaders {
    DataLoader::with_cache(Loader { db, viewer }, tokio::spawn, HashMapCache::default()).max_batch_size(MAX_BATCH)
}

/// Forgets everything loaded so far: after a write, fields resolved later in
/// the same request (a mutation's payload, the next mutation) see fresh rows.
pub fn clear(loaders: &Loaders) {
    loaders.clear::<UserId>();
    loaders.clear::<PostId>();
    loaders.clear::<RelationshipWith>();
    loaders.clear::<FollowPage>();
    loaders.clear::<PostPage>();
}

impl async_graphql::dataloader::Loader<UserId> for Loader {
    type Value = user::Model;
    type Error = ApiError;

    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, user::Model>, ApiError> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let rows = db::users::find_by_ids(&self.db, &ids).await?;
        Ok(rows.into_iter().map(|u| (UserId(u.id), u)).collect())
    }
}

impl async_graphql::dataloader::Loader<PostId> for Loader {
    type Value = post::Model;
    type Error = ApiError;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, post::Model>, ApiError> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let rows = db::posts::find_by_ids(&self.db, &ids).await?;
        Ok(rows.into_iter().map(|p| (PostId(p.id), p)).collect())
    }
}

impl async_graphql::dataloader::Loader<RelationshipWith> for Loader {
    type Value = Relationship;
    type Error = ApiError;

    async fn load(&self, keys: &[RelationshipWith]) -> Result<HashMap<RelationshipWith, Relationship>, ApiError> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let found = match self.viewer {
            Some(viewer) => db::follows::relationships(&self.db, viewer, &ids).await?,
            None => Default::default(),
        };
        Ok(ids.into_iter().map(|id| (RelationshipWith(id), found.get(&id).copied().unwrap_or_default())).collect())
    }
}

impl async_graphql::dataloader::Loader<FollowPage> for Loader {
    type Value = Page<Edge>;
    type Error = ApiError;

    async fn load(&self, keys: &[FollowPage]) -> Result<HashMap<FollowPage, Page<Edge>>, ApiError> {
        let mut out = HashMap::with_capacity(keys.len());
        for side in [Side::Followers, Side::Following] {
            let these: Vec<&FollowPage> = keys.iter().filter(|k| k.1 == side).collect();
            if these.is_empty() {
                continue;
            }
            let args: Vec<(i64, PageRequest)> = these.iter().map(|k| (k.0, k.2)).collect();
            let pages = db::follows::pages(&self.db, side, &args).await?;
            out.extend(these.into_iter().copied().zip(pages));
        }
        Ok(out)
    }
}

impl async_graphql::dataloader::Loader<PostPage> for Loader {
    type Value = Page<post::Model>;
    type Error = ApiError;

    async fn load(&self, keys: &[PostPage]) -> Result<HashMap<PostPage, Page<post::Model>>, ApiError> {
        let args: Vec<(i64, PageRequest)> = keys.iter().map(|k| (k.0, k.1)).collect();
        let pages = db::posts::pages(&self.db, &args).await?;
        Ok(keys.iter().copied().zip(pages).collect())
    }
}
