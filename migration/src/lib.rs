//! Database migrations, run at server start (and by the test harness on
//! every fresh test database). One file per migration; comments say why.

pub use sea_orm_migration::prelude::*;
pub use sea_orm_migration::MigrationStatus;

mod m20261121_000001_create_tables;
mod m20261121_000002_posts_by_time;
mod m20261122_000003_email_key;
mod m20261130_000004_relationships;
mod m20261130_000005_feed_markers;
mod m20261130_000006_timelines;
mod m20261130_000007_pending_by_time;
mod m20261201_000008_timeline_reads;
mod m20261201_000009_timeline_checks;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_tables::Migration),
            Box::new(m20261121_000002_posts_by_time::Migration),
            Box::new(m20261122_000003_email_key::Migration),
            Box::new(m20261130_000004_relationships::Migration),
            Box::new(m20261130_000005_feed_markers::Migration),
            Box::new(m20261130_000006_timelines::Migration),
            Box::new(m20261130_000007_pending_by_time::Migration),
            Box::new(m20261201_000008_timeline_reads::Migration),
            Box::new(m20261201_000009_timeline_checks::Migration),
        ]
    }
}
