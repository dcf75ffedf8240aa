//! Kill -9 in the middle of a large import: after restart every offer is complete or absent,
//! and the journal agrees with the offers and the counters.

mod common;

use common::*;
use sofi::store::{Operation, Store};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[test]
fn sigkill_during_import_leaves_a_consistent_store() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("gros.xml");
    generate(40_000, 3, &file);
    let data = tmp.path().join("d");
    let mut child = sofi()
        .arg("--data-dir")
        .arg(&data)
        .arg("import")
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the store has grown past its empty size, then kill mid-way.
    let t0 = Instant::now();
    let size = |p: &std::path::Path| -> u64 {
        walk(p)
            .iter()
            .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
            .sum()
    };
    while size(&data) < 3_000_000 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let finished_already = child.try_wait().unwrap().is_some();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !finished_already,
        "the import should still be running when killed"
    );

    let store = Store::open(&data).expect("store reopens after SIGKILL");
    let c = store.compteurs().unwrap();
    let mut live = BTreeSet::new();
    let (mut actions, mut sessions, mut diffusables) = (0u64, 0u64, 0u64);
    for o in store.offres() {
        let o = o.expect("every stored offer decodes whole");
        let f = &o.formation;
        assert!(!f.actions.is_empty(), "{} has its actions", f.numero);
        assert!(
            f.actions.iter().all(|a| !a.sessions.is_empty()),
            "{} has its sessions",
            f.numero
        );
        assert!(!f.organisme.siret.is_empty());
        actions += f.actions.len() as u64;
        sessions += f.sessions().count() as u64;
        diffusables += o.verdict.diffusable() as u64;
        live.insert(f.numero.clone());
    }
    assert!(!live.is_empty(), "some offers were stored before the kill");
    assert!(live.len() < 40_000 / 2, "and the import was cut short");
    // Replaying the journal gives exactly the stored offers.
    let mut replay = BTreeSet::new();
    let mut last = 0;
    for e in store.journal_depuis(0) {
        let e = e.unwrap();
        assert_eq!(e.seq, last + 1, "sequence numbers have no gap");
        last = e.seq;
        match e.operation {
            Operation::Ecriture => replay.insert(e.numero),
            _ => replay.remove(&e.numero),
        };
    }
    assert_eq!(replay, live);
    assert_eq!(c.journal_seq, last);
    assert_eq!(c.formations, live.len() as u64);
    assert_eq!(
        (c.actions, c.sessions, c.diffusables),
        (actions, sessions, diffusables)
    );
    drop(store);

    // Finishing the import afterwards completes the store.
    let (code, rep) = import(&data, &[&file], &[]);
    assert_eq!(code, 0);
    assert_eq!(
        rep[0]["rapport"]["inchangees"].as_u64().unwrap(),
        live.len() as u64
    );
    assert_eq!(stats(&data)["sessions"], 40_000);
}

fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}
