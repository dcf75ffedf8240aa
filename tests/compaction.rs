//! The server compacts its body file by itself while imports and searches go on.

mod common;

use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One series of `/metrics` without labels.
fn metrique(server: &Server, nom: &str) -> f64 {
    let (status, r) = call(ureq::get(&server.url("/metrics")), None);
    assert_eq!(status, 200);
    let texte = r.into_string().unwrap();
    texte
        .lines()
        .find_map(|l| l.strip_prefix(nom)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{nom} absent de /metrics"))
}

#[test]
fn the_server_compacts_its_bodies_while_it_imports_and_searches() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut fichiers = Vec::new();
    for seed in 1..=2 {
        let f = tmp.path().join(format!("lot-{seed}.xml"));
        generate(400, seed, &f);
        fichiers.push(std::fs::read(&f).unwrap());
    }
    let mut server = Server::start_avec(
        &data,
        false,
        &[
            ("SOFI_COMPACTION_SEUIL", "20"),
            ("SOFI_COMPACTION_MIN_MO", "0"),
        ],
    );
    let importeur = Importeur::lancer(&server, fichiers);
    let arret = Arc::new(AtomicBool::new(false));
    let chercheur = {
        let (arret, url) = (arret.clone(), server.url("/api/v1/recherche?q=formation"));
        std::thread::spawn(move || {
            let mut n = 0;
            while !arret.load(Ordering::Relaxed) {
                let (status, r) = call(ureq::get(&url), None);
                assert_eq!(status, 200, "{}", r.into_string().unwrap_or_default());
                n += 1;
            }
            n
        })
    };
    // Imports replace every offer each time: the dead bytes pass 20 % at the second one.
    let t = Instant::now();
    while metrique(&server, "sofi_compactions_total") < 2.0 {
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "no compaction in 90 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    importeur.attendre(importeur.faits() + 2);
    arret.store(true, Ordering::Relaxed);
    let (ecrits, cherches) = (importeur.arreter(), chercheur.join().unwrap());
    assert!(ecrits >= 3 && cherches > 0);
    // Between compactions only the current body file is left (and the previous one while
    // a compaction runs).
    while metrique(&server, "sofi_compaction_en_cours") != 0.0 {
        std::thread::sleep(Duration::from_millis(100));
    }
    let sante = server.wait_health();
    assert!(server.stop().success());
    let corps: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".corps"))
        .collect();
    assert_eq!(corps.len(), 1, "{corps:?}");
    assert_ne!(corps[0].file_name(), "offres-1.corps");

    // Every offer reads back whole, journal and counters agree, and the body file is no
    // bigger than its live bodies and what was replaced since the last compaction.
    let out = run(sofi()
        .arg("--data-dir")
        .arg(&data)
        .args(["verify", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sain"], true, "{v}");
    let s = stats(&data);
    assert_eq!(s["formations"], sante["formations"]);
    assert_eq!(s["journal_seq"], sante["journal_seq"]);
    assert_eq!(
        s["corps_octets"].as_u64(),
        Some(corps[0].metadata().unwrap().len())
    );
    // And it serves again, from the compacted file.
    let mut s2 = Server::start(&data, false);
    assert_eq!(s2.wait_health()["formations"], sante["formations"]);
    let (status, _) = call(ureq::get(&s2.url("/api/v1/recherche?q=formation")), None);
    assert_eq!(status, 200);
    assert!(s2.stop().success());
}
