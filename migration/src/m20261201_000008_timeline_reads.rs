//! `timelines.read_at`: when the viewer last read their feed (renewed at
//! most every so often, not on every read). A timeline not read for
//! `--feed-timeline-idle-secs` is dropped by the trimmer, and its viewer's
//! posts stop being copied to it; their next read is served live and
//! builds it again (Mastodon keeps timelines only for recently active
//! accounts the same way). Timelines made before this column start as read
//! now. NULL, which no write makes, reads as "not known": renewed on the
//! next read, never dropped.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::ChronoUtc;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE timelines ADD COLUMN read_at TIMESTAMP WITH TIME ZONE").await?;
        // Bound from here, so that SQLite stores it as every other time.
        let backend = db.get_database_backend();
        let update = match backend {
            DbBackend::Postgres => "UPDATE timelines SET read_at = $1",
            _ => "UPDATE timelines SET read_at = ?",
        };
        db.execute_raw(Statement::from_sql_and_values(backend, update, [ChronoUtc::now().into()])).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("ALTER TABLE timelines DROP COLUMN read_at").await?;
        Ok(())
    }
}
