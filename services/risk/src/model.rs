//! The risk model: a random forest or a logistic regression, trained with
//! smartcore (feature `train`) and shipped as a small JSON file,
//! `services/risk/model/risk-model.json`, that scoring reads without
//! smartcore. The file records which family won and how both did.

use serde::{Deserialize, Serialize};

use crate::features::{Features, FEATURE_COUNT, FEATURE_NAMES};

/// The shipped model, compiled in.
const SHIPPED: &str = include_str!("../model/risk-model.json");

/// Why a model file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("the model file is not valid model JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the model was trained on features {found:?}, but this build extracts {expected:?}")]
    FeatureMismatch {
        expected: Vec<String>,
        found: Vec<String>,
    },
    #[error("tree {tree} node {node} points at node {child}, beyond its {len} nodes or not below itself")]
    BadTree {
        tree: usize,
        node: usize,
        child: u32,
        len: usize,
    },
    #[error(
        "tree {tree} node {node} splits on feature {feature}, beyond the {FEATURE_COUNT} features"
    )]
    BadFeature {
        tree: usize,
        node: usize,
        feature: usize,
    },
    #[error("the logistic model has {0} coefficients per vector, not {FEATURE_COUNT}")]
    BadCoefficients(usize),
    #[error("smartcore: {0}")]
    Fit(String),
}

/// A trained model with the facts of its training.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskModel {
    /// The feature names it was trained on, in order: must match this build.
    pub features: Vec<String>,
    /// Scores at or above this raise an alert (chosen on validation seeds
    /// for at most 1 false alarm per 1 000 benign verifications).
    pub alert_threshold: f64,
    /// How the families compared on the validation seeds.
    pub training: TrainingInfo,
    pub classifier: Classifier,
}

/// How a model was trained and why its family was chosen.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingInfo {
    pub train_seeds: Vec<u64>,
    pub validation_seeds: Vec<u64>,
    pub train_samples: usize,
    /// ROC-AUC of each family on the validation seeds.
    pub validation_auc: Vec<(String, f64)>,
    pub chosen: String,
}

/// The two model families.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case", deny_unknown_fields)]
pub enum Classifier {
    /// Score = fraction of trees voting "fraud".
    RandomForest { trees: Vec<Tree> },
    /// Score = sigmoid(intercept + weights · (x - mean) / scale).
    LogisticRegression {
        mean: Vec<f64>,
        scale: Vec<f64>,
        weights: Vec<f64>,
        intercept: f64,
    },
}

/// A binary decision tree in array form; node 0 is the root.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tree(pub Vec<Node>);

/// A split (`x[f] <= t` goes to `l`, else `r`) or a leaf with its vote.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Node {
    Split { f: usize, t: f64, l: u32, r: u32 },
    Leaf { v: f64 },
}

impl Tree {
    fn predict(&self, x: &[f64; FEATURE_COUNT]) -> f64 {
        let mut at = 0usize;
        // Children point strictly forward (checked on load), so this ends.
        loop {
            match self.0.get(at) {
                Some(Node::Split { f, t, l, r }) => {
                    at = if x[*f] <= *t { *l } else { *r } as usize;
                }
                Some(Node::Leaf { v }) => return *v,
                None => return 0.0,
            }
        }
    }
}

impl RiskModel {
    /// Parses and checks a model file.
    pub fn from_json(text: &str) -> Result<Self, ModelError> {
        let model: Self = serde_json::from_str(text)?;
        model.check()?;
        Ok(model)
    }

    /// The model shipped in this build (`model/risk-model.json`).
    pub fn shipped() -> Result<Self, ModelError> {
        Self::from_json(SHIPPED)
    }

    pub fn to_json(&self) -> Result<String, ModelError> {
        Ok(serde_json::to_string(self)? + "\n")
    }

    fn check(&self) -> Result<(), ModelError> {
        if self.features.iter().map(String::as_str).ne(FEATURE_NAMES) {
            return Err(ModelError::FeatureMismatch {
                expected: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
                found: self.features.clone(),
            });
        }
        match &self.classifier {
            Classifier::RandomForest { trees } => {
                for (t, tree) in trees.iter().enumerate() {
                    for (n, node) in tree.0.iter().enumerate() {
                        if let Node::Split { f, l, r, .. } = node {
                            if *f >= FEATURE_COUNT {
                                return Err(ModelError::BadFeature {
                                    tree: t,
                                    node: n,
                                    feature: *f,
                                });
                            }
                            for child in [*l, *r] {
                                if child as usize >= tree.0.len() || child as usize <= n {
                                    return Err(ModelError::BadTree {
                                        tree: t,
                                        node: n,
                                        child,
                                        len: tree.0.len(),
                                    });
                                }
                            }
                        }
                    }
                }
            }
            Classifier::LogisticRegression {
                mean,
                scale,
                weights,
                ..
            } => {
                for v in [mean, scale, weights] {
                    if v.len() != FEATURE_COUNT {
                        return Err(ModelError::BadCoefficients(v.len()));
                    }
                }
            }
        }
        Ok(())
    }

