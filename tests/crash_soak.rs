//! The soak load (not CI: `#[ignore]`, run by `scripts/soak.sh`): a `pedigree ledger` process
//! on a SQLite file takes, for `PEDIGREE_SOAK_SECS` (default 600), the supply-chain stream of
//! the crash harness from two clients and pharmacies' verifications from
//! `PEDIGREE_SOAK_VERIFIERS` (default 4) more, in requests of `PEDIGREE_SOAK_BATCH` (default
//! 1 000) events, as in the HTTP append benchmark. The verified packs are
//! `PEDIGREE_SOAK_PACKS` (default 1 000 000) commissioned packs taken in turn, so each pack is
//! verified a few times, as packs are, rather than thousands of times. The ledger's resident
//! memory is sampled every 5 s, every refused request or event counted as an error, and a
//! summary is written to `PEDIGREE_SOAK_REPORT` (and printed).

mod crash_support;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crash_support::*;
use pedigree_testkit::{gtin, Batch, Network, Outcome};

/// Counters shared by the clients.
#[derive(Default)]
struct Load {
    events: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
    first_errors: Mutex<Vec<String>>,
}

impl Load {
    fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_errors.lock().expect("errors");
        if first.len() < 5 {
            first.push(what);
        }
    }

    /// Counts a request's outcomes.
    fn outcomes(&self, outcomes: &[Outcome]) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        for outcome in outcomes {
            match outcome {
                Outcome::Accepted { .. } => {
                    self.events.fetch_add(1, Ordering::Relaxed);
                }
                Outcome::Rejected { code, message } => self.error(format!("{code}: {message}")),
            }
        }
    }
}

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a soak of minutes: run by scripts/soak.sh"]
async fn soak() {
    let secs = env_count("PEDIGREE_SOAK_SECS", 600);
    let batch_size = env_count("PEDIGREE_SOAK_BATCH", 1_000) as usize;
    let verifiers = env_count("PEDIGREE_SOAK_VERIFIERS", 4);
    let pack_count = env_count("PEDIGREE_SOAK_PACKS", 1_000_000) as usize;
    let dir = temp_dir("soak");
    let net = Arc::new(Network::new());
    let mut files = LedgerFiles::new(&net, &dir, &dir.join("ledger.sqlite").display().to_string());
    files.pool_size = 8; // the default of `pedigree ledger`
    let ledger = files.start(0);
    let pid = ledger.pid();
    let http = http_client();
    let load = Arc::new(Load::default());

    // Genesis and a batch whose packs the pharmacies verify.
    let verified = Batch::fresh(&gtin("0950600099990"), "SOAK");
    let serials: Arc<Vec<String>> = Arc::new((0..pack_count).map(|i| format!("V{i:09}")).collect());
    let m = &net.manufacturer;
    let mut setup = net.genesis();
    setup.push(m.register_product(&verified.gtin, "Soak product"));
    setup.push(m.register_batch(&verified));
    for chunk in serials.chunks(100_000) {
        setup.push(m.commission(
            &verified,
            &chunk.iter().map(String::as_str).collect::<Vec<_>>(),
        ));
    }
    for events in setup.chunks(5) {
        let outcomes = post_events(&http, &ledger.base, events)
            .await
            .expect("the setup is accepted");
        assert!(outcomes
            .iter()
            .all(|o| matches!(o, Outcome::Accepted { .. })));
    }

    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let mut clients = Vec::new();
    for client in 0..2 {
        let (net, http, base, load) =
            (net.clone(), http.clone(), ledger.base.clone(), load.clone());
        clients.push(tokio::spawn(async move {
            let mut work = Workload::new(client);
            while Instant::now() < until {
                let events = work.pending(&net).to_vec();
                match post_events(&http, &base, &events).await {
                    Ok(outcomes) => load.outcomes(&outcomes),
                    Err(e) => load.error(format!("{e:?}")),
                }
                work.acknowledged();
            }
        }));
    }
    for verifier in 0..verifiers as usize {
        let (net, http, base, load) =
            (net.clone(), http.clone(), ledger.base.clone(), load.clone());
        let (verified, serials) = (verified.clone(), serials.clone());
        clients.push(tokio::spawn(async move {
            // Each verifier starts at its own part of the packs.
            let mut n = verifier * serials.len() / verifiers as usize;
            while Instant::now() < until {
                let events: Vec<_> = (0..batch_size)
                    .map(|i| {
                        net.pharmacy
                            .verify(&verified.pack(&serials[(n + i) % serials.len()]))
                    })
                    .collect();
                n += batch_size;
                match post_events(&http, &base, &events).await {
                    Ok(outcomes) => load.outcomes(&outcomes),
                    Err(e) => load.error(format!("{e:?}")),
                }
            }
        }));
    }

    let mut samples: Vec<(u64, u64, u64)> = Vec::new(); // (seconds, RSS KiB, events)
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let rss = rss_kib(pid).unwrap_or(0);
        let events = load.events.load(Ordering::Relaxed);
        samples.push((started.elapsed().as_secs(), rss, events));
        eprintln!(
            "{:>5} s  RSS {rss:>8} KiB  {events:>10} events",
            started.elapsed().as_secs()
        );
    }
    for client in clients {
        client.await.expect("a client");
    }
    let elapsed = started.elapsed().as_secs_f64();
    // A cheap read right after the load: the ledger must still answer it.
    let checkpoint_status = match http.get(format!("{}/checkpoint", ledger.base)).send().await {
        Ok(response) => response.status().to_string(),
        Err(e) => e.to_string(),
    };
    ledger.kill();
    let size = latest_stored_size(&mut files.connect());
    let log = std::fs::read_to_string(files.log()).unwrap_or_default();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();

    let events = load.events.load(Ordering::Relaxed);
    let errors = load.errors.load(Ordering::Relaxed);
    let rss: Vec<u64> = samples.iter().map(|s| s.1).filter(|&r| r > 0).collect();
    let quarter = rss.len() / 4;
    let mut report = String::new();
    let _ = writeln!(
        report,
        "soak: {elapsed:.0} s against `pedigree ledger` (SQLite)"
    );
    let _ = writeln!(
        report,
        "events accepted: {events} ({:.0}/s) in {} requests; log size at the end: {size}; \
         GET /checkpoint right after the load: {checkpoint_status}",
        events as f64 / elapsed,
        load.requests.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        report,
        "errors: {errors} {:?}",
        load.first_errors.lock().expect("errors")
    );
    let _ = writeln!(
        report,
        "ledger warnings and errors logged: {} (first: {:?})",
        warnings.len(),
        warnings.first()
    );
    if let (Some(first), Some(max), Some(last)) = (rss.get(quarter), rss.iter().max(), rss.last()) {
        let _ = writeln!(
            report,
            "RSS (KiB): after the first quarter {first}, max {max}, last {last} ({} samples)",
            rss.len()
        );
    }
    let _ = writeln!(report, "samples (s, RSS KiB, events):");
    for (at, rss, events) in &samples {
        let _ = writeln!(report, "  {at} {rss} {events}");
    }
    println!("{report}");
    if let Ok(path) = std::env::var("PEDIGREE_SOAK_REPORT") {
        std::fs::write(path, &report).expect("write the soak report");
    }
    assert_eq!((errors, warnings.len()), (0, 0), "{report}");
    assert_eq!(checkpoint_status, "200 OK", "{report}");
    // A passed soak leaves gigabytes of database behind; a failed one keeps
    // them for inspection (the asserts above return first).
    let _ = std::fs::remove_dir_all(&dir);
}
