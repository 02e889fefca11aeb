//! DataLoaders, built fresh for every request (the viewer differs per
//! request, and a cache shared between requests would serve stale rows).
//!
//! One [`Loader`] answers several kinds of key; each kind is batched on its
//! own into one statement per round of resolvers:
//! - [`UserById`] -> the user row (counters included, so counts cost nothing);
//! - [`PostById`] -> the post row;
//! - [`RelationshipWith`] -> the viewer's relationship with a user
//!   (follows, requests and blocks, both ways; the parts asked for);
//! - [`FollowPage`] -> a page of a user's followers or following, filtered
//!   and ordered, with the listed users' rows (joined: their `node` costs
//!   nothing more) and, when the query asks every user on it for the same
//!   page of posts, those pages too (then fed into [`PostPage`]'s cache);
//! - [`FollowCount`] -> how many entries a filtered list has;
//! - [`PostPage`] -> a page of a user's posts (empty across a block).
//!
//! The page keys carry their page arguments, so `users { followers(first: 5) }`
//! over 20 users is one UNION ALL of 20 index range scans.
//!
//! A new loader: a key type here, an `impl Loader<Key> for Loader` that
//! calls one batched `store::` function, and `loaders.load_one(Key(..))` in
//! the resolver. Its cache is forgotten after writes like every other's:
//! [`Loaders::forget`] moves one epoch that every cache checks.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_graphql::dataloader::{CacheFactory, CacheStorage, DataLoader};
use store::follows::{Edge, List};
use store::relationships::{Probes, Relationship};
use store::{post, user, DatabaseConnection, Page, PageRequest, PostId, UserId};

use crate::auth::Viewer;
use crate::error::ApiError;

/// Keys per statement at most (one UNION ALL branch each).
const MAX_BATCH: usize = store::sql::MAX_BRANCHES;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserById(pub UserId);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PostById(pub PostId);
/// The viewer's relationship with a user, the parts named probed (the
/// rest false): a key per set, so a partial read never answers a field that
/// needs more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RelationshipWith(pub UserId, pub Probes);
/// A list's page; with a posts page, also that page of posts of every user
/// on it ([`Listed::posts`]), read in the same statement on PostgreSQL.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FollowPage(pub List, pub PageRequest, pub Option<PageRequest>);
/// A list, and whether to count it from the viewer's follows.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FollowCount(pub List, pub bool);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PostPage(pub UserId, pub PageRequest);

pub struct Loader {
    db: DatabaseConnection,
    viewer: Viewer,
}

/// The request's loaders.
pub struct Loaders {
    loader: DataLoader<Loader, EpochCache>,
    epoch: Arc<AtomicU64>,
}

impl Loaders {
    pub fn new(db: DatabaseConnection, viewer: Viewer) -> Self {
        let epoch = Arc::new(AtomicU64::new(0));
        let cache = EpochCache(epoch.clone());
        // No delay: the keys of one level of the answer are all asked for
        // in one poll of the request's task (its fields resolve in one
        // join), before the spawned load runs, so waiting gathers nothing
        // more; the default 1 ms was paid by every request with a loader
        // (`tests/api/batching.rs` counts the statements).
        let loader = DataLoader::with_cache(Loader { db, viewer }, tokio::spawn, cache)
            .max_batch_size(MAX_BATCH)
            .delay(std::time::Duration::ZERO);
        Loaders { loader, epoch }
    }

    /// Forgets everything loaded so far, for every kind of key: after a
    /// write, fields resolved later in the same request (a mutation's
    /// payload, the next mutation) see fresh rows. (A batch already in
    /// flight when this is called may still store what it read before the
    /// write; mutations run one after another, so none is in flight then.)
    pub fn forget(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }
}

impl std::ops::Deref for Loaders {
    type Target = DataLoader<Loader, EpochCache>;

    fn deref(&self) -> &Self::Target {
        &self.loader
    }
}

