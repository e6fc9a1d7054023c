//! Where payloads come from: command-line arguments, lines of text (a
//! hand-held scanner in keyboard mode types one code per line), or QR codes
//! in a PNG or JPEG image.
//!
//! Images are read with `rqrr`, which finds codes at any rotation and
//! perspective. One photo may hold several codes; each is returned once, in
//! reading order (top to bottom, then left to right). A code too small or
//! too large for rqrr's binarisation at the photo's own scale is looked for
//! again in a half-size and a double-size copy.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{GrayImage, ImageReader};

/// Largest image accepted, in pixels (a 48-megapixel photo); larger ones
/// are refused rather than risking memory on a hand-held device.
const MAX_PIXELS: u64 = 48_000_000;

/// Below this many pixels on its longer side an image is also searched at
/// double size; above the shorter-side bound, also at half size.
const UPSCALE_BELOW: u32 = 1200;
const DOWNSCALE_ABOVE: u32 = 600;

/// One payload and where it came from, for messages and batch summaries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scan {
    pub source: String,
    pub payload: String,
}

/// Why input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a readable PNG or JPEG image: {reason}")]
    NotAnImage { path: PathBuf, reason: String },
    #[error("{path} is {width}x{height} pixels, more than the {MAX_PIXELS} accepted")]
    TooLarge {
        path: PathBuf,
        width: u32,
        height: u32,
    },
    #[error("no readable QR code found in {path}")]
    NoCode { path: PathBuf },
    #[error("cannot read standard input: {0}")]
    Stdin(std::io::Error),
    #[error("no payload given: pass one as an argument, --image FILE, or one per line on standard input")]
    Nothing,
}

/// Payloads given as arguments.
pub fn from_arguments(payloads: &[String]) -> Vec<Scan> {
    payloads
        .iter()
        .enumerate()
        .map(|(i, payload)| Scan {
            source: if payloads.len() == 1 {
                "argument".into()
            } else {
                format!("argument {}", i + 1)
            },
            payload: payload.clone(),
        })
        .collect()
}

/// One payload per non-blank line; `name` labels the lines (`stdin`, a file).
/// A carriage return before the newline and a UTF-8 byte-order mark on the
/// first line are not part of the payload.
pub fn from_lines(reader: impl BufRead, name: &str) -> Result<Vec<Scan>, std::io::Error> {
    let mut scans = Vec::new();
    for (number, line) in reader.lines().enumerate() {
        let line = line?;
        let line = line.trim_start_matches('\u{feff}').trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        scans.push(Scan {
            source: format!("{name} line {}", number + 1),
            payload: line.to_string(),
        });
    }
    Ok(scans)
}

/// The payloads of a text file, one per line.
pub fn from_file(path: &Path) -> Result<Vec<Scan>, InputError> {
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    from_lines(std::io::BufReader::new(file), &path.display().to_string()).map_err(io)
}

/// Every QR code in an image file, each as a [`Scan`] labelled with the
/// file and, when there are several, the code's number in reading order.
pub fn from_image(path: &Path) -> Result<Vec<Scan>, InputError> {
    let bytes = std::fs::read(path).map_err(|source| InputError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let codes = codes_in_image(&bytes, path)?;
    if codes.is_empty() {
        return Err(InputError::NoCode {
            path: path.to_path_buf(),
        });
    }
    let count = codes.len();
    Ok(codes
        .into_iter()
        .enumerate()
        .map(|(i, payload)| Scan {
            source: if count == 1 {
                path.display().to_string()
            } else {
                format!("{} code {}", path.display(), i + 1)
            },
            payload,
        })
        .collect())
}

/// Whether a file name looks like an image this scanner reads.
pub fn is_image_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["png", "jpg", "jpeg"].contains(&e.to_ascii_lowercase().as_str()))
}

/// The text of every QR code in the PNG or JPEG image `bytes` (read from
/// `path`, which errors name), in reading order.
pub fn codes_in_image(bytes: &[u8], path: &Path) -> Result<Vec<String>, InputError> {
    Ok(decode_codes(&decode_gray(bytes, path)?))
}

