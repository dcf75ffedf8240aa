//! Partner keys over real HTTP: forced filters that asking wider never widens (search, offer,
//! feed), a key only in a header, forged and revoked keys, per-key and anonymous quotas
//! (429 with Retry-After, served again after), the site's pages never limited, usage
//! counted and read back with the key, and keys created and revoked by staff.

mod common;

use common::*;
use sofi::store::{ClePartenaire, Store};
use std::collections::BTreeSet;

fn get(srv: &Server, path: &str, cle: Option<&str>) -> (u16, ureq::Response) {
    let mut r = ureq::get(&srv.url(path));
    if let Some(c) = cle {
        r = r.set("x-sofi-cle", c);
    }
    call(r, None)
}

fn json(srv: &Server, path: &str, cle: Option<&str>) -> (u16, serde_json::Value) {
    let (st, r) = get(srv, path, cle);
    (st, r.into_json().unwrap_or_default())
}

/// The départements of a search's hits.
fn departements(v: &serde_json::Value) -> BTreeSet<String> {
    v["resultats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["departement"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The formation numbers of a feed.
fn numeros(xml: &str) -> BTreeSet<String> {
    xml.match_indices("<formation numero=\"")
        .map(|(i, m)| {
            let rest = &xml[i + m.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

fn cle(store: &Store, nom: &str, deps: &[&str], par_minute: u32) -> String {
    let (jeton, h) = sofi::accounts::new_token();
    store
        .creer_cle(
            &ClePartenaire {
                nom: nom.into(),
                departements: deps.iter().map(|d| d.to_string()).collect(),
                par_minute,
                par_jour: 1_000_000,
                ..Default::default()
            },
            h,
            "test",
        )
        .unwrap();
    jeton
}

#[test]
fn keys_force_their_filters_and_quotas_answer_429() {
    let tmp = tempfile::tempdir().unwrap();
    let g = tmp.path().join("g.xml");
    generate(3000, 5, &g);
    let data = tmp.path().join("data");
    let (code, _) = import(&data, &[&g], &[]);
    assert_eq!(code, 0);
    let store = Store::open(&data).unwrap();
    let a = cle(&store, "Portail 44", &["44"], 10_000);
    let b = cle(&store, "Portail 49", &["49"], 10_000);
    let lente = cle(&store, "Petit partenaire", &[], 30);
    let revoquee = cle(&store, "Ancien partenaire", &[], 100);
    assert!(store.revoquer_cle(4, "test").unwrap());
    let (journaliere, h) = sofi::accounts::new_token();
    store
        .creer_cle(
            &ClePartenaire {
                nom: "Cinq par jour".into(),
                par_minute: 1000,
                par_jour: 5,
                ..Default::default()
            },
            h,
            "test",
        )
        .unwrap();
    drop(store);
    let srv = Server::start_avec(&data, false, &[("SOFI_ANONYME_PAR_MINUTE", "20")]);

    // Two keys, two départements, whatever they ask.
    for (jeton, dep, autre) in [(&a, "44", "49"), (&b, "49", "44")] {
        for q in [
            "/api/v1/recherche?q=formation&par_page=50".to_string(),
            format!("/api/v1/recherche?q=formation&departement={autre}&par_page=50"),
            format!("/api/v1/recherche?departement={autre}&departement={dep}&par_page=50"),
        ] {
            let (st, v) = json(&srv, &q, Some(jeton));
            assert_eq!(st, 200, "{q}: {v}");
            assert!(v["total"].as_u64().unwrap() > 0, "{q}");
            assert_eq!(departements(&v), BTreeSet::from([dep.to_string()]), "{q}");
            let facette: BTreeSet<String> = v["facettes"]["departement"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| x["nombre"].as_u64() > Some(0))
                .map(|x| x["valeur"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(facette, BTreeSet::from([dep.to_string()]), "{q}");
        }
    }
    // The same search without a key sees both.
    let (_, v) = json(&srv, "/api/v1/recherche?q=formation&par_page=50", None);
    assert!(departements(&v).len() > 1);

    // Feeds: the key's département only, even asked for another.
    let feed = |cle: &str, q: &str| {
        let (st, r) = get(&srv, &format!("/lheo/offres.xml{q}"), Some(cle));
        assert_eq!(st, 200);
        numeros(&r.into_string().unwrap())
    };
    let fa = feed(&a, "");
    let fb = feed(&b, "");
    assert!(!fa.is_empty() && !fb.is_empty());
    assert_eq!(feed(&a, "?departement=49"), fa, "asking 49 with the 44 key");
    let (_, r) = get(&srv, "/lheo/offres.xml?departement=49", None);
    let anonyme49 = numeros(&r.into_string().unwrap());
    // An offer of 49 only: the 44 key does not see it, the 49 key does.
    let seul49 = anonyme49
        .difference(&fa)
        .next()
        .expect("an offer of 49 alone")
        .clone();
    let chemin = format!("/api/v1/formations/{seul49}");
    assert_eq!(get(&srv, &chemin, Some(&a)).0, 404);
    assert_eq!(get(&srv, &chemin, Some(&b)).0, 200);

    // A key in the address, a forged key, a revoked key.
    let (st, v) = json(&srv, &format!("/api/v1/recherche?q=x&cle={a}"), None);
    assert_eq!(
        (st, v["erreur"]["code"].as_str()),
        (400, Some("cle-dans-l-adresse"))
    );
    let (st, v) = json(&srv, "/api/v1/recherche?q=x", Some("0000forged"));
    assert_eq!(
        (st, v["erreur"]["code"].as_str()),
        (401, Some("cle-inconnue"))
    );
    let (st, v) = json(&srv, "/api/v1/recherche?q=x", Some(&revoquee));
    assert_eq!(
        (st, v["erreur"]["code"].as_str()),
        (401, Some("cle-revoquee"))
    );

    // A key's quota: 30 a minute, then 429 with Retry-After, then served again.
    let mut refus = None;
    for i in 0..40 {
        let (st, r) = get(&srv, "/api/v1/suggestions?q=comp", Some(&lente));
        if st == 429 {
            refus = Some((i, r));
            break;
        }
        assert_eq!(st, 200);
    }
    let (i, r) = refus.expect("429 past the quota");
    assert!(i >= 29, "not before the quota: {i}");
    let attente: u64 = r.header("retry-after").unwrap().parse().unwrap();
    let v: serde_json::Value = r.into_json().unwrap();
    assert_eq!(v["erreur"]["code"], "quota-minute", "{v}");
    assert!(v["erreur"]["message"]
        .as_str()
        .unwrap()
        .contains("30 requêtes par minute"));
    assert!((1..=3).contains(&attente), "{attente}");
    std::thread::sleep(std::time::Duration::from_secs(attente));
    assert_eq!(get(&srv, "/api/v1/suggestions?q=comp", Some(&lente)).0, 200);
    // Another key is not touched by it.
    assert_eq!(get(&srv, "/api/v1/suggestions?q=comp", Some(&a)).0, 200);
    // A daily allowance: five, then 429 until one comes back, hours later.
    for _ in 0..5 {
        assert_eq!(
            get(&srv, "/api/v1/suggestions?q=comp", Some(&journaliere)).0,
            200
        );
    }
    let (st, r) = get(&srv, "/api/v1/suggestions?q=comp", Some(&journaliere));
    assert_eq!(st, 429);
    let attente: u64 = r.header("retry-after").unwrap().parse().unwrap();
    let v: serde_json::Value = r.into_json().unwrap();
    assert_eq!(v["erreur"]["code"], "quota-jour", "{v}");
    assert!(attente > 3600, "{attente}");

    // Anonymous: 20 a minute from this address (some spent above); the site's pages, and
    // the site's own calls, never limited.
    let mut vus429 = false;
    for _ in 0..25 {
        if get(&srv, "/api/v1/suggestions?q=comp", None).0 == 429 {
            vus429 = true;
            break;
        }
    }
    assert!(vus429, "the anonymous quota holds");
    for _ in 0..30 {
        assert_eq!(get(&srv, "/recherche?q=comptabilite", None).0, 200);
    }
    let (st, _) = call(
        ureq::get(&srv.url("/api/v1/suggestions?q=comp")).set("sec-fetch-site", "same-origin"),
        None,
    );
    assert_eq!(st, 200, "the site's own suggestions");

    // Usage, read with the key: its own only.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (st, v) = json(&srv, "/api/v1/partenaire/usage", Some(&a));
    assert_eq!(st, 200, "{v}");
    let recherche: u64 = v["usage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["route"] == "recherche")
        .map(|u| u["requetes"].as_u64().unwrap())
        .sum();
    assert_eq!(recherche, 3, "{v}");
    let (st, _) = json(&srv, "/api/v1/partenaire/usage", None);
    assert_eq!(st, 401);
    // The same on a page, the key in the form's body.
    let poster = |cle: &str| {
        let corps = format!("cle={cle}");
        let (st, r) = call(
            ureq::post(&srv.url("/partenaires/usage"))
                .set("content-type", "application/x-www-form-urlencoded"),
            Some(corps.as_bytes()),
        );
        (st, r.into_string().unwrap_or_default())
    };
    let (st, page) = poster(&a);
    assert_eq!(st, 200, "{page}");
    assert!(
        page.contains("Usage de la clé de Portail 44")
            && page.contains("<td>recherche</td><td>3</td>"),
        "{page}"
    );
    assert_eq!(poster("inconnue").0, 401);
}

/// A staff member creates a key on `/gestion/partenaires` (shown once), it works, they
/// revoke it, it stops working; both are in the audit trail.
#[test]
fn staff_create_and_revoke_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    compte_actif(&data, "equipe@carif.fr", "staff", None);
    let srv = Server::start_avec(&data, true, &[("SOFI_COOKIE_NON_SECURISE", "1")]);
    let mut equipe = Personne::connecter(&srv, "equipe@carif.fr");
    let (st, p) = equipe.get("/gestion/partenaires");
    assert_eq!(st, 200, "{p}");
    // A bad value is named, nothing created.
    let (st, p2) = equipe.post(
        "/gestion/partenaires",
        &[
            ("_csrf", &Personne::jeton(&p)),
            ("nom", "Portail"),
            ("departements", "99"),
            ("par_minute", "60"),
            ("par_jour", "1000"),
        ],
    );
    assert_eq!(st, 422);
    assert!(p2.contains("département « 99 » inconnu"), "{p2}");
    let (st, p) = equipe.post(
        "/gestion/partenaires",
        &[
            ("_csrf", &Personne::jeton(&p)),
            ("nom", "Mission locale de Nantes"),
            ("contact", "web@ml.fr"),
            ("origines", "https://www.ml-nantes.fr"),
            ("departements", "44"),
            ("par_minute", "60"),
            ("par_jour", "1000"),
        ],
    );
    assert_eq!(st, 200, "{p}");
    let i = p.find("class=\"cle-creee\">").expect("the key shown once") + 18;
    let cle = p[i..i + 64].to_string();
    let (st, v) = json(&srv, "/api/v1/recherche?q=formation", Some(&cle));
    assert_eq!(st, 200);
    assert_eq!(departements(&v), BTreeSet::from(["44".to_string()]));
    // From another origin than its own, a browser is refused.
    let (st, _) = call(
        ureq::get(&srv.url("/api/v1/recherche?q=formation"))
            .set("x-sofi-cle", &cle)
            .set("origin", "https://pirate.example"),
        None,
    );
    assert_eq!(st, 403);
    let (_, p) = equipe.get("/gestion/partenaires");
    assert!(!p.contains(&cle), "never shown again");
    let (st, _) = equipe.post(
        "/gestion/partenaires/1/revocation",
        &[("_csrf", &Personne::jeton(&p))],
    );
    assert_eq!(st, 303);
    let (st, v) = json(&srv, "/api/v1/recherche?q=formation", Some(&cle));
    assert_eq!(
        (st, v["erreur"]["code"].as_str()),
        (401, Some("cle-revoquee"))
    );
    let (_, p) = equipe.get("/gestion/historique?objet=cle-partenaire+1");
    assert!(p.contains("creation") && p.contains("revocation"), "{p}");
}

#[test]
fn behind_a_trusted_proxy_each_client_has_its_own_anonymous_quota() {
    let tmp = tempfile::tempdir().unwrap();
    let appel = |srv: &Server, xff: &str| {
        call(
            ureq::get(&srv.url("/api/v1/recherche?q=formation")).set("x-forwarded-for", xff),
            None,
        )
        .0
    };
    // Not trusted: the header is nobody's word, every request is the proxy's.
    let srv = Server::start_avec(tmp.path(), false, &[("SOFI_ANONYME_PAR_MINUTE", "3")]);
    let codes: Vec<u16> = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]
        .iter()
        .map(|x| appel(&srv, x))
        .collect();
    assert_eq!(codes, [200, 200, 200, 429]);
    drop(srv);
    // Trusted: each client counts for itself; an address the client wrote itself, left of
    // the proxy's, changes nothing.
    let srv = Server::start_avec(
        tmp.path(),
        false,
        &[
            ("SOFI_ANONYME_PAR_MINUTE", "3"),
            ("SOFI_PROXY_DE_CONFIANCE", "127.0.0.1,::1"),
        ],
    );
    for _ in 0..3 {
        assert_eq!(appel(&srv, "203.0.113.1"), 200);
    }
    assert_eq!(appel(&srv, "198.51.100.9, 203.0.113.1"), 429);
    assert_eq!(appel(&srv, "203.0.113.2"), 200);
}
