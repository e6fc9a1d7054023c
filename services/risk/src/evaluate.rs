//! Training and evaluation (`pedigree train [--eval]`): simulate training
//! seeds, fit both families, keep the one with the better ROC-AUC on
//! validation seeds, pick the alert threshold there, then measure on
//! held-out test seeds against the rules-only baseline (FMD codes alone) and
//! write `docs/RISK.md` with a ROC/PR plot.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use crate::features::Features;
use crate::model::{fit, Classifier, ModelError, RiskModel, TrainingInfo};
use crate::score::Scorer;
use crate::simulate::{simulate, Pattern, Sample, SimConfig, SimError};

/// Why training or evaluation failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("simulation: {0}")]
    Sim(#[from] SimError),
    #[error("model: {0}")]
    Model(#[from] ModelError),
    #[error("writing {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("plot: {0}")]
    Plot(String),
}

/// Seeds for each role; disjoint, so evaluation never sees training data.
pub const TRAIN_SEEDS: [u64; 3] = [1, 2, 3];
pub const VALIDATION_SEEDS: [u64; 1] = [101];
pub const TEST_SEEDS: [u64; 2] = [1001, 1002];

/// Most false alarms tolerated per benign verification when choosing the threshold.
pub const MAX_FALSE_ALARM_RATE: f64 = 0.001;

fn samples(seeds: &[u64]) -> Result<Vec<Sample>, SimError> {
    let mut all = Vec::new();
    for &seed in seeds {
        all.extend(simulate(&SimConfig::standard(seed))?.samples);
    }
    Ok(all)
}

fn xy(samples: &[Sample]) -> (Vec<Features>, Vec<u32>) {
    samples
        .iter()
        .map(|s| (s.features, u32::from(s.pattern.is_fraud())))
        .unzip()
}

/// ROC-AUC by the rank-sum (Mann–Whitney) formula, ties counted half.
pub fn roc_auc(scored: &[(f64, bool)]) -> f64 {
    let mut sorted: Vec<(f64, bool)> = scored.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = sorted.iter().filter(|s| s.1).count() as f64;
    let negatives = sorted.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return f64::NAN;
    }
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j].0 == sorted[i].0 {
            j += 1;
        }
        let mean_rank = (i + j + 1) as f64 / 2.0;
        rank_sum += mean_rank * sorted[i..j].iter().filter(|s| s.1).count() as f64;
        i = j;
    }
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

/// Precision, recall, F1 and the false alarm rate at a threshold.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
    pub tn: usize,
}

impl Counts {
    pub fn at(scored: &[(f64, bool)], threshold: f64) -> Self {
        let mut c = Self::default();
        for &(score, fraud) in scored {
            match (score >= threshold, fraud) {
                (true, true) => c.tp += 1,
                (true, false) => c.fp += 1,
                (false, true) => c.fn_ += 1,
                (false, false) => c.tn += 1,
            }
        }
        c
    }
    fn ratio(a: usize, b: usize) -> f64 {
        if b == 0 {
            f64::NAN
        } else {
            a as f64 / b as f64
        }
    }
    pub fn precision(&self) -> f64 {
        Self::ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        Self::ratio(self.tp, self.tp + self.fn_)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        2.0 * p * r / (p + r)
    }
    pub fn false_alarm_rate(&self) -> f64 {
        Self::ratio(self.fp, self.fp + self.tn)
    }
}

/// The lowest threshold whose false alarm rate on `scored` stays within
/// [`MAX_FALSE_ALARM_RATE`] (so recall is as high as that allows).
pub fn choose_threshold(scored: &[(f64, bool)]) -> f64 {
    let mut benign: Vec<f64> = scored.iter().filter(|s| !s.1).map(|s| s.0).collect();
    benign.sort_by(|a, b| b.total_cmp(a));
    let allowed = (benign.len() as f64 * MAX_FALSE_ALARM_RATE).floor() as usize;
    // Alerts are `score >= threshold`: sit just above the first benign score
    // that would exceed the allowance.
    let ceiling = benign.get(allowed).copied().unwrap_or(0.0);
    (ceiling + 1e-9).clamp(0.05, 1.0)
}