/// Makes every key type's cache: a map that empties itself when the shared
/// epoch has moved since it last looked, so no key type can be left out
/// of [`Loaders::forget`].
pub struct EpochCache(Arc<AtomicU64>);

impl CacheFactory for EpochCache {
    fn create<K, V>(&self) -> Box<dyn CacheStorage<Key = K, Value = V>>
    where
        K: Send + Sync + Clone + Eq + Hash + 'static,
        V: Send + Sync + Clone + 'static,
    {
        Box::new(EpochMap { epoch: self.0.clone(), seen: 0, map: HashMap::new() })
    }
}

struct EpochMap<K, V> {
    epoch: Arc<AtomicU64>,
    seen: u64,
    map: HashMap<K, V>,
}

impl<K, V> EpochMap<K, V> {
    fn current(&self) -> bool {
        self.seen == self.epoch.load(Ordering::SeqCst)
    }

    fn catch_up(&mut self) {
        let now = self.epoch.load(Ordering::SeqCst);
        if self.seen != now {
            self.map.clear();
            self.seen = now;
        }
    }
}

impl<K, V> CacheStorage for EpochMap<K, V>
where
    K: Send + Sync + Clone + Eq + Hash + 'static,
    V: Send + Sync + Clone + 'static,
{
    type Key = K;
    type Value = V;

    fn get(&mut self, key: &K) -> Option<&V> {
        self.catch_up();
        self.map.get(key)
    }

    fn insert(&mut self, key: Cow<'_, K>, val: Cow<'_, V>) {
        self.catch_up();
        self.map.insert(key.into_owned(), val.into_owned());
    }

    fn remove(&mut self, key: &K) {
        self.map.remove(key);
    }

    fn clear(&mut self) {
        self.map.clear();
    }

    fn iter(&self) -> Box<dyn Iterator<Item = (&K, &V)> + '_> {
        match self.current() {
            true => Box::new(self.map.iter()),
            false => Box::new(std::iter::empty()),
        }
    }
}

impl async_graphql::dataloader::Loader<UserById> for Loader {
    type Value = user::Model;
    type Error = ApiError;

    async fn load(&self, keys: &[UserById]) -> Result<HashMap<UserById, user::Model>, ApiError> {
        let ids: Vec<UserId> = keys.iter().map(|k| k.0).collect();
        let rows = store::users::find_by_ids(&self.db, &ids).await?;
        Ok(rows.into_iter().map(|u| (UserById(u.id), u)).collect())
    }
}

impl async_graphql::dataloader::Loader<PostById> for Loader {
    type Value = post::Model;
    type Error = ApiError;

    async fn load(&self, keys: &[PostById]) -> Result<HashMap<PostById, post::Model>, ApiError> {
        let ids: Vec<PostId> = keys.iter().map(|k| k.0).collect();
        let rows = store::posts::find_by_ids(&self.db, &ids).await?;
        Ok(rows.into_iter().map(|p| (PostById(p.id), p)).collect())
    }
}

impl async_graphql::dataloader::Loader<RelationshipWith> for Loader {
    type Value = Relationship;
    type Error = ApiError;

    /// One read per set of probes (nearly always one set).
    async fn load(&self, keys: &[RelationshipWith]) -> Result<HashMap<RelationshipWith, Relationship>, ApiError> {
        let Some(viewer) = self.viewer.id() else {
            return Ok(keys.iter().map(|k| (*k, Relationship::default())).collect());
        };
        let mut groups: HashMap<Probes, Vec<UserId>> = HashMap::new();
        for key in keys {
            groups.entry(key.1).or_default().push(key.0);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for (probes, ids) in groups {
            let found = store::relationships::read(&self.db, viewer, &ids, probes).await?;
            out.extend(
                ids.into_iter().map(|id| (RelationshipWith(id, probes), found.get(&id).copied().unwrap_or_default())),
            );
        }
        Ok(out)
    }
}

/// A [`FollowPage`]: the list's page, and the posts pages of its users
/// when the key asked for them (to feed into the [`PostPage`] cache).
#[derive(Clone, Debug)]
pub struct Listed {
    pub page: Page<Edge>,
    pub posts: Vec<(UserId, Page<post::Model>)>,
}

impl Listed {
    /// `page`, with the posts pages of its users in `by_user`.
    pub fn new(page: Page<Edge>, by_user: &HashMap<UserId, Page<post::Model>>) -> Self {
        let posts = page.items.iter().filter_map(|e| Some((e.user.id, by_user.get(&e.user.id)?.clone())));
        Listed { posts: posts.collect(), page }
    }
}

impl async_graphql::dataloader::Loader<FollowPage> for Loader {
    type Value = Listed;
    type Error = ApiError;

