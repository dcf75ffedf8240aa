//! Relevance, held: the judged query set (`benches/pertinence.txt`) on the demo offer
//! (generated as `sofi serve --demo` does, on a fixed day), and query understanding over a
//! real server: what was understood is in the answer and undone by `litteral=`, a place
//! typed in the "where" field never makes an error page.

mod common;

use common::*;
use sofi::generate::{Generateur, Parametres};
use sofi::import::{importer, Options};
use sofi::referentiel::Referentiels;
use sofi::search::{Config, Moteur};
use sofi::store::Store;
use std::sync::Arc;

/// Floors the engine holds on the demo offer (measured: docs/PERFORMANCE.md).
const PRECISION_MIN: f64 = 0.95;
const PART_MIN: f64 = 0.95;

#[test]
fn the_judged_set_holds_its_floor_on_the_demo_offer() {
    let refs = Arc::new(Referentiels::charger().unwrap());
    let jour = jiff::civil::date(2026, 12, 1);
    let mut xml = Vec::new();
    Generateur::new(
        &refs,
        Parametres {
            sessions: 5_000,
            seed: 2027,
            date_base: jour,
        },
    )
    .ecrire(&mut xml)
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let input = sofi::lheo::Input {
        lus: Default::default(),
        taille: Some(xml.len() as u64),
        reader: sofi::lheo::from_reader(std::io::Cursor::new(xml)),
    };
    let opts = Options {
        store: Some(&store),
        source: "demo".into(),
        remplacer: true,
        depot: None,
    };
    let r = importer(input, &refs, &opts, &|_| {}).unwrap();
    assert!(r.stockees > 1000, "{r:?}");
    let config = Arc::new(Config::charger(None).unwrap());
    let (moteur, _) = Moteur::ouvrir(&dir.path().join("index"), config, refs.clone()).unwrap();
    moteur.reindex(&store).unwrap();

    let jeu = sofi::pertinence::lire(sofi::pertinence::JEU).unwrap();
    assert!(jeu.len() >= 150, "{} requêtes", jeu.len());
    let t0 = std::time::Instant::now();
    let mesures =
        sofi::pertinence::evaluer(&moteur, &jeu, sofi::search::index::jour(jour)).unwrap();
    let bilans = sofi::pertinence::bilans(&mesures);
    eprintln!("{} requêtes en {:?}", jeu.len(), t0.elapsed());
    for b in &bilans {
        eprintln!(
            "{:<13} {:>4} P@10 {:.3} part {:.3} part<0,8 {}",
            b.genre, b.requetes, b.precision, b.part, b.sous_80
        );
    }
    let faibles: Vec<String> = mesures
        .iter()
        .filter(|m| m.part < 0.8 || m.precision < 0.5)
        .map(|m| {
            format!(
                "ligne {} « {} » : P@10 {:.2}, part {:.2}, {:?}",
                m.cas.ligne, m.cas.q, m.precision, m.part, m.premiers
            )
        })
        .collect();
    let non = sofi::pertinence::non_jugeables(&mesures);
    assert!(
        non.is_empty(),
        "the set no longer fits the demo offer: {non:?}"
    );
    assert!(faibles.is_empty(), "{faibles:#?}");
    let tout = bilans.last().unwrap();
    assert_eq!(tout.genre, "tout");
    assert!(tout.precision >= PRECISION_MIN, "{tout:?}");
    assert!(tout.part >= PART_MIN, "{tout:?}");
}

fn get(srv: &Server, path: &str) -> (u16, String) {
    let (st, r) = call(ureq::get(&srv.url(path)), None);
    (st, r.into_string().unwrap())
}