/// Simulates, fits both families, keeps the better on validation.
pub fn train() -> Result<RiskModel, TrainError> {
    let train = samples(&TRAIN_SEEDS)?;
    let validation = samples(&VALIDATION_SEEDS)?;
    let (x, y) = xy(&train);
    let candidates = [
        ("random_forest", fit::random_forest(&x, &y, 40, 10, 7)?),
        ("logistic_regression", fit::logistic_regression(&x, &y)?),
    ];
    let names: Vec<String> = crate::features::FEATURE_NAMES
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut best: Option<(f64, RiskModel)> = None;
    let mut aucs = Vec::new();
    for (name, classifier) in candidates {
        let model = RiskModel {
            features: names.clone(),
            alert_threshold: 0.5,
            training: placeholder_info(),
            classifier,
        };
        let scored = scored_by(&Scorer::new(model.clone()), &validation);
        let auc = roc_auc(&scored);
        aucs.push((name.to_string(), auc));
        let threshold = choose_threshold(&scored);
        let model = RiskModel {
            alert_threshold: threshold,
            ..model
        };
        if best.as_ref().is_none_or(|(b, _)| auc > *b) {
            best = Some((auc, model));
        }
    }
    let Some((_, mut model)) = best else {
        return Err(TrainError::Model(ModelError::Fit(
            "no candidate model".into(),
        )));
    };
    model.training = TrainingInfo {
        train_seeds: TRAIN_SEEDS.to_vec(),
        validation_seeds: VALIDATION_SEEDS.to_vec(),
        train_samples: train.len(),
        chosen: match model.classifier {
            Classifier::RandomForest { .. } => "random_forest".into(),
            Classifier::LogisticRegression { .. } => "logistic_regression".into(),
        },
        validation_auc: aucs,
    };
    Ok(model)
}

fn placeholder_info() -> TrainingInfo {
    TrainingInfo {
        train_seeds: Vec::new(),
        validation_seeds: Vec::new(),
        train_samples: 0,
        validation_auc: Vec::new(),
        chosen: String::new(),
    }
}

fn scored_by(scorer: &Scorer, samples: &[Sample]) -> Vec<(f64, bool)> {
    samples
        .iter()
        .map(|s| (scorer.probability(&s.features), s.pattern.is_fraud()))
        .collect()
}

fn rules_scored(samples: &[Sample]) -> Vec<(f64, bool)> {
    samples
        .iter()
        .map(|s| (f64::from(u8::from(s.rules_alert)), s.pattern.is_fraud()))
        .collect()
}

/// Writes the model file.
pub fn write_model(model: &RiskModel, path: &Path) -> Result<(), TrainError> {
    let io = |source| TrainError::Io {
        path: path.display().to_string(),
        source,
    };
    std::fs::write(path, model.to_json()?).map_err(io)
}

