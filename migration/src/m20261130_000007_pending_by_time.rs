//! `timeline_pending (created_at, post_id)`: a feed read takes the queued
//! posts of the accounts the viewer follows newest first, in pages; with
//! this index it walks the queue in that order and stops at the page,
//! instead of reading and sorting the whole queue on every read (the queue
//! is small while delivery keeps up, and grows when it does not).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = "CREATE INDEX timeline_pending_created_idx ON timeline_pending (created_at, post_id)";
        manager.get_connection().execute_unprepared(sql).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP INDEX timeline_pending_created_idx").await?;
        Ok(())
    }
}
