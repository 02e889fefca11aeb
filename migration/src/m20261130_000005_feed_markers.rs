//! `feed_markers`: each user's saved reading position in their feed, one
//! row per user, shared by all their devices (Mastodon's markers). The
//! position is kept as the cursor's key (the post's time and id), not as a
//! reference to the post, so a marker stays valid after its post is deleted:
//! keyset paging from it needs only the key.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE TABLE feed_markers (\
                   user_id BIGINT NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE, \
                   post_created_at TIMESTAMP WITH TIME ZONE NOT NULL, \
                   post_id BIGINT NOT NULL, \
                   updated_at TIMESTAMP WITH TIME ZONE NOT NULL)",
            )
            .await
            .map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP TABLE feed_markers").await.map(drop)
    }
}
