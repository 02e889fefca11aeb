//! posts (created_at, id, user_id): the newest posts of everyone, in order.
//!
//! The home feed of a viewer who follows many accounts (thousands) is not
//! read by merging every followee's posts: it walks this index from the
//! cursor, newest first, and keeps the posts whose author the viewer
//! follows, stopping at a page (see `store/src/feed.rs`). `user_id` is in
//! the index so that walk decides each row without visiting the table.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("posts_created_idx")
                    .table(Alias::new("posts"))
                    .col(Alias::new("created_at"))
                    .col(Alias::new("id"))
                    .col(Alias::new("user_id"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("posts_created_idx").table(Alias::new("posts")).to_owned()).await
    }
}
