use sea_orm::entity::prelude::*;

use crate::ids::UserId;

/// `requester_id` asked to follow `target_id` (whose policy is APPROVAL)
/// at `created_at`, and awaits an answer. Not a follow: it moves no counter
/// and reaches no list or feed until approved.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "follow_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub requester_id: UserId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub target_id: UserId,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::RequesterId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    Requester,
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::TargetId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    Target,
}

impl ActiveModelBehavior for ActiveModel {}