    /// The fraud probability of a feature vector, in `0..=1`.
    pub fn predict(&self, features: &Features) -> f64 {
        let x = &features.0;
        match &self.classifier {
            Classifier::RandomForest { trees } => {
                if trees.is_empty() {
                    return 0.0;
                }
                trees.iter().map(|t| t.predict(x)).sum::<f64>() / trees.len() as f64
            }
            Classifier::LogisticRegression {
                mean,
                scale,
                weights,
                intercept,
            } => {
                let z: f64 = (0..FEATURE_COUNT)
                    .map(|i| weights[i] * (x[i] - mean[i]) / scale[i])
                    .sum::<f64>()
                    + intercept;
                1.0 / (1.0 + (-z).exp())
            }
        }
    }
}

/// Training with smartcore: both families on the same data.
#[cfg(feature = "train")]
pub mod fit {
    use smartcore::ensemble::random_forest_classifier::{
        RandomForestClassifier, RandomForestClassifierParameters,
    };
    use smartcore::linalg::basic::arrays::Array;
    use smartcore::linalg::basic::matrix::DenseMatrix;
    use smartcore::linear::logistic_regression::{
        LogisticRegression, LogisticRegressionParameters,
    };

    use super::{Classifier, ModelError, Node, Tree};
    use crate::features::{Features, FEATURE_COUNT};

    fn matrix(rows: &[Features]) -> Result<DenseMatrix<f64>, ModelError> {
        let rows: Vec<Vec<f64>> = rows.iter().map(|f| f.0.to_vec()).collect();
        DenseMatrix::from_2d_vec(&rows).map_err(|e| ModelError::Fit(e.to_string()))
    }

    /// A smartcore random forest, converted to the compact tree form.
    pub fn random_forest(
        x: &[Features],
        y: &[u32],
        trees: u16,
        depth: u16,
        seed: u64,
    ) -> Result<Classifier, ModelError> {
        let params = RandomForestClassifierParameters::default()
            .with_n_trees(trees)
            .with_max_depth(depth)
            .with_min_samples_leaf(3)
            .with_seed(seed);
        let forest = RandomForestClassifier::fit(&matrix(x)?, &y.to_vec(), params)
            .map_err(|e| ModelError::Fit(e.to_string()))?;
        // smartcore keeps its trees private and predicts hard votes only;
        // its serde form exposes the nodes, which is all a vote needs.
        let value = serde_json::to_value(&forest)?;
        let bad = |what: &str| ModelError::Fit(format!("unexpected forest layout: {what}"));
        let trees = value["trees"].as_array().ok_or_else(|| bad("trees"))?;
        trees
            .iter()
            .map(|tree| {
                let classes: Vec<f64> = tree["classes"]
                    .as_array()
                    .ok_or_else(|| bad("classes"))?
                    .iter()
                    .map(|c| c.as_f64().unwrap_or(0.0))
                    .collect();
                let nodes = tree["nodes"].as_array().ok_or_else(|| bad("nodes"))?;
                let nodes = nodes
                    .iter()
                    .map(|n| {
                        let child = |k: &str| n[k].as_u64().map(|c| c as u32);
                        match (child("true_child"), child("false_child")) {
                            (Some(l), Some(r)) => Ok(Node::Split {
                                f: n["split_feature"].as_u64().ok_or_else(|| bad("feature"))?
                                    as usize,
                                t: n["split_value"].as_f64().ok_or_else(|| bad("value"))?,
                                l,
                                r,
                            }),
                            _ => {
                                let out = n["output"].as_u64().ok_or_else(|| bad("output"))?;
                                Ok(Node::Leaf {
                                    v: <[f64]>::get(&classes, out as usize).copied().unwrap_or(0.0),
                                })
                            }
                        }
                    })
                    .collect::<Result<Vec<Node>, ModelError>>()?;
                Ok(Tree(nodes))
            })
            .collect::<Result<Vec<Tree>, ModelError>>()
            .map(|trees| Classifier::RandomForest { trees })
    }

    /// A smartcore logistic regression on standardised features.
    pub fn logistic_regression(x: &[Features], y: &[u32]) -> Result<Classifier, ModelError> {
        let n = x.len().max(1) as f64;
        let mut mean = vec![0.0; FEATURE_COUNT];
        for f in x {
            for (m, v) in mean.iter_mut().zip(f.0) {
                *m += v / n;
            }
        }
        let mut variance = [0.0; FEATURE_COUNT];
        for f in x {
            for ((s, v), m) in variance.iter_mut().zip(f.0).zip(&mean) {
                *s += (v - m).powi(2) / n;
            }
        }
        let scale: Vec<f64> = variance
            .iter()
            .map(|v| if *v > 1e-12 { v.sqrt() } else { 1.0 })
            .collect();
        let z: Vec<Features> = x
            .iter()
            .map(|f| {
                let mut out = f.0;
                for ((o, m), s) in out.iter_mut().zip(&mean).zip(&scale) {
                    *o = (*o - m) / s;
                }
                Features(out)
            })
            .collect();
        let params = LogisticRegressionParameters::default().with_alpha(0.01);
        let model = LogisticRegression::fit(&matrix(&z)?, &y.to_vec(), params)
            .map_err(|e| ModelError::Fit(e.to_string()))?;
        let weights: Vec<f64> = (0..FEATURE_COUNT)
            .map(|i| *model.coefficients().get((0, i)))
            .collect();
        let intercept = *model.intercept().get((0, 0));
        Ok(Classifier::LogisticRegression {
            mean,
            scale,
            weights,
            intercept,
        })
    }
}
