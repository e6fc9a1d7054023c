//! A party's region, for filtering alerts.
//!
//! Parties register a name, a role, a key and optionally a point on the map,
//! but no country. A GLN's first three digits, though, are the GS1 prefix of
//! the member organisation that issued it (GS1 General Specifications
//! §1.4.4), which is national: the country of that organisation is the
//! party's region. It is a registration fact, not a location: a company may
//! license its prefix in one country and trade in another.

/// GS1 prefix ranges (inclusive, first three digits) and the ISO 3166-1
/// alpha-2 country of the member organisation issuing them. Prefixes that
/// are restricted, for coupons, or for GS1 Global Office map to none.
const PREFIXES: &[(u16, u16, &str)] = &[
    (1, 19, "US"),
    (30, 39, "US"),
    (60, 139, "US"),
    (300, 379, "FR"),
    (380, 380, "BG"),
    (383, 383, "SI"),
    (385, 385, "HR"),
    (387, 387, "BA"),
    (389, 389, "ME"),
    (400, 440, "DE"),
    (450, 459, "JP"),
    (460, 469, "RU"),
    (470, 470, "KG"),
    (471, 471, "TW"),
    (474, 474, "EE"),
    (475, 475, "LV"),
    (476, 476, "AZ"),
    (477, 477, "LT"),
    (478, 478, "UZ"),
    (479, 479, "LK"),
    (480, 480, "PH"),
    (481, 481, "BY"),
    (482, 482, "UA"),
    (484, 484, "MD"),
    (485, 485, "AM"),
    (486, 486, "GE"),
    (487, 487, "KZ"),
    (489, 489, "HK"),
    (490, 499, "JP"),
    (500, 509, "GB"),
    (520, 521, "GR"),
    (528, 528, "LB"),
    (529, 529, "CY"),
    (530, 530, "AL"),
    (531, 531, "MK"),
    (535, 535, "MT"),
    (539, 539, "IE"),
    // GS1 Belgium & Luxembourg.
    (540, 549, "BE"),
    (560, 560, "PT"),
    (569, 569, "IS"),
    (570, 579, "DK"),
    (590, 590, "PL"),
    (594, 594, "RO"),
    (599, 599, "HU"),
    (600, 601, "ZA"),
    (640, 649, "FI"),
    (690, 699, "CN"),
    (700, 709, "NO"),
    (729, 729, "IL"),
    (730, 739, "SE"),
    (760, 769, "CH"),
    (770, 771, "CO"),
    (773, 773, "UY"),
    (775, 775, "PE"),
    (779, 779, "AR"),
    (780, 780, "CL"),
    (789, 790, "BR"),
    (800, 839, "IT"),
    (840, 849, "ES"),
    (850, 850, "CU"),
    (858, 858, "SK"),
    (859, 859, "CZ"),
    (860, 860, "RS"),
    (865, 865, "MN"),
    (868, 869, "TR"),
    (870, 879, "NL"),
    (880, 880, "KR"),
    (885, 885, "TH"),
    (888, 888, "SG"),
    (890, 890, "IN"),
    (893, 893, "VN"),
    (899, 899, "ID"),
    (900, 919, "AT"),
    (930, 939, "AU"),
    (940, 949, "NZ"),
    (955, 955, "MY"),
    (958, 958, "MO"),
];

/// The region of the party with this GLN: the country of the GS1 member
/// organisation that issued its prefix, if any.
pub fn of_gln(gln: &str) -> Option<&'static str> {
    let prefix: u16 = gln.get(..3)?.parse().ok()?;
    PREFIXES
        .iter()
        .find(|(first, last, _)| (*first..=*last).contains(&prefix))
        .map(|(_, _, country)| *country)
}

/// Whether `text` looks like a region code (two ASCII capitals).
pub fn is_code(text: &str) -> bool {
    text.len() == 2 && text.bytes().all(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_map_to_their_member_organisation() {
        assert_eq!(of_gln("5412345000013"), Some("BE"));
        assert_eq!(of_gln("4012345000009"), Some("DE"));
        assert_eq!(of_gln("3012345000004"), Some("FR"));
        // 950: GS1 Global Office, no country.
        assert_eq!(of_gln("9506000000014"), None);
        assert_eq!(of_gln("12"), None);
    }

    #[test]
    fn ranges_are_sorted_and_disjoint() {
        assert!(PREFIXES.windows(2).all(|w| w[0].1 < w[1].0));
        assert!(PREFIXES
            .iter()
            .all(|(first, last, code)| first <= last && is_code(code)));
    }
}
