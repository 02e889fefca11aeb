//! The server's side of materialized timelines (store/src/timeline.rs):
//! how writes deliver ([`Timelines::delivery`]), building a reader's
//! timeline off the request when it has none (and renewing its `read_at`
//! when it was read long ago), copying popular authors' posts in the
//! background, trimming every timeline to its cap, and dropping those no
//! one has read for [`Upkeep::idle`].

use std::collections::HashSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use store::feed::Seen;
use store::timeline::{self, Delivery};
use store::{DatabaseConnection, UserId};
use tokio::sync::Notify;

/// Accounts trimmed per round; with [`Upkeep::trim_every`] at its default
/// of a second, a pass over 200,000 accounts takes under seven minutes.
const TRIM_BATCH: i64 = 500;
/// The longest a read waits to renew its timeline's `read_at`: an active
/// reader's timeline costs one write a day at most.
const RENEW_AT_MOST_EVERY: Duration = Duration::from_secs(24 * 60 * 60);
/// How often the queue of posts to copy is looked at without being told
/// (posts queued by another instance, or left by a restart).
const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// The background upkeep of timelines.
#[derive(Clone, Copy, Debug)]
pub struct Upkeep {
    /// Whether this process trims and drops timelines and sweeps the
    /// delivery queue (every instance copies what it queued itself).
    pub maintain: bool,
    /// The pause between rounds of the trimmer.
    pub trim_every: Duration,
    /// A timeline not read for this long is dropped (rebuilt on its
    /// viewer's next read).
    pub idle: Duration,
}

pub struct Timelines {
    db: DatabaseConnection,
    pub delivery: Delivery,
    upkeep: Upkeep,
    /// Builds under way in this process (one per account at a time).
    building: Mutex<HashSet<UserId>>,
    /// Renewals of `read_at` under way in this process (a burst of polls
    /// by one viewer renews once).
    renewing: Mutex<HashSet<UserId>>,
    queued: Arc<Notify>,
}

impl Timelines {
    /// Starts the background delivery of queued posts, and with
    /// `upkeep.maintain` also the trimmer and the periodic sweep of the
    /// queue; they stop when the returned value is dropped.
    pub fn start(db: DatabaseConnection, delivery: Delivery, upkeep: Upkeep) -> Arc<Self> {
        let queued = Arc::new(Notify::new());
        let timelines = Arc::new(Timelines {
            db,
            delivery,
            upkeep,
            building: Mutex::new(HashSet::new()),
            renewing: Mutex::new(HashSet::new()),
            queued: Arc::clone(&queued),
        });
        tokio::spawn(deliverer(Arc::downgrade(&timelines), queued, upkeep.maintain));
        if upkeep.maintain {
            tokio::spawn(trimmer(Arc::downgrade(&timelines), upkeep));
        }
        timelines
    }

    /// After a feed read: builds `viewer`'s timeline when it had none, and
    /// renews its `read_at` when that is older than half the idle time (a
    /// day at most), both off the request.
    pub fn seen(self: &Arc<Self>, viewer: UserId, timeline: Seen) {
        match timeline {
            Seen::NotAsked => {}
            Seen::Missing => self.build(viewer),
            Seen::ReadAt(at) => {
                let renew_every = (self.upkeep.idle / 2).min(RENEW_AT_MOST_EVERY);
                let due = at.is_none_or(|at| {
                    chrono::Utc::now().signed_duration_since(at).to_std().is_ok_and(|ago| ago >= renew_every)
                });
                if due && claim(&self.renewing, viewer) {
                    let this = Arc::clone(self);
                    tokio::spawn(async move {
                        if let Err(e) = timeline::renew(&this.db, viewer).await {
                            tracing::warn!(viewer = viewer.0, error = %e, "renewing a timeline's read_at failed");
                        }
                        release(&this.renewing, viewer);
                    });
                }
            }
        }
    }

    /// A post was queued: copy it now.
    pub fn deliver(&self) {
        self.queued.notify_one();
    }

    /// Builds `viewer`'s timeline in the background, unless this process
    /// is building it already.
    fn build(self: &Arc<Self>, viewer: UserId) {
        if !claim(&self.building, viewer) {
            return;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(e) = timeline::build(&this.db, viewer, this.delivery.cap).await {
                tracing::warn!(viewer = viewer.0, error = %e, "building a timeline failed; the feed is read live meanwhile");
            }
            release(&this.building, viewer);
        });
    }
}

/// Marks `viewer`'s task as under way in `set`: false when it is already.
fn claim(set: &Mutex<HashSet<UserId>>, viewer: UserId) -> bool {
    set.lock().unwrap_or_else(|e| e.into_inner()).insert(viewer)
}

fn release(set: &Mutex<HashSet<UserId>>, viewer: UserId) {
    set.lock().unwrap_or_else(|e| e.into_inner()).remove(&viewer);
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

/// Trims and drops timelines, [`TRIM_BATCH`] accounts a round.
async fn trimmer(timelines: Weak<Timelines>, upkeep: Upkeep) {
    let idle = chrono::Duration::from_std(upkeep.idle).unwrap_or(chrono::Duration::MAX);
    let mut after = UserId(0);
    loop {
        tokio::time::sleep(upkeep.trim_every).await;
        let Some(t) = timelines.upgrade() else { return };
        let idle_since = chrono::Utc::now().checked_sub_signed(idle).unwrap_or_else(timeline::no_floor);
        match timeline::trim(&t.db, after, TRIM_BATCH, t.delivery.cap, idle_since).await {
            Ok(next) => after = next.unwrap_or(UserId(0)),
            Err(e) => tracing::warn!(error = %e, "trimming timelines failed"),
        }
    }
}
