//! What an operator sees: request ids, request logs and Prometheus metrics.
//!
//! - Request id: `X-Request-Id` from the client when it is a sane token (at
//!   most 128 visible ASCII characters), else a fresh UUID; it is on every
//!   log line of the request and returned in the answer (tower-http's
//!   request-id layers).
//! - One log line per request (tower-http's trace layer, INFO): method,
//!   path, GraphQL operation name(s), status and duration; a WARN line
//!   instead when it took longer than `--slow-request-ms`. Text or JSON
//!   (`--log-format`, set up in `main.rs`).
//! - `GET /metrics`, Prometheus text (the `metrics` facade and
//!   `metrics-exporter-prometheus`):
//!   - `graphql_requests_total{operation, code}`: each GraphQL request by
//!     operation name and outcome (`OK`, or its first error's code);
//!   - `graphql_request_duration_seconds{operation}`: a histogram;
//!   - `http_requests_total{path, status}` and
//!     `http_request_duration_seconds{path}`, by route;
//!   - `db_pool_connections{state="in_use"|"idle"}`, `db_pool_max`, and
//!     `db_unavailable_total`: errors that found no connection in time or
//!     lost it (sqlx does not expose how many requests wait for one);
//!   - `db_statements_total` and `db_statement_duration_seconds`.
//!
//! Labels stay bounded whatever clients send: paths are route templates,
//! and operation names are the document's own (never the request's
//! `operationName` alone), of documents that passed the request budget,
//! at most [`MAX_OPERATION_NAMES`] distinct ones of at most
//! [`MAX_OPERATION_NAME`] bytes; others count as `_other`. A scrape is
//! then at most a few hundred KiB. `/metrics` is on the public listener,
//! as most services have it: an operator who wants it private blocks the
//! path at the proxy.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use axum::extract::{MatchedPath, State};
use axum::http::{header, HeaderName, HeaderValue, Request, Response};
use axum::response::IntoResponse;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::http::AppState;

/// Distinct operation names counted on their own.
pub const MAX_OPERATION_NAMES: usize = 256;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The process's one metrics recorder (installed on first use).
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        // Latency buckets from 0.5 ms to 10 s.
        let buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may be installed already (a test process that
        // embeds the server more than once): this handle then stays empty.
        let _ = metrics::set_global_recorder(recorder);
        // Histograms keep every sample until upkeep folds them into their
        // buckets: without a scrape, memory would grow with every request
        // (measured: RSS 43 → 89 MiB over one benchmark suite).
        let upkeep = handle.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            upkeep.run_upkeep();
        });
        handle
    })
}

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let (size, idle) = store::pool_stats(&state.db);
    metrics::gauge!("db_pool_connections", "state" => "in_use").set((size as usize).saturating_sub(idle) as f64);
    metrics::gauge!("db_pool_connections", "state" => "idle").set(idle as f64);
    let handle = metrics();
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render())
}

/// Records the pool's configured size (once, at start).
pub fn pool_max(max: u32) {
    metrics::gauge!("db_pool_max").set(f64::from(max));
}

/// Counts one statement the server ran (the store's metric callback).
pub fn on_statement(info: &store::StatementInfo) {
    metrics::counter!("db_statements_total").increment(1);
    metrics::histogram!("db_statement_duration_seconds").record(info.elapsed.as_secs_f64());
}

/// A database error that found no connection in time, or lost it.
pub fn db_unavailable() {
    metrics::counter!("db_unavailable_total").increment(1);
}

/// The longest operation name labelled as itself.
pub const MAX_OPERATION_NAME: usize = 64;

/// The label for an operation that passed the request budget: its name
/// when the set of names is not full, `_anonymous` without one, `_other`
/// past the cap or for a name over [`MAX_OPERATION_NAME`] bytes.
pub fn operation_label(name: Option<&str>) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let Some(name) = name else { return "_anonymous".into() };
    if name.len() > MAX_OPERATION_NAME {
        return "_other".into();
    }
    let mut seen = SEEN.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if seen.contains(name) {
        return name.to_owned();
    }
    if seen.len() < MAX_OPERATION_NAMES {
        seen.insert(name.to_owned());
        return name.to_owned();
    }
    "_other".into()
}

/// One GraphQL operation answered.
pub fn graphql_answered(operation: &str, code: &str, took: Duration) {
    let (operation, code) = (operation.to_owned(), code.to_owned());
    metrics::counter!("graphql_requests_total", "operation" => operation.clone(), "code" => code).increment(1);
    metrics::histogram!("graphql_request_duration_seconds", "operation" => operation).record(took.as_secs_f64());
}

/// Names the request's operation(s) in its log line.
pub fn record_operations(names: &str) {
    Span::current().record("operation", names);
}

/// Adds request ids, request logs and HTTP metrics to `router`.
pub fn layers(router: Router, slow: Duration) -> Router {
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request<_>| {
            let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!(
                "request",
                id,
                method = %req.method(),
                path = req.uri().path(),
                operation = tracing::field::Empty,
            )
        })
        .on_request(())
        .on_response(move |res: &Response<_>, took: Duration, span: &Span| {
            let status = res.status().as_u16();
            let ms = took.as_secs_f64() * 1000.0;
            if took >= slow {
                tracing::warn!(parent: span, status, ms, "slow request");
            } else {
                tracing::info!(parent: span, status, ms, "request");
            }
        })
        .on_failure(());
    router
        .layer(axum::middleware::from_fn(http_metrics))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(trace)
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::map_request(drop_unfit_request_id))
}

/// An `X-Request-Id` that is too long or not plain visible ASCII is
/// dropped (a fresh one is made), so that logs never carry a client's
/// control characters or megabytes.
async fn drop_unfit_request_id<B>(mut req: Request<B>) -> Request<B> {
    let fit = |v: &HeaderValue| v.len() <= 128 && !v.is_empty() && v.as_bytes().iter().all(|b| b.is_ascii_graphic());
    if req.headers().get(&REQUEST_ID).is_some_and(|v| !fit(v)) {
        req.headers_mut().remove(&REQUEST_ID);
    }
    req
}

async fn http_metrics(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let path = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "path" => path.clone(), "status" => status).increment(1);
    metrics::histogram!("http_request_duration_seconds", "path" => path).record(started.elapsed().as_secs_f64());
    res
}
