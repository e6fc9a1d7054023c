//! `pedigree-scan`, the scanner: reads a medicine pack's GS1 code (typed by
//! a keyboard-mode scanner, given as an argument, or found in a photo) and
//! verifies it — offline checks, the service's status, and the log's
//! signed evidence checked with configured keys only.
//!
//! The flow of a command: [`cli`] parses the arguments, [`plan`] turns
//! them into a validated plan (configuration from [`config`]), [`run`]
//! carries it out. Verification: [`verify`] gathers answers through
//! [`client`], [`evidence`] checks the proofs, [`custody`] recomputes the
//! pack's state, [`assess`] reaches the verdict of [`report`].

pub mod act;
pub mod assess;
pub mod batch;
pub mod cli;
pub mod client;
pub mod code;
pub mod config;
pub mod custody;
pub mod evidence;
pub mod exit;
pub mod input;
pub mod plan;
pub mod report;
pub mod run;
pub mod sources;
pub mod store;
pub mod verify;
pub mod wire;
