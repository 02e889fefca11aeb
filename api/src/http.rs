//! HTTP routes:
//! - `POST /graphql`: GraphQL over HTTP (an `application/json` body, single
//!   or batched; 415 for any other content type);
//! - `GET /graphql?query=...`: queries only; a mutation sent with GET is
//!   refused with 405 before anything runs (GET must stay safe to repeat,
//!   prefetch and cache). Answers carry a strong `ETag`; `If-None-Match`
//!   gets 304 while the answer is unchanged;
//! - `GET /graphql` without a query from a browser, and `GET /`: GraphiQL,
//!   served with its scripts from this binary so it works offline;
//! - `GET /livez`: 200 while the process serves requests at all;
//! - `GET /readyz` (and `GET /health`, its older name): 200 when the
//!   database answers within [`READY_DEADLINE`]; 503 otherwise, and once
//!   the server is shutting down (load balancers stop sending to it);
//! - `GET /metrics`: Prometheus metrics (`observe.rs`).
//!
//! GraphQL over HTTP as its spec says: the answer's type is negotiated
//! from `Accept` ([`Media`]; 406 when neither JSON type is allowed), and
//! under `application/graphql-response+json` a request error is a 400
//! without `data`. Documents may come as Apollo's persisted-query hashes
//! (`documents.rs`, which also caches parsed documents).
//!
//! Each request is resolved, parsed and measured (`budget.rs`) before
//! anything runs; a batch shares one budget. Only then is the [`Viewer`]
//! looked up, and the request runs with fresh [`Loaders`] within its time
//! budget. Transport failures are `ApiError`s too, answered in GraphQL's
//! error shape with their HTTP status: 400 malformed JSON or too big a
//! batch, 401 a bad or revoked token, 405 mutation over GET, 406, 408 a
//! body not sent in time, 413 body too large, 415, 503 database
//! unavailable or the time budget spent.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;

use async_graphql::parser::types::{ExecutableDocument, OperationDefinition, OperationType};
use async_graphql::{BatchRequest, ServerError};
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store::DatabaseConnection;

use crate::auth::{ClientAddr, SessionCache, Viewer};
use crate::budget::{self, Cost, Limits, Shape};
use crate::documents::{self, Documents};
use crate::error::{code_engine_errors, ApiError};
use crate::loaders::{Loaders, UserById};
use crate::order;
use crate::schema::Schemas;
use crate::variables;

#[derive(Clone)]
pub struct AppState {
    pub schemas: Arc<Schemas>,
    pub db: DatabaseConnection,
    pub http: Arc<HttpLimits>,
    pub documents: Arc<Documents>,
    pub sessions: Arc<SessionCache>,
}

/// What the HTTP layer allows a request (config.rs has the flags).
pub struct HttpLimits {
    pub shape: Arc<Shape>,
    pub limits: Limits,
    pub max_batch: usize,
    pub max_body_bytes: usize,
    pub body_timeout: Duration,
    pub request_timeout: Duration,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/graphql") }))
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphiql/{file}", get(graphiql_asset))
        .route("/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/health", get(ready))
        .route("/metrics", get(crate::observe::render))
        .with_state(state)
}

/// The media type of an answer, negotiated from `Accept`
/// (GraphQL over HTTP, "Accept" and "Status codes").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    /// `application/json`: the legacy type. Every GraphQL answer is 200,
    /// request errors included.
    Json,
    /// `application/graphql-response+json`: request errors (the document
    /// does not parse or validate, a variable does not coerce) are 400 and
    /// carry no `data`.
    GraphqlResponse,
}

