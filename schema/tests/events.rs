use pedigree_schema::event::*;
#[test]
fn probe() {
    for t in [
        "2024-01-01T00:00:00z",
        "2024-01-01t00:00:00Z",
        "2024-01-01 00:00:00Z",
        "0000-01-01T00:00:00Z",
        "2024-01-01T12:34:60Z",
        "2016-12-31T23:59:60.5Z",
    ] {
        let r: Result<Timestamp, _> = serde_json::from_str(&format!("\"{t}\""));
        println!("{t} -> {:?} {:?}", r, r.as_ref().map(|x| x.to_string()));
    }
    let big = Timestamp::from_unix_micros(300_000_000_000_000_000).unwrap();
    println!("{big}");
    let neg = Timestamp::from_unix_micros(-62_200_000_000_000_000).unwrap();
    println!("{neg}");
}
