//! The data model of Pedigree, shared by every service and the scanner:
//! GS1 identifiers, custody events and their canonical encoding and
//! signatures, RFC 9162 Merkle proofs, item sets, and C2SP checkpoints.
//!
//! This crate does no network or database I/O (see `ARCHITECTURE.md`); the
//! only file access is reading and writing key files in [`keys`].

pub mod canonical;
pub mod checkpoint;
pub mod epcis;
pub mod event;
pub mod gs1;
pub mod itemset;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod receipt;
pub mod request_auth;
