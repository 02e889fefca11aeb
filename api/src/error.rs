//! `ApiError`: every error the API answers with, each with a stable
//! `extensions.code` from the contract and the HTTP status it gets when it
//! ends a request before GraphQL runs. This is the one place codes are
//! assigned: resolvers return [`ApiResult`], the store's errors arrive
//! through one `From<StoreError>`, the engine's own errors are given theirs
//! by [`code_engine_errors`], and the HTTP layer answers with
//! `ApiError::into_response`.
//!
//! `ApiError` deliberately does not implement `Display`: async-graphql 7 has
//! a blanket `From<T: Display>` for its `Error` that keeps only the message
//! and drops the code. Without `Display`, the only way into a GraphQL error
//! is our own `From<ApiError>`, which always sets `extensions.code`.
//!
//! A new code: add a variant, then its arm in `code`, `status` and
//! `public_message` (the compiler lists the matches that miss it), and
//! list it in the README's Errors section.

use async_graphql::{ErrorExtensions, ServerError};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use store::error::Constraint;
use store::StoreError;

#[derive(Debug, Clone)]
pub enum ApiError {
    // Raised by resolvers.
    Unauthenticated(String),
    Forbidden(String),
    NotFound(String),
    BadUserInput(String),
    Conflict(String),
    /// Wait `retry_after` seconds (sent as `extensions.retryAfter`, and as
    /// a `Retry-After` header when it is the whole answer).
    RateLimited {
        message: String,
        retry_after: u64,
    },
    /// The request ran past its time budget and was cancelled.
    Timeout,
    /// The database cannot be reached; retry in a moment.
    ServiceUnavailable,
    /// The cause was logged where the error was made; the client sees a
    /// fixed message.
    Internal,
    // Raised by the engine, before any resolver runs.
    ParseFailed(String),
    ValidationFailed(String),
    /// An APQ hash came without its text, and the server does not know it
    /// (Apollo's protocol: the client then sends both).
    PersistedQueryNotFound,
    // Raised by the HTTP layer.
    BadRequest(String),
    MethodNotAllowed,
    PayloadTooLarge,
    /// The client did not send its body in time.
    RequestTimeout,
    /// `Accept` names no media type the server answers in.
    NotAcceptable,
    /// A POST body that is not `application/json`.
    UnsupportedMediaType,
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Client input quoted in an error message: at most [`QUOTED_CHARS`]
/// characters of it, then `…`, so that a 200 KB cursor or ID is not sent
/// back whole.
pub fn quoted(input: &str) -> std::borrow::Cow<'_, str> {
    match input.char_indices().nth(QUOTED_CHARS) {
        Some((cut, _)) => format!("{}…", &input[..cut]).into(),
        None => input.into(),
    }
}

/// The most characters of client input an error message quotes.
pub const QUOTED_CHARS: usize = 64;

impl ApiError {
    pub fn bad_input(msg: impl Into<String>) -> Self {
        ApiError::BadUserInput(msg.into())
    }

    pub fn not_found(msg: impl Into<String>) -> Self {
        ApiError::NotFound(msg.into())
    }

    pub fn unauthenticated() -> Self {
        ApiError::Unauthenticated("sign in first: send `Authorization: Bearer <token>`".into())
    }

