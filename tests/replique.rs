//! Read replicas on loopback: a primary and two `serve --suivre`, with writes, kills and
//! restarts, converging to the same feed bytes.

mod common;

use common::*;
use std::time::{Duration, Instant};

fn sante(s: &Server) -> serde_json::Value {
    s.wait_health()
}

fn flux(s: &Server) -> Vec<u8> {
    let (status, r) = call(ureq::get(&s.url("/lheo/offres.xml")), None);
    assert_eq!(status, 200);
    bytes(r)
}

/// Waits until the replica has applied all of the primary's journal and indexed it.
fn a_jour(replique: &Server, primaire: &Server, delai: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        let seq = sante(primaire)["journal_seq"].clone();
        let h = sante(replique);
        if h["replique"]["applique"] == seq && h["index_seq"] == h["journal_seq"] {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < delai,
            "replica behind: {h} (primary at {seq})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn replique(dir: &std::path::Path, primaire: &Server) -> Server {
    Server::start_avec(
        dir,
        false,
        &[
            ("SOFI_SUIVRE", primaire.url("").as_str()),
            ("SOFI_SUIVRE_RESYNC", "50"),
        ],
    )
}

fn importer(primaire: &Server, fichier: &std::path::Path, source: &str) {
    let (status, _) = call(
        ureq::post(&primaire.url(&format!("/api/v1/import?source={source}"))).set(
            "authorization",
            &format!("Bearer {}", primaire.token.trim()),
        ),
        Some(&std::fs::read(fichier).unwrap()),
    );
    assert_eq!(status, 200);
}

#[test]
fn two_replicas_follow_the_primary_through_writes_kills_and_a_resync() {
    let tmp = tempfile::tempdir().unwrap();
    let primaire = Server::start(&tmp.path().join("p"), true);
    let r1 = replique(&tmp.path().join("r1"), &primaire);
    let mut r2 = replique(&tmp.path().join("r2"), &primaire);
    a_jour(&r1, &primaire, Duration::from_secs(60));
    a_jour(&r2, &primaire, Duration::from_secs(60));
    let reference = flux(&primaire);
    assert!(reference.len() > 1_000_000);
    assert!(flux(&r1) == reference && flux(&r2) == reference);
    assert_eq!(sante(&r1)["replique"]["resyncs"], 1);

    // A write on the primary is on both replicas, indexed, within 2 s.
    let numero = {
        let v: serde_json::Value = call(
            ureq::get(&primaire.url("/api/v1/recherche?q=cariste")),
            None,
        )
        .1
        .into_json()
        .unwrap();
        v["resultats"][0]["formation_numero"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let url = |s: &Server| s.url(&format!("/api/v1/formations/{}", urlencode(&numero)));
    assert_eq!(call(ureq::get(&url(&r1)), None).0, 200);
    let (status, _) = call(
        ureq::delete(&url(&primaire)).set(
            "authorization",
            &format!("Bearer {}", primaire.token.trim()),
        ),
        None,
    );
    assert!(status == 200 || status == 204, "{status}");
    let t0 = Instant::now();
    for r in [&r1, &r2] {
        while call(ureq::get(&url(r)), None).0 != 404 {
            assert!(t0.elapsed() < Duration::from_secs(2), "not followed in 2 s");
            std::thread::sleep(Duration::from_millis(10));
        }
        a_jour(
            r,
            &primaire,
            Duration::from_secs(2).saturating_sub(t0.elapsed()),
        );
    }
    eprintln!(
        "a deletion reached both replicas, indexed, in {:?}",
        t0.elapsed()
    );

    // Writes and the back-office on a replica are sent to the primary.
    let (status, r) = call(ureq::post(&r1.url("/api/v1/import")), Some(b""));
    assert_eq!(status, 307);
    assert_eq!(
        r.header("location").unwrap(),
        primaire.url("/api/v1/import")
    );
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let (status, r) = call(agent.get(&r1.url("/espace")), None);
    assert_eq!(status, 307);
    assert!(r
        .header("location")
        .unwrap()
        .starts_with(&primaire.url("/espace")));

    // A replica killed, the primary written meanwhile, the replica restarted: it takes the
    // changes since where it stopped.
    let _ = r2.child.kill();
    let _ = r2.child.wait();
    let petit = tmp.path().join("petit.xml");
    generate(20, 11, &petit);
    importer(&primaire, &petit, "petit");
    let r2b = replique(&tmp.path().join("r2"), &primaire);
    a_jour(&r2b, &primaire, Duration::from_secs(30));
    assert_eq!(
        sante(&r2b)["replique"]["resyncs"],
        0,
        "caught up, not resynced"
    );
    drop(r2b);

    // Killed again and left far behind (more than SOFI_SUIVRE_RESYNC entries): it takes
    // the full feed again by itself.
    let gros = tmp.path().join("gros.xml");
    generate(400, 12, &gros);
    importer(&primaire, &gros, "gros");
    let seq = sante(&primaire)["journal_seq"].as_u64().unwrap();
    let r2c = replique(&tmp.path().join("r2"), &primaire);
    a_jour(&r2c, &primaire, Duration::from_secs(60));
    let h = sante(&r2c);
    assert_eq!(h["replique"]["resyncs"], 1, "{h}");
    assert!(seq > 50);
    a_jour(&r1, &primaire, Duration::from_secs(30));

    // All three serve the same offer, byte for byte.
    let reference = flux(&primaire);
    assert!(flux(&r1) == reference, "replica 1 differs");
    assert!(flux(&r2c) == reference, "replica 2 differs");
    // Its lag is in /metrics.
    let (_, r) = call(ureq::get(&r1.url("/metrics")), None);
    let m = r.into_string().unwrap();
    assert!(m.contains("\nsofi_replique_retard_entrees 0\n"), "{m}");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
