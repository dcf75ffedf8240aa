//! The organisation space and the staff decisions, over real HTTP on loopback against a
//! real server and its sled store: a référencement request accepted by staff, an
//! establishment, a formation with an action and two sessions saved as drafts with findings
//! beside the fields, submitted, accepted, then searchable and in the incremental feed;
//! another organisation trying the first one's pages and API routes; CSRF, throttling and
//! HTML in fields.

mod common;

use common::*;
use std::collections::BTreeMap;

/// A browser without JavaScript: keeps cookies, sends forms as browsers do (with `Origin`
/// and `Sec-Fetch-Site`), does not follow redirects (so that their cookies are seen).
struct Navigateur {
    base: String,
    cookies: BTreeMap<String, String>,
    agent: ureq::Agent,
}

struct Page {
    status: u16,
    corps: String,
    location: Option<String>,
}

impl Navigateur {
    fn new(base: &str) -> Navigateur {
        Navigateur {
            base: base.to_string(),
            cookies: BTreeMap::new(),
            agent: ureq::AgentBuilder::new().redirects(0).build(),
        }
    }

    fn garder(&mut self, r: &ureq::Response) {
        for c in r.all("set-cookie") {
            let (kv, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if v.is_empty() || attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn lire(&mut self, r: ureq::Response) -> Page {
        self.garder(&r);
        let status = r.status();
        let location = r.header("location").map(str::to_string);
        let corps = r.into_string().unwrap_or_default();
        Page {
            status,
            corps,
            location,
        }
    }

    fn get(&mut self, path: &str) -> Page {
        let req = self
            .agent
            .get(&format!("{}{path}", self.base))
            .set("cookie", &self.cookie_header());
        let (_, r) = call(req, None);
        self.lire(r)
    }

    fn post_avec(&mut self, path: &str, champs: &[(&str, &str)], origine: Option<&str>) -> Page {
        let corps: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(champs)
            .finish();
        let mut req = self
            .agent
            .post(&format!("{}{path}", self.base))
            .set("cookie", &self.cookie_header())
            .set("content-type", "application/x-www-form-urlencoded");
        if let Some(o) = origine {
            req = req.set("origin", o);
        }
        let (_, r) = call(req, Some(corps.as_bytes()));
        self.lire(r)
    }

    /// A form as the browser sends it from one of our pages: same origin, and the form
    /// token read from `depuis` (the page the form is on).
    fn soumettre(&mut self, depuis: &str, action: &str, champs: &[(&str, &str)]) -> Page {
        let page = self.get(depuis);
        assert_eq!(page.status, 200, "{depuis}: {}", page.corps);
        let jeton = csrf(&page.corps);
        let mut c: Vec<(&str, &str)> = vec![("_csrf", &jeton)];
        let version = valeur(&page.corps, "version").unwrap_or_default();
        if !champs.iter().any(|(k, _)| *k == "version") {
            c.push(("version", &version));
        }
        c.extend_from_slice(champs);
        let origine = self.base.clone();
        self.post_avec(action, &c, Some(&origine))
    }
}

/// The value of the first input named `nom` in a page.
fn valeur(html: &str, nom: &str) -> Option<String> {
    let i = html.find(&format!("name=\"{nom}\" value=\""))?;
    let rest = &html[i + nom.len() + 15..];
    Some(rest[..rest.find('"')?].to_string())
}

fn csrf(html: &str) -> String {
    valeur(html, "_csrf").expect("a form token in the page")
}

/// A SIRET that passes the Luhn check, from 13 digits.
fn siret(prefixe: &str) -> String {
    (0..10)
        .map(|d| format!("{prefixe}{d}"))
        .find(|s| sofi::rules::siret_valide(s))
        .unwrap()
}

fn lien_de(html: &str) -> String {
    let i = html
        .find("/espace/lien/")
        .expect("a one-time link on the page");
    html[i..i + "/espace/lien/".len() + 64].to_string()
}

fn activer(nav: &mut Navigateur, lien: &str, mot: &str) {
    let p = nav.post_avec(
        lien,
        &[("mot_de_passe", mot), ("confirmation", mot)],
        Some(&nav.base.clone()),
    );
    assert_eq!(p.status, 303, "activation: {}", p.corps);
}

fn connexion(nav: &mut Navigateur, email: &str, mot: &str) -> Page {
    let p = nav.get("/espace/connexion");
    let jeton = csrf(&p.corps);
    let origine = nav.base.clone();
    nav.post_avec(
        "/espace/connexion",
        &[("_csrf", &jeton), ("email", email), ("mot_de_passe", mot)],
        Some(&origine),
    )
}

fn demande(nav: &mut Navigateur, siret: &str, email: &str, raison: &str) -> Page {
    nav.soumettre(
        "/espace/demande",
        "/espace/demande",
        &[
            ("siret", siret),
            ("numero_activite", "52440000044"),
            ("raison_sociale", raison),
            ("adresse", "3 rue de la Formation"),
            ("codepostal", "44000"),
            ("ville", "nantes"),
            ("formacodes", "31734"),
            ("contact_nom", "Camille Martin"),
            ("contact_email", email),
            ("contact_telephone", "0240000000"),
        ],
    )
}

#[test]
fn an_organisation_presents_its_offer_and_another_cannot_see_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    // The first admin, from the command line, before the server starts.
    let o = run(sofi().arg("--data-dir").arg(&data).args([
        "user",
        "add",
        "--email",
        "Admin@Carif.fr",
        "--role",
        "admin",
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    let lien_admin = lien_de(&stdout(&o));
    let srv = Server::start_avec(&data, false, &[("SOFI_COOKIE_NON_SECURISE", "true")]);
    let base = srv.url("");

    let mut admin = Navigateur::new(&base);
    activer(&mut admin, &lien_admin, "une phrase de passe longue");
    // The link served once.
    assert_eq!(admin.get(&lien_admin).status, 404);
    assert_eq!(admin.get("/gestion").status, 200);

    // 1. An unknown organisation asks to be listed; a bad SIRET is named first.
    let mut org = Navigateur::new(&base);
    let p = demande(
        &mut org,
        "12345678900000",
        "camille@of-nantes.fr",
        "OF Nantes",
    );
    assert_eq!(p.status, 422);
    assert!(p.corps.contains("SIRET invalide"), "{}", p.corps);
    let siret_a = siret("4400000000001");
    let p = demande(&mut org, &siret_a, "camille@of-nantes.fr", "OF Nantes");
    assert_eq!(p.status, 200, "{}", p.corps);
    assert!(p.corps.contains("Demande envoyée"));

    // 2. Staff accept it once and get the activation link.
    let file = admin.get("/gestion");
    assert!(file.corps.contains("OF Nantes"));
    let i = file.corps.find("/gestion/demandes/").unwrap();
    let action = file.corps[i..].split('"').next().unwrap().to_string();
    let p = admin.soumettre("/gestion", &action, &[]);
    assert_eq!(p.status, 200, "{}", p.corps);
    let lien_org = lien_de(&p.corps);
    assert_eq!(admin.soumettre("/gestion", &action, &[]).status, 409);

    // 3. The organisation activates its account (passwords of 12+ characters).
    let p = org.post_avec(
        &lien_org,
        &[("mot_de_passe", "court"), ("confirmation", "court")],
        Some(&base),
    );
    assert_eq!(p.status, 422);
    assert!(p.corps.contains("au moins 12 caractères"));
    activer(&mut org, &lien_org, "organisme de formation nantais");
    let tableau = org.get("/espace");
    assert_eq!(tableau.status, 200);
    assert!(tableau.corps.contains("OF Nantes"), "{}", tableau.corps);

    // 4. Its establishment: a secondary site placed on its commune, a bad postal code named.
    let p = org.soumettre(
        "/espace/etablissement",
        "/espace/etablissement",
        &[
            ("numero_activite", "52440000044"),
            ("raison_sociale", "OF Nantes"),
            ("sp_nom", "Siège"),
            ("sp_adresse", "3 rue de la Formation"),
            ("sp_codepostal", "44000"),
            ("sp_ville", "Nantes"),
            ("s1_nom", "Antenne d'Angers"),
            ("s1_codepostal", "49000"),
            ("s1_ville", "angers"),
            ("c_nom", "Camille Martin"),
            ("c_email", "camille@of-nantes.fr"),
            ("formacodes", "31734"),
        ],
    );
    assert_eq!(p.status, 200, "{}", p.corps);
    assert!(p.corps.contains("49007"), "Angers' INSEE code: {}", p.corps);
    let p = org.soumettre(
        "/espace/etablissement",
        "/espace/etablissement",
        &[
            ("numero_activite", "52440000044"),
            ("raison_sociale", "OF Nantes"),
            ("sp_codepostal", "44000"),
            ("sp_ville", "Nantes"),
            ("s1_codepostal", "49000"),
            ("s1_ville", "angers"),
            ("s2_codepostal", "99999"),
            ("s2_ville", "Nulle part"),
            ("formacodes", "31734"),
            ("formacode_q", "soudage"),
            ("chercher", "1"),
        ],
    );
    assert_eq!(p.status, 422);
    assert!(p.corps.contains("aucune commune n'a le code postal 99999"));
    assert!(
        p.corps.contains("Suggestions"),
        "thesaurus suggestions: {}",
        p.corps
    );

    // 5. A formation, typed with HTML and a missing field: saved as a draft with findings.
    let p = org.soumettre(
        "/espace/formations/nouvelle",
        "/espace/formations/nouvelle",
        &[
            ("intitule", "Soudure <script>alert(1)</script>"),
            ("objectif", ""),
            ("contenu", "Soudage à l'arc, TIG et MIG."),
            ("resultats_attendus", "Attestation de compétences"),
            ("formacodes", "31734"),
            ("niveau_entree", "0"),
            ("parcours", "1"),
            ("contact_nom", "Camille Martin"),
            ("contact_email", "camille@of-nantes.fr"),
        ],
    );
    assert_eq!(p.status, 303, "{}", p.corps);
    let url = p.location.unwrap();
    let page = org.get(&url);
    assert!(
        !page.corps.contains("<script>alert(1)"),
        "HTML typed stays text"
    );
    assert!(page.corps.contains("&lt;script&gt;alert(1)"));
    assert!(page.corps.contains("brouillon"));
    // The finding is beside its field: inside the field's block, linked by aria-describedby.
    let i = page.corps.find("id=\"objectif\"").unwrap();
    let bloc = &page.corps[i..i + 800];
    assert!(bloc.contains("obligatoire-manquant"), "{bloc}");
    assert!(page
        .corps
        .contains("aria-describedby=\"aide-objectif c-objectif-0\""));
    // Fixed.
    let p = org.soumettre(
        &url,
        &url,
        &[
            ("intitule", "Soudure <script>alert(1)</script>"),
            ("objectif", "Souder en sécurité à l'arc et au TIG."),
            ("contenu", "Soudage à l'arc, TIG et MIG."),
            ("resultats_attendus", "Attestation de compétences"),
            ("formacodes", "31734"),
            ("niveau_entree", "0"),
            ("parcours", "1"),
            ("contact_nom", "Camille Martin"),
            ("contact_email", "camille@of-nantes.fr"),
        ],
    );
    assert_eq!(p.status, 303, "{}", p.corps);

    // A certification picked by its title among the active ones.
    let base_formation = [
        ("intitule", "Soudure <script>alert(1)</script>"),
        ("objectif", "Souder en sécurité à l'arc et au TIG."),
        ("contenu", "Soudage à l'arc, TIG et MIG."),
        ("resultats_attendus", "Attestation de compétences"),
        ("formacodes", "31734"),
        ("niveau_entree", "0"),
        ("parcours", "1"),
        ("contact_nom", "Camille Martin"),
        ("contact_email", "camille@of-nantes.fr"),
    ];
    let mut champs = base_formation.to_vec();
    champs.extend([
        ("certification_q", "soudeur"),
        ("chercher_certification", "1"),
    ]);
    let p = org.soumettre(&url, &url, &champs);
    assert_eq!(p.status, 200, "{}", p.corps);
    assert!(p.corps.contains("Certifications actives"), "{}", p.corps);
    let i = p
        .corps
        .find("name=\"certification_choisie\" value=\"")
        .unwrap()
        + 36;
    let code = p.corps[i..].split('"').next().unwrap().to_string();
    let mut champs = base_formation.to_vec();
    champs.push(("certification_choisie", &code));
    let p = org.soumettre(&url, &url, &champs);
    assert_eq!(p.status, 303, "{}", p.corps);
    let page = org.get(&url);
    assert_eq!(
        valeur(&page.corps, "certification").as_deref(),
        Some(code.as_str())
    );

    // 6. An action with its Dispositif, then two sessions, one with an impossible date.
    let p = org.soumettre(&url, &format!("{url}/nouvelle-action"), &[]);
    assert_eq!(p.status, 303, "{}", p.corps);
    let url_action = p.location.unwrap();
    let p = org.soumettre(
        &url_action,
        &url_action,
        &[
            ("lieu", "1"),
            ("modalites_enseignement", "0"),
            ("entrees_sorties", "0"),
            ("heures_centre", "140"),
            ("rythme", "Temps plein"),
            ("alternance", "Sans objet"),
            ("prix_total", "2 450,00 €"),
            ("niveau_obligatoire", "0"),
            ("conditions_acces", "Aucun prérequis"),
            ("financeurs", "2"),
            ("publics", "80006"),
        ],
    );
    assert_eq!(p.status, 303, "{}", p.corps);
    let page = org.get(&url_action);
    assert!(
        page.corps.contains("sera diffusée"),
        "scope decision shown: {}",
        page.corps
    );
    let nouvelle = format!("{url_action}/sessions/nouvelle");
    let p = org.soumettre(
        &nouvelle,
        &nouvelle,
        &[
            ("debut", "2027-02-30"),
            ("fin", "2027-04-30"),
            ("etat_recrutement", "1"),
            ("places", "12"),
            ("inscription", "0"),
        ],
    );
    assert_eq!(p.status, 422, "an impossible date is named, the draft kept");
    assert!(p.corps.contains("date-invalide"), "{}", p.corps);
    assert!(
        p.corps.contains("2027-02-30"),
        "what was typed stays in the form"
    );
    let s1 = format!(
        "{url_action}/sessions/{}",
        sofi_enc(&format!("{}_S1", num_action(&url_action)))
    );
    let p = org.soumettre(
        &s1,
        &s1,
        &[
            ("debut", "01/03/2027"),
            ("fin", "2027-04-30"),
            ("etat_recrutement", "1"),
            ("places", "12"),
            ("inscription", "0"),
        ],
    );
    assert_eq!(p.status, 303, "{}", p.corps);
    let p = org.soumettre(
        &nouvelle,
        &nouvelle,
        &[
            ("debut", "2027-09-01"),
            ("fin", "2027-10-31"),
            ("etat_recrutement", "1"),
            ("places", "12"),
            ("inscription", "0"),
        ],
    );
    assert_eq!(p.status, 303, "{}", p.corps);

    // 7. Nothing of it is public yet: drafts never reach search or feeds.
    let (_, r) = call(ureq::get(&srv.url("/api/v1/recherche?q=soudure")), None);
    let j: serde_json::Value = r.into_json().unwrap();
    assert_eq!(j["total"], 0, "{j}");

    // 8. Submitted, then accepted by staff: searchable and in `?depuis=` within a second.
    let p = org.soumettre(&url, &format!("{url}/soumettre"), &[]);
    assert_eq!(p.status, 303, "{}", p.corps);
    assert!(org.get(&url).corps.contains("en attente de validation"));
    let numero = url.rsplit('/').next().unwrap().to_string();
    let p = admin.soumettre(
        &format!("/gestion/offres/{numero}"),
        &format!("/gestion/offres/{numero}/accepter"),
        &[],
    );
    assert_eq!(p.status, 303, "{}", p.corps);
    let t0 = std::time::Instant::now();
    loop {
        let (_, r) = call(ureq::get(&srv.url("/api/v1/recherche?q=soudure")), None);
        let j: serde_json::Value = r.into_json().unwrap();
        if j["total"].as_u64() >= Some(1) {
            break;
        }
        assert!(
            t0.elapsed().as_secs() < 5,
            "accepted offer not searchable: {j}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (_, r) = call(ureq::get(&srv.url("/lheo/offres.xml?depuis=0")), None);
    let flux = r.into_string().unwrap();
    assert!(
        flux.contains(&numero),
        "accepted offer in the incremental feed"
    );

    // 9. A second organisation tries the first one's pages and API routes.
    let mut autre = Navigateur::new(&base);
    let siret_b = siret("4900000000002");
    assert_eq!(
        demande(&mut autre, &siret_b, "dominique@of-angers.fr", "OF Angers").status,
        200
    );
    let file = admin.get("/gestion");
    let i = file.corps.find("/gestion/demandes/").unwrap();
    let action = file.corps[i..].split('"').next().unwrap().to_string();
    let lien_b = lien_de(&admin.soumettre("/gestion", &action, &[]).corps);
    activer(&mut autre, &lien_b, "un autre organisme angevin");
    for chemin in [url.clone(), url_action.clone(), s1.clone()] {
        let p = autre.get(&chemin);
        assert_eq!(p.status, 404, "{chemin}");
        assert!(
            !p.corps.contains("Soudure"),
            "{chemin} shows nothing of the offer"
        );
    }
    // Its forms aimed at the first one's offer: 404 too, nothing written.
    let jeton_b = csrf(&autre.get("/espace").corps);
    let p = autre.post_avec(
        &format!("{url}/retirer"),
        &[("_csrf", &jeton_b)],
        Some(&base),
    );
    assert_eq!(p.status, 404);
    // Its API token, on the first one's offer.
    let p = autre.soumettre(
        "/espace/jetons",
        "/espace/jetons",
        &[("libelle", "logiciel")],
    );
    let i = p.corps.find("lien-unique\">").unwrap() + "lien-unique\">".len();
    let jeton_api = p.corps[i..i + 64].to_string();
    let auth = format!("Bearer {jeton_api}");
    let (s, _) = call(
        ureq::get(&srv.url(&format!("/api/v1/espace/offres/{numero}"))).set("authorization", &auth),
        None,
    );
    assert_eq!(s, 404);
    let (s, _) = call(
        ureq::put(&srv.url(&format!("/api/v1/espace/offres/{numero}")))
            .set("authorization", &auth)
            .set("content-type", "application/json"),
        Some(br#"{"formation":{"intitule":"vol"}}"#),
    );
    assert_eq!(s, 404);
    let (s, r) = call(
        ureq::get(&srv.url("/api/v1/espace/offres")).set("authorization", &auth),
        None,
    );
    assert_eq!(s, 200);
    assert_eq!(
        r.into_json::<serde_json::Value>()
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let (s, _) = call(
        ureq::get(&srv.url("/api/v1/espace/offres")).set("authorization", "Bearer 00"),
        None,
    );
    assert_eq!(s, 401);
    // Its own offer through the API: created as a draft with the rules' findings.
    let (s, r) = call(
        ureq::post(&srv.url("/api/v1/espace/offres"))
            .set("authorization", &auth)
            .set("content-type", "application/json"),
        Some(br#"{"formation":{"intitule":"Cariste","objectif":"Conduire un chariot"},"actions":[{"action":{"financeurs":["2"]},"sessions":[{"debut":"2027-01-10","fin":"2027-01-20"}]}]}"#),
    );
    assert_eq!(s, 201);
    let j: serde_json::Value = r.into_json().unwrap();
    assert_eq!(j["etat"], "brouillon");
    assert!(
        j["constats"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["code"] == "obligatoire-manquant"),
        "{j}"
    );
    // The first organisation does not see it in its dashboard either.
    assert!(!org.get("/espace").corps.contains("Cariste"));

    // 10. CSRF: a form without its token, or from another origin → 403, nothing written.
    let p = org.post_avec(&format!("{url}/retirer"), &[("version", "0")], Some(&base));
    assert_eq!(p.status, 403);
    let jeton = csrf(&org.get("/espace").corps);
    let p = org.post_avec(
        &format!("{url}/retirer"),
        &[("_csrf", &jeton)],
        Some("http://evil.example"),
    );
    assert_eq!(p.status, 403);
    assert!(org.get(&url).corps.contains("diffusée"));

    // 11. Brute force: the same answer for an unknown e-mail and a wrong password, then 429.
    let mut x = Navigateur::new(&base);
    let a = connexion(&mut x, "personne@nulle-part.fr", "mauvais mot de passe");
    let b = connexion(&mut x, "dominique@of-angers.fr", "mauvais mot de passe");
    assert_eq!((a.status, b.status), (401, 401));
    assert!(
        a.corps.contains("Adresse ou mot de passe incorrect")
            && b.corps.contains("Adresse ou mot de passe incorrect")
    );
    let mut dernier = 0;
    for _ in 0..6 {
        dernier = connexion(&mut x, "dominique@of-angers.fr", "mauvais mot de passe").status;
    }
    assert_eq!(dernier, 429);

    // 12. Log out everywhere: the old cookie is dead.
    let ancien = org.cookies.clone();
    let p = org.soumettre("/espace", "/espace/deconnexion", &[("partout", "1")]);
    assert_eq!(p.status, 303);
    org.cookies = ancien;
    assert_eq!(org.get("/espace").status, 303, "old session refused");

    // The responsable adds a colleague, who activates; then deactivates them: their session
    // ends at once.
    let mut org = connecte(
        &base,
        "camille@of-nantes.fr",
        "organisme de formation nantais",
    );
    let p = org.soumettre(
        "/espace/utilisateurs",
        "/espace/utilisateurs",
        &[
            ("email", "alex@of-nantes.fr"),
            ("nom", "Alex"),
            ("role", "organisme"),
        ],
    );
    assert_eq!(p.status, 200, "{}", p.corps);
    let mut collegue = Navigateur::new(&base);
    activer(&mut collegue, &lien_de(&p.corps), "le collègue de camille");
    assert_eq!(collegue.get("/espace").status, 200);
    assert_eq!(
        collegue.get("/espace/utilisateurs").status,
        404,
        "users are the responsable's"
    );
    let page = org.get("/espace/utilisateurs");
    let id = valeur(&page.corps, "desactiver").unwrap();
    let p = org.soumettre(
        "/espace/utilisateurs",
        "/espace/utilisateurs",
        &[("desactiver", &id)],
    );
    assert_eq!(p.status, 303);
    assert_eq!(
        collegue.get("/espace").status,
        303,
        "a deactivated user's session ends"
    );

    // 13. Every write by a person is in the audit trail, and the store agrees with itself.
    drop(srv);
    let o = run(sofi()
        .arg("--data-dir")
        .arg(&data)
        .args(["verify", "--json"]));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["backoffice"]["sain"], true, "{v}");
    assert!(v["backoffice"]["audit"].as_u64().unwrap() >= 20, "{v}");
}

fn num_action(url_action: &str) -> String {
    url_action.rsplit('/').next().unwrap().to_string()
}

fn sofi_enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// An offer's body for the API: the title and the number of sessions go together, so that a
/// mix of two saves would show.
fn version(i: usize) -> Vec<u8> {
    let sessions: Vec<String> = (0..(i % 5 + 1))
        .map(|k| {
            format!(
                r#"{{"debut":"2027-0{}-01","fin":"2027-0{}-20"}}"#,
                k + 1,
                k + 1
            )
        })
        .collect();
    format!(
        r#"{{"formation":{{"intitule":"Version {i}","objectif":"Savoir souder"}},"actions":[{{"action":{{"financeurs":["2"]}},"sessions":[{}]}}]}}"#,
        sessions.join(",")
    )
    .into_bytes()
}

#[test]
fn sigkill_during_saves_leaves_the_old_or_the_new_revision() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let s = siret("4400000000003");
    let o = run(sofi().arg("--data-dir").arg(&data).args([
        "user",
        "add",
        "--email",
        "of@exemple.fr",
        "--role",
        "responsable",
        "--siret",
        &s,
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    let lien = lien_de(&stdout(&o));
    let mut srv = Server::start_avec(&data, false, &[("SOFI_COOKIE_NON_SECURISE", "1")]);
    let mut nav = Navigateur::new(&srv.url(""));
    activer(&mut nav, &lien, "douze caractères au moins");
    let p = nav.soumettre("/espace/jetons", "/espace/jetons", &[("libelle", "crash")]);
    let i = p.corps.find("lien-unique\">").unwrap() + "lien-unique\">".len();
    let auth = format!("Bearer {}", &p.corps[i..i + 64]);
    let (st, r) = call(
        ureq::post(&srv.url("/api/v1/espace/offres")).set("authorization", &auth),
        Some(&version(0)),
    );
    assert_eq!(st, 201);
    let numero = r.into_json::<serde_json::Value>().unwrap()["numero"]
        .as_str()
        .unwrap()
        .to_string();
    // Saves in a loop; the server is killed while they run.
    let url = srv.url(&format!("/api/v1/espace/offres/{numero}"));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acquis = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t = {
        let (stop, acquis, auth) = (stop.clone(), acquis.clone(), auth.clone());
        std::thread::spawn(move || {
            let agent = ureq::AgentBuilder::new()
                .timeout(std::time::Duration::from_secs(5))
                .build();
            for i in 1.. {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                match agent
                    .put(&url)
                    .set("authorization", &auth)
                    .send_bytes(&version(i))
                {
                    Ok(r) if r.status() == 200 => {
                        acquis.store(i, std::sync::atomic::Ordering::SeqCst)
                    }
                    _ => break,
                }
            }
        })
    };
    while acquis.load(std::sync::atomic::Ordering::SeqCst) < 20 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(37));
    srv.child.kill().unwrap(); // SIGKILL, mid-save
    srv.child.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    t.join().unwrap();
    let dernier_acquis = acquis.load(std::sync::atomic::Ordering::SeqCst);

    let store = sofi::store::Store::open(&data).expect("the store reopens after SIGKILL");
    let d = store.dossier(&numero).unwrap().expect("the offer survives");
    let f = &d.travail.as_ref().expect("its working revision").formation;
    let k: usize = f
        .intitule
        .strip_prefix("Version ")
        .unwrap()
        .parse()
        .unwrap();
    // Answered means durable: at least the last acknowledged save, at most the one in flight.
    assert!(
        k == dernier_acquis || k == dernier_acquis + 1,
        "stored {k}, acknowledged {dernier_acquis}"
    );
    // Never a mix: the title and the sessions come from the same save.
    assert_eq!(f.sessions().count(), k % 5 + 1, "revision {k} whole");
    // The audit trail's last event on the offer is that save.
    let e = store.audit(Some(&format!("offre {numero}")), 1).unwrap();
    let apres: Vec<&str> = e[0]
        .changements
        .iter()
        .filter(|c| c.champ == "intitule")
        .map(|c| c.apres.as_str())
        .collect();
    assert_eq!(apres, vec![f.intitule.as_str()]);
    let check = store.verify_backoffice().unwrap();
    assert!(check.sain, "{:?}", check.problemes);
}

/// Logs in with the form, as a browser would.
fn connecte(base: &str, email: &str, mot: &str) -> Navigateur {
    let mut n = Navigateur::new(base);
    let p = connexion(&mut n, email, mot);
    assert_eq!(p.status, 303, "login {email}: {}", p.corps);
    n
}

fn api(
    srv: &Server,
    methode: &str,
    chemin: &str,
    auth: &str,
    corps: Option<&[u8]>,
) -> (u16, serde_json::Value) {
    let req = ureq::request(methode, &srv.url(chemin))
        .set("authorization", auth)
        .set("content-type", "application/json");
    let (s, r) = call(req, corps);
    (s, r.into_json().unwrap_or(serde_json::Value::Null))
}

#[test]
fn feed_offers_hand_over_revisions_duplicates_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let fichier = dir.path().join("flux.xml");
    generate(300, 5, &fichier);
    let (code, _) = import(&data, &[&fichier], &[]);
    assert_eq!(code, 0);
    // An organisme of the feed, with several offers.
    let (siret, numero, titre) = {
        let store = sofi::store::Store::open(&data).unwrap();
        let o = store.offres().next().unwrap().unwrap();
        (
            o.formation.organisme.siret.clone(),
            o.formation.numero.clone(),
            o.formation.intitule.clone(),
        )
    };
    let autre_numero = {
        let store = sofi::store::Store::open(&data).unwrap();
        store
            .numeros_par_organisme(&siret)
            .unwrap()
            .into_iter()
            .find(|n| *n != numero)
            .expect("the organisme has another offer")
    };
    for (email, role, s) in [
        ("of@flux.fr", "responsable", Some(siret.as_str())),
        ("staff@carif.fr", "staff", None),
    ] {
        compte_actif(&data, email, role, s);
    }
    let srv = Server::start_avec(&data, false, &[("SOFI_COOKIE_NON_SECURISE", "true")]);
    let base = srv.url("");
    let mut of = connecte(&base, "of@flux.fr", "mot de passe de test");
    let mut staff = connecte(&base, "staff@carif.fr", "mot de passe de test");

    // Feed offers: listed read-only with their source, not editable.
    let tableau = of.get("/espace");
    assert!(
        tableau.corps.contains("reçues par flux"),
        "{}",
        tableau.corps
    );
    assert!(tableau.corps.contains("flux"));
    let url = format!("/espace/formations/{numero}");
    let page = of.get(&url);
    assert_eq!(page.status, 200);
    assert!(page.corps.contains("vient du flux"));
    let jeton = csrf(&page.corps);
    let p = of.post_avec(
        &url,
        &[("_csrf", &jeton), ("intitule", "pirate")],
        Some(&base),
    );
    assert_eq!(p.status, 403);

    // Staff hand it over; the organisation edits it while the diffused version stays online.
    let p = staff.soumettre(
        &format!("/gestion/offres/{numero}"),
        &format!("/gestion/offres/{numero}/confier"),
        &[],
    );
    assert_eq!(p.status, 303, "{}", p.corps);
    let page = of.get(&url);
    let s = |k: &str| valeur(&page.corps, k).unwrap_or_default();
    let (obj, contenu) = (
        page.corps
            .split("id=\"objectif\"")
            .nth(1)
            .and_then(|r| r.split('>').nth(1))
            .and_then(|r| r.split("</textarea").next())
            .unwrap_or("")
            .to_string(),
        page.corps
            .split("id=\"contenu\"")
            .nth(1)
            .and_then(|r| r.split('>').nth(1))
            .and_then(|r| r.split("</textarea").next())
            .unwrap_or("")
            .to_string(),
    );
    let nouveau_titre = "Titre révisé par l'organisme";
    let champs = [
        ("intitule", nouveau_titre.to_string()),
        ("objectif", html_texte(&obj)),
        ("contenu", html_texte(&contenu)),
        ("resultats_attendus", "Attestation".to_string()),
        ("formacodes", s("formacodes")),
        ("niveau_entree", "0".to_string()),
        ("parcours", "1".to_string()),
        ("contact_nom", "Contact".to_string()),
        ("certification", s("certification")),
    ];
    let c: Vec<(&str, &str)> = champs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = of.soumettre(&url, &url, &c);
    assert_eq!(p.status, 303, "{}", p.corps);
    let (_, r) = call(
        ureq::get(&srv.url(&format!("/api/v1/formations/{numero}"))),
        None,
    );
    let public: serde_json::Value = r.into_json().unwrap();
    assert_eq!(
        public["formation"]["intitule"],
        serde_json::Value::String(titre.clone()),
        "the diffused revision stays online"
    );
    assert!(of
        .get(&url)
        .corps
        .contains("la version diffusée reste en ligne"));

    // Submitted, sent back with a reason the organisation sees, resubmitted, accepted.
    assert_eq!(
        of.soumettre(&url, &format!("{url}/soumettre"), &[]).status,
        303
    );
    let p = staff.soumettre(
        &format!("/gestion/offres/{numero}"),
        &format!("/gestion/offres/{numero}/corriger"),
        &[
            ("motif_code", "intitule-imprecis"),
            ("motif", "Précisez le programme des modules"),
        ],
    );
    assert_eq!(p.status, 303, "{}", p.corps);
    let page = of.get(&url);
    assert!(
        page.corps.contains("Précisez le programme des modules")
            && page.corps.contains("à corriger")
    );
    // The coded reason sits beside the field it concerns, with what to do.
    let i = page.corps.find("id=\"intitule\"").unwrap();
    let bloc = &page.corps[i..i + 900];
    assert!(
        bloc.contains("carif-intitule-imprecis") && bloc.contains("Intitulé imprécis"),
        "{bloc}"
    );
    // Staff extend the list of reasons; a bad code is named.
    let p = staff.soumettre(
        "/gestion/motifs",
        "/gestion/motifs",
        &[
            ("code", "Mauvais Code"),
            ("libelle", "x"),
            ("action", "y"),
            ("champ", ""),
        ],
    );
    assert_eq!(p.status, 422);
    let p = staff.soumettre(
        "/gestion/motifs",
        "/gestion/motifs",
        &[
            ("code", "rythme-flou"),
            ("libelle", "Rythme flou"),
            ("action", "Dites les jours et horaires."),
            ("champ", "heures_centre"),
        ],
    );
    assert_eq!(p.status, 303);
    assert!(staff.get("/gestion/motifs").corps.contains("Rythme flou"));
    assert_eq!(
        of.soumettre(&url, &format!("{url}/soumettre"), &[]).status,
        303
    );
    assert_eq!(
        staff
            .soumettre(
                &format!("/gestion/offres/{numero}"),
                &format!("/gestion/offres/{numero}/accepter"),
                &[]
            )
            .status,
        303
    );
    let (_, r) = call(
        ureq::get(&srv.url(&format!("/api/v1/formations/{numero}"))),
        None,
    );
    assert_eq!(
        r.into_json::<serde_json::Value>().unwrap()["formation"]["intitule"],
        nouveau_titre
    );
    // The feed comes again, whole: it no longer overwrites or withdraws the handed-over offer.
    let (s, r) = call(
        ureq::post(&srv.url("/api/v1/import?remplacer=1&source=flux"))
            .set("authorization", &format!("Bearer {}", srv.token.trim())),
        Some(&std::fs::read(&fichier).unwrap()),
    );
    assert_eq!(s, 200);
    let rapport: serde_json::Value = r.into_json().unwrap();
    assert!(
        rapport["rejets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["numero"] == numero.as_str()
                && r["erreurs"][0]["code"] == "offre-geree-par-l-organisme"),
        "{rapport}"
    );
    let (_, r) = call(
        ureq::get(&srv.url(&format!("/api/v1/formations/{numero}"))),
        None,
    );
    assert_eq!(
        r.into_json::<serde_json::Value>().unwrap()["formation"]["intitule"],
        nouveau_titre
    );

    // Duplicates: the same formation, place and modalities within 10 h.
    let p = of.soumettre("/espace/jetons", "/espace/jetons", &[("libelle", "test")]);
    let i = p.corps.find("lien-unique\">").unwrap() + "lien-unique\">".len();
    let auth = format!("Bearer {}", &p.corps[i..i + 64]);
    let offre = |h: u32| {
        format!(
            r#"{{"formation":{{"intitule":"Habilitation électrique","objectif":"B1V","contenu":"Théorie et pratique","resultats_attendus":"Avis","formacodes":"31734","niveau_entree":"0","parcours":"1","contact_nom":"X"}},"actions":[{{"action":{{"lieu":"0","modalites_enseignement":"0","entrees_sorties":"0","heures_centre":"{h}","rythme":"Temps plein","alternance":"Sans objet","conditions_acces":"Aucun","financeurs":["2"],"publics":["80006"]}},"sessions":[{{"debut":"2027-05-01","fin":"2027-05-05","etat_recrutement":"1"}}]}}]}}"#
        )
    };
    let (s1, a) = api(
        &srv,
        "POST",
        "/api/v1/espace/offres",
        &auth,
        Some(offre(35).as_bytes()),
    );
    assert_eq!(s1, 201, "{a}");
    let doublon = |v: &serde_json::Value| {
        v["constats"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["code"] == "doublon")
    };
    assert!(!doublon(&a), "{a}");
    let (_, b) = api(
        &srv,
        "POST",
        "/api/v1/espace/offres",
        &auth,
        Some(offre(42).as_bytes()),
    );
    assert!(doublon(&b), "a second one within 10 h is a duplicate: {b}");
    let (_, c) = api(
        &srv,
        "POST",
        "/api/v1/espace/offres",
        &auth,
        Some(offre(70).as_bytes()),
    );
    assert!(!doublon(&c), "35 h apart is another offer");
    let nb = b["numero"].as_str().unwrap();
    let (s, e) = api(
        &srv,
        "POST",
        &format!("/api/v1/espace/offres/{nb}/soumission"),
        &auth,
        None,
    );
    assert_eq!(s, 422, "a duplicate cannot be submitted: {e}");

    // Its own LHÉO file: the offer it manages lands `en_attente`; the feed's other offers and
    // other organisations' are refused, each with its reason.
    let (s, rapport) = call(
        ureq::post(&srv.url("/api/v1/espace/fichier")).set("authorization", &auth),
        Some(&std::fs::read(&fichier).unwrap()),
    );
    assert_eq!(s, 200);
    let rapport: serde_json::Value = rapport.into_json().unwrap();
    let codes: Vec<&str> = rapport["rejets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["erreurs"][0]["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"siret-autre-organisme"), "{rapport}");
    assert!(rapport["stockees"].as_u64().unwrap() >= 1, "{rapport}");
    let (_, d) = api(
        &srv,
        "GET",
        &format!("/api/v1/espace/offres/{numero}"),
        &auth,
        None,
    );
    assert_eq!(d["etat"], "en_attente", "{d}");
    assert_eq!(d["en_ligne"], true);

    // Withdrawn: out of the public API, a deletion in the incremental feed.
    let seq = srv.wait_health()["journal_seq"].as_u64().unwrap();
    let p = of.soumettre(&url, &format!("{url}/retirer"), &[]);
    assert_eq!(p.status, 303, "{}", p.corps);
    let (s, _) = call(
        ureq::get(&srv.url(&format!("/api/v1/formations/{numero}"))),
        None,
    );
    assert_eq!(s, 404);
    let (_, r) = call(
        ureq::get(&srv.url(&format!("/lheo/offres.xml?depuis={seq}"))),
        None,
    );
    let flux = r.into_string().unwrap();
    assert!(
        flux.contains(&numero),
        "the withdrawal is in ?depuis=: {flux}"
    );

    // The public page says when the offer was verified and takes error reports (no account,
    // same-site only, limited per address), which become staff queue items.
    let public = call(
        ureq::get(&srv.url(&format!("/formation/{autre_numero}"))),
        None,
    )
    .1
    .into_string()
    .unwrap();
    assert!(
        public.contains("Offre vérifiée par le Carif-Oref le"),
        "{public}"
    );
    let rapport = |texte: &str, origine: &str| {
        call(
            ureq::post(&srv.url(&format!("/formation/{autre_numero}")))
                .set("origin", origine)
                .set("content-type", "application/x-www-form-urlencoded"),
            Some(format!("texte={texte}").as_bytes()),
        )
        .0
    };
    assert_eq!(rapport("Le%20prix%20a%20chang%C3%A9%20%3Cb%3E", &base), 200);
    assert_eq!(rapport("x", "http://evil.example"), 403);
    assert_eq!(rapport("", &base), 422);
    let file = staff.get("/gestion");
    assert!(
        file.corps.contains("Le prix a changé &lt;b&gt;"),
        "escaped in the queue: {}",
        file.corps
    );
    let i = file.corps.find("/gestion/signalements/").unwrap();
    let action = file.corps[i..].split('"').next().unwrap().to_string();
    assert_eq!(staff.soumettre("/gestion", &action, &[]).status, 303);
    assert!(!staff.get("/gestion").corps.contains("Le prix a changé"));

    // Suspending the organisme: its offers become deletions in ?depuis=, its feed cannot
    // bring them back; reinstating it rediffuses them.
    let seq = srv.wait_health()["journal_seq"].as_u64().unwrap();
    let p = staff.soumettre(
        "/gestion",
        "/gestion/organismes/suspension",
        &[
            ("operation", "suspendre"),
            ("siret", &siret),
            ("motif", "Déclaration d'activité caduque"),
        ],
    );
    assert_eq!(p.status, 303, "{}", p.corps);
    let (s, _) = call(
        ureq::get(&srv.url(&format!("/api/v1/formations/{autre_numero}"))),
        None,
    );
    assert_eq!(s, 404, "a suspended organisme's offer is not public");
    let (_, r) = call(
        ureq::get(&srv.url(&format!("/lheo/offres.xml?depuis={seq}"))),
        None,
    );
    assert!(
        r.into_string().unwrap().contains(&autre_numero),
        "a deletion in ?depuis="
    );
    assert!(of
        .get("/espace")
        .corps
        .contains("Votre organisme est suspendu"));
    let (_, r) = call(
        ureq::post(&srv.url("/api/v1/import?source=flux"))
            .set("authorization", &format!("Bearer {}", srv.token.trim())),
        Some(&std::fs::read(&fichier).unwrap()),
    );
    let rapport: serde_json::Value = r.into_json().unwrap();
    assert!(
        rapport["rejets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["erreurs"][0]["code"] == "organisme-suspendu"),
        "{rapport}"
    );
    let (s, _) = call(
        ureq::get(&srv.url(&format!("/api/v1/formations/{autre_numero}"))),
        None,
    );
    assert_eq!(s, 404, "the feed does not bring it back");
    let p = staff.soumettre(
        "/gestion",
        "/gestion/organismes/suspension",
        &[("operation", "retablir"), ("siret", &siret)],
    );
    assert_eq!(p.status, 303, "{}", p.corps);
    let (s, _) = call(
        ureq::get(&srv.url(&format!("/api/v1/formations/{autre_numero}"))),
        None,
    );
    assert_eq!(s, 200, "reinstated, its offers are back");

    // The organisme's history for staff: its suspension and reinstatement, with who and why.
    let h = staff.get(&format!("/gestion/historique?objet=organisme+{siret}"));
    assert_eq!(h.status, 200);
    assert!(
        h.corps.contains("suspension")
            && h.corps.contains("retablissement")
            && h.corps.contains("activité caduque"),
        "{}",
        h.corps
    );
    assert!(h.corps.contains("staff@carif.fr"));

    // Forgotten password: staff issue a new link; once used, the old sessions are dead.
    let p = staff.soumettre(
        "/gestion",
        "/gestion/comptes/lien",
        &[("email", "of@flux.fr")],
    );
    assert_eq!(p.status, 200, "{}", p.corps);
    let lien = lien_de(&p.corps);
    let mut x = Navigateur::new(&base);
    activer(&mut x, &lien, "un tout nouveau mot de passe");
    assert_eq!(
        of.get("/espace").status,
        303,
        "the old session ended with the new password"
    );
    assert_eq!(
        connexion(
            &mut Navigateur::new(&base),
            "of@flux.fr",
            "mot de passe de test"
        )
        .status,
        401
    );
}

/// The text of an HTML-escaped textarea.
fn html_texte(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[test]
fn a_date_only_change_goes_online_without_staff() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    // A policy file that is wrong names its key, and the server does not start.
    let mauvaise = dir.path().join("mauvaise.toml");
    std::fs::write(&mauvaise, "automatiques = [\"intitule\"]\n").unwrap();
    let o = run(sofi()
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0", "--politique"])
        .arg(&mauvaise));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("automatiques") && stderr(&o).contains("intitule"),
        "{}",
        stderr(&o)
    );
    // Every auto-accepted change drawn for a look, to see it in the queue.
    let politique = dir.path().join("politique.toml");
    std::fs::write(&politique, "echantillon = 1.0\n").unwrap();
    let s = siret("4400000000005");
    for (email, role, x) in [
        ("of@dates.fr", "responsable", Some(s.as_str())),
        ("staff@carif.fr", "staff", None),
    ] {
        compte_actif(&data, email, role, x);
    }
    let srv = Server::start_avec(
        &data,
        false,
        &[
            ("SOFI_COOKIE_NON_SECURISE", "true"),
            ("SOFI_POLITIQUE", politique.to_str().unwrap()),
        ],
    );
    let base = srv.url("");
    let mut of = connecte(&base, "of@dates.fr", "mot de passe de test");
    let mut staff = connecte(&base, "staff@carif.fr", "mot de passe de test");
    // Every staff route: an organisation's user gets 403, no session means the login page.
    let jeton = csrf(&of.get("/espace").corps);
    let lectures = [
        "/gestion",
        "/gestion/offres/ESP1",
        "/gestion/motifs",
        "/gestion/comptes",
        "/gestion/fraicheur",
    ];
    let ecritures = [
        "/gestion/demandes/1/accepter",
        "/gestion/organismes/activation",
        "/gestion/organismes/suspension",
        "/gestion/offres/ESP1/accepter",
        "/gestion/offres/ESP1/corriger",
        "/gestion/selection/accepter",
        "/gestion/comptes",
        "/gestion/comptes/lien",
        "/gestion/motifs",
        "/gestion/signalements/1",
    ];
    let mut anonyme = Navigateur::new(&base);
    for r in lectures {
        assert_eq!(of.get(r).status, 403, "GET {r} as an organisation");
        let p = anonyme.get(r);
        assert_eq!(
            (p.status, p.location.as_deref()),
            (303, Some("/espace/connexion")),
            "GET {r} without a session"
        );
    }
    for r in ecritures {
        let p = of.post_avec(
            r,
            &[
                ("_csrf", &jeton),
                ("siret", &s),
                ("email", "x@y.fr"),
                ("role", "admin"),
            ],
            Some(&base),
        );
        assert_eq!(p.status, 403, "POST {r} as an organisation");
        let p = anonyme.post_avec(r, &[("siret", &s)], Some(&base));
        assert_eq!(p.status, 303, "POST {r} without a session");
    }
    let p = of.soumettre(
        "/espace/etablissement",
        "/espace/etablissement",
        &[
            ("numero_activite", "52440000044"),
            ("raison_sociale", "OF des dates"),
            ("sp_codepostal", "44000"),
            ("sp_ville", "Nantes"),
            ("formacodes", "31734"),
        ],
    );
    assert_eq!(p.status, 200, "{}", p.corps);
    let p = of.soumettre("/espace/jetons", "/espace/jetons", &[("libelle", "test")]);
    let auth = format!("Bearer {}", valeur_code(&p.corps));
    let offre = |titre: &str, debut: &str| {
        format!(
            r#"{{"formation":{{"intitule":"{titre}","objectif":"Conduire","contenu":"Pratique","resultats_attendus":"Attestation","formacodes":"31734","niveau_entree":"0","parcours":"1","contact_nom":"X"}},"actions":[{{"action":{{"lieu":"0","modalites_enseignement":"0","entrees_sorties":"0","heures_centre":"35","rythme":"Temps plein","alternance":"Sans objet","conditions_acces":"Aucun","financeurs":["2"],"publics":["80006"]}},"sessions":[{{"debut":"{debut}","fin":"2027-12-20","etat_recrutement":"1"}}]}}]}}"#
        )
    };
    let (st, j) = api(
        &srv,
        "POST",
        "/api/v1/espace/offres",
        &auth,
        Some(offre("Cariste", "2027-12-01").as_bytes()),
    );
    assert_eq!(st, 201, "{j}");
    let numero = j["numero"].as_str().unwrap().to_string();
    let (st, j) = api(
        &srv,
        "POST",
        &format!("/api/v1/espace/offres/{numero}/soumission"),
        &auth,
        None,
    );
    assert_eq!((st, j["etat"].as_str()), (200, Some("en_attente")), "{j}");
    // A new offer always waits for staff.
    let p = staff.soumettre(
        &format!("/gestion/offres/{numero}"),
        &format!("/gestion/offres/{numero}/accepter"),
        &[],
    );
    assert_eq!(p.status, 303, "{}", p.corps);

    // Only a session date changes: online at once, no staff.
    let (st, _) = api(
        &srv,
        "PUT",
        &format!("/api/v1/espace/offres/{numero}"),
        &auth,
        Some(offre("Cariste", "2027-12-08").as_bytes()),
    );
    assert_eq!(st, 200);
    let (st, j) = api(
        &srv,
        "POST",
        &format!("/api/v1/espace/offres/{numero}/soumission"),
        &auth,
        None,
    );
    assert_eq!((st, j["etat"].as_str()), (200, Some("diffusee")), "{j}");
    let (_, r) = call(
        ureq::get(&srv.url(&format!("/api/v1/formations/{numero}"))),
        None,
    );
    let public = r.into_string().unwrap();
    assert!(
        public.contains("20271208"),
        "the new date is online: {public}"
    );
    // Drawn for a look (the policy's rate is 1 here), audited as the policy's decision.
    let file = staff.get("/gestion");
    assert!(
        file.corps.contains("tirées pour un coup d'œil (1)") && file.corps.contains(&numero),
        "{}",
        file.corps
    );

    // The title changes: it waits, and staff see exactly what changed, side by side.
    let (st, _) = api(
        &srv,
        "PUT",
        &format!("/api/v1/espace/offres/{numero}"),
        &auth,
        Some(offre("Cariste CACES R489", "2027-12-08").as_bytes()),
    );
    assert_eq!(st, 200);
    let (st, j) = api(
        &srv,
        "POST",
        &format!("/api/v1/espace/offres/{numero}/soumission"),
        &auth,
        None,
    );
    assert_eq!((st, j["etat"].as_str()), (200, Some("en_attente")), "{j}");
    assert!(
        of.get(&format!("/espace/formations/{numero}"))
            .corps
            .contains("diffusion-automatique"),
        "the organisation sees its offer's history"
    );
    // The queue: its age and deadlines, filters, and bulk acceptance.
    let file = staff.get(&format!(
        "/gestion?organisme={s}&formacode=31734&type=offres"
    ));
    assert!(
        file.corps.contains(&numero)
            && file.corps.contains("modification")
            && file.corps.contains("Décider avant"),
        "{}",
        file.corps
    );
    assert!(!staff
        .get("/gestion?source=fichier")
        .corps
        .contains(&format!("sel-{numero}")));
    assert!(!staff
        .get("/gestion?departement=85")
        .corps
        .contains(&format!("sel-{numero}")));
    let page = staff.get(&format!("/gestion/offres/{numero}"));
    assert!(
        page.corps
            .contains("Ce qui change par rapport à la version en ligne (1)"),
        "{}",
        page.corps
    );
    assert!(
        page.corps
            .contains("<td>Cariste</td><td>Cariste CACES R489</td>"),
        "{}",
        page.corps
    );
    let p = staff.soumettre(
        "/gestion",
        "/gestion/selection/accepter",
        &[("sel", &numero)],
    );
    assert!(p.corps.contains("1 offre(s) acceptée(s)"), "{}", p.corps);
    let p = staff.soumettre(
        "/gestion",
        "/gestion/selection/accepter",
        &[("sel", &numero)],
    );
    assert!(
        p.corps.contains("plus en attente"),
        "a second decision is a clear conflict: {}",
        p.corps
    );
    // Freshness over the last 30 days: three diffusions (staff, policy, bulk), within J+1.
    let page = staff.get("/gestion/fraicheur");
    assert!(
        page.corps
            .contains("<th scope=\"row\">Offres diffusées</th><td>3</td>"),
        "{}",
        page.corps
    );
    assert!(page
        .corps
        .contains("<th scope=\"row\">Au-delà de J+3 (diffusion)</th><td>0</td>"));
    assert!(page.corps.contains("<svg"));
    assert!(page
        .corps
        .contains("Offres reçues par flux, 30 derniers jours"));
    // Per offer: received, decided (by whom), diffused.
    let page = staff.get(&format!("/gestion/offres/{numero}"));
    let parcours = &page.corps[page
        .corps
        .find("Reçue, décidée, diffusée")
        .expect("parcours")..];
    assert!(
        parcours.contains("<dt>Décidée</dt><dd>") && parcours.contains("acceptée par compte"),
        "{parcours}"
    );
    assert!(parcours.contains("cette version depuis le"), "{parcours}");

    // Refused, with its reason, shown to the organisation.
    let (st, _) = api(
        &srv,
        "PUT",
        &format!("/api/v1/espace/offres/{numero}"),
        &auth,
        Some(offre("Cariste (nouvelle formule)", "2027-12-08").as_bytes()),
    );
    assert_eq!(st, 200);
    let (_, j) = api(
        &srv,
        "POST",
        &format!("/api/v1/espace/offres/{numero}/soumission"),
        &auth,
        None,
    );
    assert_eq!(j["etat"], "en_attente");
    let p = staff.soumettre(
        &format!("/gestion/offres/{numero}"),
        &format!("/gestion/offres/{numero}/refuser"),
        &[("motif", "Formation déjà proposée sous un autre numéro")],
    );
    assert_eq!(p.status, 303, "{}", p.corps);
    let (_, j) = api(
        &srv,
        "GET",
        &format!("/api/v1/espace/offres/{numero}"),
        &auth,
        None,
    );
    assert_eq!(j["etat"], "refusee", "{j}");
    let page = of.get(&format!("/espace/formations/{numero}"));
    assert!(
        page.corps.contains("a refusé cette version")
            && page
                .corps
                .contains("Formation déjà proposée sous un autre numéro")
    );
    // An offer whose last session has ended: expired, and its organisation is told.
    let passee = |debut: &str, fin: &str| {
        offre("Magasinier", debut).replace("\"fin\":\"2027-12-20\"", &format!("\"fin\":\"{fin}\""))
    };
    let (st, j) = api(
        &srv,
        "POST",
        "/api/v1/espace/offres",
        &auth,
        Some(passee("2027-11-02", "2027-11-30").as_bytes()),
    );
    assert_eq!(st, 201, "{j}");
    let vieille = j["numero"].as_str().unwrap().to_string();
    api(
        &srv,
        "POST",
        &format!("/api/v1/espace/offres/{vieille}/soumission"),
        &auth,
        None,
    );
    let p = staff.soumettre(
        &format!("/gestion/offres/{vieille}"),
        &format!("/gestion/offres/{vieille}/accepter"),
        &[],
    );
    assert_eq!(p.status, 303, "{}", p.corps);
    assert!(!of.get("/espace").corps.contains("expirée(s)"));
    let (st, j) = api(
        &srv,
        "PUT",
        &format!("/api/v1/espace/offres/{vieille}"),
        &auth,
        Some(passee("2025-11-03", "2025-11-28").as_bytes()),
    );
    assert_eq!(st, 200, "{j}");
    let (_, j) = api(
        &srv,
        "POST",
        &format!("/api/v1/espace/offres/{vieille}/soumission"),
        &auth,
        None,
    );
    assert_eq!(
        j["etat"], "expiree",
        "dates only, online at once, and already over: {j}"
    );
    let tableau = of.get("/espace").corps;
    assert!(tableau.contains("1 offre(s) expirée(s)"), "{tableau}");

    // Users, managed by staff: only admins manage staff; a deactivated account's sessions end.
    let p = staff.soumettre(
        "/gestion/comptes",
        "/gestion/comptes",
        &[
            ("email", "chef@carif.fr"),
            ("nom", "Chef"),
            ("role", "admin"),
        ],
    );
    assert_eq!(p.status, 403);
    let p = staff.soumettre(
        "/gestion/comptes",
        "/gestion/comptes",
        &[
            ("email", "nouveau@of.fr"),
            ("nom", "Nouveau"),
            ("role", "organisme"),
            ("sirets", &s),
        ],
    );
    assert_eq!(p.status, 200, "{}", p.corps);
    assert!(p.corps.contains("/espace/lien/"));
    let page = staff.get("/gestion/comptes");
    let i = page.corps.find("of@dates.fr").unwrap();
    let id = valeur(&page.corps[i..], "id").unwrap();
    let p = staff.soumettre(
        "/gestion/comptes",
        "/gestion/comptes",
        &[("id", &id), ("role", "responsable"), ("actif", "0")],
    );
    assert_eq!(p.status, 303, "{}", p.corps);
    assert_eq!(
        of.get("/espace").status,
        303,
        "deactivated: its session ended"
    );
    drop(srv);
    let store = sofi::store::Store::open(&data).unwrap();
    assert!(
        store.file().unwrap().is_empty(),
        "the queue follows the states"
    );
    let e = store.audit(Some(&format!("offre {numero}")), 50).unwrap();
    assert!(e.iter().any(|x| x.action == "diffusion-automatique"
        && x.auteur == "politique d'acceptation automatique"));
    assert!(store.verify_backoffice().unwrap().sain);
    drop(store);
    // `sofi audit --since`: JSON Lines, oldest first, every step with its author.
    let o = run(sofi()
        .arg("--data-dir")
        .arg(&data)
        .args(["audit", "--since", "2020-01-01"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let lignes: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let etapes: Vec<(&str, &str)> = lignes
        .iter()
        .filter(|e| e["objet"] == format!("offre {numero}").as_str())
        .map(|e| (e["action"].as_str().unwrap(), e["auteur"].as_str().unwrap()))
        .collect();
    assert!(
        etapes
            .iter()
            .any(|(a, u)| *a == "creation-api" && u.contains("of@dates.fr")),
        "{etapes:?}"
    );
    assert!(
        etapes
            .iter()
            .any(|(a, u)| *a == "diffusion" && u.contains("staff@carif.fr")),
        "{etapes:?}"
    );
    assert!(lignes
        .windows(2)
        .all(|w| w[0]["seq"].as_u64() < w[1]["seq"].as_u64()));
    let o = run(sofi()
        .arg("--data-dir")
        .arg(&data)
        .args(["audit", "--since", "hier"]));
    assert!(!o.status.success() && stderr(&o).contains("--since"));
}

/// The token shown once on the API tokens page.
fn valeur_code(html: &str) -> String {
    let i = html.find("lien-unique\">").unwrap() + "lien-unique\">".len();
    html[i..i + 64].to_string()
}
