//! `timelines.checked_top_at`: the `created_at` of the timeline's newest
//! entry when the trimmer last looked at it. The trimmer counts a
//! timeline's entries down to its cap (a walk of the cap's length) only
//! when its newest entry is newer than this, or this is NULL: one that has
//! not grown since has nothing new to trim. A write that copies in older
//! entries by the many (a follow's backfill, an approval of every request,
//! a build) sets it to NULL.
//! NULL for every timeline made before this column: each is looked at in
//! full once.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE timelines ADD COLUMN checked_top_at TIMESTAMP WITH TIME ZONE").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("ALTER TABLE timelines DROP COLUMN checked_top_at").await?;
        Ok(())
    }
}
