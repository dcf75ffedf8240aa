//! An answered write is on disk: `sofi serve` killed with SIGKILL at random moments while
//! clients post offers, delete them and drop files in the inbox; after each kill, every write
//! that was answered 2xx, and every inbox file moved to `done/`, is in the store.

mod common;

use common::*;
use sofi::store::Store;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The DAEU sample with its formation renumbered: one small valid offer per number.
fn offre(modele: &str, numero: &str) -> Vec<u8> {
    modele
        .replacen("numero=\"15_464888\"", &format!("numero=\"{numero}\""), 1)
        .into_bytes()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Attendu {
    Present,
    Absent,
}

#[test]
fn answered_writes_survive_sigkill() {
    let modele = std::fs::read_to_string(lheo("samples/trefle/daeu.xml")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let mut repondues = 0usize;
    let mut deposes = 0usize;
    for cycle in 0..8 {
        let server = Server::start(data, false);
        let stop = Arc::new(AtomicBool::new(false));
        // numero → what its last answered write means; numeros with a write in flight when
        // the server died are unknown and left out.
        let attendus: Arc<Mutex<HashMap<String, Attendu>>> = Arc::default();
        let en_vol: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut clients = Vec::new();
        for c in 0..3 {
            let (stop, attendus, en_vol) = (stop.clone(), attendus.clone(), en_vol.clone());
            let (url, token, modele) = (server.url(""), server.token.clone(), modele.clone());
            clients.push(std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(10))
                    .build();
                let auth = format!("Bearer {token}");
                // One write: in flight from before it is sent until it is answered 200; what
                // its answer means is then expected to survive. False once the server is gone.
                let ecrire = |numero: &str, attendu: Attendu, envoi: &dyn Fn() -> Option<u16>| {
                    en_vol.lock().unwrap().push(numero.to_string());
                    match envoi() {
                        Some(200) => {
                            attendus.lock().unwrap().insert(numero.to_string(), attendu);
                            en_vol.lock().unwrap().retain(|n| n != numero);
                            true
                        }
                        _ => false,
                    }
                };
                let mut k = 0;
                while !stop.load(Ordering::Relaxed) {
                    k += 1;
                    let numero = format!("C{cycle}-{c}-{k}");
                    let poste = ecrire(&numero, Attendu::Present, &|| {
                        agent
                            .post(&format!("{url}/api/v1/import?source=c{c}"))
                            .set("authorization", &auth)
                            .send_bytes(&offre(&modele, &numero))
                            .ok()
                            .map(|r| r.status())
                    });
                    if !poste {
                        return;
                    }
                    // Every other offer is deleted again.
                    let supprime = || {
                        agent
                            .delete(&format!("{url}/api/v1/formations/{numero}"))
                            .set("authorization", &auth)
                            .call()
                            .ok()
                            .map(|r| r.status())
                    };
                    if k % 2 == 0 && !ecrire(&numero, Attendu::Absent, &supprime) {
                        return;
                    }
                }
            }));
        }
        // Files dropped in the inbox meanwhile, atomically (dot name, then rename).
        let inbox = data.join("inbox");
        for i in 0..3 {
            let nom = format!("depot-{cycle}-{i}.xml");
            let tmp_nom = inbox.join(format!(".{nom}.tmp"));
            std::fs::write(&tmp_nom, offre(&modele, &format!("I{cycle}-{i}"))).unwrap();
            std::fs::rename(&tmp_nom, inbox.join(&nom)).unwrap();
        }
        // Kill at a moment that moves from cycle to cycle, while writes are in flight.
        std::thread::sleep(Duration::from_millis(700 + 211 * (cycle % 5)));
        let mut server = server;
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().unwrap();
        }
        let store = Store::open(data).expect("the store reopens after SIGKILL");
        let en_vol = en_vol.lock().unwrap().clone();
        for (numero, attendu) in attendus.lock().unwrap().iter() {
            if en_vol.contains(numero) {
                continue;
            }
            let present = store.offre(numero).unwrap().is_some();
            assert_eq!(
                present,
                *attendu == Attendu::Present,
                "cycle {cycle}: {numero} answered as {attendu:?}, lost by the kill"
            );
            repondues += 1;
        }
        for e in std::fs::read_dir(inbox.join("done")).unwrap() {
            let nom = e.unwrap().file_name().to_string_lossy().into_owned();
            if let Some(rest) = nom.strip_prefix(&format!("depot-{cycle}-")) {
                if let Some(i) = rest.strip_suffix(".xml") {
                    deposes += 1;
                    assert!(
                        store.offre(&format!("I{cycle}-{i}")).unwrap().is_some(),
                        "cycle {cycle}: {nom} is in done/ but its offer was lost"
                    );
                }
            }
        }
        drop(store);
        assert!(Path::new(&data.join("store")).exists());
    }
    // The test must have tried: many answered writes and inbox files, every one kept.
    assert!(repondues >= 100, "only {repondues} answered writes checked");
    assert!(deposes >= 8, "only {deposes} inbox files checked");
    eprintln!("{repondues} answered writes and {deposes} inbox files, none lost");
}