fn api(srv: &Server, q: &str) -> serde_json::Value {
    let (st, body) = get(srv, &format!("/api/v1/recherche?{q}"));
    assert_eq!(st, 200, "{q}: {body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn what_is_understood_is_shown_applied_and_undone() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), true);

    // A métier and a town: the town became a place with the default radius.
    let v = api(&srv, "q=comptabilit%C3%A9+nantes&par_page=100");
    let i = &v["interpretation"];
    assert_eq!(i["q"], "comptabilité", "{i}");
    let c = &i["compris"][0];
    assert_eq!(c["genre"], "lieu", "{i}");
    assert_eq!(c["texte"], "nantes");
    assert_eq!(c["libelle"], "à Nantes (30 km)");
    assert_eq!(
        c["parametres"],
        serde_json::json!([{"nom": "commune", "valeur": "44109"}, {"nom": "rayon", "valeur": "30"}])
    );
    let avec_lieu = v["total"].as_u64().unwrap();
    assert!(avec_lieu > 0);
    for h in v["resultats"].as_array().unwrap() {
        // Given within the radius, or at a distance.
        let km = h["distance_km"].as_f64();
        assert!(
            km.is_some_and(|k| k <= 30.5) || h["a_distance"] == true,
            "{h}"
        );
    }
    // The same as the clean query.
    let propre = api(&srv, "q=comptabilit%C3%A9&commune=44109&rayon=30");
    assert_eq!(propre["total"], v["total"]);
    // Undone: "nantes" is a word again.
    let v = api(&srv, "q=comptabilit%C3%A9+nantes&litteral=nantes");
    assert_eq!(v["interpretation"]["compris"], serde_json::json!([]));
    assert_eq!(v["interpretation"]["q"], "comptabilité nantes");
    assert_ne!(v["total"].as_u64().unwrap(), avec_lieu);

    // A place given as a parameter is not overridden by the words.
    let v = api(&srv, "q=comptabilit%C3%A9+nantes&departement=85");
    assert_eq!(v["interpretation"]["compris"], serde_json::json!([]));

    // Level, distance, CPF, work-study.
    for (q, genre, nom, valeur) in [
        ("bac%2B2+commerce", "niveau", "niveau", "5"),
        ("anglais+%C3%A0+distance", "a_distance", "a_distance", "1"),
        ("cpf+comptabilit%C3%A9", "financement", "financeur", "cpf"),
        ("cuisinier+en+alternance", "voie", "voie", "apprentissage"),
        ("cariste+44", "departement", "departement", "44"),
        ("serveur+44000", "lieu", "commune", "44109"),
    ] {
        let v = api(&srv, &format!("q={q}"));
        let c = &v["interpretation"]["compris"][0];
        assert_eq!(c["genre"], genre, "{q}: {v}");
        assert_eq!(c["parametres"][0]["nom"], nom, "{q}");
        assert_eq!(c["parametres"][0]["valeur"], valeur, "{q}");
    }
    // A misspelling is named, and finds what the right spelling finds.
    let v = api(&srv, "q=comptabilte");
    assert_eq!(v["interpretation"]["compris"][0]["genre"], "orthographe");
    assert_eq!(v["total"], api(&srv, "q=comptabilit%C3%A9")["total"]);
    // "vente" is a word: never corrected into another.
    let v = api(&srv, "q=vente");
    assert_eq!(v["interpretation"]["compris"], serde_json::json!([]));
    // Both genders find the same offers.
    for (f, m) in [
        ("infirmi%C3%A8re", "infirmier"),
        ("coiffeuse", "coiffeur"),
        ("cuisini%C3%A8re", "cuisinier"),
    ] {
        let (a, b) = (api(&srv, &format!("q={f}")), api(&srv, &format!("q={m}")));
        assert!(b["total"].as_u64().unwrap() > 0, "{m}");
        assert_eq!(a["total"], b["total"], "{f} / {m}");
    }

    // The site: chips that undo, and a place typed as people type it.
    let (st, page) = get(&srv, "/recherche?q=vente+nantes");
    assert_eq!(st, 200);
    assert!(page.contains("litteral=nantes"), "no undo link");
    assert!(page.contains("à Nantes (30 km) ✕"));
    for lieu in [
        "saint+nazaire",
        "St-Nazaire",
        "SAINT+NAZAIRE",
        "44600",
        "Saint-Nazaire+(44)",
    ] {
        let (st, page) = get(&srv, &format!("/recherche?q=cariste&commune={lieu}"));
        assert_eq!(st, 200, "{lieu}");
        assert!(
            page.contains("value=\"Saint-Nazaire (44)\""),
            "{lieu} not resolved"
        );
    }
    let (st, page) = get(&srv, "/recherche?q=cariste&commune=Introuvable-sur-Mer");
    assert_eq!(st, 200);
    assert!(
        page.contains("Aucune commune ne s&#39;appelle")
            || page.contains("Aucune commune ne s'appelle")
    );
}

#[test]
fn result_cards_show_funding_cpf_price_hours_level_and_recruitment() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start_avec(
        dir.path(),
        true,
        &[("SOFI_PUBLIC_URL", "https://formation.example.fr")],
    );
    let v = api(&srv, "par_page=100");
    let hits = v["resultats"].as_array().unwrap();
    assert!(hits.len() > 50);
    for h in hits {
        let f = &h["financement"];
        for k in ["public", "cpf", "personnel"] {
            assert!(f[k].is_boolean(), "{h}");
        }
    }
    let avec = |k: &str| hits.iter().filter(|h| !h[k].is_null()).count();
    assert!(avec("prix") > 10 && avec("heures") > 10 && avec("niveau_libelle") > 10);
    assert!(hits.iter().any(|h| h["financement"]["cpf"] == true));
    assert!(hits.iter().any(|h| h["financement"]["public"] == true));
    assert!(hits
        .iter()
        .flat_map(|h| h["prochaines_sessions"].as_array().unwrap())
        .any(|s| s["recrutement"].is_string()));
    // The same on the page: price the French way, hours, level in words.
    let h = hits.iter().find(|h| h["prix"].as_f64().is_some()).unwrap();
    let prix = h["prix"].as_f64().unwrap();
    let (_, page) = get(&srv, "/recherche?par_page=100");
    assert!(
        page.contains(&sofi::http::site::euros(prix)),
        "{prix} not shown as euros"
    );
    assert!(!page.contains(&format!("{prix:.2} €")));
    assert!(page.contains("Éligible CPF"));
    assert!(page.contains("Gratuit pour les demandeurs d'emploi"));
    assert!(page.contains("niveau 4 (bac)") || page.contains("niveau 3 (CAP, BEP)"));
    // Behind a TLS proxy: canonical links, sitemap, JSON-LD and the widget snippet say https.
    assert!(page.contains("<link rel=\"canonical\" href=\"https://formation.example.fr/recherche"));
    let (_, plan) = get(&srv, "/sitemap.xml");
    assert!(plan.contains("<loc>https://formation.example.fr/formation/"));
    assert!(!plan.contains("http://127.0.0.1"));
    let (_, p) = get(&srv, "/partenaires");
    assert!(p.contains("https://formation.example.fr/widget.js"));
    let numero = h["formation_numero"].as_str().unwrap();
    let (_, offre) = get(&srv, &format!("/formation/{numero}"));
    assert!(
        offre.contains("\"url\":\"https://formation.example.fr/formation/"),
        "JSON-LD url"
    );
}

