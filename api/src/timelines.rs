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

/// What a round of the trimmer looks at: 2,000 timelines, of which up to
/// 500 that grew are counted down to the cap. With [`Upkeep::trim_every`]
/// at its default of a second, a pass over 200,000 accounts takes under
/// two minutes when few grow (a round about 14 ms at M), and a round
/// where all grew costs about what one of 500 did (about 70 ms):
/// docs/PERFORMANCE.md, "The trimmer visits more when few grew".
const TRIM_ROUND: timeline::Round = timeline::Round { visit: 2_000, count: 500 };
/// The longest a read waits to renew its timeline's `read_at`: an active
/// reader's timeline costs one write a day at most.
const RENEW_AT_MOST_EVERY: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a finished renewal keeps its viewer claimed (a quarter of the
/// renewal interval when that is shorter): reads that saw the old
/// `read_at` and end meanwhile find the claim and do not renew again.
const RENEWAL_SETTLES: Duration = Duration::from_secs(5);
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
    building: UnderWay,
    /// Renewals of `read_at` under way in this process, or done in the
    /// last [`RENEWAL_SETTLES`] (a burst of polls by one viewer renews
    /// once).
    renewing: UnderWay,
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
            building: UnderWay::default(),
            renewing: UnderWay::default(),
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
                if !due {
                    return;
                }
                let Some(claim) = Claim::take(&self.renewing, viewer) else {
                    return;
                };
                let settles = RENEWAL_SETTLES.min(renew_every / 4);
                let this = Arc::clone(self);
                tokio::spawn(async move {
                    if let Err(e) = timeline::renew(&this.db, viewer).await {
                        tracing::warn!(viewer = viewer.0, error = %e, "renewing a timeline's read_at failed");
                    }
                    // Let go of the server's state (and its pool) before waiting.
                    drop(this);
                    tokio::time::sleep(settles).await;
                    drop(claim);
                });
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
        let Some(claim) = Claim::take(&self.building, viewer) else {
            return;
        };
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let _claim = claim;
            if let Err(e) = timeline::build(&this.db, viewer, this.delivery.cap).await {
                tracing::warn!(viewer = viewer.0, error = %e, "building a timeline failed; the feed is read live meanwhile");
            }
        });
    }
}

/// The viewers one kind of task is under way for in this process.
type UnderWay = Arc<Mutex<HashSet<UserId>>>;

/// A viewer's task marked as under way: unmarked when dropped, so also
/// when the task ends by a panic or is cancelled.
struct Claim {
    set: UnderWay,
    viewer: UserId,
}

impl Claim {
    /// Marks `viewer`'s task as under way in `set`: `None` when it is
    /// already.
    fn take(set: &UnderWay, viewer: UserId) -> Option<Claim> {
        let fresh = set.lock().unwrap_or_else(|e| e.into_inner()).insert(viewer);
        fresh.then(|| Claim { set: Arc::clone(set), viewer })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.set.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.viewer);
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

/// Trims and drops timelines, a [`TRIM_ROUND`] at a time.
async fn trimmer(timelines: Weak<Timelines>, upkeep: Upkeep) {
    let idle = chrono::Duration::from_std(upkeep.idle).unwrap_or(chrono::Duration::MAX);
    let mut after = UserId(0);
    loop {
        tokio::time::sleep(upkeep.trim_every).await;
        let Some(t) = timelines.upgrade() else { return };
        let idle_since = chrono::Utc::now().checked_sub_signed(idle).unwrap_or_else(timeline::no_floor);
        match timeline::trim(&t.db, after, TRIM_ROUND, t.delivery.cap, idle_since).await {
            Ok(next) => after = next.unwrap_or(UserId(0)),
            Err(e) => tracing::warn!(error = %e, "trimming timelines failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_claim_is_released_when_its_task_panics() {
        let set = UnderWay::default();
        let claim = Claim::take(&set, UserId(7)).expect("the first claim");
        assert!(Claim::take(&set, UserId(7)).is_none(), "claimed twice");
        assert!(Claim::take(&set, UserId(8)).is_some(), "another viewer's");
        let task = tokio::spawn(async move {
            let _claim = claim;
            panic!("a build that panics");
        });
        assert!(task.await.is_err());
        assert!(Claim::take(&set, UserId(7)).is_some(), "left claimed after the panic");
    }
}
