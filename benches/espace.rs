//! The organisation space under a full store: `cargo bench --bench espace` (1,000,000
//! sessions by default; `SOFI_BENCH_SESSIONS` to change, `SOFI_BENCH_GARDER=DIR` to keep and
//! reuse the store). A real `sofi serve` (release) on loopback, driven over HTTP:
//!
//! - a form page (formation, action): p50 and p99 of 300 GETs each;
//! - a save (form → rules → duplicate check against the organisation's other offers →
//!   store transaction with its audit event → fsync): p50 and p99 of 200 POSTs, for the
//!   organisme with the most offers in the store;
//! - an accepted revision: time from staff's "accept" answer until the search finds it and
//!   until `/lheo/offres.xml?depuis=` carries it;
//! - the staff queue with 10,000 offers waiting (`SOFI_BENCH_FILE` to change): p50 and p99
//!   of 300 GETs of its first page, a filtered page, a far page, and one review page.

mod commun;

use commun::*;
use sofi::accounts::{self, Compte, Role};
use sofi::referentiel::Referentiels;
use sofi::store::Store;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

struct Client {
    base: String,
    cookie: String,
    agent: ureq::Agent,
}

impl Client {
    fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .agent
            .get(&format!("{}{path}", self.base))
            .set("cookie", &self.cookie)
            .call();
        match r {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap_or_default()),
            Err(e) => panic!("{e}"),
        }
    }

    fn post(&mut self, path: &str, champs: &[(&str, &str)]) -> (u16, Option<String>) {
        let corps: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(champs)
            .finish();
        let r = self
            .agent
            .post(&format!("{}{path}", self.base))
            .set("cookie", &self.cookie)
            .set("origin", &self.base)
            .set("content-type", "application/x-www-form-urlencoded")
            .send_string(&corps);
        let r = match r {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        if let Some(c) = r.header("set-cookie") {
            if c.starts_with("sofi=") {
                self.cookie = c.split(';').next().unwrap().to_string();
            }
        }
        (r.status(), r.header("location").map(str::to_string))
    }
}

fn valeur(html: &str, nom: &str) -> String {
    let i = html.find(&format!("name=\"{nom}\" value=\"")).unwrap() + nom.len() + 15;
    html[i..i + html[i..].find('"').unwrap()].to_string()
}

fn percentiles(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (
        ms(v[v.len() / 2]),
        ms(v[(v.len() * 99 / 100).min(v.len() - 1)]),
    )
}

/// A responsable of `siret` and a staff member, with known passwords.
fn comptes(store: &Store, siret: &str) {
    for (email, role, sirets) in [
        ("of@bench.fr", Role::Responsable, vec![siret.to_string()]),
        ("equipe@bench.fr", Role::Staff, vec![]),
    ] {
        if store.compte_par_email(email).unwrap().is_some() {
            continue;
        }
        let c = Compte {
            id: store.nouvel_id().unwrap(),
            email: email.into(),
            nom: "bench".into(),
            role,
            sirets,
            mot_de_passe: None,
            generation: 0,
            actif: true,
            cree_le: sofi::store::now_ms(),
        };
        let l = store.creer_compte(&c, "bench").unwrap();
        store
            .utiliser_lien(&l.jeton, &accounts::hash_password("mot de passe du bench"))
            .unwrap();
    }
}

fn connexion(base: &str, email: &str) -> Client {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let r = agent
        .get(&format!("{base}/espace/connexion"))
        .call()
        .unwrap();
    let pre = r
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let jeton = valeur(&r.into_string().unwrap(), "_csrf");
    let mut c = Client {
        base: base.to_string(),
        cookie: pre,
        agent,
    };
    let (s, _) = c.post(
        "/espace/connexion",
        &[
            ("_csrf", &jeton),
            ("email", email),
            ("mot_de_passe", "mot de passe du bench"),
        ],
    );
    assert_eq!(s, 303, "login");
    c
}