impl Media {
    pub fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Media::Json => "application/json; charset=utf-8",
            Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
        })
    }

    /// The best type `Accept` allows, by quality; where both are equally
    /// good, graphql-response+json if named outright (the spec's advice),
    /// else JSON (what `*/*` meant to clients before the new type). No
    /// `Accept` means JSON. NOT_ACCEPTABLE when neither is allowed.
    pub fn negotiate(headers: &HeaderMap) -> Result<Media, ApiError> {
        let mut accept = headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).peekable();
        if accept.peek().is_none() {
            return Ok(Media::Json);
        }
        // (quality, specificity) of the most specific range naming each type.
        let (mut gr, mut json) = ((0.0f32, -1), (0.0f32, -1));
        for range in accept.flat_map(|v| v.split(',')) {
            let mut parts = range.split(';');
            let kind = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0)
                .clamp(0.0, 1.0);
            let specificity = |name: &str| match kind.as_str() {
                k if k == name => 2,
                "application/*" => 1,
                "*/*" => 0,
                _ => -1,
            };
            for (best, name) in [(&mut gr, "application/graphql-response+json"), (&mut json, "application/json")] {
                let s = specificity(name);
                if s > best.1 {
                    *best = (q, s);
                }
            }
        }
        match (gr, json) {
            ((g, _), (j, _)) if g <= 0.0 && j <= 0.0 => Err(ApiError::NotAcceptable),
            ((g, _), (j, _)) if g > j => Ok(Media::GraphqlResponse),
            ((g, _), (j, _)) if j > g => Ok(Media::Json),
            ((_, 2), _) => Ok(Media::GraphqlResponse),
            _ => Ok(Media::Json),
        }
    }
}

/// A transport error as the whole answer, in the negotiated media type.
fn refuse(error: ApiError, media: Media) -> Response {
    let mut res = error.into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, media.content_type());
    res
}

/// A request checked and ready to run, or the answer it already has (at
/// most `--max-batch` of them per request, each moved once: their size
/// does not matter).
#[allow(clippy::large_enum_variant)]
enum Checked {
    Run(Ready),
    /// A request error: the request did not get to run.
    Refused(async_graphql::Response),
}

/// A request that passed every check.
struct Ready {
    req: async_graphql::Request,
    cost: Cost,
    /// Its operation's metrics label.
    label: String,
    /// Its document, to cache once it has run without a request error.
    keep: Option<(documents::Hash, documents::Parsed)>,
    /// What it asks for, to put the answer in that order.
    asked: Arc<order::Asked>,
    /// Whether its document passed the engine's validation before (it
    /// runs in the engine's fast mode: [`Schemas`]).
    known: bool,
    /// Whether it is a query sent with a persisted-query hash (its answer
    /// gets an ETag over POST too).
    persisted: bool,
}

