//! Pedigree's pharmacy service.
