//! The listener: accepts connections and serves HTTP/1.1 on them with
//! deadlines, so that no client can hold the server's resources for good.
//!
//! - a client has `--header-timeout-secs` to send a request's head, and on
//!   a kept-alive connection to start its next request (hyper's header
//!   read timeout, which also runs while a connection idles between
//!   requests); the body has its own deadline in `http.rs`;
//! - a head over `--max-header-bytes` is answered 431 by hyper;
//! - at most `--max-connections` connections are served at once; the
//!   listener stops accepting while full (more wait in the kernel's
//!   backlog), so that descriptors are left for the database pool;
//! - at most `--max-connections-per-address` of them from one client
//!   address: past it a new connection is closed at once, so that one
//!   client holding connections open cannot starve the others;
//! - on SIGTERM or Ctrl-C it stops accepting, lets requests in flight
//!   finish, and after `--shutdown-timeout-secs` closes whatever is left.
//!
//! axum's `serve` has none of these settings; this is its loop, written
//! with hyper-util's pieces (the shape of axum's `serve-with-hyper`
//! example).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::config::Config;

/// The listener's settings (config.rs has the flags).
#[derive(Clone, Copy, Debug)]
pub struct ServeOptions {
    pub header_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_connections: usize,
    /// 0: no limit per address (behind a proxy, every client is the proxy).
    pub max_connections_per_address: usize,
    pub shutdown_timeout: Duration,
}

impl ServeOptions {
    pub fn from_config(config: &Config) -> Self {
        ServeOptions {
            header_timeout: Duration::from_secs(config.header_timeout_secs.max(1)),
            max_header_bytes: config.max_header_bytes,
            max_connections: config.max_connections.max(1),
            max_connections_per_address: config.max_connections_per_address,
            shutdown_timeout: Duration::from_secs(config.shutdown_timeout_secs),
        }
    }
}

/// Set on every request by [`serve`]: whether the server has stopped
/// accepting connections and is draining (`/readyz` answers 503 then).
#[derive(Clone)]
pub struct Draining(pub Arc<std::sync::atomic::AtomicBool>);

impl Draining {
    pub fn is_set(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        // hyper answers a head larger than its buffer with 431; its floor is 8 KiB.
        .max_buf_size(options.max_header_bytes.max(8192));
    let http = Arc::new(http);
    let slots = Arc::new(Semaphore::new(options.max_connections));
    let graceful = GracefulShutdown::new();
    let per_address = PerAddress::default();
    let mut shutdown = std::pin::pin!(shutdown);
    let draining = Draining(Arc::new(std::sync::atomic::AtomicBool::new(false)));
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, or a connection reset before it
                    // was accepted: not the listener's end. Wait a little.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(held) = per_address.hold(peer.ip(), options.max_connections_per_address) else {
            tracing::debug!(%peer, "too many connections from this address");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let flag = draining.clone();
        let service = app.clone().map_request(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            req.extensions_mut().insert(flag.clone());
            req
        });
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop((slot, held));
        });
    }
    draining.0.store(true, std::sync::atomic::Ordering::SeqCst);
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(options.shutdown_timeout) => {
            tracing::warn!("shutdown deadline reached; closing the connections left");
        }
    }
    Ok(())
}

/// Open connections per client address.
#[derive(Clone, Default)]
struct PerAddress(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One connection counted against its address until dropped.
struct Held(PerAddress, IpAddr);

impl PerAddress {
    /// Counts one more connection from `ip`, or `None` past `max` (0: no limit).
    fn hold(&self, ip: IpAddr, max: usize) -> Option<Held> {
        let mut open = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_insert(0);
        if max > 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(Held(self.clone(), ip))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut open = (self.0).0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.1);
            }
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
