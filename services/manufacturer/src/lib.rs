//! Pedigree's manufacturer service.
