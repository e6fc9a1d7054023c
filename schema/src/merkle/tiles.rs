//! The C2SP `tlog-tiles` view of the tree (<https://c2sp.org/tlog-tiles>): tile paths, the
//! stored nodes a tile holds, and entry bundles.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use super::NodeId;

/// Tree levels a tile spans: a tile at tile level `L` holds nodes of tree level
/// `TILE_HEIGHT · L` (tlog-tiles "Merkle Tree").
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile, `2^TILE_HEIGHT` (tlog-tiles: "exactly 256 hashes wide").
pub const TILE_WIDTH: u16 = 1 << TILE_HEIGHT;
/// Largest tile level a path may name (tlog-tiles: "between 0 and 63").
const MAX_TILE_LEVEL: u8 = 63;
/// Tree levels of a 64-bit tree: nodes of level 64 or more cover more leaves than a `u64`
/// size counts.
const MAX_NODE_LEVEL: u8 = 63;

/// Why a tile reference or path is not valid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TileError {
    #[error("tile level {0} is above the largest level, 63")]
    LevelTooHigh(u8),
    #[error("a tile holds 1 to 256 hashes or entries, not {0}")]
    WidthOutOfRange(u16),
    #[error("a tile path starts with `tile/`")]
    NotATilePath,
    #[error("tile level `{0}` is not a decimal number from 0 to 63 without leading zeros")]
    BadLevel(String),
    #[error(
        "tile index element `{0}` is not 3 digits (prefixed by `x` in all but the last element)"
    )]
    BadIndexElement(String),
    #[error("tile index starts with the element `x000`; the shortest encoding is required")]
    NonCanonicalIndex,
    #[error("tile index does not fit in 64 bits")]
    IndexTooLarge,
    #[error(
        "partial tile width `{0}` is not a decimal number from 1 to 255 without leading zeros"
    )]
    BadWidth(String),
    #[error("tile {index} at level {level} lies beyond the largest 64-bit tree")]
    BeyondTree { level: u8, index: u64 },
}

/// What a tile holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileKind {
    /// Hashes of tree level `TILE_HEIGHT · level`, served at `tile/<L>/<N>`.
    Hashes { level: u8 },
    /// Log entries, whose leaf hashes are the level-0 hash tile, served at
    /// `tile/entries/<N>`.
    Entries,
}

/// One tile resource of a tiled log: its kind, its index `N` within its level, and its width
/// (256 for a full tile, 1 to 255 for a partial one, tlog-tiles "Partial Tiles").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileRef {
    kind: TileKind,
    index: u64,
    width: u16,
}

impl TileRef {
    /// The hash tile at tile `level`, `index`, holding `width` hashes.
    pub fn hashes(level: u8, index: u64, width: u16) -> Result<Self, TileError> {
        if level > MAX_TILE_LEVEL {
            return Err(TileError::LevelTooHigh(level));
        }
        Self::new(TileKind::Hashes { level }, index, width)
    }

    /// The entry bundle `index`, holding `width` entries.
    pub fn entries(index: u64, width: u16) -> Result<Self, TileError> {
        Self::new(TileKind::Entries, index, width)
    }

    fn new(kind: TileKind, index: u64, width: u16) -> Result<Self, TileError> {
        if width == 0 || width > TILE_WIDTH {
            return Err(TileError::WidthOutOfRange(width));
        }
        Ok(Self { kind, index, width })
    }

    /// Hashes or entries.
    pub fn kind(&self) -> TileKind {
        self.kind
    }

    /// The tile's index `N` within its level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of hashes or entries, 1 to 256.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether this is a partial tile (`.p/<W>`), which only a tree size that is not a
    /// multiple of the tile's span has.
    pub fn is_partial(&self) -> bool {
        self.width < TILE_WIDTH
    }

