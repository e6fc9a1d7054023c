//! `pedigree-scan parse`, run as a user would.

use std::io::Write;
use std::process::{Command, Stdio};

fn scan(args: &[&str], stdin: Option<&str>) -> (i32, serde_json::Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pedigree-scan"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run pedigree-scan");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or("").as_bytes())
        .expect("write stdin");
    drop(input);
    let output = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let first = stdout.lines().next().unwrap_or("null");
    (
        output.status.code().unwrap_or(-1),
        serde_json::from_str(first).expect("JSON output"),
    )
}

#[test]
fn element_string_with_gs_separators_lists_ais_in_code_order() {
    let (code, out) = scan(
        &[
            "parse",
            "--json",
            "]d2010950600013435221ABC123\u{1d}10LOT1\u{1d}17280630",
        ],
        None,
    );
    assert_eq!(code, 0);
    let ais: Vec<(&str, &str)> = out["ais"]
        .as_array()
        .expect("ais")
        .iter()
        .map(|a| {
            (
                a["ai"].as_str().unwrap_or(""),
                a["value"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        ais,
        [
            ("01", "09506000134352"),
            ("21", "ABC123"),
            ("10", "LOT1"),
            ("17", "280630")
        ]
    );
}

#[test]
fn digital_link_with_a_short_gtin_is_normalised_to_14_digits() {
    let (code, out) = scan(
        &[
            "parse",
            "--json",
            "https://example.com/01/9506000134352/21/X1?17=280630",
        ],
        None,
    );
    assert_eq!(code, 0);
    assert_eq!(out["ais"][0]["value"], "09506000134352");
    assert_eq!(out["ais"][0]["title"], "GTIN");
}

#[test]
fn a_bad_check_digit_exits_2_with_an_error_object() {
    let (code, out) = scan(&["parse", "--json", "(01)09506000134353(21)X"], None);
    assert_eq!(code, 2);
    assert_eq!(out["error"]["code"], "unreadable_code");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("check digit"),
        "{out}"
    );
}

#[test]
fn payloads_typed_by_a_keyboard_scanner_are_read_line_by_line() {
    let (code, out) = scan(&["parse", "--json"], Some("010950600013435221A<GS>10B\n"));
    assert_eq!(code, 0);
    assert_eq!(out["ais"][1]["value"], "A");
    assert_eq!(out["ais"][2]["value"], "B");
}
