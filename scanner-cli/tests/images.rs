//! Codes read from photos: QR codes drawn by a generator, rotated and
//! scaled, several in one image, on a photo-like background; and images
//! that hold no code, or are no image at all.

mod support;

use support::{background, draw_qr, gtin, run_scanner, save, Batch};

fn batch() -> Batch {
    Batch::new(
        &gtin("950600013435"),
        "L12",
        chrono::NaiveDate::from_ymd_opt(2031, 6, 30).expect("date"),
    )
}

#[test]
fn several_rotated_and_scaled_codes_in_one_photo_are_all_read_in_reading_order() {
    let dir = tempfile::tempdir().expect("dir");
    let batch = batch();
    let mut photo = background(1000, 760, 7);
    // Element strings (with a GS after the lot) and Digital Links, at
    // different sizes and angles.
    draw_qr(&mut photo, &batch.code("A1"), 4.0, 17.0, 220.0, 190.0);
    draw_qr(&mut photo, &batch.link("A2"), 3.0, -33.0, 700.0, 210.0);
    draw_qr(&mut photo, &batch.code("A3"), 6.5, 95.0, 420.0, 560.0);
    let path = save(&photo, dir.path(), "counter.png");
    let run = run_scanner(
        &["parse", "--json", "--image", path.to_str().expect("utf-8")],
        "",
        &[],
        None,
    );
    assert_eq!(run.code, 0, "{run:?}");
    let serials: Vec<String> = run
        .json_lines()
        .iter()
        .map(|line| {
            let ais = line["ais"].as_array().expect("ais");
            let serial = ais.iter().find(|ai| ai["ai"] == "21").expect("a serial");
            serial["value"].as_str().expect("text").to_string()
        })
        .collect();
    assert_eq!(serials, ["A1", "A2", "A3"]);
}

#[test]
fn a_jpeg_photo_of_a_small_code_is_read() {
    let dir = tempfile::tempdir().expect("dir");
    let batch = batch();
    let mut photo = background(640, 480, 11);
    draw_qr(&mut photo, &batch.code("J7"), 2.5, 8.0, 330.0, 250.0);
    let path = save(&photo, dir.path(), "small.jpg");
    let run = run_scanner(
        &["parse", "--json", "--image", path.to_str().expect("utf-8")],
        "",
        &[],
        None,
    );
    assert_eq!(run.code, 0, "{run:?}");
    let line = run.json();
    assert_eq!(line["ais"][0]["value"], batch.gtin.as_str());
    assert_eq!(line["ais"][3]["value"], "J7");
}

#[test]
fn a_photo_without_a_code_and_a_file_that_is_no_image_exit_2_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("dir");
    let empty = save(&background(400, 300, 3), dir.path(), "empty.png");
    let run = run_scanner(
        &["parse", "--json", "--image", empty.to_str().expect("utf-8")],
        "",
        &[],
        None,
    );
    assert_eq!(run.code, 2);
    let error = &run.json()["error"];
    assert_eq!(error["code"], "no_code_found");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or("")
            .contains("no readable QR code"),
        "{error}"
    );

    let garbage = dir.path().join("garbage.png");
    std::fs::write(&garbage, b"\x89PNG\r\n\x1a\nthis is not really a PNG").expect("write");
    let run = run_scanner(
        &["parse", "--image", garbage.to_str().expect("utf-8")],
        "",
        &[],
        None,
    );
    assert_eq!(run.code, 2);
    assert!(run.stdout.starts_with("UNREADABLE"), "{run:?}");
    assert!(
        run.stdout.contains("not a readable PNG or JPEG image"),
        "{run:?}"
    );

    let text = dir.path().join("notes.jpg");
    std::fs::write(&text, "just some text").expect("write");
    let run = run_scanner(
        &["verify", "--image", text.to_str().expect("utf-8")],
        "",
        &[],
        None,
    );
    // Without a configured log key, verify stops before reading anything.
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no trusted log key"), "{run:?}");
}

#[test]
fn a_code_in_a_photo_that_is_not_gs1_data_is_unreadable() {
    let dir = tempfile::tempdir().expect("dir");
    let mut photo = background(400, 400, 5);
    draw_qr(&mut photo, "hello, world", 5.0, 0.0, 200.0, 200.0);
    let path = save(&photo, dir.path(), "hello.png");
    let run = run_scanner(
        &["parse", "--json", "--image", path.to_str().expect("utf-8")],
        "",
        &[],
        None,
    );
    assert_eq!(run.code, 2);
    assert_eq!(run.json()["error"]["code"], "unreadable_code");
}
