//! Search over a real server on loopback: a relevance suite of French queries over hand-made
//! offers mixed into generated ones, every filter, facets against brute-force counts, exact
//! totals across pages, parameter errors, and near-real-time indexing.

mod common;

use common::*;
use serde_json::Value;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn today() -> jiff::civil::Date {
    jiff::Zoned::now().date()
}

fn lheo_date(days: i64) -> String {
    let d = today() + jiff::Span::new().days(days);
    format!("{:04}{:02}{:02}", d.year(), d.month(), d.day())
}

fn siret(n: u32) -> String {
    let base = format!("{:08}{:05}", 44_000_000 + n, n);
    (0..10)
        .map(|d| format!("{base}{d}"))
        .find(|s| sofi::rules::luhn(s))
        .unwrap()
}

/// One hand-made offer.
#[derive(Clone)]
struct O {
    numero: &'static str,
    intitule: &'static str,
    objectif: &'static str,
    formacode: &'static str,
    commune: (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        f64,
        f64,
    ),
    debut: i64,
    duree: i64,
    financeur: &'static str,
    org: u32,
    distance: bool,
    permanente: bool,
    public: &'static str,
    rncp: Option<&'static str>,
    niveau: Option<&'static str>,
}

const NANTES: (&str, &str, &str, &str, f64, f64) =
    ("44109", "44000", "Nantes", "44", 47.23209, -1.54818);
const REZE: (&str, &str, &str, &str, f64, f64) =
    ("44143", "44400", "Rezé", "44", 47.17675, -1.54990);
const ST_NAZAIRE: (&str, &str, &str, &str, f64, f64) =
    ("44184", "44600", "Saint-Nazaire", "44", 47.28022, -2.25109);
const ANGERS: (&str, &str, &str, &str, f64, f64) =
    ("49007", "49000", "Angers", "49", 47.47662, -0.55616);
const LAVAL: (&str, &str, &str, &str, f64, f64) =
    ("53130", "53000", "Laval", "53", 48.06123, -0.76557);
const LE_MANS: (&str, &str, &str, &str, f64, f64) =
    ("72181", "72000", "Le Mans", "72", 47.98867, 0.20008);
const LRSY: (&str, &str, &str, &str, f64, f64) = (
    "85191",
    "85000",
    "La Roche-sur-Yon",
    "85",
    46.66768,
    -1.40779,
);

fn base(numero: &'static str, intitule: &'static str, formacode: &'static str) -> O {
    O {
        numero,
        intitule,
        objectif: "Acquérir les compétences du métier.",
        formacode,
        commune: NANTES,
        debut: 30,
        duree: 60,
        financeur: "2",
        org: 1,
        distance: false,
        permanente: false,
        public: "80006",
        rncp: None,
        niveau: None,
    }
}

fn offres() -> Vec<O> {
    let mut v = vec![
        O {
            objectif: "Réaliser des installations électriques et obtenir l'habilitation.",
            ..base(
                "T_ELEC",
                "Électricité du bâtiment et habilitation électrique",
                "24054",
            )
        },
        // Privately funded, listed because RNCP 3976 is in Certif Info.
        O {
            commune: ANGERS,
            rncp: Some("RNCP3976"),
            niveau: Some("15"),
            financeur: "5",
            ..base(
                "T_COMPTA",
                "Comptabilité et gestion des petites entreprises",
                "32663",
            )
        },
        O {
            commune: LAVAL,
            org: 2,
            ..base("T_SOUD", "Soudeur industriel", "23026")
        },
        O {
            commune: LE_MANS,
            org: 3,
            financeur: "4",
            public: "82044",
            ..base("T_VENTE", "Vendeur en magasin", "34566")
        },
        O {
            commune: LRSY,
            org: 4,
            niveau: Some("13"),
            rncp: Some("RNCP35830"),
            ..base("T_AS", "Aide-soignant", "43436")
        },
        O {
            commune: ST_NAZAIRE,
            org: 5,
            ..base("T_BOUL", "Boulangerie artisanale", "21538")
        },
        O {
            commune: REZE,
            org: 6,
            ..base("T_ANG", "Anglais professionnel", "15234")
        },
        O {
            commune: NANTES,
            org: 7,
            ..base("T_CHAR", "Conduite de chariot élévateur", "31768")
        },
        O {
            org: 8,
            distance: true,
            commune: ANGERS,
            ..base("T_FOAD", "Bureautique à distance", "15052")
        },
        O {
            org: 8,
            commune: LAVAL,
            ..base("T_BUR_LAVAL", "Bureautique pour débutants", "15052")
        },
        O {
            org: 9,
            permanente: true,
            debut: -40,
            duree: 200,
            commune: LE_MANS,
            ..base("T_PERM", "Maçonnerie en entrées permanentes", "22334")
        },
        O {
            org: 10,
            debut: -200,
            duree: 30,
            commune: ANGERS,
            ..base("T_PASSE", "Cuisine du terroir", "42752")
        },
        O {
            org: 11,
            debut: 200,
            duree: 20,
            commune: LAVAL,
            ..base("T_TARD", "Cuisine gastronomique", "42752")
        },
    ];
    // One organisme with many offers on the same theme: capped per page.
    for (i, n) in [
        "T_MARK_1", "T_MARK_2", "T_MARK_3", "T_MARK_4", "T_MARK_5", "T_MARK_6",
    ]
    .iter()
    .enumerate()
    {
        v.push(O {
            org: 12,
            debut: 10 + i as i64,
            commune: NANTES,
            ..base(n, "Marketing digital et réseaux sociaux", "34566")
        });
    }
    v.push(O {
        org: 13,
        commune: NANTES,
        ..base(
            "T_MARK_AUTRE",
            "Marketing digital pour commerçants",
            "34566",
        )
    });
    v.push(O {
        org: 14,
        commune: NANTES,
        ..base(
            "T_MARK_AUTRE2",
            "Marketing digital et communication",
            "34566",
        )
    });
    v
}