    /// Logs the full cause now; the client only ever sees a fixed message.
    pub fn internal(cause: impl std::fmt::Debug) -> Self {
        tracing::error!(?cause, "internal error");
        ApiError::Internal
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::BadUserInput(_) => "BAD_USER_INPUT",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::RateLimited { .. } => "RATE_LIMITED",
            ApiError::Timeout => "TIMEOUT",
            ApiError::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            ApiError::Internal => "INTERNAL_SERVER_ERROR",
            ApiError::ParseFailed(_) => "GRAPHQL_PARSE_FAILED",
            ApiError::ValidationFailed(_) => "GRAPHQL_VALIDATION_FAILED",
            ApiError::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            ApiError::BadRequest(_) => "BAD_REQUEST",
            ApiError::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ApiError::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ApiError::RequestTimeout => "REQUEST_TIMEOUT",
            ApiError::NotAcceptable => "NOT_ACCEPTABLE",
            ApiError::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
        }
    }

    /// The HTTP status when this error is the whole answer (it ended the
    /// request before GraphQL ran). Errors inside an executed GraphQL
    /// response travel in a 200, in `errors`.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadUserInput(_)
            | ApiError::ParseFailed(_)
            | ApiError::ValidationFailed(_)
            | ApiError::PersistedQueryNotFound
            | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Timeout | ApiError::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    /// The message a client may see.
    pub fn public_message(&self) -> &str {
        match self {
            ApiError::Internal => "internal server error",
            ApiError::MethodNotAllowed => "mutations must be sent with POST",
            ApiError::PayloadTooLarge => "the request body is too large",
            ApiError::Timeout => "the request took longer than the server allows and was cancelled",
            ApiError::ServiceUnavailable => "the database is unavailable; try again in a moment",
            ApiError::RequestTimeout => "the request was not received in time",
            // Apollo's clients look for this exact message, as for the code.
            ApiError::PersistedQueryNotFound => "PersistedQueryNotFound",
            ApiError::NotAcceptable => "Accept must allow application/graphql-response+json or application/json",
            ApiError::UnsupportedMediaType => "a POST body must be sent as Content-Type: application/json",
            ApiError::RateLimited { message: m, .. }
            | ApiError::Unauthenticated(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::BadUserInput(m)
            | ApiError::Conflict(m)
            | ApiError::ParseFailed(m)
            | ApiError::ValidationFailed(m)
            | ApiError::BadRequest(m) => m,
        }
    }

    /// As an error of a GraphQL response, at `err`'s place (its locations
    /// and path are kept; its message and code become this error's).
    pub fn replace(self, err: &mut ServerError) {
        err.message = self.public_message().to_owned();
        let ext = err.extensions.get_or_insert_with(Default::default);
        ext.set("code", self.code());
        if let Some(secs) = self.retry_after() {
            ext.set("retryAfter", secs);
        }
    }

    /// Seconds the client should wait before trying again, where that is
    /// known.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after, .. } => Some(*retry_after),
            ApiError::ServiceUnavailable | ApiError::Timeout => Some(1),
            _ => None,
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        async_graphql::Error::new(err.public_message()).extend_with(|_, ext| {
            ext.set("code", err.code());
            if let Some(secs) = err.retry_after() {
                ext.set("retryAfter", secs);
            }
        })
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(Constraint::UsernameTaken) => ApiError::Conflict("that username is taken".into()),
            StoreError::Conflict(Constraint::EmailTaken) => {
                ApiError::Conflict("that email is already registered".into())
            }
            StoreError::NotFound(message) => ApiError::NotFound(message.into()),
            StoreError::Refused(message) => ApiError::Forbidden(message.into()),
            StoreError::Unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable");
                crate::observe::db_unavailable();
                ApiError::ServiceUnavailable
            }
            StoreError::TimedOut => ApiError::Timeout,
            StoreError::Db(e) => ApiError::internal(e),
        }
    }
}

/// Transport errors answer in GraphQL's error shape too, with the status
/// that fits.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut extensions = serde_json::json!({ "code": self.code() });
        if let Some(secs) = self.retry_after() {
            extensions["retryAfter"] = secs.into();
        }
        let body = serde_json::json!({ "errors": [{ "message": self.public_message(), "extensions": extensions }] });
        let mut res = (self.status(), axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after() {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        match self {
            ApiError::Unauthenticated(_) => {
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
            }
            ApiError::MethodNotAllowed => {
                res.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            _ => {}
        }
        res
    }
}

/// Gives the engine's own errors their codes. Resolvers return `ApiResult`,
/// so every error they raise already has one; the document was parsed
/// before execution (a parse failure never gets here). What is left is
/// told apart by where it stands:
/// - no path: a request-level failure of validation or of a limit (depth,
///   complexity, an unknown operation, a variable of the wrong type):
///   `GRAPHQL_VALIDATION_FAILED`;
/// - at a field, the engine's own words for an argument it could not
///   coerce before calling the resolver: `BAD_USER_INPUT`;
/// - anything else at a field has no code because something that is not a
///   resolver raised it: a server bug, logged, and answered as an internal
///   error with a fixed message.
///
/// Done on the response rather than in an async-graphql extension: with any
/// extension registered, the engine runs every field of every request
/// through the extension chain (measured: 3-4% of the server's CPU).
pub fn code_engine_errors(response: &mut async_graphql::Response) {
    for err in &mut response.errors {
        if err.extensions.as_ref().is_some_and(|e| e.get("code").is_some()) {
            continue;
        }
        let message = std::mem::take(&mut err.message);
        let error = if err.path.is_empty() {
            ApiError::ValidationFailed(message)
        } else if message.starts_with("Invalid value for argument")
            || message.starts_with("Failed to parse")
            // A variable sent as null where a value is required: since
            // `variables::check_usages`, only one whose default stands in.
            || message.starts_with("Expected input type")
        {
            ApiError::BadUserInput(message)
        } else {
            ApiError::internal(message)
        };
        error.replace(err);
    }
}
