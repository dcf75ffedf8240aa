//! Search analytics over real HTTP: a burst of searches with and without results (site and
//! API) and a click from a results page appear in the staff pages' counts; queries that look
//! like personal data or are too long are dropped and counted; a query without results turned
//! into a synonym finds offers at once and after a restart; the privacy page states the retention; no
//! client address ends up on disk.

mod common;

use common::*;

fn total(srv: &Server, q: &str) -> u64 {
    let (st, r) = call(
        ureq::get(&srv.url(&format!(
            "/api/v1/recherche?q={}",
            form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        ))),
        None,
    );
    assert_eq!(st, 200);
    let v: serde_json::Value = r.into_json().unwrap();
    v["total"].as_u64().unwrap()
}

/// Every file under `dir`, as bytes.
fn octets_de(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(octets_de(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((p, b));
        }
    }
    out
}

#[test]
fn searches_clicks_and_zero_results_reach_the_staff_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let g = tmp.path().join("g.xml");
    generate(3000, 7, &g);
    let data = tmp.path().join("data");
    let (code, _) = import(&data, &[&g], &[]);
    assert_eq!(code, 0);
    compte_actif(&data, "equipe@carif.fr", "staff", None);
    // Its own copy of the search settings, where staff add synonyms.
    let config = tmp.path().join("index-config");
    std::fs::create_dir_all(&config).unwrap();
    for f in ["recherche.toml", "mots-vides.txt", "synonymes.txt"] {
        std::fs::copy(format!("index-config/{f}"), config.join(f)).unwrap();
    }
    let env = [
        ("SOFI_COOKIE_NON_SECURISE", "1"),
        ("SOFI_INDEX_CONFIG", config.to_str().unwrap()),
        ("SOFI_RETENTION_JOURS", "90"),
    ];
    let mut srv = Server::start_avec(&data, false, &env);

    assert!(total(&srv, "comptabilité") > 0);
    assert!(total(&srv, "Comptabilite") > 0);
    for _ in 0..3 {
        assert_eq!(total(&srv, "xylophoniste"), 0);
    }
    // Dropped: personal data, too long.
    total(&srv, "jean.dupont@exemple.fr");
    total(&srv, "rappelez-moi au 06 12 34 56 78");
    total(&srv, &"formation ".repeat(25));
    // The site: a results page, then a click on its first hit.
    let (st, r) = call(ureq::get(&srv.url("/recherche?q=comptabilit%C3%A9")), None);
    assert_eq!(st, 200);
    let page = r.into_string().unwrap();
    let i = page.find("href=\"/formation/").expect("a hit") + 6;
    let lien = page[i..i + page[i..].find('"').unwrap()].replace("&amp;", "&");
    assert!(lien.contains("?rq="), "{lien}");
    assert_eq!(call(ureq::get(&srv.url(&lien)), None).0, 200);
    // A forged click for a query nobody made counts for nothing.
    assert_eq!(
        call(
            ureq::get(&srv.url(&format!(
                "{}?rq=invente%7C",
                &lien[..lien.find('?').unwrap()]
            ))),
            None
        )
        .0,
        200
    );

    let mut equipe = Personne::connecter(&srv, "equipe@carif.fr");
    let (st, p) = equipe.get("/gestion/recherches");
    assert_eq!(st, 200, "{p}");
    // comptabilité ×3 (twice the API, once the site), xylophoniste ×3, 3 dropped.
    assert!(p.contains("3 recherches écartées"), "{p}");
    let top = &p[p.find("Recherches les plus fréquentes").unwrap()
        ..p.find("Recherches sans résultat").unwrap()];
    assert!(
        top.contains("<td>comptabilit</td>") && top.contains("<td>3</td>"),
        "{top}"
    );
    assert!(
        top.contains("33 %"),
        "one click in three comptabilité searches: {top}"
    );
    let zeros =
        &p[p.find("Recherches sans résultat").unwrap()..p.find("Demande et offre").unwrap()];
    assert!(zeros.contains("xylophon"), "{zeros}");
    assert!(!zeros.contains("invente") && !p.contains("dupont") && !p.contains("06 12"));
    assert!(p.contains("Demande et offre") && p.contains(" / "), "{p}");
    let (st, csv) = equipe.get("/gestion/recherches.csv");
    assert_eq!(st, 200);
    assert!(csv.starts_with("jour,type,mots"), "{csv}");
    assert!(
        csv.lines()
            .any(|l| l.contains(",recherche,xylophon") && l.ends_with(",3,3,0,0")),
        "{csv}"
    );

    // The query without results becomes a synonym: it finds offers at once, and after a
    // restart.
    let (st, p) = equipe.post(
        "/gestion/recherches/synonyme",
        &[
            ("_csrf", &Personne::jeton(&p)),
            ("mot", "xylophoniste"),
            ("alternatives", "comptabilite"),
        ],
    );
    assert_eq!(st, 200, "{p}");
    assert!(p.contains("Synonyme ajouté et appliqué"), "{p}");
    assert!(
        total(&srv, "xylophoniste") > 0,
        "the synonym applies at once"
    );
    let (_, p) = equipe.get("/gestion/historique?objet=index-config+synonymes.txt");
    assert!(p.contains("ajout-synonyme"), "audited: {p}");
    let (_, p) = equipe.get("/gestion/recherches");
    let cle = "xylophon|";
    let (st, _) = equipe.post(
        "/gestion/recherches/vue",
        &[("_csrf", &Personne::jeton(&p)), ("cle", cle)],
    );
    assert_eq!(st, 303);
    let (_, p) = equipe.get("/gestion/recherches");
    let zeros =
        &p[p.find("Recherches sans résultat").unwrap()..p.find("Demande et offre").unwrap()];
    assert!(!zeros.contains("xylophon"), "marked as seen: {zeros}");

    // The privacy page states the retention.
    let (st, r) = call(ureq::get(&srv.url("/confidentialite")), None);
    assert_eq!(st, 200);
    assert!(r.into_string().unwrap().contains("90 jours"));

    srv.stop();
    let srv = Server::start_avec(&data, false, &env);
    assert!(total(&srv, "xylophoniste") > 0, "and still after a restart");
    drop(srv);

    // No client address on disk.
    for (p, b) in octets_de(&data) {
        assert!(
            !b.windows(9).any(|w| w == b"127.0.0.1"),
            "{} holds a client address",
            p.display()
        );
    }
}
