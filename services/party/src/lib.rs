//! What every Pedigree trading-partner service shares.
