//! The server's side of materialized timelines (store/src/timeline.rs):
//! how writes deliver ([`Timelines::delivery`]), building a reader's
//! timeline off the request when it has none, copying popular authors'
//! posts in the background, and trimming every timeline to its cap.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use store::timeline::{self, Delivery};
use store::{DatabaseConnection, UserId};
use tokio::sync::Notify;

/// Accounts trimmed per round, and the pause between rounds: a pass over
/// 200,000 accounts takes under seven minutes.
const TRIM_BATCH: i64 = 500;
const TRIM_EVERY: Duration = Duration::from_secs(1);
/// How often the queue of posts to copy is looked at without being told
/// (posts queued by another instance, or left by a restart).
const SWEEP_EVERY: Duration = Duration::from_secs(2);

pub struct Timelines {
    db: DatabaseConnection,
    pub delivery: Delivery,
    /// Builds under way in this process (one per account at a time).
    building: Mutex<HashSet<UserId>>,
    queued: Arc<Notify>,
}

impl Timelines {
    /// Starts the background delivery of queued posts, and with
    /// `maintain` also the trimmer and the periodic sweep of the queue;
    /// they stop when the returned value is dropped.
    pub fn start(db: DatabaseConnection, delivery: Delivery, maintain: bool) -> Arc<Self> {
        let queued = Arc::new(Notify::new());
        let timelines =
            Arc::new(Timelines { db, delivery, building: Mutex::new(HashSet::new()), queued: Arc::clone(&queued) });
        tokio::spawn(deliverer(Arc::downgrade(&timelines), queued, maintain));
        if maintain {
            tokio::spawn(trimmer(Arc::downgrade(&timelines)));
        }
        timelines
    }

    /// A post was queued: copy it now.
    pub fn deliver(&self) {
        self.queued.notify_one();
    }

    /// Builds `viewer`'s timeline in the background, unless this process
    /// is building it already.
    pub fn build(self: &Arc<Self>, viewer: UserId) {
        if !self.building.lock().unwrap_or_else(|e| e.into_inner()).insert(viewer) {
            return;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(e) = timeline::build(&this.db, viewer, this.delivery.cap).await {
                tracing::warn!(viewer = viewer.0, error = %e, "building a timeline failed; the feed is read live meanwhile");
            }
            this.building.lock().unwrap_or_else(|e| e.into_inner()).remove(&viewer);
        });
    }
}

/// Copies queued posts when told (`deliver`), and with `sweep` also every
/// [`SWEEP_EVERY`]. Holds only a weak reference while it waits, so it ends
/// with the server.
async fn deliverer(timelines: Weak<Timelines>, queued: Arc<Notify>, sweep: bool) {
    loop {
        let told = tokio::time::timeout(SWEEP_EVERY, queued.notified()).await.is_ok();
        let Some(t) = timelines.upgrade() else { return };
        if !told && !sweep {
            continue;
        }
        loop {
            match timeline::deliver_batch(&t.db, t.delivery.batch).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "copying a queued post into timelines failed; retried later");
                    break;
                }
            }
        }
    }
}

async fn trimmer(timelines: Weak<Timelines>) {
    let mut after = UserId(0);
    loop {
        tokio::time::sleep(TRIM_EVERY).await;
        let Some(t) = timelines.upgrade() else { return };
        match timeline::trim(&t.db, after, TRIM_BATCH, t.delivery.cap).await {
            Ok(next) => after = next.unwrap_or(UserId(0)),
            Err(e) => tracing::warn!(error = %e, "trimming timelines failed"),
        }
    }
}