fn xml(o: &O) -> String {
    let (insee, cp, ville, dep, lat, lon) = o.commune;
    let s = siret(o.org);
    let cert = o
        .rncp
        .map(|r| format!("<certification><code-RNCP>{r}</code-RNCP></certification>"))
        .unwrap_or_default();
    let niv = o
        .niveau
        .map(|n| format!("<code-niveau-sortie>{n}</code-niveau-sortie>"))
        .unwrap_or_default();
    let adresse = format!(
        "<adresse><ligne>1 rue de la Paix</ligne><codepostal>{cp}</codepostal><ville>{ville}</ville><departement>{dep}</departement><code-INSEE-commune>{insee}</code-INSEE-commune><region>52</region><pays>FR</pays><geolocalisation><latitude>{lat}</latitude><longitude>{lon}</longitude></geolocalisation></adresse>"
    );
    let sessions: String = (0..2)
        .map(|k| {
            let d = o.debut + k * 90;
            format!(
                "<session numero=\"{n}_S{k}\"><periode><debut>{}</debut><fin>{}</fin></periode><adresse-inscription>{adresse}</adresse-inscription></session>",
                lheo_date(d),
                lheo_date(d + o.duree),
                n = o.numero
            )
        })
        .collect();
    format!(
        r#"<formation numero="{n}"><domaine-formation><code-FORMACODE ref="V14">{fc}</code-FORMACODE></domaine-formation>
<intitule-formation>{t}</intitule-formation><objectif-formation>{obj}</objectif-formation><resultats-attendus>Attestation</resultats-attendus><contenu-formation>Modules pratiques.</contenu-formation>
<certifiante>{c}</certifiante><contact-formation><coordonnees><courriel>contact@exemple.fr</courriel></coordonnees></contact-formation>
<parcours-de-formation>1</parcours-de-formation><code-niveau-entree>0</code-niveau-entree>{cert}{niv}
<action numero="{n}_A"><rythme-formation>Temps plein</rythme-formation><code-public-vise ref="V14">{public}</code-public-vise><niveau-entree-obligatoire>0</niveau-entree-obligatoire><modalites-alternance>-</modalites-alternance>
<modalites-enseignement>{dist}</modalites-enseignement><conditions-specifiques>Aucune</conditions-specifiques><prise-en-charge-frais-possible>1</prise-en-charge-frais-possible>
<lieu-de-formation><coordonnees>{adresse}</coordonnees></lieu-de-formation><modalites-entrees-sorties>{es}</modalites-entrees-sorties>{sessions}
<organisme-financeur><code-financeur>{fin}</code-financeur></organisme-financeur></action>
<organisme-formation-responsable><numero-activite>52440000000</numero-activite><SIRET-organisme-formation><SIRET>{s}</SIRET></SIRET-organisme-formation><nom-organisme>Organisme {org}</nom-organisme><raison-sociale>Organisme {org} SAS</raison-sociale>
<coordonnees-organisme><coordonnees>{adresse}</coordonnees></coordonnees-organisme><contact-organisme><coordonnees><courriel>org@exemple.fr</courriel></coordonnees></contact-organisme></organisme-formation-responsable></formation>"#,
        n = o.numero,
        fc = o.formacode,
        t = o.intitule,
        obj = o.objectif,
        c = if o.rncp.is_some() { 1 } else { 0 },
        public = o.public,
        dist = if o.distance { 2 } else { 0 },
        es = if o.permanente { 1 } else { 0 },
        fin = o.financeur,
        org = o.org,
    )
}

struct Fixture {
    _tmp: tempfile::TempDir,
    server: Server,
}

/// One server for the whole suite: hand-made offers plus 2,000 generated sessions.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("data");
        let doc = format!(
            "<lheo xmlns=\"http://lheo.gouv.fr/2.3\"><offres>{}</offres></lheo>",
            offres().iter().map(xml).collect::<String>()
        );
        let f = tmp.path().join("fixture.xml");
        std::fs::write(&f, doc).unwrap();
        let (code, rep) = import(&d, &[&f], &[]);
        assert_eq!(code, 0);
        assert_eq!(
            rep[0]["rapport"]["rejetees"], 0,
            "{}",
            rep[0]["rapport"]["rejets"]
        );
        let g = tmp.path().join("g.xml");
        let out = run(sofi()
            .args(["generate", "--sessions", "2000", "--seed", "4", "-o"])
            .arg(&g));
        assert!(out.status.success());
        import(&d, &[&g], &[]);
        let server = Server::start(&d, false);
        Fixture { _tmp: tmp, server }
    })
}

fn get(q: &str) -> (u16, Value) {
    let f = fixture();
    let (status, r) = call(
        ureq::get(&f.server.url(&format!("/api/v1/recherche?{q}"))),
        None,
    );
    (status, r.into_json().unwrap_or(Value::Null))
}

