use sea_orm::entity::prelude::*;

use crate::ids::UserId;

/// `blocker_id` blocks `blocked_id` since `created_at`: no follows or
/// requests either way, and neither sees the other's posts in feeds or
/// posts lists.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "blocks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub blocker_id: UserId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub blocked_id: UserId,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::BlockerId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    Blocker,
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::BlockedId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    Blocked,
}

impl ActiveModelBehavior for ActiveModel {}
