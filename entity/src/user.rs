use sea_orm::entity::prelude::*;

use crate::ids::UserId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: UserId,
    /// As the user typed it; unique case-insensitively (index on lower()).
    pub username: String,
    /// As its owner typed it; shown only to its owner.
    pub email: String,
    /// The email as it is compared ([`email_key`]); unique.
    pub email_key: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub display_name: String,
    pub bio: String,
    pub created_at: DateTimeUtc,
    /// Denormalised counters, changed in the same transaction as the rows
    /// they count (see `store::follows` and `store::posts`).
    pub followers_count: i64,
    pub following_count: i64,
    pub posts_count: i64,
    /// Who may follow this account.
    pub follow_policy: FollowPolicy,
    /// Whether its followers and following lists are shown only to itself.
    pub network_hidden: bool,
}

/// Who may follow an account: anyone at once (`Open`), anyone who asks and
/// is approved (`Approval`), or nobody new (`Closed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
pub enum FollowPolicy {
    #[sea_orm(string_value = "OPEN")]
    Open,
    #[sea_orm(string_value = "APPROVAL")]
    Approval,
    #[sea_orm(string_value = "CLOSED")]
    Closed,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::post::Entity")]
    Post,
    #[sea_orm(has_many = "super::session::Entity")]
    Session,
}

impl Related<super::post::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Post.def()
    }
}

impl Related<super::session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// The form in which emails are compared and kept unique: NFKC, then
/// lower case, so that `Ä` and `ä`, or the Kelvin sign and `k`, are one
/// letter on every backend. Used for sign-up, sign-in and the migration
/// that added the column.
pub fn email_key(email: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    email.nfkc().collect::<String>().to_lowercase()
}
