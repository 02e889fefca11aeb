//! The demo network (`followgraph seed`): ten people with memorable names,
//! who follow each other and have posted over the last six days, so that a
//! newcomer can sign in as `alice` in GraphiQL and read a real feed.
//!
//! Besides plain follows it shows two relationship features: `heidi`
//! approves her followers by hand (policy APPROVAL; `alice` and `ivan`
//! have asked and wait), and `alice` follows `dave` but keeps his many
//! posts out of her feed (`hiddenFromFeed`).
//!
//! Everything goes in one transaction: either the whole network is there
//! or none of it. The counters are then computed from the rows written,
//! with the subqueries `followgraph recount` uses, for these users only
//! (they follow nobody else, so nobody else's counters move).

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{follow, follow_request, post};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, Set};
use store::sql::Sql;
use store::{user, FollowPolicy, UserId};

/// Every demo account's password.
pub const PASSWORD: &str = "followgraph-demo";

/// Demo accounts' emails are `<username>@demo.example`.
pub const EMAIL_DOMAIN: &str = "demo.example";

struct Person {
    username: &'static str,
    display_name: &'static str,
    bio: &'static str,
    /// When the account was opened, in days before the seeding.
    joined_days_ago: i64,
    policy: FollowPolicy,
}

const fn person(username: &'static str, display_name: &'static str, bio: &'static str, joined: i64) -> Person {
    Person { username, display_name, bio, joined_days_ago: joined, policy: FollowPolicy::Open }
}

const PEOPLE: &[Person] = &[
    person("alice", "Alice Andersen", "Backend developer. Graphs, coffee, long walks.", 30),
    person("bob", "Bob Baker", "Bakes bread on weekends, ships code on weekdays.", 29),
    person("carol", "Carol Chen", "Product designer. Sketches everything twice.", 27),
    person("dave", "Dave Diaz", "Posts a lot about trains. You have been warned.", 25),
    person("erin", "Erin Evans", "Security engineer. Rotates her keys and her houseplants.", 22),
    person("frank", "Frank Fischer", "Runs the Thursday book club.", 20),
    person("grace", "Grace Garcia", "Data scientist: plots first, questions later.", 18),
    Person {
        policy: FollowPolicy::Approval,
        ..person("heidi", "Heidi Hansen", "Small circle: I approve followers by hand.", 15)
    },
    person("judy", "Judy Jones", "Photographer. Mostly sunsets.", 12),
    person("ivan", "Ivan Ivanov", "Just arrived. Say hi!", 2),
];

/// (follower, followed, hidden from the follower's feed)
const FOLLOWS: &[(&str, &str, bool)] = &[
    ("alice", "bob", false),
    ("alice", "carol", false),
    ("alice", "dave", true),
    ("alice", "erin", false),
    ("alice", "grace", false),
    ("bob", "alice", false),
    ("bob", "carol", false),
    ("bob", "frank", false),
    ("bob", "judy", false),
    ("carol", "alice", false),
    ("carol", "bob", false),
    ("carol", "grace", false),
    ("carol", "heidi", false),
    ("dave", "alice", false),
    ("dave", "bob", false),
    ("dave", "carol", false),
    ("dave", "erin", false),
    ("dave", "frank", false),
    ("dave", "grace", false),
    ("dave", "judy", false),
    ("erin", "alice", false),
    ("erin", "grace", false),
    ("frank", "bob", false),
    ("frank", "dave", false),
    ("frank", "judy", false),
    ("grace", "alice", false),
    ("grace", "carol", false),
    ("grace", "erin", false),
    ("grace", "heidi", false),
    ("heidi", "carol", false),
    ("heidi", "grace", false),
    ("judy", "alice", false),
    ("judy", "bob", false),
    ("judy", "frank", false),
    ("ivan", "alice", false),
];

/// Pending requests: (requester, target, hours before the seeding). The
/// targets' policy is APPROVAL.
const REQUESTS: &[(&str, &str, i64)] = &[("alice", "heidi", 26), ("ivan", "heidi", 20)];

