use sea_orm::entity::prelude::*;

use crate::ids::UserId;

/// `follower_id` follows `followed_id` since `created_at`. The pair is the
/// primary key, so a relationship exists at most once. `hidden_from_feed`
/// is the follower's own setting: keep following, but keep the followed
/// account's posts out of their feed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "follows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub follower_id: UserId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub followed_id: UserId,
    pub created_at: DateTimeUtc,
    pub hidden_from_feed: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::FollowerId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    Follower,
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::FollowedId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    Followed,
}

impl ActiveModelBehavior for ActiveModel {}