fn main() {
    let sessions = std::env::var("SOFI_BENCH_SESSIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000u64);
    let garder = std::env::var_os("SOFI_BENCH_GARDER").map(std::path::PathBuf::from);
    let dir = garder.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("sofi-espace-bench-{}", std::process::id()))
    });
    let data = dir.join("data");
    let refs = Referentiels::charger().unwrap();
    let siret = {
        let store = Store::open(&data).unwrap();
        if store.compteurs().unwrap().formations == 0 {
            let t = Instant::now();
            let file = dir.join("offre.xml");
            generer(&refs, sessions, jiff::Zoned::now().date(), &file);
            importer_fichier(&store, &refs, &file);
            std::fs::remove_file(&file).unwrap();
            eprintln!(
                "store of {sessions} sessions built in {:.0} s",
                t.elapsed().as_secs_f64()
            );
        }
        // The organisme with the most offers: its duplicate check reads them all.
        let mut n: HashMap<String, usize> = HashMap::new();
        for o in store.offres() {
            *n.entry(o.unwrap().formation.organisme.siret).or_default() += 1;
        }
        let (siret, offres) = n.into_iter().max_by_key(|(_, v)| *v).unwrap();
        eprintln!("organisme {siret}: {offres} offers");
        comptes(&store, &siret);
        remplir_file(&store);
        siret
    };
    let c = store_counts(&data);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let serveur = std::process::Command::new(env!("CARGO_BIN_EXE_sofi"))
        .arg("--data-dir")
        .arg(&data)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--cookie-non-securise",
            "--anonyme-par-minute",
            "100000000",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Stopped however the bench ends (a failed assertion must not leave it holding the store).
    let serveur = Arrete(serveur);
    let base = format!("http://127.0.0.1:{port}");
    let t = Instant::now();
    while ureq::get(&format!("{base}/health")).call().is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(900),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("server up in {:.0} s", t.elapsed().as_secs_f64());

    // A word of this run's own: a kept store holds the offers of earlier runs, which would
    // be duplicates of this one's (blocking) and would answer its search at once.
    let mot: String = std::process::id()
        .to_string()
        .bytes()
        .map(|c| (b'a' + c - b'0') as char)
        .collect();
    let titre = format!("Zorglubisme {mot}");
    let titre_bis = format!("Zorglubisme {mot} (bis)");
    let mut of = connexion(&base, "of@bench.fr");
    // Its establishment, then one formation with an action and two sessions.
    let (_, page) = of.get("/espace/etablissement");
    let csrf = valeur(&page, "_csrf");
    let (s, _) = of.post(
        "/espace/etablissement",
        &[
            ("_csrf", &csrf),
            ("numero_activite", "52440000044"),
            ("raison_sociale", "Organisme du bench"),
            ("sp_codepostal", "44000"),
            ("sp_ville", "Nantes"),
            ("formacodes", "31734"),
        ],
    );
    assert!(s == 200 || s == 422, "{s}");
    let formation = |intitule: &str, csrf: &str| -> Vec<(String, String)> {
        [
            ("_csrf", csrf),
            ("intitule", intitule),
            ("objectif", "Souder en sécurité."),
            ("contenu", "Soudage à l'arc, TIG et MIG."),
            ("resultats_attendus", "Attestation"),
            ("formacodes", "31734"),
            ("niveau_entree", "0"),
            ("parcours", "1"),
            ("contact_nom", "Camille"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let paires = |v: &[(String, String)]| -> Vec<(String, String)> { v.to_vec() };
    let post = |c: &mut Client, path: &str, v: Vec<(String, String)>| {
        let r: Vec<(&str, &str)> = v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        c.post(path, &r)
    };
    let (s, loc) = post(
        &mut of,
        "/espace/formations/nouvelle",
        paires(&formation(&titre, &csrf)),
    );
    assert_eq!(s, 303);
    let url = loc.unwrap();
    let version = |c: &Client, u: &str| valeur(&c.get(u).1, "version");
    let v = version(&of, &url);
    let (s, loc) = post(
        &mut of,
        &format!("{url}/nouvelle-action"),
        vec![("_csrf".into(), csrf.clone()), ("version".into(), v)],
    );
    assert_eq!(s, 303);
    let url_action = loc.unwrap();
    let v = version(&of, &url_action);
    let action: Vec<(String, String)> = [
        ("_csrf", csrf.as_str()),
        ("version", v.as_str()),
        ("lieu", "0"),
        ("modalites_enseignement", "0"),
        ("entrees_sorties", "0"),
        ("heures_centre", "140"),
        ("rythme", "Temps plein"),
        ("alternance", "Sans objet"),
        ("niveau_obligatoire", "0"),
        ("conditions_acces", "Aucun"),
        ("financeurs", "2"),
        ("publics", "80006"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(post(&mut of, &url_action, action).0, 303);
    for (d, f) in [("2027-03-01", "2027-04-30"), ("2027-09-01", "2027-10-31")] {
        let u = format!("{url_action}/sessions/nouvelle");
        let v = version(&of, &u);
        let (s, _) = post(
            &mut of,
            &u,
            [
                ("_csrf", csrf.as_str()),
                ("version", &v),
                ("debut", d),
                ("fin", f),
                ("etat_recrutement", "1"),
                ("inscription", "0"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        );
        assert_eq!(s, 303);
    }

    // Form pages.
    let mut mesures: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for _ in 0..300 {
        for (nom, u) in [("page formation", &url), ("page action", &url_action)] {
            let t = Instant::now();
            let (s, _) = of.get(u);
            mesures.entry(nom).or_default().push(t.elapsed());
            assert_eq!(s, 200);
        }
    }
    // Saves: each one a real change (the title alternates), judged and audited.
    let mut v = version(&of, &url);
    for i in 0..200 {
        let mut champs = formation(if i % 2 == 0 { &titre } else { &titre_bis }, &csrf);
        champs.push(("version".into(), v.clone()));
        let t = Instant::now();
        let (s, _) = post(&mut of, &url, champs);
        mesures
            .entry("enregistrement")
            .or_default()
            .push(t.elapsed());
        assert_eq!(s, 303);
        v = version(&of, &url);
    }
    println!(
        "sofi espace bench, {sessions} sessions ({} formations), organisme with the most offers:",
        c
    );
    for (nom, m) in mesures {
        let (p50, p99) = percentiles(m);
        println!("  {nom:<16} p50 {p50:6.2} ms   p99 {p99:6.2} ms");
    }

    // Submitted, accepted by staff, then searchable and in the incremental feed.
    let v = version(&of, &url);
    assert_eq!(
        post(
            &mut of,
            &format!("{url}/soumettre"),
            vec![("_csrf".into(), csrf.clone()), ("version".into(), v)]
        )
        .0,
        303
    );
    let mut equipe = connexion(&base, "equipe@bench.fr");
    // The staff queue, full.
    let mut file: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let premiere = equipe.get("/gestion").1;
    assert!(premiere.contains("rel=\"next\""), "the queue is paged");
    for _ in 0..300 {
        for (nom, u) in [
            ("file, page 1", "/gestion"),
            ("file, dép. 44", "/gestion?departement=44&type=offres"),
            ("file, page 50", "/gestion?tri=recent&page=50"),
            ("revue d'une offre", "/gestion/offres/BENCH-FILE-5"),
        ] {
            let t = Instant::now();
            let (s, _) = equipe.get(u);
            file.entry(nom).or_default().push(t.elapsed());
            assert_eq!(s, 200, "{u}");
        }
    }
    println!(
        "  staff queue with {} offers waiting:",
        premiere
            .split("Offres soumises (")
            .nth(1)
            .and_then(|s| s.split(')').next())
            .unwrap_or("?")
    );
    for (nom, m) in file {
        let (p50, p99) = percentiles(m);
        println!("  {nom:<18} p50 {p50:6.2} ms   p99 {p99:6.2} ms");
    }
    let numero = url.rsplit('/').next().unwrap().to_string();
    let page = equipe.get(&format!("/gestion/offres/{numero}")).1;
    let (csrf_e, v) = (valeur(&page, "_csrf"), valeur(&page, "version"));
    let seq: u64 = ureq::get(&format!("{base}/health"))
        .call()
        .unwrap()
        .into_json::<serde_json::Value>()
        .unwrap()["journal_seq"]
        .as_u64()
        .unwrap_or(0);
    // A server that has served searches (the first one after a start reads the index's
    // structures from disk: ~0.9 s at 1M sessions, which is not what an acceptance costs).
    ureq::get(&format!("{base}/api/v1/recherche?q=soudure"))
        .call()
        .unwrap();
    let t = Instant::now();
    let (s, _) = equipe.post(
        &format!("/gestion/offres/{numero}/accepter"),
        &[("_csrf", &csrf_e), ("version", &v)],
    );
    assert_eq!(s, 303);
    let accepte = t.elapsed();
    let (mut recherche, mut flux) = (None, None);
    while (recherche.is_none() || flux.is_none()) && t.elapsed() < Duration::from_secs(10) {
        if recherche.is_none() {
            let j: serde_json::Value = ureq::get(&format!("{base}/api/v1/recherche?q={mot}"))
                .call()
                .unwrap()
                .into_json()
                .unwrap();
            if j["total"].as_u64().unwrap_or(0) > 0 {
                recherche = Some(t.elapsed());
            }
        }
        if flux.is_none() {
            let x = ureq::get(&format!("{base}/lheo/offres.xml?depuis={seq}"))
                .call()
                .unwrap()
                .into_string()
                .unwrap();
            if x.contains(&numero) {
                flux = Some(t.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let ms = |d: Option<Duration>| {
        d.map_or("jamais (10 s)".to_string(), |d| {
            format!("{:.0} ms", d.as_secs_f64() * 1000.0)
        })
    };
    println!(
        "  accepted (answer {:.0} ms): searchable after {}, in ?depuis= after {}",
        accepte.as_secs_f64() * 1000.0,
        ms(recherche),
        ms(flux)
    );
    drop(serveur);
    if garder.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let _ = siret;
}

/// Offers waiting in the staff queue (`SOFI_BENCH_FILE`, default 10,000): copies of stored
/// offers, submitted over the last four days, as organisations would.
fn remplir_file(store: &Store) {
    use sofi::store::{Dossier, Etat, Evenement, Revision};
    let voulu: usize = std::env::var("SOFI_BENCH_FILE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let deja = store.file().unwrap().len();
    if deja >= voulu {
        return;
    }
    let t = Instant::now();
    let now = sofi::store::now_ms();
    for (i, o) in store.offres().take(voulu - deja).enumerate() {
        let o = o.unwrap();
        let numero = format!("BENCH-FILE-{}", deja + i);
        let mut formation = o.formation;
        formation.numero = numero.clone();
        let soumis = now - (i as i64 * 4 * 86_400_000 / voulu as i64);
        let d = Dossier {
            numero: numero.clone(),
            siret: formation.organisme.siret.clone(),
            etat: Etat::EnAttente,
            travail: Some(Revision {
                formation,
                verdict: o.verdict,
            }),
            en_ligne: false,
            motifs: vec![],
            cree_le: soumis,
            modifie_le: soumis,
            soumis_le: Some(soumis),
            a_revoir: false,
            source: ["formulaire", "api", "fichier"][i % 3].into(),
        };
        store
            .enregistrer_dossier(
                &d,
                None,
                Evenement::new("bench", format!("offre {numero}"), "soumission"),
            )
            .unwrap();
    }
    eprintln!(
        "{} offers put in the staff queue in {:.0} s",
        voulu - deja,
        t.elapsed().as_secs_f64()
    );
}

/// The bench's server, killed when dropped.
struct Arrete(std::process::Child);

impl Drop for Arrete {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn store_counts(data: &Path) -> u64 {
    Store::open(data).unwrap().compteurs().unwrap().formations
}
