//! Carif staff process an organisation's revision in real headless Chromium, as the issue's
//! check describes: the organisation changes its title and a session date and submits;
//! staff see the queue item with its age, open it and see exactly those two fields before
//! and after; ask for a correction with a coded reason; the organisation sees the reason
//! beside its title, fixes it and submits again; staff accept; the new title is found by
//! search and listed in `?depuis=`; the audit trail shows each step with the right user.
//! Then a date-only change goes online without staff, and suspending the organisme turns
//! its offer into a deletion in the incremental feed. Screenshots of each screen go to
//! `target/screenshots/gestion-*.png`.

mod common;

use common::navigateur::*;
use common::*;
use fantoccini::Client;
use std::time::{Duration, Instant};

fn siret(prefixe: &str) -> String {
    (0..10)
        .map(|d| format!("{prefixe}{d}"))
        .find(|s| sofi::rules::siret_valide(s))
        .unwrap()
}

async fn connexion(c: &Client, base: &str, email: &str) {
    aller(c, base, "/espace/connexion").await;
    remplir(c, "#email", email).await;
    remplir(c, "#mot_de_passe", "mot de passe de test").await;
    touche(c, ENTREE).await;
    attendre("connecté", || async {
        !c.current_url().await.unwrap().path().contains("/connexion")
    })
    .await;
}

/// The lines of the review's table of changes: (field, online, proposed).
async fn changements(c: &Client) -> Vec<Vec<String>> {
    let v = js(
        c,
        "const t = document.querySelector('section[aria-labelledby=t-changements] table');
         if (!t) return [];
         return [...t.querySelectorAll('tbody tr')].map(r => [...r.cells].map(x => x.innerText.trim()));",
    )
    .await;
    serde_json::from_value(v).unwrap()
}

/// From the formation's page, the first session of its first action gets a new start date,
/// saved; back on the formation's page.
async fn changer_debut(org: &Client, base: &str, url_formation: &str, debut: &str) {
    aller(org, base, url_formation).await;
    activer_au_clavier(org, "main a[href*='/actions/']:not([href$='nouvelle'])").await;
    apres(org, "/actions/").await;
    activer_au_clavier(
        org,
        "table.table-sessions a[href*='/sessions/']:not([href$='nouvelle'])",
    )
    .await;
    apres(org, "/sessions/").await;
    remplir(org, "#debut", debut).await;
    activer_au_clavier(org, "form.saisie > p > button[type=submit]").await;
    apres(org, "/sessions/").await;
    aller(org, base, url_formation).await;
}

fn journal_seq(srv: &Server) -> u64 {
    let (_, r) = call(ureq::get(&srv.url("/health")), None);
    r.into_json::<serde_json::Value>().unwrap()["journal_seq"]
        .as_u64()
        .unwrap()
}

