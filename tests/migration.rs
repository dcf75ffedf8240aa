//! `sofi migrate`: a store of the previous layout (format 1: offers whole in sled) brought to
//! this version's, resumed after a stop, then verified, exported and served.

mod common;

use common::*;

/// Writes in `vers` the format-1 layout of the store in `depuis`: each offer whole in the
/// `offres` tree, no body file, no format key.
fn format_1(depuis: &std::path::Path, vers: &std::path::Path) {
    let offres: Vec<sofi::store::OffreStockee> = {
        let store = sofi::store::Store::open(depuis).unwrap();
        store.offres().collect::<Result<_, _>>().unwrap()
    };
    let a = sled::open(depuis.join("store")).unwrap();
    let b = sled::open(vers.join("store")).unwrap();
    for nom in a.tree_names() {
        let (ta, tb) = (a.open_tree(&nom).unwrap(), b.open_tree(&nom).unwrap());
        match nom.as_ref() {
            b"offres" => {
                for o in &offres {
                    tb.insert(
                        o.formation.numero.as_bytes(),
                        sofi::store::encode(o).unwrap(),
                    )
                    .unwrap();
                }
            }
            _ => {
                for kv in ta.iter() {
                    let (k, v) = kv.unwrap();
                    let propre_au_format_2 = nom.as_ref() == b"meta"
                        && [&b"format"[..], b"corps", b"corps_fin", b"compteurs"]
                            .contains(&k.as_ref());
                    if !propre_au_format_2 {
                        tb.insert(k, v).unwrap();
                    }
                }
            }
        }
    }
    b.flush().unwrap();
}

#[test]
fn a_format_1_store_is_migrated_in_place_resumably_and_serves_the_same_offer() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let f = tmp.path().join("offre.xml");
    generate(5000, 9, &f);
    let (code, _) = import(&a, &[&f], &[]);
    assert_eq!(code, 0);
    format_1(&a, &b);
    let formations = stats(&a)["formations"].as_u64().unwrap();
    assert!(formations > 1000, "two batches at least");

    // Refused as it is, with what to do.
    let out = run(sofi().arg("--data-dir").arg(&b).arg("stats"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("sofi migrate"), "{}", stderr(&out));

    // Stopped after its first batch, then resumed.
    let out = run(sofi()
        .arg("--data-dir")
        .arg(&b)
        .args(["migrate", "--arret-apres", "1"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(b.join("avant-migration-1/store").is_dir());
    let out = run(sofi().arg("--data-dir").arg(&b).arg("migrate"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("(1000 l'étaient déjà)"),
        "{}",
        stderr(&out)
    );
    // Twice is nothing.
    let out = run(sofi().arg("--data-dir").arg(&b).arg("migrate"));
    assert!(stderr(&out).contains("rien à migrer"), "{}", stderr(&out));

    let out = run(sofi().arg("--data-dir").arg(&b).arg("verify").arg("--json"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stockage"], serde_json::json!([]), "{v}");
    assert_eq!(stats(&b), stats(&a));
    assert!(
        exporter(&a) == exporter(&b),
        "the migrated store exports another offer"
    );
    let mut s = Server::start(&b, false);
    assert_eq!(s.wait_health()["formations"].as_u64(), Some(formations));
    assert!(s.stop().success());
}