    /// The keys grouped by the posts page they ask for (nearly always all
    /// alike): one read per group.
    async fn load(&self, keys: &[FollowPage]) -> Result<HashMap<FollowPage, Listed>, ApiError> {
        let mut groups: HashMap<Option<PageRequest>, Vec<&FollowPage>> = HashMap::new();
        for key in keys {
            groups.entry(key.2).or_default().push(key);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for (posts_page, group) in groups {
            let lists: Vec<(List, PageRequest)> = group.iter().map(|k| (k.0.clone(), k.1)).collect();
            let Some(posts_page) = posts_page else {
                let pages = store::follows::pages(&self.db, &lists).await?;
                let listed = pages.into_iter().map(|page| Listed { page, posts: vec![] });
                out.extend(group.into_iter().cloned().zip(listed));
                continue;
            };
            let (pages, by_user) =
                store::follows::pages_with_posts(&self.db, self.viewer.id(), &lists, posts_page).await?;
            for (key, page) in group.into_iter().zip(pages) {
                out.insert(key.clone(), Listed::new(page, &by_user));
            }
        }
        Ok(out)
    }
}

impl async_graphql::dataloader::Loader<FollowCount> for Loader {
    type Value = i64;
    type Error = ApiError;

    async fn load(&self, keys: &[FollowCount]) -> Result<HashMap<FollowCount, i64>, ApiError> {
        let args: Vec<(List, bool)> = keys.iter().map(|k| (k.0.clone(), k.1)).collect();
        let counts = store::follows::counts(&self.db, &args).await?;
        Ok(keys.iter().cloned().zip(counts).collect())
    }
}

impl async_graphql::dataloader::Loader<PostPage> for Loader {
    type Value = Page<post::Model>;
    type Error = ApiError;

    async fn load(&self, keys: &[PostPage]) -> Result<HashMap<PostPage, Page<post::Model>>, ApiError> {
        let args: Vec<(UserId, PageRequest)> = keys.iter().map(|k| (k.0, k.1)).collect();
        let pages = store::posts::pages(&self.db, self.viewer.id(), &args).await?;
        Ok(keys.iter().copied().zip(pages).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Any key type's cache made by the factory forgets on one `fetch_add`:
    /// nothing lists the key types.
    #[test]
    fn every_cache_forgets_when_the_epoch_moves() {
        let epoch = Arc::new(AtomicU64::new(0));
        let factory = EpochCache(epoch.clone());
        let mut users = factory.create::<UserById, u8>();
        let mut pages = factory.create::<PostPage, u16>();
        users.insert(Cow::Owned(UserById(UserId(1))), Cow::Owned(1));
        pages.insert(Cow::Owned(PostPage(UserId(1), PageRequest::first(3))), Cow::Owned(2));
        assert_eq!(users.get(&UserById(UserId(1))), Some(&1));
        assert_eq!(pages.iter().count(), 1);
        epoch.fetch_add(1, Ordering::SeqCst);
        assert_eq!(pages.iter().count(), 0);
        assert_eq!(users.get(&UserById(UserId(1))), None);
        assert_eq!(pages.get(&PostPage(UserId(1), PageRequest::first(3))), None);
        users.insert(Cow::Owned(UserById(UserId(1))), Cow::Owned(3));
        assert_eq!(users.get(&UserById(UserId(1))), Some(&3), "what is read after the write is kept");
    }
}