/// Resolves, parses and measures one request before anything runs: its
/// document comes from the cache when known (or from an APQ hash alone);
/// a new one whose brackets nest too deep for the parser's recursion is
/// refused unparsed; a parse failure is known for what it is (and the
/// engine reuses the parsed document); a request over the limits, or with
/// NUL in its input, is refused here. Over GET, a mutation is refused
/// (405) before anything runs: GET must stay safe to repeat, prefetch and
/// cache.
fn check(state: &AppState, mut req: async_graphql::Request, over_get: bool) -> Result<Checked, ApiError> {
    let refuse = |error: ApiError, mut err: ServerError| {
        error.replace(&mut err);
        Ok(Checked::Refused(async_graphql::Response::from_errors(vec![err])))
    };
    let limits = &state.http;
    if req.query.is_empty() && !req.extensions.contains_key("persistedQuery") {
        return Err(ApiError::BadRequest("the request has no `query`".into()));
    }
    let resolved = match state.documents.resolve(&mut req) {
        Ok(resolved) => resolved,
        // A malformed persisted query (a hash that is not its text's, a
        // version not 1) is the transport's 400, as a missing `query` is.
        Err(error @ ApiError::BadRequest(_)) => return Err(error),
        Err(error) => return refuse(error, ServerError::new(String::new(), None)),
    };
    let name = req.operation_name.clone();
    let hashed = req.extensions.contains_key("persistedQuery");
    let mut variables = std::mem::take(&mut req.variables);
    if resolved.cached.is_none() {
        if let Err(error) = budget::refuse_deep_text(&req.query) {
            return refuse(error, ServerError::new(String::new(), None));
        }
    }
    let doc = match req.parsed_query() {
        Ok(doc) => doc,
        Err(err) => {
            // The parser quotes what it met: never echo a huge document back.
            let message: String = err.message.chars().take(200).collect();
            return refuse(ApiError::ParseFailed(message), err);
        }
    };
    let Some(op) = operation(doc, name.as_deref()) else {
        let message = match name {
            Some(name) => format!("the document has no operation named `{name}`"),
            None => "the document has several operations: name one in `operationName`".into(),
        };
        return refuse(ApiError::ValidationFailed(message), ServerError::new(String::new(), None));
    };
    if over_get && op.ty != OperationType::Query {
        return Err(ApiError::MethodNotAllowed);
    }
    if op.ty == OperationType::Mutation {
        if let Some(key) = order::repeated_root_key(doc, op.def) {
            let message = format!("the mutation asks for `{key}` twice: give each write an alias of its own");
            return refuse(ApiError::ValidationFailed(message), ServerError::new(String::new(), None));
        }
    }
    let name_of_op = op.name.map(str::to_owned);
    let persisted = hashed && op.ty == OperationType::Query;
    // A cached document ran once without a request error, so it passed
    // the engine's validation and its variables' usages were found to fit;
    // with one operation, it still does, and only its variables' values
    // are new. Those are checked for every document, known or not; and a
    // nullable variable sent as null may no longer fit where a default let
    // it stand for a value, so its usages are walked again.
    let known = resolved.cached.is_some() && doc.operations.iter().nth(1).is_none();
    let checked = variables::coerce(op.def, &mut variables)
        .and_then(|()| match known && !variables::sends_null(op.def, &variables) {
            true => Ok(()),
            false => variables::check_usages(&limits.shape, doc, op.def, &variables),
        })
        .and_then(|()| variables::check_values(&limits.shape, op.def, &variables));
    if let Err(errors) = checked {
        return Ok(Checked::Refused(async_graphql::Response::from_errors(errors)));
    }
    let cost = budget::measure(&limits.shape, doc, name.as_deref(), &variables)
        .and_then(|cost| cost.check(&limits.limits).map(|()| cost))
        .and_then(|cost| match cost.sign_ins {
            0 | 1 => Ok(cost),
            _ => Err(ApiError::ValidationFailed("one signIn or signUp per request".into())),
        });
    match cost {
        Ok(cost) => {
            // The engine consumes the request's copy of the document.
            let doc = resolved.cached.unwrap_or_else(|| Arc::new(doc.clone()));
            let mut asked = order::Asked::new(doc.clone(), name, &variables);
            if let Some(filled) = asked.fill(&limits.shape) {
                req.set_parsed_query(filled);
            }
            let asked = Arc::new(asked);
            req.variables = variables;
            let keep = resolved.keep.and_then(|hash| state.documents.to_keep(hash, &req, &doc));
            let label = crate::observe::operation_label(name_of_op.as_deref());
            Ok(Checked::Run(Ready { req, cost, label, keep, asked, known, persisted }))
        }
        Err(error) => refuse(error, ServerError::new(String::new(), None)),
    }
}

/// The operation a request would run: its type, name and definition.
struct Operation<'a> {
    ty: OperationType,
    name: Option<&'a str>,
    def: &'a OperationDefinition,
}

/// The operation named `name`, or the only one; `None` when there is no
/// such operation (the engine would refuse the document).
fn operation<'a>(doc: &'a ExecutableDocument, name: Option<&str>) -> Option<Operation<'a>> {
    let mut ops = doc.operations.iter();
    let (found, op) = match name {
        Some(name) => ops.find(|(n, _)| n.map(|n| n.as_str()) == Some(name))?,
        None => {
            let first = ops.next()?;
            if ops.next().is_some() {
                return None;
            }
            first
        }
    };
    Some(Operation { ty: op.node.ty, name: found.map(|n| n.as_str()), def: &op.node })
}