/// (author, minutes before the seeding, body), oldest first; no two at the
/// same time, so every list has one order.
const POSTS: &[(&str, i64, &str)] = &[
    ("judy", 8490, "First light over the harbour this morning. Worth the 5 a.m. alarm."),
    ("dave", 8400, "The 7:42 was on time today. Noting it for the historians."),
    ("bob", 8200, "Sourdough attempt #14: finally an open crumb."),
    ("carol", 7900, "Redesigned the settings page. It has fewer settings now, which is the point."),
    ("alice", 7700, "Hello, Followgraph! Trying out cursor pagination, 20 posts a page."),
    ("grace", 7200, "Plotted our sign-up numbers. The weekend dip is real."),
    ("dave", 7100, "Fun fact: the longest dead-straight stretch of railway runs 478 km across the Nullarbor."),
    ("erin", 6500, "Reminder: rotate your API tokens. Yes, that one too."),
    ("frank", 6000, "Book club on Thursday: The Left Hand of Darkness. Bring snacks."),
    ("heidi", 5800, "Quiet week. Reading more, posting less."),
    ("dave", 5700, "Train update: the 7:42 was late. The historians have been informed."),
    ("alice", 5200, "Keyset pagination beats OFFSET once the lists get long. Measured it."),
    ("bob", 4900, "Shipped the new search today: prefix matching, case-insensitive."),
    ("judy", 4400, "Golden hour at the pier. Three hundred shots, one keeper."),
    ("carol", 4100, "Hot take: every empty state deserves an illustration."),
    ("dave", 3900, "Spotted a steam locomotive on the heritage line. Best day of the month."),
    ("grace", 3500, "Correlation is not causation, but it is a great conversation starter."),
    ("erin", 3100, "Turned on two-factor for the whole team. Only one complaint. Progress."),
    ("frank", 2800, "Next month's book is up for a vote: science fiction or a mystery?"),
    ("alice", 2500, "Who else is going to the graph databases meetup next week?"),
    ("ivan", 2300, "Hi everyone! Just joined. Who should I follow?"),
    ("heidi", 2100, "Finished the bird-watching guide. Spotted a kingfisher at last."),
    ("dave", 1900, "Night train to the coast booked. Sleeper cabin, of course."),
    ("bob", 1500, "Bread update: the starter survived the holidays."),
    ("carol", 1300, "Usability test: five people, four found the button. Good enough? No."),
    ("grace", 1000, "New notebook on follower growth. Spoiler: it is a power law."),
    ("judy", 800, "Fog rolled in just before sunset. Moody pictures incoming."),
    ("erin", 600, "Patched, tested, deployed. Coffee now."),
    ("alice", 400, "Reading the feed I just built. It feels like home."),
    ("dave", 240, "Platform 9 is closed for repairs. Platform 9 3/4 remains open, I'm told."),
    ("bob", 90, "Testing the new oven timer app. It is just a timer."),
    ("carol", 25, "Sketching the new profile page. Feedback welcome!"),
];

/// What was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub users: usize,
    pub follows: usize,
    pub requests: usize,
    pub posts: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Seeded(Summary),
    /// Every demo account was there already: nothing was written.
    AlreadySeeded,
}

/// The demo usernames, in the order they were created.
pub fn usernames() -> Vec<&'static str> {
    PEOPLE.iter().map(|p| p.username).collect()
}

fn email(username: &str) -> String {
    format!("{username}@{EMAIL_DOMAIN}")
}

