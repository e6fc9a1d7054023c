//! `pedigree simulate --ledger URL --rate N --seconds S`: the supply-chain
//! simulator as a load generator for a running ledger. The simulated
//! timeline is fitted into the hours before now (the ledger refuses events
//! older than its `max_event_age`, 72 h by default), then its signed events
//! are posted in order — one request at a time, since a receipt must follow
//! its shipment — paced to the offered rate.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use pedigree_risk::simulate::{simulate_until, SimConfig};
use pedigree_schema::event::EventSubmission;
use serde_json::Value;

/// Most events in one request (the ledger's limit).
const MAX_REQUEST_EVENTS: usize = 10_000;
/// Events of the standard network per simulated pack, about (measured).
const EVENTS_PER_PACK: f64 = 3.0;

pub struct LoadArgs {
    pub ledger: String,
    pub rate: f64,
    pub seconds: f64,
    pub seed: u64,
    pub packs_per_batch: usize,
    /// Hours before now the simulated timeline is fitted into.
    pub window_hours: i64,
}

/// What the run did.
#[derive(Default)]
pub struct LoadReport {
    pub simulated: usize,
    pub sent: usize,
    pub accepted: usize,
    pub rejected: BTreeMap<String, usize>,
    pub elapsed: Duration,
    pub request_latencies: Vec<Duration>,
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rejected: usize = self.rejected.values().sum();
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        writeln!(
            f,
            "{} of {} simulated events sent in {secs:.1} s: {:.0} events/s; {} accepted ({:.0}/s), {rejected} rejected",
            self.sent,
            self.simulated,
            self.sent as f64 / secs,
            self.accepted,
            self.accepted as f64 / secs,
        )?;
        let mut latencies = self.request_latencies.clone();
        latencies.sort_unstable();
        if let (Some(p50), Some(p99)) = (
            latencies.get(latencies.len() / 2),
            latencies.get(latencies.len() * 99 / 100),
        ) {
            writeln!(
                f,
                "{} requests, latency p50 {:.1} ms, p99 {:.1} ms",
                latencies.len(),
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3
            )?;
        }
        for (code, n) in &self.rejected {
            writeln!(f, "  rejected {code}: {n}")?;
        }
        Ok(())
    }
}

/// Simulates enough events for `rate × seconds` and posts them at `rate`.
pub async fn run(args: LoadArgs) -> anyhow::Result<LoadReport> {
    let wanted = (args.rate * args.seconds).ceil() as usize;
    let packs_per_batch = args.packs_per_batch.max(1);
    let batches = ((wanted as f64 / EVENTS_PER_PACK) / packs_per_batch as f64).ceil() as usize;
    let config = SimConfig {
        batches: batches.max(1),
        packs_per_batch,
        ..SimConfig::standard(args.seed)
    };
    let now = chrono::Utc::now().timestamp_micros();
    let minute = 60_000_000;
    let window = args.window_hours.max(1) * 60 * minute;
    let sim = simulate_until(&config, now - minute, window).context("simulate")?;
    let governance = sim.parties[0].key.public_key().to_string();
    let client = reqwest::Client::new();
    let base = args.ledger.trim_end_matches('/');
    let log: Value = client
        .get(format!("{base}/v1/log"))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("GET {base}/v1/log"))?
        .json()
        .await?;
    if log["governance_key"].as_str() != Some(governance.as_str()) {
        bail!(
            "the ledger's governance key is not the simulation's: start an empty ledger with \
             PEDIGREE_GOVERNANCE_KEY={governance} (seed {})",
            args.seed
        );
    }
    let events: Vec<EventSubmission> = sim.events.into_iter().take(wanted).collect();
    let mut report = LoadReport {
        simulated: events.len(),
        ..LoadReport::default()
    };
    let started = Instant::now();
    let tick = Duration::from_millis(100);
    while report.sent < events.len() {
        let due = ((started.elapsed().as_secs_f64() * args.rate) as usize).min(events.len());
        if due <= report.sent {
            tokio::time::sleep(tick).await;
            continue;
        }
        let end = due.min(report.sent + MAX_REQUEST_EVENTS);
        let batch = &events[report.sent..end];
        let posted = Instant::now();
        let answer: Value = client
            .post(format!("{base}/v1/events"))
            .json(&serde_json::json!({ "events": batch }))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .context("POST /v1/events")?
            .json()
            .await?;
        report.request_latencies.push(posted.elapsed());
        for result in answer["results"].as_array().context("no results")? {
            if result["status"] == "accepted" {
                report.accepted += 1;
            } else {
                let code = result["code"].as_str().unwrap_or("unknown").to_string();
                *report.rejected.entry(code).or_default() += 1;
            }
        }
        report.sent = end;
    }
    report.elapsed = started.elapsed();
    Ok(report)
}
