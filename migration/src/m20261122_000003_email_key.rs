//! users.email_key: the email as it is compared, NFKC-normalised then
//! lower-cased (`entity::user::email_key`, the one place that rule lives),
//! unique. It replaces the unique index on lower(email): SQLite's lower()
//! folds ASCII only and PostgreSQL's follows the database's locale, so
//! `Ä@x.org` and `ä@x.org` (or a Kelvin sign and a K) were one address on
//! one backend and two on the other. The key is computed in Rust, the same
//! for both; the email itself is still shown as its owner typed it.
//!
//! Existing rows are filled in here. Two existing accounts whose emails
//! differ only in a way this rule folds make the unique index fail: the
//! migration stops, and those accounts must be merged or changed by hand.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = db.get_database_backend();
        db.execute_unprepared("ALTER TABLE users ADD COLUMN email_key TEXT").await?;
        let rows = db.query_all_raw(Statement::from_string(backend, "SELECT id, email FROM users")).await?;
        let update = match backend {
            DbBackend::Postgres => "UPDATE users SET email_key = $1 WHERE id = $2",
            _ => "UPDATE users SET email_key = ? WHERE id = ?",
        };
        for row in rows {
            let id: i64 = row.try_get("", "id")?;
            let email: String = row.try_get("", "email")?;
            let key = entity::user::email_key(&email);
            db.execute_raw(Statement::from_sql_and_values(backend, update, [key.into(), id.into()])).await?;
        }
        if backend == DbBackend::Postgres {
            // SQLite cannot add NOT NULL to a column; every write sets it.
            db.execute_unprepared("ALTER TABLE users ALTER COLUMN email_key SET NOT NULL").await?;
        }
        db.execute_unprepared("CREATE UNIQUE INDEX users_email_key_idx ON users (email_key)").await?;
        db.execute_unprepared("DROP INDEX users_email_lower_key").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))").await?;
        db.execute_unprepared("DROP INDEX users_email_key_idx").await?;
        db.execute_unprepared("ALTER TABLE users DROP COLUMN email_key").await?;
        Ok(())
    }
}