/// Evaluates `model` on the test seeds; writes `report` (Markdown) and `plot` (PNG).
pub fn evaluate(model: &RiskModel, report: &Path, plot: &Path) -> Result<String, TrainError> {
    let scorer = Scorer::new(model.clone());
    let simulated = Instant::now();
    let test = samples(&TEST_SEEDS)?;
    let sim_secs = simulated.elapsed().as_secs_f64();
    let threshold = model.alert_threshold;
    let model_scores = scored_by(&scorer, &test);
    let rules = rules_scored(&test);
    let started = Instant::now();
    let mut reasons = 0usize;
    for s in &test {
        reasons += scorer.score(&s.features).reasons.len();
    }
    let score_micros = started.elapsed().as_secs_f64() * 1e6 / test.len().max(1) as f64;

    let mut md = String::new();
    let _ = writeln!(md, "# Counterfeit risk scoring: evaluation\n");
    let _ = writeln!(
        md,
        "Generated by `pedigree train --eval` (do not edit by hand). Model: **{}**, \
         alert threshold {threshold:.3} (chosen on validation seeds {:?} for at most \
         {} false alarm per 1 000 benign verifications). Trained on seeds {:?} \
         ({} verifications); tested here on held-out seeds {:?} ({} verifications, \
         simulated in {sim_secs:.1} s).\n",
        model.training.chosen,
        model.training.validation_seeds,
        MAX_FALSE_ALARM_RATE * 1000.0,
        model.training.train_seeds,
        model.training.train_samples,
        TEST_SEEDS,
        test.len(),
    );
    let _ = writeln!(md, "Validation ROC-AUC of the two families:\n");
    for (name, auc) in &model.training.validation_auc {
        let _ = writeln!(md, "- {name}: {auc:.4}");
    }
    let _ = writeln!(
        md,
        "\nBaseline: the rule checks alone (an FMD alert: unknown serial, \
         decommissioned, in transit, recalled, expired, lot/expiry mismatch) counted as a \
         risk alert.\n"
    );
    let _ = writeln!(md, "## Overall\n");
    let _ = writeln!(
        md,
        "| scorer | precision | recall | F1 | ROC-AUC | false alarms per 1 000 benign |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|");
    for (name, scored, t) in [
        ("model", &model_scores, threshold),
        ("rules only", &rules, 0.5),
    ] {
        let c = Counts::at(scored, t);
        let _ = writeln!(
            md,
            "| {name} | {:.3} | {:.3} | {:.3} | {:.4} | {:.2} |",
            c.precision(),
            c.recall(),
            c.f1(),
            roc_auc(scored),
            c.false_alarm_rate() * 1000.0
        );
    }
    let _ = writeln!(md, "\n## Per fraud pattern\n");
    let _ = writeln!(
        md,
        "Each pattern against all benign verifications: precision = alerts on the \
         pattern / (those + all benign alerts).\n"
    );
    let _ = writeln!(
        md,
        "| pattern | n | model P | model R | model F1 | model AUC | rules P | rules R | rules F1 |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    for pattern in Pattern::ALL.iter().filter(|p| p.is_fraud()) {
        let pick = |scored: &[(f64, bool)]| -> Vec<(f64, bool)> {
            scored
                .iter()
                .zip(&test)
                .filter(|(_, s)| s.pattern == *pattern || !s.pattern.is_fraud())
                .map(|(x, _)| *x)
                .collect()
        };
        let (m, r) = (pick(&model_scores), pick(&rules));
        let n = test.iter().filter(|s| s.pattern == *pattern).count();
        let (cm, cr) = (Counts::at(&m, threshold), Counts::at(&r, 0.5));
        let _ = writeln!(
            md,
            "| {} | {n} | {:.3} | {:.3} | {:.3} | {:.4} | {:.3} | {:.3} | {:.3} |",
            pattern.name(),
            cm.precision(),
            cm.recall(),
            cm.f1(),
            roc_auc(&m),
            cr.precision(),
            cr.recall(),
            cr.f1()
        );
    }
    let _ = writeln!(md, "\n## Benign noise: false alarms\n");
    let _ = writeln!(md, "| benign kind | n | model alerts | rules alerts |");
    let _ = writeln!(md, "|---|---|---|---|");
    for pattern in Pattern::ALL.iter().filter(|p| !p.is_fraud()) {
        let of: Vec<usize> = (0..test.len())
            .filter(|&i| test[i].pattern == *pattern)
            .collect();
        let model_alerts = of
            .iter()
            .filter(|&&i| model_scores[i].0 >= threshold)
            .count();
        let rules_alerts = of.iter().filter(|&&i| test[i].rules_alert).count();
        let _ = writeln!(
            md,
            "| {} | {} | {model_alerts} | {rules_alerts} |",
            pattern.name(),
            of.len()
        );
    }
    let _ = writeln!(md, "\n## Cost\n");
    let _ = writeln!(
        md,
        "Scoring with reasons (model + perturbation explanation, feature vector given): \
         {score_micros:.2} µs per verification on average over {} verifications \
         ({:.2} reasons each), single thread, this build's optimisation level. \
         Feature extraction is one pass over the pack's history. The ledger's database work \
         per scored verification (the indexed history query, the pack, batch and location \
         rows) is measured by `cargo bench -p pedigree-ledger --bench ledger -- scoring`; \
         see docs/BENCHMARKS.md.\n",
        test.len(),
        reasons as f64 / test.len().max(1) as f64
    );
    let _ = writeln!(
        md,
        "## Plot\n\n![ROC and precision-recall curves](risk-roc.png)\n\n\
         Left: ROC (false positive rate → true positive rate), right: precision-recall \
         (recall → precision), both axes 0–1 with grid lines every 0.1. \
         **Blue**: the model; **red**: the rules-only baseline (a single operating point, \
         joined to the corners).\n"
    );
    let _ = writeln!(
        md,
        "## Caveats\n\n\
         These figures are measured on the simulator's own data: the patterns are separable by \
         construction (a clone is verified by a party outside the pack's chain), so they show \
         that the features and model capture the injected patterns, not how they would fare on \
         real verification traffic. The first scans of a serial-guessing burst look like a typing \
         error and are missed. Reasons are a perturbation explanation, not causal."
    );
    plot_curves(plot, &model_scores, &rules)?;
    std::fs::write(report, &md).map_err(|source| TrainError::Io {
        path: report.display().to_string(),
        source,
    })?;
    Ok(md)
}

/// Points of a curve, (x, y).
type Curve = Vec<(f64, f64)>;