/// Writes the demo network into `db` (migrated). When every demo account
/// is there already, writes nothing and says so; when only some of their
/// usernames or emails are taken, fails naming them, and writes nothing;
/// when the database holds other accounts, refuses (the demo password is
/// published).
pub async fn seed(db: &DatabaseConnection) -> Result<Outcome, String> {
    let taken = taken(db).await?;
    if taken.len() == PEOPLE.len() {
        return Ok(Outcome::AlreadySeeded);
    }
    let others = crate::user_count(db).await? - taken.len() as i64;
    if others > 0 && taken.is_empty() {
        // The demo's accounts share a published password: never add them
        // beside real people.
        return Err(format!(
            "this database holds {others} accounts that are not the demo's, and the demo accounts share \
             a published password: seed an empty (development) database, or `followgraph seed --force` \
             to drop all data first"
        ));
    }
    if !taken.is_empty() {
        return Err(format!(
            "the demo needs the usernames {} (emails @{EMAIL_DOMAIN}), and this database already has {}: \
             seed an empty database, or `followgraph seed --force` to drop all data first",
            usernames().join(", "),
            taken.join(", ")
        ));
    }
    // Hashed before the transaction: on SQLite it holds the one write lock.
    let hashes = tokio::task::spawn_blocking(|| {
        PEOPLE.iter().map(|_| crate::hash_password(PASSWORD)).collect::<Result<Vec<String>, String>>()
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("hash the demo password: {e}"))?;
    write(db, hashes, store::now()).await.map_err(|e| format!("seed the demo: {e}"))?;
    Ok(Outcome::Seeded(Summary {
        users: PEOPLE.len(),
        follows: FOLLOWS.len(),
        requests: REQUESTS.len(),
        posts: POSTS.len(),
    }))
}

/// The accounts (by username) that hold a demo username or email.
async fn taken(db: &impl ConnectionTrait) -> Result<Vec<String>, String> {
    let names: Vec<&str> = PEOPLE.iter().map(|p| p.username).collect();
    let keys: Vec<String> = PEOPLE.iter().map(|p| user::email_key(&email(p.username))).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT username FROM users WHERE lower(username) IN (").bind_list(&names);
    sql.push(") OR email_key IN (").bind_list(&keys).push(") ORDER BY id");
    let rows = db.query_all_raw(sql.build()).await.map_err(|e| e.to_string())?;
    rows.iter().map(|r| r.try_get::<String>("", "username").map_err(|e| e.to_string())).collect()
}

async fn write(db: &DatabaseConnection, hashes: Vec<String>, now: DateTime<Utc>) -> Result<(), sea_orm::DbErr> {
    let txn = store::begin_write(db).await?;
    let mut ids: HashMap<&str, UserId> = HashMap::new();
    let mut joined: HashMap<&str, DateTime<Utc>> = HashMap::new();
    for (p, hash) in PEOPLE.iter().zip(hashes) {
        let at = now - Duration::days(p.joined_days_ago);
        let row = user::ActiveModel {
            username: Set(p.username.to_owned()),
            email: Set(email(p.username)),
            email_key: Set(user::email_key(&email(p.username))),
            password_hash: Set(hash),
            display_name: Set(p.display_name.to_owned()),
            bio: Set(p.bio.to_owned()),
            created_at: Set(at),
            followers_count: Set(0),
            following_count: Set(0),
            posts_count: Set(0),
            follow_policy: Set(p.policy),
            network_hidden: Set(false),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        ids.insert(p.username, row.id);
        joined.insert(p.username, at);
    }
    // A follow begins an hour or so after the later of the two accounts
    // was opened (never in the future).
    let follows = FOLLOWS.iter().enumerate().map(|(i, &(a, b, hidden))| follow::ActiveModel {
        follower_id: Set(ids[a]),
        followed_id: Set(ids[b]),
        created_at: Set((joined[a].max(joined[b]) + Duration::hours(i as i64 + 1)).min(now - Duration::hours(1))),
        hidden_from_feed: Set(hidden),
    });
    follow::Entity::insert_many(follows).exec_without_returning(&txn).await?;
    let requests = REQUESTS.iter().map(|&(a, b, hours)| follow_request::ActiveModel {
        requester_id: Set(ids[a]),
        target_id: Set(ids[b]),
        created_at: Set(now - Duration::hours(hours)),
    });
    follow_request::Entity::insert_many(requests).exec_without_returning(&txn).await?;
    let posts = POSTS.iter().map(|&(by, minutes, body)| post::ActiveModel {
        user_id: Set(ids[by]),
        body: Set(body.to_owned()),
        created_at: Set(now - Duration::minutes(minutes)),
        ..Default::default()
    });
    post::Entity::insert_many(posts).exec_without_returning(&txn).await?;

    let ids: Vec<UserId> = PEOPLE.iter().map(|p| ids[p.username]).collect();
    let mut sql = Sql::new(txn.get_database_backend());
    sql.push(
        "UPDATE users SET \
           followers_count = (SELECT COUNT(*) FROM follows WHERE followed_id = users.id), \
           following_count = (SELECT COUNT(*) FROM follows WHERE follower_id = users.id), \
           posts_count = (SELECT COUNT(*) FROM posts WHERE user_id = users.id) \
         WHERE id IN (",
    )
    .bind_list(&ids)
    .push(")");
    txn.execute_raw(sql.build()).await?;
    txn.commit().await
}

/// What to tell whoever ran `followgraph seed`: who is there and how to
/// sign in.
pub fn guide() -> String {
    format!(
        "Sign in as any of {} (or <name>@{EMAIL_DOMAIN}) with the password `{PASSWORD}`, e.g. in GraphiQL:\n  \
         mutation {{ signIn(input: {{ login: \"alice\", password: \"{PASSWORD}\" }}) {{ token }} }}\n\
         then send `Authorization: Bearer <token>` and ask for `{{ feed {{ nodes {{ body author {{ username }} }} }} }}`.\n\
         heidi approves followers by hand (alice and ivan wait: sign in as heidi and ask for followRequests); \
         alice follows dave but hides his posts from her feed.",
        {
            let mut names = usernames();
            names.sort_unstable();
            names.join(", ")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tables agree with each other: every name is a person, no pair
    /// twice (follows of an APPROVAL account count as approved), requests
    /// only to APPROVAL accounts not already followed, no
    /// post before its author joined, and posts strictly in time order.
    #[test]
    fn the_demo_is_consistent() {
        let joined: HashMap<&str, &Person> = PEOPLE.iter().map(|p| (p.username, p)).collect();
        assert_eq!(joined.len(), PEOPLE.len());
        let mut pairs = std::collections::HashSet::new();
        for &(a, b, _) in FOLLOWS {
            assert!(joined.contains_key(a) && joined.contains_key(b) && a != b, "{a} {b}");
            assert!(pairs.insert((a, b)), "{a} follows {b} twice");
        }
        for &(a, b, hours) in REQUESTS {
            assert_eq!(joined[b].policy, FollowPolicy::Approval, "{b}");
            assert!(!pairs.contains(&(a, b)), "{a} already follows {b}");
            assert!(hours * 60 < joined[a].joined_days_ago.min(joined[b].joined_days_ago) * 1440);
        }
        for pair in POSTS.windows(2) {
            assert!(pair[0].1 > pair[1].1, "{:?} before {:?}", pair[0], pair[1]);
        }
        for &(by, minutes, body) in POSTS {
            assert!(minutes < joined[by].joined_days_ago * 1440, "{by} posted before joining");
            assert!((1..=500).contains(&body.chars().count()));
        }
        for p in PEOPLE {
            let ok = p.username.len() >= 3 && p.username.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            assert!(ok && !p.display_name.is_empty() && p.display_name.chars().count() <= 50);
            assert!(p.bio.chars().count() <= 300);
        }
        assert!(PASSWORD.len() >= 8);
    }
}