/// Runs one checked request with fresh per-request state.
async fn execute(
    state: &AppState,
    viewer: &Viewer,
    addr: ClientAddr,
    req: async_graphql::Request,
    asked: &Arc<order::Asked>,
    known: bool,
) -> async_graphql::Response {
    let loaders = Loaders::new(state.db.clone(), viewer.clone());
    if let Some(row) = viewer.signed_in().and_then(|me| me.row.as_ref()) {
        // Read with the session already: `viewer { ... }` costs no statement.
        // (A cached session keeps no row: `viewer { ... }` then reads it.)
        loaders.feed_one(UserById(row.id), row.clone()).await;
    }
    let mut req = req.data(viewer.clone()).data(loaders).data(addr).data(state.sessions.clone());
    if asked.is_mutation() {
        req = req.data(order::MutationRun::new(asked.clone(), state.http.shape.clone()));
    }
    let schema = if known { &state.schemas.fast } else { &state.schemas.strict };
    let mut response = schema.execute(req).await;
    if response.is_err() {
        code_engine_errors(&mut response);
    }
    asked.shape(&state.http.shape, &mut response);
    if response.data == async_graphql::Value::Null && response.errors.is_empty() {
        // Every root field skipped (`@skip`, `@include`): the engine's
        // empty object is null, and the spec's is `{}`.
        response.data = async_graphql::Value::Object(Default::default());
    }
    response
}

/// A GraphQL answer, ready to send.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
    /// Whether it was made for a signed-in viewer (it is private then).
    private: bool,
    /// Whether it answers one query sent with a persisted-query hash.
    persisted: bool,
}

/// Checks a whole batch against one budget, finds the viewer, then runs
/// the batch within the request's time budget. The viewer is looked up
/// only once the request is known to be well formed, so a malformed
/// request gets its 400 (or 405) whatever its token.
async fn run(
    state: &AppState,
    headers: &HeaderMap,
    media: Media,
    addr: ClientAddr,
    batch: BatchRequest,
    over_get: bool,
) -> Result<Answer, ApiError> {
    let limits = &state.http;
    let (reqs, single) = match batch {
        BatchRequest::Single(req) => (vec![req], true),
        BatchRequest::Batch(reqs) => (reqs, false),
    };
    if reqs.len() > limits.max_batch {
        let message = format!("a batch may hold at most {} operations; this one has {}", limits.max_batch, reqs.len());
        return Err(ApiError::BadRequest(message));
    }
    let checked = reqs
        .into_iter()
        .map(|req| match check(state, req, over_get) {
            // In a batch, a malformed item fails alone.
            Err(error) if !single => {
                let mut err = ServerError::new(String::new(), None);
                error.replace(&mut err);
                Ok(Checked::Refused(async_graphql::Response::from_errors(vec![err])))
            }
            checked => checked,
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !single {
        let total = checked.iter().fold(Cost::default(), |sum, c| match c {
            Checked::Run(ready) => sum.plus(ready.cost),
            Checked::Refused(_) => sum,
        });
        if let Err(e) = total.check(&limits.limits) {
            return Err(ApiError::ValidationFailed(format!("the batch as a whole: {}", e.public_message())));
        }
        if total.sign_ins > 1 {
            return Err(ApiError::ValidationFailed("one signIn or signUp per request".into()));
        }
    }
    let started = std::time::Instant::now();
    let labels: Vec<String> = checked
        .iter()
        .map(|c| match c {
            Checked::Run(ready) => ready.label.clone(),
            Checked::Refused(_) => "_refused".into(),
        })
        .collect();
    crate::observe::record_operations(&labels.join(","));
    let runs = checked.iter().any(|c| matches!(c, Checked::Run(..)));
    let persisted = single && checked.iter().all(|c| matches!(c, Checked::Run(Ready { persisted: true, .. })));
    let viewer = match runs {
        true => Viewer::from_headers(headers, state).await?,
        false => Viewer::anonymous(),
    };
    let work = async {
        let mut out = Vec::with_capacity(checked.len());
        for c in checked {
            out.push(match c {
                Checked::Run(Ready { req, keep, asked, known, .. }) => {
                    let response = execute(state, &viewer, addr, req, &asked, known).await;
                    if let Some(keep) = keep.filter(|_| !is_request_error(&response)) {
                        state.documents.keep(keep);
                    }
                    (response, false)
                }
                Checked::Refused(response) => (response, true),
            });
        }
        out
    };
    let Ok(out) = tokio::time::timeout(limits.request_timeout, work).await else {
        for label in labels.iter().filter(|l| *l != "_refused") {
            crate::observe::graphql_answered(label, ApiError::Timeout.code(), started.elapsed());
        }
        return Err(ApiError::Timeout);
    };
    for ((response, _), label) in out.iter().zip(&labels) {
        let code = match response.errors.first() {
            None => "OK",
            Some(e) => code_of(e).unwrap_or(ApiError::Internal.code()),
        };
        crate::observe::graphql_answered(label, code, started.elapsed());
    }
    let unavailable =
        out.iter().flat_map(|(r, _)| &r.errors).any(|e| code_of(e) == Some(ApiError::ServiceUnavailable.code()));
    let mut status = StatusCode::OK;
    let items: Vec<Item> = out
        .iter()
        .map(|(response, refused)| {
            // Before execution (refused here, or failed the engine's
            // validation or variable coercion): no `data` entry at all.
            let request_error = *refused || is_request_error(response);
            if single && request_error && media == Media::GraphqlResponse {
                status = StatusCode::BAD_REQUEST;
            }
            match request_error {
                true => Item::RequestError { errors: &response.errors, extensions: &response.extensions },
                false => Item::Executed(response),
            }
        })
        .collect();
    let body = match single {
        true => serde_json::to_vec(&items[0]),
        false => serde_json::to_vec(&items),
    };
    let body = body.map_err(ApiError::internal)?;
    // The database is gone: say so in the status too, so clients and
    // balancers retry instead of trusting a partial answer. Under
    // graphql-response+json, an answer with data must stay 2xx.
    let no_data = out.iter().all(|(r, _)| r.data == async_graphql::Value::Null);
    if unavailable && (media == Media::Json || no_data) {
        status = StatusCode::SERVICE_UNAVAILABLE;
    }
    Ok(Answer { status, body, private: viewer.signed_in().is_some(), persisted })
}

/// One response of a batch, as sent.
#[derive(Serialize)]
#[serde(untagged)]
enum Item<'a> {
    Executed(&'a async_graphql::Response),
    RequestError {
        errors: &'a [ServerError],
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        extensions: &'a BTreeMap<String, async_graphql::Value>,
    },
}

/// An error's `extensions.code`.
fn code_of(error: &ServerError) -> Option<&str> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Some(code),
        _ => None,
    }
}

