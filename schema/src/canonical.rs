//! The one canonical byte encoding of Pedigree's signed objects.
//!
//! Canonical form is the JSON Canonicalization Scheme (RFC 8785) restricted
//! to what Pedigree's types produce: object keys are ASCII (so JCS's UTF-16
//! key order equals byte order), numbers are integers of magnitude at most
//! 2^53 − 1 (JCS formats numbers as IEEE 754 doubles, RFC 8785 §3.2.2.3, which
//! hold exactly those integers, written in plain decimal), strings are UTF-8
//! with the minimal JSON escapes. Under those restrictions `serde_json`'s
//! compact output of a `Value` whose maps are `BTreeMap`s *is* JCS, which
//! this module enforces rather than assumes: floats, larger integers and
//! non-ASCII keys are refused.
//!
//! See `schema/README.md` for the byte-level specification and
//! `schema/testdata/events/` for vectors.

use serde::Serialize;
use serde_json::Value;

/// Why a value has no canonical encoding.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CanonicalError {
    #[error("value cannot be represented as JSON: {0}")]
    NotJson(String),
    #[error("floating-point number at {path}: canonical form allows integers only")]
    Float { path: String },
    #[error("integer at {path} is beyond ±(2^53 - 1), which JCS cannot write exactly")]
    IntegerOutOfRange { path: String },
    #[error("object key {key:?} at {path} is not ASCII")]
    NonAsciiKey { path: String, key: String },
}

/// Encodes `value` in canonical form (RFC 8785 subset, see module docs).
pub fn to_canonical_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let json = serde_json::to_value(value).map_err(|e| CanonicalError::NotJson(e.to_string()))?;
    check(&json, &mut String::from("$"))?;
    // `serde_json::Map` is a BTreeMap (the `preserve_order` feature is not
    // enabled anywhere in the workspace), so keys come out sorted.
    serde_json::to_vec(&json).map_err(|e| CanonicalError::NotJson(e.to_string()))
}

/// The largest integer magnitude an IEEE 754 double holds exactly.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

fn check(value: &Value, path: &mut String) -> Result<(), CanonicalError> {
    match value {
        Value::Number(n) if n.is_f64() => Err(CanonicalError::Float { path: path.clone() }),
        Value::Number(n) => {
            let magnitude = n.as_u64().or_else(|| n.as_i64().map(i64::unsigned_abs));
            match magnitude {
                Some(m) if m <= MAX_SAFE_INTEGER => Ok(()),
                _ => Err(CanonicalError::IntegerOutOfRange { path: path.clone() }),
            }
        }
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let result = check(item, path);
            path.truncate(len);
            result
        }),
        Value::Object(map) => map.iter().try_for_each(|(key, item)| {
            if !key.is_ascii() {
                return Err(CanonicalError::NonAsciiKey {
                    path: path.clone(),
                    key: key.clone(),
                });
            }
            let len = path.len();
            path.push('.');
            path.push_str(key);
            let result = check(item, path);
            path.truncate(len);
            result
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_and_output_is_compact() {
        let bytes = to_canonical_bytes(&json!({"b": 1, "a": {"d": [1, 2], "c": "x"}})).unwrap();
        assert_eq!(bytes, br#"{"a":{"c":"x","d":[1,2]},"b":1}"#);
    }

    #[test]
    fn strings_use_minimal_escapes_like_rfc8785() {
        let bytes = to_canonical_bytes(&json!({"s": "\u{1}\n\"\\é€/"})).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "{\"s\":\"\\u0001\\n\\\"\\\\é€/\"}"
        );
    }

    #[test]
    fn floats_are_refused_with_their_path() {
        let err = to_canonical_bytes(&json!({"a": [1, 2.5]})).unwrap_err();
        assert_eq!(
            err,
            CanonicalError::Float {
                path: "$.a[1]".into()
            }
        );
    }

    #[test]
    fn integers_are_limited_to_what_a_double_holds_exactly() {
        let max = (1i64 << 53) - 1;
        assert_eq!(
            to_canonical_bytes(&json!({"a": max, "b": -max})).unwrap(),
            format!("{{\"a\":{max},\"b\":-{max}}}").into_bytes()
        );
        for beyond in [json!([max + 1]), json!([-max - 1]), json!([u64::MAX])] {
            assert_eq!(
                to_canonical_bytes(&beyond).unwrap_err(),
                CanonicalError::IntegerOutOfRange {
                    path: "$[0]".into()
                }
            );
        }
    }

    #[test]
    fn non_ascii_keys_are_refused() {
        let err = to_canonical_bytes(&json!({"é": 1})).unwrap_err();
        assert!(matches!(err, CanonicalError::NonAsciiKey { .. }));
    }
}