/// Polls the search and the incremental feed until both show the change (10 s at most);
/// how long each took, as seen from outside.
fn trouve_et_flux(srv: &Server, mot: &str, numero: &str, seq: u64) -> (Duration, Duration) {
    let t = Instant::now();
    let (mut recherche, mut flux) = (None, None);
    while (recherche.is_none() || flux.is_none()) && t.elapsed() < Duration::from_secs(10) {
        if recherche.is_none() {
            let (_, r) = call(
                ureq::get(&srv.url(&format!("/api/v1/recherche?q={mot}"))),
                None,
            );
            let j: serde_json::Value = r.into_json().unwrap();
            if j["total"].as_u64().unwrap_or(0) > 0 {
                recherche = Some(t.elapsed());
            }
        }
        if flux.is_none() {
            let (_, r) = call(
                ureq::get(&srv.url(&format!("/lheo/offres.xml?depuis={seq}"))),
                None,
            );
            if r.into_string().unwrap().contains(numero) {
                flux = Some(t.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (
        recherche.expect("found by search"),
        flux.expect("in the incremental feed"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_review_a_revision_by_difference() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    let s = siret("4400000000007");
    for (email, role, x) in [
        ("camille@cariste.fr", "responsable", Some(s.as_str())),
        ("dominique@carif.fr", "staff", None),
    ] {
        compte_actif(&data, email, role, x);
    }
    let srv = Server::start(&data, false);
    let base = srv.url("");
    let (_pilote, port) = chromedriver();
    let (p1, p2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let org = navigateur(port, p1.path()).await;
    let equipe = navigateur(port, p2.path()).await;
    connexion(&org, &base, "camille@cariste.fr").await;
    connexion(&equipe, &base, "dominique@carif.fr").await;

    // Set-up, not under test here: the establishment, an API token, and a first version of
    // the offer entered by API and accepted.
    aller(&org, &base, "/espace/etablissement").await;
    for (champ, valeur) in [
        ("#numero_activite", "52440000044"),
        ("#raison_sociale", "Cariste Formation"),
        ("#sp_codepostal", "44000"),
        ("#sp_ville", "Nantes"),
        ("#formacodes", "31734"),
    ] {
        remplir(&org, champ, valeur).await;
    }
    activer_au_clavier(&org, "form.saisie > p > button[type=submit]").await;
    attendre("établissement enregistré", || async {
        texte(&org).await.contains("Établissement enregistré")
    })
    .await;
    aller(&org, &base, "/espace/jetons").await;
    remplir(&org, "#libelle", "logiciel").await;
    touche(&org, ENTREE).await;
    attendre("jeton", || async {
        texte(&org).await.contains("affiché cette fois seulement")
    })
    .await;
    let jeton = js(
        &org,
        "return document.querySelector('code.lien-unique').textContent",
    )
    .await;
    let auth = format!("Bearer {}", jeton.as_str().unwrap());
    let corps = r#"{"formation":{"intitule":"Cariste","objectif":"Conduire un chariot en sécurité","contenu":"Pratique sur site","resultats_attendus":"Attestation","formacodes":"31734","niveau_entree":"0","parcours":"1","contact_nom":"Camille"},"actions":[{"action":{"lieu":"0","modalites_enseignement":"0","entrees_sorties":"0","heures_centre":"35","rythme":"Temps plein","alternance":"Sans objet","conditions_acces":"Aucun","financeurs":["2"],"publics":["80006"]},"sessions":[{"debut":"2027-12-01","fin":"2027-12-20","etat_recrutement":"1"}]}]}"#;
    let (st, r) = call(
        ureq::post(&srv.url("/api/v1/espace/offres"))
            .set("authorization", &auth)
            .set("content-type", "application/json"),
        Some(corps.as_bytes()),
    );
    let j: serde_json::Value = r.into_json().unwrap();
    assert_eq!(st, 201, "{j}");
    let numero = j["numero"].as_str().unwrap().to_string();
    let (st, _) = call(
        ureq::post(&srv.url(&format!("/api/v1/espace/offres/{numero}/soumission")))
            .set("authorization", &auth),
        None,
    );
    assert_eq!(st, 200);
    aller(&equipe, &base, &format!("/gestion/offres/{numero}")).await;
    activer_au_clavier(&equipe, "form[action$='/accepter'] button").await;
    attendre("première version acceptée", || async {
        texte(&equipe).await.contains("diffusée")
    })
    .await;
    let url_formation = format!("/espace/formations/{numero}");

    // 1. The organisation changes the title and a session's start, and submits.
    aller(&org, &base, &url_formation).await;
    remplir(&org, "#intitule", "Cariste chariots élévateurs").await;
    activer_au_clavier(&org, "form.saisie > p > button[type=submit]").await;
    apres(&org, &url_formation).await;
    changer_debut(&org, &base, &url_formation, "08/12/2027").await;
    activer_au_clavier(&org, "form[action$='/soumettre'] button").await;
    apres(&org, &url_formation).await;
    assert!(
        texte(&org).await.contains("en attente de validation"),
        "{}",
        texte(&org).await
    );
    capture(&org, "gestion-1-revision-soumise").await;

    // 2. Staff see it in the queue, with its age and deadlines, and open it.
    aller(&equipe, &base, "/gestion").await;
    let t = texte(&equipe).await;
    assert!(t.contains("Offres soumises (1)"), "{t}");
    assert!(t.contains("Cariste chariots élévateurs") && t.contains("modification"));
    let age = js(
        &equipe,
        "return document.querySelector('section[aria-labelledby=t-offres] tbody tr').cells[4].innerText",
    )
    .await;
    assert!(!age.as_str().unwrap().is_empty(), "its age is shown");
    capture(&equipe, "gestion-2-file").await;
    activer_au_clavier(&equipe, &format!("a[href='/gestion/offres/{numero}']")).await;
    apres(&equipe, &format!("/gestion/offres/{numero}")).await;

    // 3. Exactly those two fields, before and after side by side.
    let lignes = changements(&equipe).await;
    assert_eq!(lignes.len(), 2, "{lignes:?}");
    let titre = lignes
        .iter()
        .find(|l| l[1] == "Cariste")
        .unwrap_or_else(|| panic!("{lignes:?}"));
    assert_eq!(titre[2], "Cariste chariots élévateurs");
    assert!(titre[3].contains("à vérifier"), "{titre:?}");
    let date = lignes
        .iter()
        .find(|l| l[1].contains("2027") && l[2].contains("2027"))
        .unwrap_or_else(|| panic!("{lignes:?}"));
    assert_eq!(
        (date[1].as_str(), date[2].as_str()),
        ("01/12/2027", "08/12/2027")
    );
    assert!(date[0].ends_with("début de la session"), "{date:?}");
    assert_eq!(titre[0], "intitulé");
    capture(&equipe, "gestion-3-revue").await;

    // 4. Sent back with a coded reason and a word.
    tabuler_jusqua(&equipe, "#m-intitule-imprecis").await;
    touche(&equipe, ESPACE).await;
    remplir(&equipe, "#motif", "Précisez la catégorie de CACES <R489>.").await;
    activer_au_clavier(&equipe, "form[action$='/corriger'] button").await;
    attendre("renvoyée", || async {
        texte(&equipe).await.contains("à corriger")
    })
    .await;
    capture(&equipe, "gestion-4-a-corriger").await;

    // 5. The organisation sees the reason beside its title, fixes it, submits again.
    aller(&org, &base, &url_formation).await;
    let decrit = js(
        &org,
        "const d = document.getElementById('intitule').getAttribute('aria-describedby') || '';
         return d.split(' ').map(id => document.getElementById(id)).filter(x => x).map(x => x.innerText).join(' | ');",
    )
    .await;
    let decrit = decrit.as_str().unwrap().to_string();
    assert!(
        decrit.contains("Intitulé imprécis") && decrit.contains("<R489>"),
        "the reason beside the title, escaped: {decrit}"
    );
    capture(&org, "gestion-5-motif-vu-par-l-organisme").await;
    remplir(&org, "#intitule", "Cariste chariots élévateurs CACES R489").await;
    activer_au_clavier(&org, "form.saisie > p > button[type=submit]").await;
    apres(&org, &url_formation).await;
    activer_au_clavier(&org, "form[action$='/soumettre'] button").await;
    apres(&org, &url_formation).await;
    assert!(texte(&org).await.contains("en attente de validation"));

    // 6. Staff accept: searchable and in `?depuis=` (timed from outside, reported).
    aller(&equipe, &base, &format!("/gestion/offres/{numero}")).await;
    assert_eq!(changements(&equipe).await.len(), 2);
    let seq = journal_seq(&srv);
    activer_au_clavier(&equipe, "form[action$='/accepter'] button").await;
    let t0 = Instant::now();
    let (recherche, flux) = trouve_et_flux(&srv, "elevateurs", &numero, seq);
    eprintln!(
        "accepted → searchable {:.0} ms, in ?depuis= {:.0} ms (from the click, browser included; {:.0} ms overall)",
        recherche.as_secs_f64() * 1000.0,
        flux.as_secs_f64() * 1000.0,
        t0.elapsed().as_secs_f64() * 1000.0
    );
    attendre("acceptée", || async {
        texte(&equipe).await.contains("diffusée")
    })
    .await;

    // 7. The audit trail: each step, by the right person.
    let historique = js(
        &equipe,
        "return [...document.querySelectorAll('section[aria-labelledby=t-historique] tbody tr')].map(r => r.cells[1].innerText + ' ' + r.cells[2].innerText)",
    )
    .await;
    let historique: Vec<String> = serde_json::from_value(historique).unwrap();
    let par = |qui: &str, quoi: &str| {
        historique
            .iter()
            .any(|l| l.contains(qui) && l.contains(quoi))
    };
    for (qui, quoi) in [
        ("camille@cariste.fr", "creation-api"),
        ("camille@cariste.fr", "soumission"),
        ("dominique@carif.fr", "a-corriger"),
        ("dominique@carif.fr", "diffusion"),
    ] {
        assert!(par(qui, quoi), "{quoi} by {qui}: {historique:?}");
    }
    assert!(
        historique
            .iter()
            .filter(|l| l.contains("dominique@carif.fr") && l.contains("diffusion"))
            .count()
            >= 2,
        "both acceptances: {historique:?}"
    );
    let parcours = texte(&equipe).await;
    assert!(parcours.contains("acceptée par compte"), "{parcours}");
    capture(&equipe, "gestion-6-acceptee-et-historique").await;

    // 8. A date-only change goes online at once, without staff.
    changer_debut(&org, &base, &url_formation, "15/12/2027").await;
    activer_au_clavier(&org, "form[action$='/soumettre'] button").await;
    apres(&org, &url_formation).await;
    let t = texte(&org).await;
    assert!(
        t.contains("diffusée") && !t.contains("en attente de validation"),
        "{t}"
    );
    capture(&org, "gestion-7-date-en-ligne-sans-equipe").await;
    let (_, r) = call(
        ureq::get(&srv.url(&format!("/api/v1/formations/{numero}"))),
        None,
    );
    assert!(r.into_string().unwrap().contains("20271215"));
    aller(&equipe, &base, "/gestion").await;
    assert!(texte(&equipe).await.contains("Offres soumises (0)"));

    // 9. Suspending the organisme: its offer becomes a deletion in the incremental feed.
    let seq = journal_seq(&srv);
    remplir(&equipe, "#s-siret", &s).await;
    remplir(&equipe, "#s-motif", "NDA caduc").await;
    activer_au_clavier(
        &equipe,
        "form.saisie[action='/gestion/organismes/suspension'] button",
    )
    .await;
    attendre("suspendu", || async {
        texte(&equipe).await.contains("NDA caduc")
    })
    .await;
    capture(&equipe, "gestion-8-suspension").await;
    let (_, r) = call(
        ureq::get(&srv.url(&format!("/lheo/offres.xml?depuis={seq}"))),
        None,
    );
    let xml = r.into_string().unwrap();
    assert!(
        xml.contains(&format!("numero=\"{numero}\""))
            && !xml.contains("<intitule-formation>Cariste"),
        "a deletion: {xml}"
    );
    let (st, _) = call(
        ureq::get(&srv.url(&format!("/api/v1/formations/{numero}"))),
        None,
    );
    assert_eq!(st, 404);
    assert!(erreurs_console(&org).await.is_empty());
    assert!(erreurs_console(&equipe).await.is_empty());
    org.close().await.unwrap();
    equipe.close().await.unwrap();
}