/// Whether the engine refused the request before executing it: it has no
/// data and none of its errors is a field's (they have no path).
fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

impl Answer {
    fn into_response(self, media: Media) -> Response {
        let mut res = (self.status, self.body).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, media.content_type());
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1u64));
        }
        res
    }
}

/// Whether a POST body is declared as JSON (`application/json`, UTF-8).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let mut parts = value.split(';');
    let kind = parts.next().unwrap_or("").trim();
    kind.eq_ignore_ascii_case("application/json")
        && parts.all(|p| match p.trim().split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
                v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            }
            _ => true,
        })
}

async fn graphql_post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let media = match Media::negotiate(&headers) {
        Ok(media) => media,
        Err(e) => return e.into_response(),
    };
    if !is_json(&headers) {
        return refuse(ApiError::UnsupportedMediaType, media);
    }
    // Read under its own deadline and size limit: a client that sends its
    // body slowly, or too much of it, is answered and let go.
    let limits = &state.http;
    let read = axum::body::to_bytes(body, limits.max_body_bytes);
    let body = match tokio::time::timeout(limits.body_timeout, read).await {
        Err(_) => return refuse(ApiError::RequestTimeout, media),
        Ok(Err(e)) if is_length_limit(&e) => return refuse(ApiError::PayloadTooLarge, media),
        Ok(Err(e)) => return refuse(ApiError::BadRequest(format!("the body could not be read: {e}")), media),
        Ok(Ok(body)) => body,
    };
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(e) => return refuse(ApiError::BadRequest(not_a_request(&body, e)), media),
    };
    match run(&state, &headers, media, ClientAddr(peer.ip()), batch, false).await {
        Ok(answer) => {
            // A poll by persisted-query hash gets its ETag over POST too
            // (If-None-Match stays GET's: RFC 9110 allows 304 only for GET
            // and HEAD); an answer for a signed-in viewer is private.
            let etag = (answer.persisted && answer.status == StatusCode::OK).then(|| etag_of(media, &answer.body));
            let private = answer.private;
            let mut res = answer.into_response(media);
            if etag.is_some() || private {
                cache_headers(&mut res, etag, private);
            }
            res
        }
        Err(e) => refuse(e, media),
    }
}

