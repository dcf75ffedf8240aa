//! The generator: deterministic, schema-valid, realistic, and clean under the rules.

mod common;

use common::*;

#[test]
fn generate_100k_sessions_validates_against_the_lheo_23_xsd() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("100k.xml");
    generate(100_000, 1, &p);
    assert_eq!(count_tag(&p, "session"), 100_000);
    xmllint_valid(&p);
}

#[test]
fn same_seed_same_bytes_and_other_seed_other_offer() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    generate(2_000, 42, &a);
    generate(2_000, 42, &b);
    generate(2_000, 43, &c);
    let (a, b, c) = (
        std::fs::read(a).unwrap(),
        std::fs::read(b).unwrap(),
        std::fs::read(c).unwrap(),
    );
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn generated_offer_is_realistic_and_passes_the_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("g.xml");
    generate(3_000, 5, &p);
    let (code, rep) = import(&tmp.path().join("d"), &[&p], &[]);
    assert_eq!(code, 0);
    let r = &rep[0]["rapport"];
    assert_eq!(r["rejetees"], 0, "{}", r["rejets"]);
    assert_eq!(r["avertissements"], 0);
    let s = stats(&tmp.path().join("d"));
    assert_eq!(s["sessions"], 3_000);
    let diff = s["diffusables"].as_u64().unwrap();
    let total = s["formations"].as_u64().unwrap();
    assert!(
        diff > total / 2 && diff < total,
        "a mix of listed and unlisted offers: {diff}/{total}"
    );
    let xml = std::fs::read_to_string(&p).unwrap();
    for dep in ["44", "49", "53", "72", "85"] {
        assert!(
            xml.contains(&format!("<departement>{dep}</departement>")),
            "département {dep}"
        );
    }
    assert!(
        xml.contains("<modalites-enseignement>2<"),
        "distance learning"
    );
    assert!(
        xml.contains("<modalites-entrees-sorties>1<"),
        "rolling entry"
    );
    assert!(xml.contains("<code-RNCP>RNCP"), "real certifications");
    assert!(
        xml.contains("<debut>2027"),
        "sessions dated around the base date"
    );
}
