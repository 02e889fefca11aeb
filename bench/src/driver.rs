//! The load loop: `concurrency` tasks run one operation after another for
//! a fixed time; latencies are kept whole and sorted at the end.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub struct Stats {
    pub ok: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub seconds: f64,
    pub latencies_us: Vec<u32>,
}

impl Stats {
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.seconds
    }

    /// The q-quantile latency, in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * q).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

/// Runs `op` from `concurrency` tasks for `warmup` (not counted) and then
/// `duration`. Each task has its own seeded random generator.
pub async fn run<F, Fut>(concurrency: usize, warmup: Duration, duration: Duration, op: F) -> Stats
where
    F: Fn(ChaCha8Rng) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = (ChaCha8Rng, Result<(), String>)> + Send + 'static,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(1000 + worker as u64);
            let (mut ok, mut errors, mut first_error, mut lat) = (0u64, 0u64, None, Vec::with_capacity(1 << 14));
            loop {
                let t = Instant::now();
                if t >= end {
                    break;
                }
                let (next, result) = op(rng).await;
                rng = next;
                if t < measure_from {
                    continue;
                }
                match result {
                    Ok(()) => {
                        ok += 1;
                        lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (ok, errors, first_error, lat)
        }));
    }
    let mut stats =
        Stats { ok: 0, errors: 0, first_error: None, seconds: duration.as_secs_f64(), latencies_us: Vec::new() };
    for task in tasks {
        if let Ok((ok, errors, first_error, lat)) = task.await {
            stats.ok += ok;
            stats.errors += errors;
            if stats.first_error.is_none() {
                stats.first_error = first_error;
            }
            stats.latencies_us.extend(lat);
        }
    }
    stats.latencies_us.sort_unstable();
    stats
}

/// Peak resident memory (VmHWM) of a process, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