/// Why a body is not a GraphQL request (or a batch of them), in words a
/// client can act on: serde's own message for JSON that does not parse,
/// otherwise the first member of the wrong kind (serde would only say
/// that no variant of an untagged enum matched). Runs only on this error
/// path: the body is parsed a second time, as plain JSON.
fn not_a_request(body: &[u8], error: serde_json::Error) -> String {
    use serde_json::Value;
    let prefix = "the body is not a GraphQL request in JSON";
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        // serde_json's words for `\ud800` alone ("unexpected end of hex
        // escape", "lone leading surrogate") name no character.
        let text = error.to_string();
        if text.contains("hex escape") || text.contains("surrogate") {
            return format!("{prefix}: a \\u escape is not a whole character: half of a UTF-16 surrogate pair, or fewer than four hex digits ({text})");
        }
        return format!("{prefix}: {error}");
    };
    let one = |request: &Value, at: &str| -> Option<String> {
        let Value::Object(members) = request else {
            return Some(format!("{at} must be an object with a `query` string"));
        };
        let kinds = [
            ("query", "a string"),
            ("operationName", "a string or null"),
            ("variables", "an object or null"),
            ("extensions", "an object or null"),
        ];
        kinds.iter().find_map(|(name, kind)| {
            let fits = match (*name, members.get(*name)?) {
                ("query", v) => v.is_string(),
                ("operationName", v) => v.is_string() || v.is_null(),
                (_, v) => v.is_object() || v.is_null(),
            };
            (!fits).then(|| format!("`{name}` must be {kind}"))
        })
    };
    let why = match &value {
        Value::Array(requests) => {
            requests.iter().enumerate().find_map(|(i, r)| one(r, &format!("request {i} of the batch")))
        }
        request => one(request, "the body"),
    };
    format!("{prefix}: {}", why.unwrap_or_else(|| error.to_string()))
}

fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

/// GraphiQL for a browser (or a client that names no type); a GraphQL
/// query otherwise, answered with a strong ETag of its body: while the
/// answer is unchanged, `If-None-Match` gets 304 and no body. Answers vary
/// with the token and with `Accept`; a signed-in viewer's are private.
async fn graphql_get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    let params = match params {
        Ok(Query(params)) => params,
        Err(e) => return ApiError::BadRequest(format!("the query string: {}", e.body_text())).into_response(),
    };
    if params.query.is_none() && params.extensions.is_none() && wants_html(&headers) {
        return ([(header::VARY, "Accept")], Html(GRAPHIQL_HTML)).into_response();
    }
    let media = match Media::negotiate(&headers) {
        Ok(media) => media,
        Err(e) => return e.into_response(),
    };
    let mut req = async_graphql::Request::new(params.query.unwrap_or_default());
    if let Some(name) = params.operation_name {
        req = req.operation_name(name);
    }
    for (field, json) in [("variables", params.variables), ("extensions", params.extensions)] {
        let Some(json) = json.filter(|v| !v.is_empty()) else { continue };
        let value = match serde_json::from_str::<serde_json::Value>(&json) {
            Ok(value @ serde_json::Value::Object(_)) => value,
            Ok(serde_json::Value::Null) => continue,
            _ => return refuse(ApiError::BadRequest(format!("`{field}` must be a JSON object")), media),
        };
        match field {
            "variables" => req = req.variables(async_graphql::Variables::from_json(value)),
            _ => match serde_json::from_value(value) {
                Ok(extensions) => req.extensions = extensions,
                Err(e) => return refuse(ApiError::BadRequest(format!("`extensions`: {e}")), media),
            },
        }
    }
    let answer = match run(&state, &headers, media, ClientAddr(peer.ip()), BatchRequest::Single(req), true).await {
        Ok(answer) => answer,
        Err(e) => return refuse(e, media),
    };
    let private = answer.private;
    let etag = (answer.status == StatusCode::OK).then(|| etag_of(media, &answer.body));
    let fresh = etag.as_ref().is_some_and(|etag| matches_etag(&headers, etag));
    let mut res = match fresh {
        true => StatusCode::NOT_MODIFIED.into_response(),
        false => answer.into_response(media),
    };
    cache_headers(&mut res, etag, private);
    res
}