/// ROC and PR points, from the highest threshold down.
fn curves(scored: &[(f64, bool)]) -> (Curve, Curve) {
    let mut sorted = scored.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let positives = sorted.iter().filter(|s| s.1).count().max(1) as f64;
    let negatives = sorted.iter().filter(|s| !s.1).count().max(1) as f64;
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut roc = vec![(0.0, 0.0)];
    let mut pr = vec![(0.0, 1.0)];
    let mut i = 0;
    while i < sorted.len() {
        let score = sorted[i].0;
        while i < sorted.len() && sorted[i].0 == score {
            if sorted[i].1 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        roc.push((fp / negatives, tp / positives));
        pr.push((tp / positives, tp / (tp + fp)));
    }
    (roc, pr)
}

fn plot_curves(
    path: &Path,
    model: &[(f64, bool)],
    rules: &[(f64, bool)],
) -> Result<(), TrainError> {
    use crate::plot::{draw, Axis, Panel, RGBColor, Series};
    let (model_roc, model_pr) = curves(model);
    let (rules_roc, rules_pr) = curves(rules);
    let panel = |title: &str, x: &str, y: &str, m: Curve, r: Curve| Panel {
        title: title.into(),
        x: Axis::linear(x, 0.0, 1.0, 0.1, 1),
        y: Axis::linear(y, 0.0, 1.0, 0.1, 1),
        series: vec![
            Series {
                name: "model".into(),
                color: RGBColor(30, 80, 220),
                points: m,
                markers: false,
            },
            Series {
                name: "rules only (FMD codes)".into(),
                color: RGBColor(220, 40, 40),
                points: r,
                markers: false,
            },
        ],
    };
    draw(
        path,
        (1000, 500),
        &[
            panel(
                "ROC",
                "false positive rate",
                "true positive rate",
                model_roc,
                rules_roc,
            ),
            panel(
                "precision-recall",
                "recall",
                "precision",
                model_pr,
                rules_pr,
            ),
        ],
    )
    .map_err(|e| TrainError::Plot(e.to_string()))
}

/// `pedigree simulate`: runs one seed, optionally writes the signed events
/// as JSON lines, and summarises what was simulated.
pub fn run_simulate(
    seed: u64,
    batches: usize,
    packs_per_batch: usize,
    out: Option<&Path>,
) -> Result<String, TrainError> {
    let config = SimConfig {
        batches,
        packs_per_batch,
        ..SimConfig::standard(seed)
    };
    let started = Instant::now();
    let sim = simulate(&config)?;
    let secs = started.elapsed().as_secs_f64();
    if let Some(path) = out {
        let io = |source| TrainError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut text = String::new();
        for event in &sim.events {
            text.push_str(&serde_json::to_string(event).map_err(ModelError::from)?);
            text.push('\n');
        }
        std::fs::write(path, text).map_err(io)?;
    }
    let mut summary = format!(
        "seed {seed}: {} parties, {} signed events, {} verifications in {secs:.2} s\n",
        sim.parties.len(),
        sim.events.len(),
        sim.samples.len()
    );
    let _ = writeln!(
        summary,
        "  governance key (a ledger taking these events: PEDIGREE_GOVERNANCE_KEY): {}",
        sim.parties[0].key.public_key()
    );
    for pattern in Pattern::ALL {
        let n = sim.samples.iter().filter(|s| s.pattern == pattern).count();
        let _ = writeln!(
            summary,
            "  {:<28} {n:>6}{}",
            pattern.name(),
            if pattern.is_fraud() { "  (fraud)" } else { "" }
        );
    }
    Ok(summary)
}

/// `pedigree train [--eval]`: retrains, rewrites the model file, and with
/// `docs` evaluates and writes `RISK.md` and `risk-roc.png` there.
pub fn run_train(model_path: &Path, docs: Option<&Path>) -> Result<String, TrainError> {
    let started = Instant::now();
    let model = train()?;
    write_model(&model, model_path)?;
    let mut summary = format!(
        "trained {} on {} verifications in {:.1} s (validation AUC {:?}), threshold {:.3}; wrote {}\n",
        model.training.chosen,
        model.training.train_samples,
        started.elapsed().as_secs_f64(),
        model.training.validation_auc,
        model.alert_threshold,
        model_path.display()
    );
    if let Some(docs) = docs {
        let report = docs.join("RISK.md");
        let plot = docs.join("risk-roc.png");
        summary.push_str(&evaluate(&model, &report, &plot)?);
    }
    Ok(summary)
}