    /// Parses a path relative to the log prefix, such as `tile/1/x001/x234/067.p/8` or
    /// `tile/entries/000`, rejecting every form tlog-tiles does not allow (leading zeros,
    /// missing `x`, widths outside 1..=255), so that each tile has exactly one path.
    pub fn parse(path: &str) -> Result<Self, TileError> {
        let rest = path.strip_prefix("tile/").ok_or(TileError::NotATilePath)?;
        let (kind, rest) = match rest.split_once('/') {
            Some(("entries", rest)) => (TileKind::Entries, rest),
            Some((level, rest)) => (
                TileKind::Hashes {
                    level: parse_level(level)?,
                },
                rest,
            ),
            None => return Err(TileError::BadIndexElement(String::new())),
        };
        let (index, width) = match rest.split_once(".p/") {
            Some((index, width)) => (index, parse_width(width)?),
            None => (rest, TILE_WIDTH),
        };
        Self::new(kind, parse_index(index)?, width)
    }

    /// The stored nodes this tile holds, left to right: for a hash tile at level `L`, the
    /// nodes of tree level `8·L` with indices `256·N + i` (tlog-tiles:
    /// `MTH(D[(N·256 + i)·256^L : (N·256 + i + 1)·256^L])`); for an entry bundle, the leaf
    /// hashes of its entries.
    pub fn nodes(&self) -> Result<Vec<NodeId>, TileError> {
        let level = match self.kind {
            TileKind::Hashes { level } => level,
            TileKind::Entries => 0,
        };
        let beyond = TileError::BeyondTree {
            level,
            index: self.index,
        };
        let node_level = level
            .checked_mul(TILE_HEIGHT)
            .filter(|&node_level| node_level <= MAX_NODE_LEVEL)
            .ok_or(beyond.clone())?;
        let first = self
            .index
            .checked_mul(u64::from(TILE_WIDTH))
            .ok_or(beyond.clone())?;
        let last = NodeId::new(node_level, first + u64::from(self.width) - 1);
        // `first + width - 1` cannot overflow: `first` is a multiple of 256.
        last.leaves().ok_or(beyond)?;
        Ok((0..u64::from(self.width))
            .map(|i| NodeId::new(node_level, first + i))
            .collect())
    }
}