fn ok(q: &str) -> Value {
    let (s, v) = get(q);
    assert_eq!(s, 200, "{q}: {v}");
    v
}

fn numeros(v: &Value) -> Vec<String> {
    v["resultats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["formation_numero"].as_str().unwrap().to_string())
        .collect()
}

fn top(q: &str) -> String {
    numeros(&ok(q)).first().cloned().unwrap_or_default()
}

/// `numero` is among the first five hits of `q`.
fn en_tete(q: &str, numero: &str) {
    let n = numeros(&ok(q));
    assert!(
        n.iter().take(5).any(|x| x == numero),
        "{q}: {numero} not in the top 5 of {n:?}"
    );
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[test]
fn accents_case_and_elision() {
    for q in [
        "electricite",
        "ÉLECTRICITÉ",
        "électricité",
        "l'électricité",
        "Electricite du batiment",
    ] {
        assert_eq!(top(&format!("q={}", enc(q))), "T_ELEC", "{q}");
    }
}

#[test]
fn plurals_feminine_and_hyphens() {
    en_tete("q=soudeurs", "T_SOUD");
    en_tete("q=vendeuse", "T_VENTE");
    en_tete("q=vendeurs", "T_VENTE");
    en_tete("q=aide-soignant", "T_AS");
    en_tete(&format!("q={}", enc("aide soignant")), "T_AS");
    en_tete("q=aides-soignants", "T_AS");
    // The same hits whatever the spelling.
    assert_eq!(
        numeros(&ok("q=aide-soignant")),
        numeros(&ok("q=aides%20soignantes"))
    );
}

#[test]
fn typos_on_long_words_only() {
    en_tete("q=comptabilte", "T_COMPTA");
    en_tete("q=boulangrie", "T_BOUL");
    en_tete("q=electricte", "T_ELEC");
    // A code is never fuzzy: an unknown RNCP finds nothing.
    assert_eq!(ok("q=RNCP34568")["total"], 0);
}

#[test]
fn thesaurus_and_configured_synonyms() {
    // Formacode synonyms point to their descriptor.
    en_tete("q=soudure", "T_SOUD");
    en_tete("q=TOEIC", "T_ANG");
    en_tete("q=panification", "T_BOUL");
    // index-config/synonymes.txt: cariste = chariot, manutention (a synonym weighs half the
    // word: the demo offer's "Titre professionnel cariste d'entrepôt" come first).
    let v = ok("q=cariste&par_page=100");
    assert!(numeros(&v).contains(&"T_CHAR".to_string()), "{v}");
}

#[test]
fn codes_in_the_query_become_exact_filters() {
    let v = ok("q=23026&par_page=100");
    assert!(numeros(&v).contains(&"T_SOUD".to_string()));
    assert_eq!(v["total"], ok("formacode=23026")["total"]);
    assert!(v["total"].as_u64().unwrap() < ok("")["total"].as_u64().unwrap());
    assert_eq!(numeros(&ok("q=RNCP3976")), vec!["T_COMPTA"]);
    let s = siret(4);
    assert_eq!(numeros(&ok(&format!("q={s}"))), vec!["T_AS"]);
    // A postal code of the region: a place, around its commune, with the default radius.
    let v = ok("q=53000&par_page=100");
    assert!(v["total"].as_u64().unwrap() >= 2);
    assert_eq!(v["interpretation"]["compris"][0]["genre"], "lieu");
    assert_eq!(
        v["interpretation"]["compris"][0]["parametres"][0]["valeur"],
        "53130"
    );
    for r in v["resultats"].as_array().unwrap() {
        let km = r["distance_km"].as_f64();
        assert!(
            km.is_some_and(|k| k <= 30.5) || r["a_distance"] == true,
            "{r}"
        );
    }
}

#[test]
fn generic_formacode_also_matches_descendants() {
    // 32654 Gestion financière comptabilité is the parent of 32663 Comptabilité.
    assert!(numeros(&ok("formacode=32654&q=comptabilite&par_page=100"))
        .contains(&"T_COMPTA".to_string()));
    let fils = ok("formacode=32663")["total"].as_u64().unwrap();
    assert!(fils >= 1 && ok("formacode=32654")["total"].as_u64().unwrap() >= fils);
}

#[test]
fn commune_departement_and_radius() {
    for r in ok("commune=44109&par_page=100")["resultats"]
        .as_array()
        .unwrap()
    {
        assert!(r["commune"] == "44109" || r["a_distance"] == true);
    }
    for r in ok("departement=85&par_page=100")["resultats"]
        .as_array()
        .unwrap()
    {
        assert!(r["departement"] == "85" || r["a_distance"] == true);
    }
    // 15 km around Nantes: Rezé (6 km) in, Saint-Nazaire (53 km) out.
    let v = ok("q=anglais&commune=44109&rayon=15&par_page=100");
    assert!(numeros(&v).contains(&"T_ANG".to_string()));
    for r in v["resultats"].as_array().unwrap() {
        assert!(
            r["a_distance"] == true || r["distance_km"].as_f64().unwrap() <= 15.0,
            "{r}"
        );
    }
    assert!(
        !numeros(&ok("q=boulangerie&commune=44109&rayon=15&par_page=100"))
            .contains(&"T_BOUL".to_string())
    );
    assert!(
        numeros(&ok("q=boulangerie&commune=44109&rayon=60&par_page=100"))
            .contains(&"T_BOUL".to_string())
    );
    assert!(numeros(&ok(
        "q=boulangerie&lat=47.28&lon=-2.25&rayon=5&par_page=100"
    ))
    .contains(&"T_BOUL".to_string()));
    // Sort by distance: non-decreasing.
    let v = ok("commune=44109&rayon=80&tri=distance&par_page=50");
    let d: Vec<f64> = v["resultats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["a_distance"] == false)
        .map(|r| r["distance_km"].as_f64().unwrap())
        .collect();
    assert!(d.len() > 3 && d.windows(2).all(|w| w[0] <= w[1]), "{d:?}");
}

#[test]
fn dates_upcoming_rolling_entry_and_windows() {
    // Default: upcoming only. The past session is hidden, the rolling-entry one is open.
    let v = ok("q=terroir");
    assert!(
        !numeros(&v).contains(&"T_PASSE".to_string()),
        "{:?}",
        numeros(&v)
    );
    assert_eq!(top("q=maconnerie"), "T_PERM");
    let passe = today() - jiff::Span::new().days(400);
    en_tete(&format!("q=terroir&debut_min={passe}"), "T_PASSE");
    // A window: sessions starting in it.
    let a = today() + jiff::Span::new().days(150);
    let b = today() + jiff::Span::new().days(260);
    let v = ok(&format!(
        "q=cuisine&debut_min={a}&debut_max={b}&par_page=100"
    ));
    let n = numeros(&v);
    assert!(
        n.contains(&"T_TARD".to_string()) && !n.contains(&"T_PASSE".to_string()),
        "{n:?}"
    );
    let tard = v["resultats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["formation_numero"] == "T_TARD")
        .unwrap();
    // Only its session inside the window is shown.
    assert_eq!(tard["prochaines_sessions"].as_array().unwrap().len(), 1);
    for s in tard["prochaines_sessions"].as_array().unwrap() {
        let d: jiff::civil::Date = s["debut"].as_str().unwrap().parse().unwrap();
        assert!(d >= a && d <= b);
    }
}

#[test]
fn distance_learning_ignores_place_and_ranks_after_local() {
    let v = ok("q=bureautique&commune=53130");
    let n = numeros(&v);
    assert!(
        n.contains(&"T_FOAD".to_string()),
        "distance offer found from Laval: {n:?}"
    );
    let i_local = n.iter().position(|x| x == "T_BUR_LAVAL").unwrap();
    let i_foad = n.iter().position(|x| x == "T_FOAD").unwrap();
    assert!(i_local < i_foad);
    for r in ok("a_distance=1&par_page=100")["resultats"]
        .as_array()
        .unwrap()
    {
        assert_eq!(r["a_distance"], true);
    }
    assert!(!numeros(&ok("q=bureautique&a_distance=0")).contains(&"T_FOAD".to_string()));
}

#[test]
fn organisme_cap_per_page() {
    let q = "q=marketing%20digital&commune=44109&par_page=5";
    let v = ok(q);
    let total = v["total"].as_u64().unwrap() as usize;
    assert!(total >= 6);
    let s12 = siret(12);
    let mut all = Vec::new();
    for p in 1..=total.div_ceil(5) {
        let v = ok(&format!("{q}&page={p}"));
        let page = v["resultats"].as_array().unwrap().clone();
        let n = page.iter().filter(|r| r["siret"] == s12.as_str()).count();
        let autres = page.len() - n;
        // At most 3 of one organisme on a page, unless nothing else is left to show.
        assert!(n <= 3 || autres == 0, "page {p}: {n} hits of one organisme");
        all.extend(numeros(&v));
    }
    let set: std::collections::BTreeSet<_> = all.iter().collect();
    assert_eq!(set.len(), all.len(), "no duplicates across pages");
    assert_eq!(all.len(), total, "nothing lost across pages");
    assert!(
        numeros(&ok(q))[..3]
            .iter()
            .filter(|n| n.starts_with("T_MARK_"))
            .count()
            <= 3
    );
}

#[test]
fn financeur_certification_niveau_public_organisme() {
    assert!(
        numeros(&ok("financeur=5&q=comptabilite&par_page=100")).contains(&"T_COMPTA".to_string())
    );
    assert!(
        !numeros(&ok("financeur=2&q=comptabilite&par_page=100")).contains(&"T_COMPTA".to_string())
    );
    // CPF: a certification whose registration still runs. RNCP 3976 ended on 2024-01-01
    // (rncp-fiches-2021.csv); RNCP 35830 is newer than the extract, taken as declared.
    assert!(!numeros(&ok("financeur=cpf&q=comptabilite&par_page=100"))
        .contains(&"T_COMPTA".to_string()));
    assert!(
        numeros(&ok("financeur=cpf&q=aide-soignant&par_page=100")).contains(&"T_AS".to_string())
    );
    let v = ok("certifiante=1&q=aide&par_page=100");
    assert!(numeros(&v).contains(&"T_AS".to_string()));
    assert!(!numeros(&ok("certifiante=0&par_page=100&q=soignant")).contains(&"T_AS".to_string()));
    assert!(numeros(&ok("niveau=5&q=comptabilite&par_page=100")).contains(&"T_COMPTA".to_string()));
    assert!(!numeros(&ok("niveau=7&q=comptabilite&par_page=100")).contains(&"T_COMPTA".to_string()));
    assert!(numeros(&ok("public=82044&q=vendeur&par_page=100")).contains(&"T_VENTE".to_string()));
    assert!(!numeros(&ok("public=80006&q=vendeur&par_page=100")).contains(&"T_VENTE".to_string()));
    assert_eq!(
        numeros(&ok(&format!("organisme={}", siret(2)))),
        vec!["T_SOUD"]
    );
}

#[test]
fn facets_are_disjunctive_and_match_filtered_totals() {
    let v = ok("q=marketing&departement=44");
    let deps = v["facettes"]["departement"].as_array().unwrap();
    // The département facet ignores its own selection: Maine-et-Loire still counted.
    let n49 = deps
        .iter()
        .find(|d| d["valeur"] == "49")
        .expect("49 listed")["nombre"]
        .as_u64()
        .unwrap();
    assert_eq!(
        n49,
        ok("q=marketing&departement=49")["total"].as_u64().unwrap()
    );
    let sel = deps.iter().find(|d| d["valeur"] == "44").unwrap();
    assert_eq!(sel["selectionne"], true);
    assert_eq!(
        sel["nombre"].as_u64().unwrap(),
        v["total"].as_u64().unwrap()
    );
    // Every facet value's count is the total of the search with that value selected instead.
    let base = ok("q=formation&par_page=1");
    for (facette, param) in [
        ("departement", "departement"),
        ("financeur", "financeur"),
        ("niveau", "niveau"),
        ("certifiante", "certifiante"),
    ] {
        for val in base["facettes"][facette].as_array().unwrap().iter().take(4) {
            let n = val["nombre"].as_u64().unwrap();
            let t = ok(&format!(
                "q=formation&{param}={}",
                val["valeur"].as_str().unwrap()
            ))["total"]
                .as_u64()
                .unwrap();
            assert_eq!(n, t, "{facette}={}", val["valeur"]);
        }
    }
    // A selected value stays listed at 0.
    let v = ok("q=soudeur&departement=85");
    assert_eq!(v["total"], 0);
    let d85 = v["facettes"]["departement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["valeur"] == "85")
        .unwrap()
        .clone();
    assert_eq!(
        (d85["nombre"].as_u64(), d85["selectionne"].as_bool()),
        (Some(0), Some(true))
    );
    // Hierarchical Formacode facet: a domain counts at least as much as its children.
    let v = ok("formacode=32654");
    let f = v["facettes"]["formacode"].as_array().unwrap();
    let parent = f.iter().find(|x| x["valeur"] == "32654").unwrap()["nombre"]
        .as_u64()
        .unwrap();
    for x in f.iter().filter(|x| x["parent"] == "32654") {
        assert!(x["nombre"].as_u64().unwrap() <= parent);
    }
    // Relative date facets grow with the window.
    let d = ok("")["facettes"]["debut"].as_array().unwrap().clone();
    let n = |m: &str| {
        d.iter()
            .find(|x| x["valeur"] == m)
            .map_or(0, |x| x["nombre"].as_u64().unwrap())
    };
    assert!(n("1m") <= n("3m") && n("3m") <= n("6m") && n("6m") > 0);
}

#[test]
fn exact_totals_across_pages() {
    let total = ok("departement=49&par_page=7")["total"].as_u64().unwrap();
    assert!(total > 20);
    let mut vus = std::collections::BTreeSet::new();
    let mut n = 0;
    for p in 1..=total.div_ceil(7) + 1 {
        let v = ok(&format!("departement=49&par_page=7&page={p}"));
        for r in v["resultats"].as_array().unwrap() {
            vus.insert(format!("{}|{}", r["action_numero"], r["commune"]));
            n += 1;
        }
    }
    assert_eq!(n as u64, total);
    assert_eq!(vus.len() as u64, total);
}

#[test]
fn results_carry_sessions_highlights_and_widening() {
    let v = ok("q=electricite&organisme="
        .to_string()
        .as_str()
        .replace("organisme=", &format!("organisme={}", siret(1)))
        .as_str());
    let r = &v["resultats"][0];
    for k in [
        "formation_numero",
        "action_numero",
        "intitule",
        "organisme",
        "commune",
        "departement",
        "prochaines_sessions",
        "autres_sessions",
        "a_distance",
        "extraits",
    ] {
        assert!(!r[k].is_null(), "{k} in {r}");
    }
    assert_eq!(r["prochaines_sessions"].as_array().unwrap().len(), 2);
    assert!(r["extraits"][0].as_str().unwrap().contains("<b>"));
    assert!(v["duree_ms"].as_f64().is_some());
    // Few hits in a commune: wider searches are proposed with their counts, each finding
    // more (a widening that finds nothing more is not offered).
    let v = ok("q=anglais&commune=44143&a_distance=0");
    let total = v["total"].as_u64().unwrap();
    assert!(total < 5, "{v}");
    let el = v["elargir"].as_array().unwrap();
    assert!(el.iter().any(|e| e["type"] == "region"), "{v}");
    assert!(el.iter().any(|e| e["type"] == "departement"), "{v}");
    for e in el {
        assert!(e["nombre"].as_u64().unwrap() > total, "{e}");
    }
}

#[test]
fn bad_parameters_are_400_naming_the_parameter() {
    for (q, p) in [
        ("formacode=abc", "formacode"),
        ("commune=99999", "commune"),
        ("departement=XX", "departement"),
        ("lat=47.2", "lon"),
        ("rayon=10", "rayon"),
        ("debut_min=2027-13-01", "debut_min"),
        ("debut_min=2027-05-01&debut_max=2027-01-01", "debut_max"),
        ("tri=prix", "tri"),
        ("tri=distance", "tri"),
        ("page=0", "page"),
        ("niveau=12", "niveau"),
        ("financeur=77", "financeur"),
        ("a_distance=peut-etre", "a_distance"),
        ("organisme=123", "organisme"),
        ("couleur=bleu", "couleur"),
    ] {
        let (s, v) = get(q);
        assert_eq!(s, 400, "{q}: {v}");
        assert_eq!(v["erreur"]["parametre"], p, "{q}");
        assert!(v["erreur"]["message"].as_str().unwrap().len() > 5);
    }
    let (s, v) = get(&"departement=44&".repeat(65));
    assert_eq!(s, 400);
    assert!(v["erreur"]["message"]
        .as_str()
        .unwrap()
        .contains("64 au plus"));
    // Capped, not refused.
    assert_eq!(ok("par_page=5000")["par_page"], 100);
    // Hostile strings: never a 5xx.
    for q in [
        "%00%01%02",
        "q=%F0%9F%92%A3%F0%9F%92%A3",
        "q=((((((",
        "q=*:*%20OR%201=1",
        &format!("q={}", "a".repeat(400)),
    ] {
        let (s, _) = get(q);
        assert!(s == 200 || s == 400, "{q}: {s}");
    }
}

#[test]
fn offer_suggestions_referentiels_openapi_and_http_details() {
    let f = fixture();
    let (s, r) = call(
        ureq::get(&f.server.url("/api/v1/formations/T_COMPTA")),
        None,
    );
    assert_eq!(s, 200);
    let v: Value = r.into_json().unwrap();
    assert_eq!(
        v["formation"]["actions"][0]["sessions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(
        v["verdict"]["diffusion"][0]["motif"]
            .as_str()
            .unwrap()
            .contains("Certif Info")
            || v["verdict"]["diffusion"][0]["diffusee"] == true
    );
    let (s, _) = call(
        ureq::get(&f.server.url("/api/v1/formations/INCONNUE")),
        None,
    );
    assert_eq!(s, 404);
    let (s, r) = call(
        ureq::get(&f.server.url("/api/v1/suggestions?q=compta")),
        None,
    );
    assert_eq!(s, 200);
    let sug: Value = r.into_json().unwrap();
    let types: Vec<&str> = sug
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"formacode") && types.contains(&"intitule"),
        "{sug}"
    );
    let (_, r) = call(ureq::get(&f.server.url("/api/v1/suggestions?q=nant")), None);
    assert!(r.into_string().unwrap().contains("Nantes"));
    for nom in ["formacode", "communes", "financeurs", "publics"] {
        let (s, r) = call(
            ureq::get(&f.server.url(&format!("/api/v1/referentiels/{nom}"))),
            None,
        );
        assert_eq!(s, 200);
        assert!(!r
            .into_json::<Value>()
            .unwrap()
            .as_array()
            .unwrap()
            .is_empty());
    }
    let (s, r) = call(ureq::get(&f.server.url("/api/v1/openapi.json")), None);
    assert_eq!(s, 200);
    assert!(r.into_json::<Value>().unwrap()["paths"]["/api/v1/recherche"].is_object());
    // ETag + 304, gzip, CORS.
    let url = f.server.url("/api/v1/recherche?q=comptabilite");
    let (_, r) = call(ureq::get(&url), None);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let etag = r.header("etag").unwrap().to_string();
    let (s, _) = call(ureq::get(&url).set("If-None-Match", &etag), None);
    assert_eq!(s, 304);
    let (_, r) = call(
        ureq::get(&f.server.url("/api/v1/recherche")).set("Accept-Encoding", "gzip"),
        None,
    );
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let (s, _) = call(ureq::request("OPTIONS", &url), None);
    assert_eq!(s, 204);
}

#[test]
fn a_posted_change_is_searchable_and_in_the_feed_within_a_second() {
    let f = fixture();
    let auth = format!("Bearer {}", f.server.token.trim());
    let mut o = offres().into_iter().find(|o| o.numero == "T_BOUL").unwrap();
    o.intitule = "Boulangerie et pâtisserie zythologique";
    let (_, r) = call(ureq::get(&f.server.url("/lheo/offres.xml?depuis=0")), None);
    let seq: u64 = r.header("x-sofi-journal").unwrap().parse().unwrap();
    let body = format!(
        "<lheo xmlns=\"http://lheo.gouv.fr/2.3\"><offres>{}</offres></lheo>",
        xml(&o)
    );
    let t0 = Instant::now();
    let (s, _) = call(
        ureq::post(&f.server.url("/api/v1/import?source=fixture")).set("Authorization", &auth),
        Some(body.as_bytes()),
    );
    assert_eq!(s, 200);
    loop {
        if top("q=zythologique") == "T_BOUL" {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "not searchable within 1 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, r) = call(
        ureq::get(&f.server.url(&format!("/lheo/offres.xml?depuis={seq}"))),
        None,
    );
    assert!(r.into_string().unwrap().contains("zythologique"));
    assert!(t0.elapsed() < Duration::from_secs(1));
}

/// Facet counts and totals against a count made here, by brute force, over the offers the
/// server diffuses (its LHÉO feed): groups are (action, place), a group counts when one of
/// its sessions is upcoming or open, and a dimension's own selection does not narrow its
/// own counts.
#[test]
fn facet_counts_equal_a_brute_force_count_over_the_store() {
    use std::collections::{BTreeMap, BTreeSet, HashMap};
    type Groupe = (Option<u64>, BTreeSet<String>, bool);
    let f = fixture();
    let (s, r) = call(ureq::get(&f.server.url("/lheo/offres.xml")), None);
    assert_eq!(s, 200);
    let xml = bytes(r);
    let refs = sofi::referentiel::Referentiels::charger().unwrap();
    let today = sofi::search::index::jour(jiff::Zoned::now().date());
    // Per group: département, financeur codes, and whether a session passes the default
    // date filter.
    let mut groupes: HashMap<(String, Option<u64>), Groupe> = HashMap::new();
    for o in sofi::lheo::LheoReader::new(&xml[..]) {
        let o = o.unwrap();
        for a in &o.formation.actions {
            let financeurs: BTreeSet<String> = a
                .financeurs
                .iter()
                .map(|x| x.code_financeur.clone())
                .collect();
            let perm = a.entrees_permanentes();
            let mut sessions: Vec<(Option<&sofi::model::Session>, bool)> = a
                .sessions
                .iter()
                .map(|s| {
                    let (d, e) = (sofi::search::index::debut(s), sofi::search::index::fin(s));
                    (Some(s), d >= today || (perm && e >= today))
                })
                .collect();
            if sessions.is_empty() {
                sessions.push((None, true));
            }
            for (s, ouverte) in sessions {
                let lieu = sofi::search::index::lieu(a, s, &refs);
                let g = groupes.entry((a.numero.clone(), lieu.commune)).or_insert((
                    lieu.departement,
                    financeurs.clone(),
                    false,
                ));
                g.2 |= ouverte;
            }
        }
    }
    let ouverts: Vec<&Groupe> = groupes.values().filter(|g| g.2).collect();
    assert!(ouverts.len() > 500, "{} open groups", ouverts.len());
    let dep = |g: &Groupe| g.0.map(sofi::search::index::dep_de_code);
    // Expected (département counts, financeur counts, total) under optional selections.
    let attendu = |sel_dep: Option<&str>, sel_fin: Option<&str>| {
        let passe_dep = |g: &&&Groupe| sel_dep.is_none_or(|d| dep(g).as_deref() == Some(d));
        let passe_fin = |g: &&&Groupe| sel_fin.is_none_or(|x| g.1.contains(x));
        let mut deps: BTreeMap<String, u64> = BTreeMap::new();
        for g in ouverts.iter().filter(passe_fin) {
            if let Some(d) = dep(g) {
                *deps.entry(d).or_default() += 1;
            }
        }
        let mut fins: BTreeMap<String, u64> = BTreeMap::new();
        for g in ouverts.iter().filter(passe_dep) {
            for x in &g.1 {
                *fins.entry(x.clone()).or_default() += 1;
            }
        }
        let total = ouverts.iter().filter(passe_dep).filter(passe_fin).count() as u64;
        (deps, fins, total)
    };
    let obtenu = |v: &Value, facette: &str| -> BTreeMap<String, u64> {
        v["facettes"][facette]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["nombre"].as_u64().unwrap() > 0 && x["valeur"] != "cpf")
            .map(|x| {
                (
                    x["valeur"].as_str().unwrap().to_string(),
                    x["nombre"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    for (q, sel_dep, sel_fin) in [
        ("", None, None),
        ("departement=44", Some("44"), None),
        ("financeur=2", None, Some("2")),
        ("departement=49&financeur=2", Some("49"), Some("2")),
    ] {
        let v = ok(&format!("{q}&par_page=1"));
        let (deps, fins, total) = attendu(sel_dep, sel_fin);
        assert_eq!(v["total"].as_u64().unwrap(), total, "total of {q:?}");
        assert_eq!(obtenu(&v, "departement"), deps, "départements of {q:?}");
        assert_eq!(obtenu(&v, "financeur"), fins, "financeurs of {q:?}");
    }
}

/// A valid example of each parameter (with what it needs beside it).
fn exemple(nom: &str) -> &'static str {
    match nom {
        "q" => "q=comptabilite",
        "formacode" => "formacode=32663",
        "commune" => "commune=44109",
        "departement" => "departement=44",
        "lat" | "lon" => "lat=47.21&lon=-1.55",
        "rayon" => "commune=44109&rayon=20",
        "debut_min" => "debut_min=2020-01-01",
        "debut_max" => "debut_max=2040-01-01",
        "public" => "public=80056",
        "financeur" => "financeur=cpf",
        "certifiante" => "certifiante=1",
        "certification" => "certification=RNCP35185",
        "niveau" => "niveau=4",
        "a_distance" => "a_distance=0",
        "organisme" => "organisme=44000001000013",
        "voie" => "voie=apprentissage",
        "rome" => "rome=M1203",
        "nsf" => "nsf=314",
        "litteral" => "litteral=nantes",
        "tri" => "tri=date",
        "page" => "page=2",
        "par_page" => "par_page=5",
        "depuis" => "depuis=0",
        _ => panic!("no example for the documented parameter « {nom} »: add one"),
    }
}

/// The parameters `path` documents in the OpenAPI document.
fn documentes(doc: &Value, path: &str) -> Vec<String> {
    let mut v: Vec<String> = doc["paths"][path]["get"]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{path} documented"))
        .iter()
        .filter(|p| p["in"] == "query")
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

/// The parameters `url` accepts, as its refusal of an unknown one lists them.
fn acceptes(url: &str) -> Vec<String> {
    let (s, r) = call(ureq::get(&format!("{url}?inconnu_zz=1")), None);
    assert_eq!(s, 400);
    let v: Value = r.into_json().unwrap();
    assert_eq!(v["erreur"]["parametre"], "inconnu_zz");
    let m = v["erreur"]["message"].as_str().unwrap().to_string();
    let liste = m
        .split("paramètres : ")
        .nth(1)
        .unwrap()
        .trim_end_matches(')');
    let mut v: Vec<String> = liste.split(", ").map(str::to_string).collect();
    v.sort();
    v
}

#[test]
fn openapi_documents_every_accepted_parameter_and_accepts_every_documented_one() {
    let f = fixture();
    let (s, r) = call(ureq::get(&f.server.url("/api/v1/openapi.json")), None);
    assert_eq!(s, 200);
    let doc: Value = r.into_json().unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (path, avec) in [
        ("/api/v1/recherche", true),
        ("/api/v1/suggestions", false),
        ("/lheo/offres.xml", true),
    ] {
        let url = f.server.url(path);
        let docs = documentes(&doc, path);
        assert!(!docs.is_empty());
        assert_eq!(docs, acceptes(&url), "{path}: documented vs accepted");
        if avec {
            for p in &docs {
                let (s, r) = call(ureq::get(&format!("{url}?{}", exemple(p))), None);
                // (Read whole: a feed holds one of a few places until its client has it.)
                let corps = r.into_string().unwrap_or_default();
                assert_eq!(s, 200, "{path} {p}: {corps}");
            }
        }
    }
    // Responses are described too.
    let rech = &doc["paths"]["/api/v1/recherche"]["get"]["responses"];
    assert!(rech["200"]["content"]["application/json"]["schema"].is_object());
    assert!(rech["400"]["content"]["application/json"]["schema"].is_object());
    assert!(doc["components"]["schemas"]["Resultat"]["properties"]["intitule"].is_object());
}

#[test]
fn negotiation_methods_and_the_same_checks_for_feeds() {
    let f = fixture();
    let url = f.server.url("/api/v1/recherche");
    // gzip;q=0 is a refusal, for the API and for the feed.
    let (s, r) = call(ureq::get(&url).set("Accept-Encoding", "gzip;q=0"), None);
    assert_eq!(s, 200);
    assert_eq!(r.header("content-encoding"), None);
    let feed = f.server.url("/lheo/offres.xml");
    let (s, r) = call(ureq::get(&feed).set("Accept-Encoding", "gzip;q=0"), None);
    assert_eq!(s, 200);
    assert_eq!(r.header("content-encoding"), None);
    let _ = r.into_string();
    let (_, r) = call(
        ureq::get(&feed).set("Accept-Encoding", "br, gzip;q=0.5"),
        None,
    );
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let _ = bytes(r);
    // A method a route does not take: 405 with Allow, in the API's error shape.
    let (s, r) = call(ureq::post(&url), Some(b""));
    assert_eq!(s, 405);
    assert!(r.header("allow").unwrap_or("").contains("GET"));
    let v: Value = r.into_json().unwrap();
    assert_eq!(v["erreur"]["code"], "methode-non-permise");
    // Reads take no body: a big one is refused before it is read, in the same shape. (Its
    // head only is sent: the server answers and closes without reading the rest, and a
    // client still writing would get a broken pipe, as this test once did under load.)
    {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(("127.0.0.1", f.server.port)).unwrap();
        c.write_all(
            b"GET /api/v1/recherche HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        let mut reponse = String::new();
        c.read_to_string(&mut reponse).unwrap();
        assert!(reponse.starts_with("HTTP/1.1 413"), "{reponse}");
        assert!(reponse.contains("\"corps-trop-grand\""), "{reponse}");
    }
    // The feed checks its parameters as the search does: cpf is a financeur, an unknown
    // département is refused, naming it.
    let (s, r) = call(ureq::get(&format!("{feed}?financeur=cpf")), None);
    assert_eq!(s, 200);
    let cpf = r.into_string().unwrap();
    assert!(
        cpf.contains("<formation"),
        "CPF-eligible offers in the fixture"
    );
    for bad in ["departement=99", "financeur=77"] {
        let (s, r) = call(ureq::get(&format!("{feed}?{bad}")), None);
        assert_eq!(s, 400, "{bad}");
        let v: Value = r.into_json().unwrap();
        assert_eq!(v["erreur"]["parametre"], bad.split('=').next().unwrap());
        let (s, r) = call(ureq::get(&format!("{url}?{bad}")), None);
        assert_eq!(s, 400, "{bad}");
        let v: Value = r.into_json().unwrap();
        assert_eq!(v["erreur"]["parametre"], bad.split('=').next().unwrap());
    }
}