/// The validator and caching rules of an answer: its ETag, if any; always
/// checked with the server before reuse (`no-cache`), and `private` for a
/// signed-in viewer; it varies with the token and with `Accept`.
fn cache_headers(res: &mut Response, etag: Option<HeaderValue>, private: bool) {
    let h = res.headers_mut();
    if let Some(etag) = etag {
        h.insert(header::ETAG, etag);
    }
    let cache = if private { "private, no-cache" } else { "no-cache" };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("Authorization, Accept"));
}

/// Whether a GET without a query is a browser's: `Accept` allows HTML,
/// or names nothing.
fn wants_html(headers: &HeaderMap) -> bool {
    let accept: Vec<&str> = headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).collect();
    accept.is_empty() || accept.iter().any(|a| a.contains("text/html") || a.contains("*/*"))
}

/// A strong validator: 128 bits of the SHA-256 of the media type and the
/// body (the two media types of one answer are different representations).
fn etag_of(media: Media, body: &[u8]) -> HeaderValue {
    let digest = Sha256::new().chain_update(media.content_type().as_bytes()).chain_update(body).finalize();
    let tag = format!("\"{}\"", URL_SAFE_NO_PAD.encode(&digest[..16]));
    HeaderValue::from_str(&tag).expect("base64url is a valid header value")
}

/// `If-None-Match` by the weak comparison RFC 9110 asks of it: `*`, or
/// any listed tag equal to ours with or without `W/`.
fn matches_etag(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = etag.as_bytes();
    headers.get_all(header::IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |tag| {
            let tag = tag.trim();
            tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == ours
        },
    )
}

/// How long `/readyz` waits for the database to answer.
pub const READY_DEADLINE: Duration = Duration::from_secs(1);

async fn ready(State(state): State<AppState>, draining: Option<axum::Extension<crate::server::Draining>>) -> Response {
    if draining.is_some_and(|d| d.is_set()) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    match tokio::time::timeout(READY_DEADLINE, store::ping(&state.db)).await {
        Ok(Ok(())) => (StatusCode::OK, "ok").into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = ?e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database too slow").into_response(),
    }
}

/// GraphiQL 3.9 and React 18, vendored from their npm packages (MIT; see
/// `api/assets/graphiql/LICENSES.md`), so the explorer works with no network.
const GRAPHIQL_HTML: &str = include_str!("../assets/graphiql/index.html");

async fn graphiql_asset(Path(file): Path<String>) -> Response {
    let (body, mime): (&'static [u8], &str) = match file.as_str() {
        "graphiql.min.js" => (include_bytes!("../assets/graphiql/graphiql.min.js"), "text/javascript"),
        "graphiql.min.css" => (include_bytes!("../assets/graphiql/graphiql.min.css"), "text/css"),
        "react.production.min.js" => (include_bytes!("../assets/graphiql/react.production.min.js"), "text/javascript"),
        "react-dom.production.min.js" => {
            (include_bytes!("../assets/graphiql/react-dom.production.min.js"), "text/javascript")
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "public, max-age=86400")], body).into_response()
}

async fn favicon() -> Response {
    let svg: &[u8] = include_bytes!("../assets/graphiql/favicon.svg");
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")], svg).into_response()
}
