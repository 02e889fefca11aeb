//! The whole first schema: users, follows, posts, sessions.
//!
//! The rules live in the database, not only in Rust, so that no code path
//! (a future admin tool, a hand-written SQL fix, two racing requests) can
//! break them:
//! - follows are keyed by (follower_id, followed_id): one row per pair, which
//!   also makes concurrent duplicate follows collapse into one row;
//! - `CHECK (follower_id <> followed_id)`: nobody follows themself;
//! - every foreign key is ON DELETE CASCADE: deleting a user removes their
//!   posts, follows (both directions) and sessions with them;
//! - usernames and emails are unique case-insensitively, through unique
//!   indexes on lower(...) (works the same on PostgreSQL and SQLite);
//! - counters cannot go negative.
//!
//! Indexes are chosen for the queries in `store/src`, each a keyset page in
//! (created_at, id) order:
//! - follows (followed_id, created_at, follower_id): a user's followers;
//! - follows (follower_id, created_at, followed_id): who a user follows;
//! - posts (user_id, created_at, id): a user's posts and the feed merge;
//! - users (created_at, id): the user directory, newest first.
//!
//! Timestamps are written by the application in UTC (never a database
//! default): SQLite stores them as text, and a default would write another
//! format that sorts wrongly beside them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
    Username,
    Email,
    PasswordHash,
    DisplayName,
    Bio,
    CreatedAt,
    FollowersCount,
    FollowingCount,
    PostsCount,
}

#[derive(DeriveIden)]
enum Follows {
    Table,
    FollowerId,
    FollowedId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Posts {
    Table,
    Id,
    UserId,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    TokenHash,
    UserId,
    CreatedAt,
}

/// A non-negative counter column starting at 0.
fn counter(col: Users) -> ColumnDef {
    let mut def = big_integer(col);
    def.default(0).check(Expr::col(col).gte(0));
    def
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(big_pk_auto(Users::Id))
                    .col(string_len(Users::Username, 30))
                    .col(string_len(Users::Email, 254))
                    .col(text(Users::PasswordHash))
                    .col(string_len(Users::DisplayName, 50))
                    .col(text(Users::Bio).default(""))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(counter(Users::FollowersCount))
                    .col(counter(Users::FollowingCount))
                    .col(counter(Users::PostsCount))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // Case-insensitive uniqueness. Lookups use the same expression
        // (`lower(username) = lower($1)`) so they are served by these indexes.
        db.execute_unprepared("CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username))").await?;
        db.execute_unprepared("CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))").await?;
        manager
            .create_index(
                Index::create()
                    .name("users_created_at_id_idx")
                    .table(Users::Table)
                    .col(Users::CreatedAt)
                    .col(Users::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Follows::Table)
                    .col(big_integer(Follows::FollowerId))
                    .col(big_integer(Follows::FollowedId))
                    .col(timestamp_with_time_zone(Follows::CreatedAt))
                    .primary_key(Index::create().name("follows_pkey").col(Follows::FollowerId).col(Follows::FollowedId))
                    .check(Expr::col(Follows::FollowerId).ne(Expr::col(Follows::FollowedId)))
                    .foreign_key(
                        ForeignKey::create()
                            .name("follows_follower_id_fkey")
                            .from(Follows::Table, Follows::FollowerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("follows_followed_id_fkey")
                            .from(Follows::Table, Follows::FollowedId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // "Who follows X, newest first" and "whom does X follow, newest
        // first": each page is one range scan of one of these.
        manager
            .create_index(
                Index::create()
                    .name("follows_followed_created_idx")
                    .table(Follows::Table)
                    .col(Follows::FollowedId)
                    .col(Follows::CreatedAt)
                    .col(Follows::FollowerId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("follows_follower_created_idx")
                    .table(Follows::Table)
                    .col(Follows::FollowerId)
                    .col(Follows::CreatedAt)
                    .col(Follows::FollowedId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Posts::Table)
                    .col(big_pk_auto(Posts::Id))
                    .col(big_integer(Posts::UserId))
                    .col(text(Posts::Body))
                    .col(timestamp_with_time_zone(Posts::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("posts_user_id_fkey")
                            .from(Posts::Table, Posts::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A user's posts newest first, and the per-author merge of the feed.
        manager
            .create_index(
                Index::create()
                    .name("posts_user_created_idx")
                    .table(Posts::Table)
                    .col(Posts::UserId)
                    .col(Posts::CreatedAt)
                    .col(Posts::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(string_len(Sessions::TokenHash, 64).primary_key())
                    .col(big_integer(Sessions::UserId))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("sessions_user_id_fkey")
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Without it, deleting a user scans every session for the cascade.
        manager
            .create_index(
                Index::create().name("sessions_user_id_idx").table(Sessions::Table).col(Sessions::UserId).to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["sessions", "posts", "follows", "users"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