#[test]
fn cpf_follows_the_registration_of_the_certification() {
    let refs = Referentiels::charger().unwrap();
    let mut f = sofi::model::Formation::default();
    f.certifications.push(sofi::model::Certification {
        code_rncp: Some("RNCP3976".into()), // ended on 2024-01-01
        ..Default::default()
    });
    let avant = jiff::civil::date(2023, 12, 1);
    let apres = jiff::civil::date(2026, 12, 1);
    assert!(sofi::diffusion::eligible_cpf_le(&f, &refs, avant));
    assert!(!sofi::diffusion::eligible_cpf_le(&f, &refs, apres));
    // A code newer than the référentiel's extract is taken as declared.
    f.certifications[0].code_rncp = Some("RNCP39999".into());
    assert!(sofi::diffusion::eligible_cpf_le(&f, &refs, apres));
}

/// A training place outside the region served is named (a warning: the offer is kept), and
/// the region is a setting.
#[test]
fn a_place_outside_the_region_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let g = tmp.path().join("g.xml");
    generate(5, 3, &g);
    let xml = std::fs::read_to_string(&g).unwrap();
    // The first training place moved to Paris.
    let debut = xml.find("<lieu-de-formation>").unwrap();
    let fin = xml[debut..].find("</lieu-de-formation>").unwrap() + debut;
    let lieu = &xml[debut..fin];
    let remplacer = |l: &str, balise: &str, valeur: &str| {
        let a = l.find(&format!("<{balise}>")).unwrap() + balise.len() + 2;
        let b = l[a..].find('<').unwrap() + a;
        format!("{}{valeur}{}", &l[..a], &l[b..])
    };
    let mut paris = remplacer(lieu, "codepostal", "75001");
    paris = remplacer(&paris, "ville", "Paris");
    paris = remplacer(&paris, "departement", "75");
    paris = remplacer(&paris, "code-INSEE-commune", "75056");
    paris = remplacer(&paris, "region", "11");
    paris = remplacer(&paris, "latitude", "48.85889");
    paris = remplacer(&paris, "longitude", "2.32004");
    let f = tmp.path().join("paris.xml");
    std::fs::write(&f, format!("{}{paris}{}", &xml[..debut], &xml[fin..])).unwrap();

    // Imported (as `--region` says), then the stored offers' findings read back.
    let verifier = |extra: &[&str]| -> Vec<String> {
        let d = tempfile::tempdir().unwrap();
        let o = run(sofi()
            .args(extra)
            .arg("--data-dir")
            .arg(d.path())
            .args(["import", "--json"])
            .arg(&f));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let store = Store::open(d.path()).unwrap();
        let out: Vec<String> = store
            .offres()
            .map(|o| o.unwrap())
            .flat_map(|o| o.verdict.constats)
            .filter(|c| c.code == "hors-region")
            .map(|c| c.message)
            .collect();
        assert_eq!(
            store.compteurs().unwrap().formations,
            2,
            "kept, not rejected"
        );
        out
    };
    let pdl = verifier(&[]);
    assert!(
        pdl.iter()
            .any(|m| m.contains("Paris (75)") && m.contains("Pays de la Loire")),
        "{pdl:?}"
    );
    assert!(pdl.len() < 3, "only the moved place: {pdl:?}");
    // Served from Île-de-France, Paris is at home and the others are not.
    let idf = verifier(&["--region", "11"]);
    assert!(!idf.iter().any(|m| m.contains("Paris")), "{idf:?}");
    assert!(idf.iter().any(|m| m.contains("Île-de-France")), "{idf:?}");
    let o = run(sofi().args(["--region", "99", "check"]).arg(&f));
    // (An unknown region stops the command, naming it.)
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--region « 99 »"));
}