impl fmt::Display for TileRef {
    /// The path relative to the log prefix (tlog-tiles "Merkle Tree", "Log entries").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TileKind::Hashes { level } => write!(f, "tile/{level}/")?,
            TileKind::Entries => f.write_str("tile/entries/")?,
        }
        // Index 1234067 is `x001/x234/067`: 3-digit groups, all but the last prefixed by `x`.
        let mut groups = Vec::new();
        let mut rest = self.index;
        loop {
            groups.push(rest % 1000);
            rest /= 1000;
            if rest == 0 {
                break;
            }
        }
        if let Some((last, leading)) = groups.split_first() {
            for group in leading.iter().rev() {
                write!(f, "x{group:03}/")?;
            }
            write!(f, "{last:03}")?;
        }
        if self.is_partial() {
            write!(f, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

impl FromStr for TileRef {
    type Err = TileError;

    fn from_str(path: &str) -> Result<Self, TileError> {
        Self::parse(path)
    }
}

/// The path `tile/<L>/<N>[.p/<W>]` of the hash tile at tile `level` and `index` holding
/// `width` hashes (256 for a full tile).
pub fn tile_path(level: u8, index: u64, width: u16) -> Result<String, TileError> {
    Ok(TileRef::hashes(level, index, width)?.to_string())
}

/// The path `tile/entries/<N>[.p/<W>]` of entry bundle `index` holding `width` entries.
pub fn entries_path(index: u64, width: u16) -> Result<String, TileError> {
    Ok(TileRef::entries(index, width)?.to_string())
}

/// A decimal without sign or leading zeros, as tlog-tiles requires of `<L>` and `<W>`.
fn canonical_decimal(text: &str) -> Option<u16> {
    let digits_only = !text.is_empty() && text.bytes().all(|c| c.is_ascii_digit());
    let leading_zero = text.len() > 1 && text.starts_with('0');
    if digits_only && !leading_zero {
        text.parse().ok()
    } else {
        None
    }
}

fn parse_level(text: &str) -> Result<u8, TileError> {
    canonical_decimal(text)
        .filter(|&level| level <= u16::from(MAX_TILE_LEVEL))
        .and_then(|level| u8::try_from(level).ok())
        .ok_or_else(|| TileError::BadLevel(text.to_owned()))
}

fn parse_width(text: &str) -> Result<u16, TileError> {
    canonical_decimal(text)
        .filter(|&width| (1..TILE_WIDTH).contains(&width))
        .ok_or_else(|| TileError::BadWidth(text.to_owned()))
}

fn parse_index(text: &str) -> Result<u64, TileError> {
    let elements: Vec<&str> = text.split('/').collect();
    let leading = elements.len() - 1; // `split` yields at least one element.
    let mut index: u64 = 0;
    for (position, element) in elements.iter().enumerate() {
        let digits = if position < leading {
            element.strip_prefix('x')
        } else {
            Some(*element)
        };
        let group = digits
            .filter(|digits| digits.len() == 3 && digits.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|digits| digits.parse::<u64>().ok())
            .ok_or_else(|| TileError::BadIndexElement((*element).to_owned()))?;
        if position == 0 && leading > 0 && group == 0 {
            return Err(TileError::NonCanonicalIndex);
        }
        index = index
            .checked_mul(1000)
            .and_then(|index| index.checked_add(group))
            .ok_or(TileError::IndexTooLarge)?;
    }
    Ok(index)
}

/// Why bytes are not an entry bundle, or entries cannot form one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BundleError {
    #[error("an entry bundle holds 1 to 256 entries, not {0}")]
    EntryCount(usize),
    #[error("entry {position} is {len} bytes; a bundle entry is at most 65535 bytes")]
    EntryTooLong { position: usize, len: usize },
    #[error("the bundle ends inside the 2-byte length prefix of entry {position}")]
    TruncatedLength { position: usize },
    #[error("entry {position} declares {len} bytes but only {available} remain in the bundle")]
    TruncatedEntry {
        position: usize,
        len: usize,
        available: usize,
    },
}

/// Encodes an entry bundle: each entry prefixed by its length as a big-endian `uint16`
/// (tlog-tiles "Log entries").
pub fn encode_entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, BundleError> {
    if entries.is_empty() || entries.len() > usize::from(TILE_WIDTH) {
        return Err(BundleError::EntryCount(entries.len()));
    }
    let mut bundle = Vec::new();
    for (position, entry) in entries.iter().enumerate() {
        let entry = entry.as_ref();
        let len = u16::try_from(entry.len()).map_err(|_| BundleError::EntryTooLong {
            position,
            len: entry.len(),
        })?;
        bundle.extend_from_slice(&len.to_be_bytes());
        bundle.extend_from_slice(entry);
    }
    Ok(bundle)
}

/// Splits an entry bundle into its entries (tlog-tiles "Log entries"). The caller checks the
/// count against the width the bundle's path names.
pub fn decode_entry_bundle(bundle: &[u8]) -> Result<Vec<&[u8]>, BundleError> {
    let mut entries = Vec::new();
    let mut rest = bundle;
    while !rest.is_empty() {
        let position = entries.len();
        let (len, tail) = match rest {
            [high, low, tail @ ..] => (usize::from(u16::from_be_bytes([*high, *low])), tail),
            _ => return Err(BundleError::TruncatedLength { position }),
        };
        if tail.len() < len {
            return Err(BundleError::TruncatedEntry {
                position,
                len,
                available: tail.len(),
            });
        }
        let (entry, tail) = tail.split_at(len);
        entries.push(entry);
        rest = tail;
    }
    if entries.is_empty() || entries.len() > usize::from(TILE_WIDTH) {
        return Err(BundleError::EntryCount(entries.len()));
    }
    Ok(entries)
}
