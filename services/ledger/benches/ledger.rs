//! The ledger's benchmark suite: `cargo bench -p pedigree-ledger --bench ledger`.
//!
//! Each part runs in a child process of its own (so its peak memory is its
//! own) and prints one line per figure: what, the setting, the result, and
//! the machine's load average when it was measured. A filter argument picks
//! parts by name (`-- verify`). Switches: `PEDIGREE_TEST_POSTGRES_URL` adds
//! the PostgreSQL figures (scratch databases are created and dropped);
//! `PEDIGREE_BENCH_10M=1` adds the 10-million-entry proofs and appends (tens
//! of minutes). When both `proofs` and `scale` ran, the figures are drawn
//! into `docs/bench-scaling.png` (`PEDIGREE_BENCH_PLOT` to put it elsewhere).
//! The figures and the machine they came from are in `docs/BENCHMARKS.md`.

#[path = "support/append.rs"]
mod append;
#[path = "support/reads.rs"]
mod reads;
mod support {
    #[path = "fixtures.rs"]
    pub mod fixtures;
}

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use pedigree_risk::plot::{draw, Axis, Panel, RGBColor, Series};
use support::fixtures::report;

/// Set in a child process: the part it runs.
const PART_VAR: &str = "PEDIGREE_BENCH_PART";

struct Part {
    name: &'static str,
    run: fn(),
}

fn ten_million() -> bool {
    std::env::var_os("PEDIGREE_BENCH_10M").is_some()
}

const PARTS: &[Part] = &[
    Part {
        name: "library",
        run: || {
            append::library("sqlite", 50_000);
            append::library("postgres", 20_000);
        },
    },
    Part {
        name: "http",
        run: || {
            append::http("sqlite", 20_000, 4);
            append::http("postgres", 20_000, 4);
        },
    },
    Part {
        name: "packs",
        run: || {
            append::aggregated_shipments("sqlite", 500, 100, 10);
            append::aggregated_shipments("postgres", 500, 100, 10);
        },
    },
    Part {
        name: "commission",
        run: || append::commission_serials(1_000_000),
    },
    Part {
        name: "verify",
        run: || reads::verification_latency(10_000, 64, 2_000.0, 10),
    },
    Part {
        name: "scoring",
        run: || reads::scoring_cost(10_000, 5_000),
    },
    Part {
        name: "proofs",
        run: || {
            reads::proofs(10_000);
            reads::proofs(1_000_000);
            if ten_million() {
                reads::proofs(10_000_000);
            }
        },
    },
    Part {
        name: "scale",
        run: || {
            let mut sizes = vec![10_000, 1_000_000];
            if ten_million() {
                sizes.push(10_000_000);
            }
            for packs in [append::Packs::Adjacent, append::Packs::Scattered] {
                for &size in &sizes {
                    append::append_at_size(size, 20_000, packs);
                }
            }
        },
    },
];

/// The process's peak resident memory (`VmHWM`), in kB.
fn peak_memory_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    if let Ok(name) = std::env::var(PART_VAR) {
        let part = PARTS.iter().find(|p| p.name == name).expect("a known part");
        (part.run)();
        if let Some(kb) = peak_memory_kb() {
            report(
                "peak memory (VmHWM of the process)",
                &format!("part `{name}`"),
                format!("{:.0} MiB", kb as f64 / 1024.0),
            );
        }
        return;
    }
    // `cargo bench` passes `--bench`; a plain argument picks parts.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let exe = std::env::current_exe().expect("own path");
    println!(
        "{:<46} {:<52} {:<22} load",
        "benchmark", "setting", "result"
    );
    let mut points: Vec<(String, u64, f64)> = Vec::new();
    for part in PARTS
        .iter()
        .filter(|p| filter.as_deref().is_none_or(|f| p.name.contains(f)))
    {
        let started = Instant::now();
        let mut child = Command::new(&exe)
            .env(PART_VAR, part.name)
            .stdout(Stdio::piped())
            .spawn()
            .expect("run a part");
        let output = child.stdout.take().expect("piped");
        for line in BufReader::new(output).lines() {
            let line = line.expect("part output");
            match line
                .strip_prefix("@plot ")
                .map(|r| r.split(' ').collect::<Vec<_>>())
            {
                Some(fields) if fields.len() == 3 => points.push((
                    fields[0].to_string(),
                    fields[1].parse().expect("size"),
                    fields[2].parse().expect("value"),
                )),
                _ => println!("{line}"),
            }
        }
        assert!(
            child.wait().expect("wait").success(),
            "part {} failed",
            part.name
        );
        println!(
            "  (part `{}` took {:.0} s)",
            part.name,
            started.elapsed().as_secs_f64()
        );
    }
    let has = |series: &str| points.iter().any(|p| p.0 == series);
    if has("append") && has("inclusion") {
        let path = std::env::var_os("PEDIGREE_BENCH_PLOT").map_or_else(
            || {
                PathBuf::from(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../docs/bench-scaling.png"
                ))
            },
            PathBuf::from,
        );
        plot(&path, &points);
        println!("plot written to {}", path.display());
    }
}

/// Append throughput and proof time against log size, side by side.
fn plot(path: &std::path::Path, points: &[(String, u64, f64)]) {
    let series = |name: &str, label: &str, color: RGBColor| Series {
        name: label.into(),
        color,
        points: points
            .iter()
            .filter(|p| p.0 == name)
            .map(|p| (p.1 as f64, p.2))
            .collect(),
        markers: true,
    };
    let sizes = || {
        Axis::log(
            "log size (entries, log scale)",
            5e3,
            2e7,
            vec![
                (1e4, "10k".into()),
                (1e5, "100k".into()),
                (1e6, "1M".into()),
                (1e7, "10M".into()),
            ],
        )
    };
    let max = |name: &str| {
        points
            .iter()
            .filter(|p| p.0 == name)
            .map(|p| p.2)
            .fold(0.0, f64::max)
    };
    let rate_top = (max("append").max(max("append-scattered")) * 1.3 / 10_000.0).ceil() * 10_000.0;
    let proof_top = ((max("inclusion").max(max("consistency")) * 1.5) * 10.0).ceil() / 10.0;
    let panels = [
        Panel {
            title: "append throughput".into(),
            x: sizes(),
            y: Axis::linear(
                "signed events/s (SQLite, library)",
                0.0,
                rate_top,
                rate_top / 5.0,
                0,
            ),
            series: vec![
                series(
                    "append",
                    "verify events/s, packs adjacent",
                    RGBColor(30, 80, 220),
                ),
                series(
                    "append-scattered",
                    "verify events/s, packs scattered",
                    RGBColor(220, 40, 40),
                ),
            ],
        },
        Panel {
            title: "proof time (median)".into(),
            x: sizes(),
            y: Axis::linear("ms per proof (SQLite)", 0.0, proof_top, proof_top / 5.0, 2),
            series: vec![
                series("inclusion", "inclusion proof", RGBColor(30, 80, 220)),
                series("consistency", "consistency proof", RGBColor(220, 40, 40)),
            ],
        },
    ];
    draw(path, (1000, 460), &panels).expect("draw the plot");
}