fn decode_gray(bytes: &[u8], path: &Path) -> Result<GrayImage, InputError> {
    let not_an_image = |reason: String| InputError::NotAnImage {
        path: path.to_path_buf(),
        reason,
    };
    let open = || -> Result<ImageReader<_>, InputError> {
        let reader = ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| not_an_image(e.to_string()))?;
        match reader.format() {
            Some(image::ImageFormat::Png | image::ImageFormat::Jpeg) => Ok(reader),
            Some(other) => Err(not_an_image(format!("{other:?} images are not supported"))),
            None => Err(not_an_image("the file is not an image".into())),
        }
    };
    // The header first: the size is known before any pixel is allocated.
    let (width, height) = open()?
        .into_dimensions()
        .map_err(|e| not_an_image(e.to_string()))?;
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(InputError::TooLarge {
            path: path.to_path_buf(),
            width,
            height,
        });
    }
    let image = open()?.decode().map_err(|e| not_an_image(e.to_string()))?;
    Ok(image.to_luma8())
}

/// A code found in an image: its text and where it is, in the original
/// image's pixels (top-left corner), for reading order.
struct Found {
    text: String,
    y: f64,
    x: f64,
}

/// The text of every QR code in `image`, in reading order, each once.
pub fn decode_codes(image: &GrayImage) -> Vec<String> {
    let mut found: Vec<Found> = Vec::new();
    let (width, height) = image.dimensions();
    let mut scales = vec![1.0];
    if width.min(height) > DOWNSCALE_ABOVE {
        scales.push(0.5);
    }
    if width.max(height) < UPSCALE_BELOW {
        scales.push(2.0);
    }
    for scale in scales {
        let scaled;
        let view = if scale == 1.0 {
            image
        } else {
            let w = ((f64::from(width) * scale).round() as u32).max(1);
            let h = ((f64::from(height) * scale).round() as u32).max(1);
            scaled = image::imageops::resize(image, w, h, FilterType::Triangle);
            &scaled
        };
        for code in detect(view) {
            if !found.iter().any(|f| f.text == code.text) {
                found.push(Found {
                    text: code.text,
                    y: code.y / scale,
                    x: code.x / scale,
                });
            }
        }
    }
    // Reading order: by top edge, then left edge.
    found.sort_by(|a, b| a.y.total_cmp(&b.y).then(a.x.total_cmp(&b.x)));
    found.into_iter().map(|f| f.text).collect()
}

/// Runs rqrr over one image. A candidate grid that does not decode (rqrr
/// also proposes grids made of finder patterns of neighbouring codes) is
/// skipped. rqrr is third-party code run on untrusted pixels: a panic in it
/// is caught and treated as "no code here".
fn detect(image: &GrayImage) -> Vec<Found> {
    let image = image.clone();
    std::panic::catch_unwind(move || {
        let mut prepared = rqrr::PreparedImage::prepare(image);
        prepared
            .detect_grids()
            .into_iter()
            .filter_map(|grid| {
                let (_, text) = grid.decode().ok()?;
                let top_left = grid.bounds.iter().fold((f64::MAX, f64::MAX), |(y, x), p| {
                    (y.min(f64::from(p.y)), x.min(f64::from(p.x)))
                });
                Some(Found {
                    text,
                    y: top_left.0,
                    x: top_left.1,
                })
            })
            .collect()
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_skip_blanks_and_drop_carriage_returns_and_a_bom() {
        let text = "\u{feff}0109506000134352\u{1d}21A\r\n\n   \n(01)09506000134352(21)B\n";
        let scans = from_lines(text.as_bytes(), "stdin").expect("reads");
        assert_eq!(
            scans,
            [
                Scan {
                    source: "stdin line 1".into(),
                    payload: "0109506000134352\u{1d}21A".into()
                },
                Scan {
                    source: "stdin line 4".into(),
                    payload: "(01)09506000134352(21)B".into()
                }
            ]
        );
    }

    #[test]
    fn a_blank_image_has_no_code() {
        let image = GrayImage::from_pixel(300, 200, image::Luma([255]));
        assert!(decode_codes(&image).is_empty());
    }

    #[test]
    fn image_names_are_recognised_by_extension_in_any_case() {
        assert!(is_image_name(Path::new("a/b.PNG")));
        assert!(is_image_name(Path::new("b.jpeg")));
        assert!(!is_image_name(Path::new("codes.txt")));
    }
}
