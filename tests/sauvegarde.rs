//! `sofi backup` / `sofi restore`: a running server's store copied while it imports, the copy
//! verified, restored, and compared with the original offer by offer.

mod common;

use common::*;

#[test]
fn a_backup_taken_while_imports_run_restores_to_a_sound_store_and_a_quiet_one_to_the_same_offer() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut fichiers = Vec::new();
    for seed in 1..=3 {
        let f = tmp.path().join(format!("lot-{seed}.xml"));
        generate(300, seed, &f);
        fichiers.push(std::fs::read(&f).unwrap());
    }
    let mut server = Server::start(&data, true);

    // Imports of changing offers go on through the API during the whole backup.
    let importeur = Importeur::lancer(&server, fichiers);
    importeur.attendre(1);
    let avant = importeur.faits();
    let sauvegarde = tmp.path().join("sauvegarde-1");
    let out = run(sofi()
        .arg("--data-dir")
        .arg(&data)
        .arg("backup")
        .arg(&sauvegarde)
        .arg("--verify")
        .args(["--url", &server.url("")]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("sauvegarde vérifiée"),
        "{}",
        stderr(&out)
    );
    // Writes went on: the server was not stopped for the backup.
    importeur.attendre(avant + 2);
    importeur.arreter();

    // Restored, the copy is a sound store: journal, offers, counters and back-office agree.
    let restauree = tmp.path().join("restauree-1");
    let out = run(sofi()
        .arg("--data-dir")
        .arg(&restauree)
        .arg("restore")
        .arg(&sauvegarde));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(sofi()
        .arg("--data-dir")
        .arg(&restauree)
        .arg("verify")
        .arg("--json"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sain"], true, "{v}");

    // Writes stopped: a backup restores to exactly the same offer, byte for byte.
    let sauvegarde2 = tmp.path().join("sauvegarde-2");
    let out = run(sofi()
        .arg("--data-dir")
        .arg(&data)
        .arg("backup")
        .arg(&sauvegarde2)
        .args(["--url", &server.url("")]));
    assert!(out.status.success(), "{}", stderr(&out));
    let sante = server.wait_health();
    assert!(server.stop().success());
    let restauree2 = tmp.path().join("restauree-2");
    let out = run(sofi()
        .arg("--data-dir")
        .arg(&restauree2)
        .arg("restore")
        .arg(&sauvegarde2));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stats(&restauree2)["journal_seq"], sante["journal_seq"]);
    let a = exporter(&data);
    assert!(a.len() > 100_000);
    assert!(a == exporter(&restauree2), "the restored offer differs");
    // And it serves.
    let mut s2 = Server::start(&restauree2, false);
    assert_eq!(s2.wait_health()["formations"], sante["formations"]);
    assert!(s2.stop().success());

    // A backup or a restore never goes into a directory that holds something.
    let out = run(sofi()
        .arg("--data-dir")
        .arg(&data)
        .arg("backup")
        .arg(&sauvegarde2));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("n'est pas vide"), "{}", stderr(&out));
    let out = run(sofi()
        .arg("--data-dir")
        .arg(&data)
        .arg("restore")
        .arg(&sauvegarde2));
    assert_eq!(out.status.code(), Some(2));
    // A damaged backup is not reported good.
    let corps = std::fs::read_dir(&sauvegarde2)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".corps"))
        .unwrap()
        .path();
    let mut octets = std::fs::read(&corps).unwrap();
    let milieu = octets.len() / 2;
    octets[milieu] ^= 0x55;
    std::fs::write(&corps, octets).unwrap();
    let out = run(sofi()
        .arg("--data-dir")
        .arg(&data)
        .arg("backup")
        .arg(&sauvegarde2)
        .arg("--verify"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("NON vérifiée"), "{}", stderr(&out));
    // Nothing of the check is left behind.
    let restes: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("verification"))
        .collect();
    assert!(restes.is_empty());
    // Not a backup at all.
    let out = run(sofi()
        .arg("--data-dir")
        .arg(tmp.path().join("r3"))
        .arg("restore")
        .arg(&data));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("pas une sauvegarde"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn scheduled_backups_are_verified_and_only_the_last_ones_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let dossier = tmp.path().join("sauvegardes");
    let server = Server::start_avec(
        &data,
        true,
        &[
            ("SOFI_SAUVEGARDE_DOSSIER", dossier.to_str().unwrap()),
            ("SOFI_SAUVEGARDE_INTERVALLE", "1s"),
            ("SOFI_SAUVEGARDE_GARDER", "2"),
        ],
    );
    let fin = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // Three rounds at least: the first ones were removed.
    let mut vues = std::collections::BTreeSet::new();
    while vues.len() < 3 {
        assert!(std::time::Instant::now() < fin, "{vues:?}");
        for e in std::fs::read_dir(&dossier).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("sofi-") {
                vues.insert(n);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let (_, r) = call(ureq::get(&server.url("/metrics")), None);
    let m = r.into_string().unwrap();
    let verifiee = m
        .lines()
        .find_map(|l| l.strip_prefix("sofi_sauvegarde_verifiee_horodatage_secondes "))
        .unwrap();
    assert!(verifiee.parse::<f64>().unwrap() > 1.7e9, "{verifiee}");
    // Stopped at any moment, even killed: never more than two, all finished.
    let mut server = server;
    let _ = server.child.kill();
    let _ = server.child.wait();
    let gardees: Vec<_> = std::fs::read_dir(&dossier)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("sofi-"))
        .collect();
    assert!(gardees.len() <= 2, "{gardees:?}");
    for g in &gardees {
        assert!(dossier.join(g).join("sauvegarde.json").exists(), "{g}");
    }
    // Each restores.
    let out = run(sofi()
        .arg("--data-dir")
        .arg(tmp.path().join("r"))
        .arg("restore")
        .arg(dossier.join(&gardees[0])));
    assert!(out.status.success(), "{}", stderr(&out));
}
