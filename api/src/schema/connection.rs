//! Relay connections: PageInfo and the three connection types of the
//! contract. Each holds one page already read, with the rows its nodes need;
//! edges and nodes are two views of it.

use async_graphql::{Object, SimpleObject};
use store::follows::Edge;
use store::{post, user, Cursor, Page};

use super::{post::Post, to_int, user::User};

#[derive(SimpleObject, Clone)]
pub struct PageInfo {
    pub has_previous_page: bool,
    pub has_next_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

impl PageInfo {
    fn of<T>(page: &Page<T>, cursor: impl Fn(&T) -> Cursor) -> Self {
        PageInfo {
            has_previous_page: page.has_previous,
            has_next_page: page.has_next,
            start_cursor: page.items.first().map(|t| cursor(t).encode()),
            end_cursor: page.items.last().map(|t| cursor(t).encode()),
        }
    }
}

fn edge_cursor(e: &Edge) -> Cursor {
    Cursor::new(e.followed_at, e.user.id.0)
}

fn post_cursor(p: &post::Model) -> Cursor {
    Cursor::new(p.created_at, p.id.0)
}

fn user_cursor(u: &user::Model) -> Cursor {
    Cursor::new(u.created_at, u.id.0)
}

pub struct FollowConnection {
    pub page: Page<Edge>,
    pub total: i64,
}

#[Object]
impl FollowConnection {
    async fn edges(&self) -> Vec<FollowEdge> {
        self.page.items.iter().cloned().map(FollowEdge).collect()
    }

    async fn nodes(&self) -> Vec<User> {
        self.page.items.iter().map(|e| User::new(e.user.clone())).collect()
    }

    async fn page_info(&self) -> PageInfo {
        PageInfo::of(&self.page, edge_cursor)
    }

    /// All entries of the list, not just this page (a stored counter: O(1)).
    async fn total_count(&self) -> i32 {
        to_int(self.total)
    }
}

/// One follow relationship, seen from one side: node is the other user.
pub struct FollowEdge(Edge);

#[Object]
impl FollowEdge {
    async fn cursor(&self) -> String {
        edge_cursor(&self.0).encode()
    }

    async fn node(&self) -> User {
        User::new(self.0.user.clone())
    }

    /// When the follow began.
    async fn followed_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.followed_at
    }
}

pub struct PostConnection(pub Page<post::Model>);

#[Object]
impl PostConnection {
    async fn edges(&self) -> Vec<PostEdge> {
        self.0.items.iter().cloned().map(PostEdge).collect()
    }

    async fn nodes(&self) -> Vec<Post> {
        self.0.items.iter().cloned().map(Post).collect()
    }

    async fn page_info(&self) -> PageInfo {
        PageInfo::of(&self.0, post_cursor)
    }
}

pub struct PostEdge(post::Model);

#[Object]
impl PostEdge {
    async fn cursor(&self) -> String {
        post_cursor(&self.0).encode()
    }

    async fn node(&self) -> Post {
        Post(self.0.clone())
    }
}

pub struct UserConnection(pub Page<user::Model>);

#[Object]
impl UserConnection {
    async fn edges(&self) -> Vec<UserEdge> {
        self.0.items.iter().cloned().map(UserEdge).collect()
    }

    async fn nodes(&self) -> Vec<User> {
        self.0.items.iter().cloned().map(User::new).collect()
    }

    async fn page_info(&self) -> PageInfo {
        PageInfo::of(&self.0, user_cursor)
    }
}

pub struct UserEdge(user::Model);

#[Object]
impl UserEdge {
    async fn cursor(&self) -> String {
        user_cursor(&self.0).encode()
    }

    async fn node(&self) -> User {
        User::new(self.0.clone())
    }
}
