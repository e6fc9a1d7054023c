//! Pedigree's distributor service.
