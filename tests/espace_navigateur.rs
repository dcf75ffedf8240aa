//! The organisation space in real headless Chromium, as a new organisation would use it,
//! with the keyboard only (Tab, typing, Space, Enter; no click): request listing, get
//! accepted by staff, fill in the establishment and a secondary site, create a formation,
//! see a finding beside its field, fix it, add an action and two sessions, submit. Then a
//! second organisation's user tries the first one's pages and API routes and gets nothing.
//! Screenshots of each screen go to `target/screenshots/espace-*.png`.

mod common;

use common::navigateur::*;
use common::*;
use fantoccini::Client;

fn siret(prefixe: &str) -> String {
    (0..10)
        .map(|d| format!("{prefixe}{d}"))
        .find(|s| sofi::rules::siret_valide(s))
        .unwrap()
}

async fn lien_affiche(c: &Client) -> String {
    let t = texte(c).await;
    let i = t.find("/espace/lien/").expect("a one-time link shown");
    t[i..i + "/espace/lien/".len() + 64].to_string()
}

/// Sets the password on a one-time link page, with the keyboard.
async fn choisir_mot_de_passe(c: &Client, base: &str, lien: &str, mot: &str) {
    aller(c, base, lien).await;
    remplir(c, "#mot_de_passe", mot).await;
    remplir(c, "#confirmation", mot).await;
    touche(c, ENTREE).await;
    attendre("the account's first page", || async {
        !c.current_url().await.unwrap().path().contains("/lien/")
    })
    .await;
}

async fn connexion(c: &Client, base: &str, email: &str, mot: &str) {
    aller(c, base, "/espace/connexion").await;
    remplir(c, "#email", email).await;
    remplir(c, "#mot_de_passe", mot).await;
    touche(c, ENTREE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_organisation_with_the_keyboard_only() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    let o = run(sofi().arg("--data-dir").arg(&data).args([
        "user",
        "add",
        "--email",
        "equipe@carif.fr",
        "--role",
        "staff",
    ]));
    assert!(o.status.success());
    let lien_staff = {
        let s = stdout(&o);
        let i = s.find("/espace/lien/").unwrap();
        s[i..i + 13 + 64].to_string()
    };
    // Chromium accepts `Secure` cookies from loopback over plain HTTP: the real `__Host-` cookie.
    let srv = Server::start(&data, false);
    let base = srv.url("");
    let (_pilote, port) = chromedriver();
    let p1 = tempfile::tempdir().unwrap();
    let p2 = tempfile::tempdir().unwrap();
    let org = navigateur(port, p1.path()).await;
    let equipe = navigateur(port, p2.path()).await;

    // Staff activate their own account.
    choisir_mot_de_passe(&equipe, &base, &lien_staff, "l'équipe du carif-oref").await;

    // 1. The organisation asks to be listed.
    aller(&org, &base, "/espace/connexion").await;
    capture(&org, "espace-1-connexion").await;
    activer_au_clavier(&org, "a[href='/espace/demande']").await;
    apres(&org, "/espace/demande").await;
    let siret_a = siret("4400000000001");
    for (champ, valeur) in [
        ("#siret", siret_a.as_str()),
        ("#numero_activite", "52440000044"),
        ("#raison_sociale", "Atelier Soudure Nantes"),
        ("#adresse", "3 rue de la Forge"),
        ("#codepostal", "44000"),
        ("#ville", "Nantes"),
        ("#formacodes", "31734"),
        ("#contact_nom", "Camille Martin"),
        ("#contact_email", "camille@asn.fr"),
        ("#contact_telephone", "0240000000"),
    ] {
        remplir(&org, champ, valeur).await;
    }
    capture(&org, "espace-2-demande").await;
    activer_au_clavier(&org, "form.saisie button[type=submit]").await;
    attendre("demande envoyée", || async {
        texte(&org).await.contains("Demande envoyée")
    })
    .await;
    capture(&org, "espace-3-demande-envoyee").await;

    // 2. Staff accept it; the link is shown once.
    aller(&equipe, &base, "/gestion").await;
    capture(&equipe, "espace-4-gestion").await;
    activer_au_clavier(
        &equipe,
        "form[action^='/gestion/demandes/'][action$='/accepter'] button",
    )
    .await;
    apres(&equipe, "/gestion/demandes/").await;
    let lien = lien_affiche(&equipe).await;
    capture(&equipe, "espace-5-lien").await;

    // 3. The organisation activates its account and lands on its dashboard.
    choisir_mot_de_passe(&org, &base, &lien, "atelier de soudure nantais").await;
    assert!(texte(&org).await.contains("Mes formations"));
    capture(&org, "espace-6-tableau").await;

    // 4. Its establishment, with a secondary site in Angers.
    activer_au_clavier(&org, "main a[href='/espace/etablissement']").await;
    apres(&org, "/espace/etablissement").await;
    remplir(&org, "#s1_nom", "Antenne d'Angers").await;
    remplir(&org, "#s1_codepostal", "49000").await;
    remplir(&org, "#s1_ville", "Angers").await;
    remplir(&org, "#c_nom", "Camille Martin").await;
    activer_au_clavier(&org, "form.saisie > p > button[type=submit]").await;
    attendre("établissement enregistré", || async {
        texte(&org).await.contains("Établissement enregistré")
    })
    .await;
    assert!(
        texte(&org).await.contains("49007"),
        "Angers placed on its commune"
    );
    capture(&org, "espace-7-etablissement").await;

    // 5. A formation without objectives: saved as a draft, the finding beside the field.
    aller(&org, &base, "/espace").await;
    activer_au_clavier(&org, "a[href='/espace/formations/nouvelle']").await;
    apres(&org, "/espace/formations/nouvelle").await;
    remplir(&org, "#intitule", "Soudure TIG <b>inox</b>").await;
    remplir(&org, "#contenu", "Soudage TIG sur acier et inox.").await;
    remplir(&org, "#resultats_attendus", "Attestation de compétences").await;
    remplir(&org, "#formacodes", "31734").await;
    // A select, with the keyboard: focus, then type the option's first letters.
    tabuler_jusqua(&org, "#niveau_entree").await;
    taper(&org, "information").await;
    remplir(&org, "#contact_nom", "Camille Martin").await;
    remplir(&org, "#contact_email", "camille@asn.fr").await;
    activer_au_clavier(&org, "form.saisie > p > button[type=submit]").await;
    apres(&org, "/espace/formations/ESP").await;
    let decrit = js(
        &org,
        "return document.getElementById('objectif').getAttribute('aria-describedby')",
    )
    .await;
    assert!(
        decrit.as_str().unwrap().contains("c-objectif-0"),
        "{decrit}"
    );
    let constat = js(
        &org,
        "return document.getElementById('c-objectif-0').textContent",
    )
    .await;
    assert!(
        constat.as_str().unwrap().contains("obligatoire"),
        "{constat}"
    );
    assert!(
        texte(&org).await.contains("Soudure TIG <b>inox</b>"),
        "HTML typed stays text"
    );
    capture(&org, "espace-8-constat").await;
    remplir(
        &org,
        "#objectif",
        "Souder en TIG des pièces d'inox en sécurité.",
    )
    .await;
    activer_au_clavier(&org, "form.saisie > p > button[type=submit]").await;
    apres(&org, "/espace/formations/ESP").await;
    assert_eq!(
        js(
            &org,
            "return document.getElementById('c-objectif-0') ? 1 : 0"
        )
        .await
        .as_u64(),
        Some(0),
        "the finding is gone once fixed"
    );
    let url_formation = org.current_url().await.unwrap().path().to_string();

    // 6. An action in Angers, publicly funded, and two sessions.
    activer_au_clavier(&org, "form[action$='/nouvelle-action'] button").await;
    apres(&org, "/actions/").await;
    tabuler_jusqua(&org, "#lieu").await;
    taper(&org, "Antenne").await;
    remplir(&org, "#heures_centre", "140").await;
    remplir(&org, "#rythme", "Temps plein").await;
    remplir(&org, "#prix_total", "2450").await;
    remplir(&org, "#conditions_acces", "Aucun prérequis").await;
    tabuler_jusqua(&org, "#financeurs-2").await;
    touche(&org, ESPACE).await;
    tabuler_jusqua(&org, "#publics-80006").await;
    touche(&org, ESPACE).await;
    activer_au_clavier(&org, "form.saisie > p > button[type=submit]").await;
    apres(&org, "/actions/").await;
    assert!(
        texte(&org).await.contains("sera diffusée"),
        "the scope decision, before submitting"
    );
    let url_action = org.current_url().await.unwrap().path().to_string();
    for (debut, fin) in [("02/03/2027", "30/04/2027"), ("06/09/2027", "29/10/2027")] {
        activer_au_clavier(&org, "a[href$='/sessions/nouvelle']").await;
        apres(&org, "/sessions/nouvelle").await;
        remplir(&org, "#debut", debut).await;
        remplir(&org, "#fin", fin).await;
        remplir(&org, "#places", "12").await;
        activer_au_clavier(&org, "form.saisie > p > button[type=submit]").await;
        apres(&org, "/sessions/ESP").await;
        aller(&org, &base, &url_action).await;
    }
    assert_eq!(
        js(
            &org,
            "return document.querySelectorAll('table.table-sessions tbody tr').length"
        )
        .await
        .as_u64(),
        Some(2)
    );
    capture(&org, "espace-9-action").await;

    // 7. Submitted.
    aller(&org, &base, &url_formation).await;
    activer_au_clavier(&org, "form[action$='/soumettre'] button").await;
    apres(&org, &url_formation).await;
    assert!(texte(&org).await.contains("en attente de validation"));
    capture(&org, "espace-10-soumise").await;
    assert!(erreurs_console(&org).await.is_empty());

    // 8. A second organisation's user tries the first one's pages and API routes.
    let siret_b = siret("4900000000002");
    let o = run(sofi().arg("--data-dir").arg(&data).args([
        "user",
        "reset",
        "--email",
        "equipe@carif.fr",
    ]));
    assert!(
        !o.status.success(),
        "the CLI refuses a store held by the running server"
    );
    aller(&equipe, &base, "/gestion").await;
    // Staff give the second organisation access (a known feed organisme is not needed
    // here: it asks like the first one did, through the request form).
    let autre_profil = tempfile::tempdir().unwrap();
    let autre = navigateur(port, autre_profil.path()).await;
    aller(&autre, &base, "/espace/demande").await;
    for (champ, valeur) in [
        ("#siret", siret_b.as_str()),
        ("#numero_activite", "52490000049"),
        ("#raison_sociale", "Concurrent d'Angers"),
        ("#codepostal", "49000"),
        ("#ville", "Angers"),
        ("#formacodes", "31734"),
        ("#contact_nom", "Dominique Petit"),
        ("#contact_email", "dominique@concurrent.fr"),
    ] {
        remplir(&autre, champ, valeur).await;
    }
    activer_au_clavier(&autre, "form.saisie button[type=submit]").await;
    attendre("seconde demande", || async {
        texte(&autre).await.contains("Demande envoyée")
    })
    .await;
    aller(&equipe, &base, "/gestion").await;
    activer_au_clavier(
        &equipe,
        "form[action^='/gestion/demandes/'][action$='/accepter'] button",
    )
    .await;
    apres(&equipe, "/gestion/demandes/").await;
    let lien_b = lien_affiche(&equipe).await;
    choisir_mot_de_passe(&autre, &base, &lien_b, "le concurrent angevin").await;
    for chemin in [
        url_formation.clone(),
        url_action.clone(),
        format!("{url_action}/sessions/nouvelle"),
    ] {
        aller(&autre, &base, &chemin).await;
        let t = texte(&autre).await;
        assert!(
            t.contains("Page introuvable") && !t.contains("Soudure"),
            "{chemin}: {t}"
        );
    }
    capture(&autre, "espace-11-autre-organisme").await;
    aller(&autre, &base, "/espace/jetons").await;
    remplir(&autre, "#libelle", "logiciel").await;
    touche(&autre, ENTREE).await;
    attendre("jeton", || async {
        texte(&autre).await.contains("affiché cette fois seulement")
    })
    .await;
    let jeton = js(
        &autre,
        "return document.querySelector('code.lien-unique').textContent",
    )
    .await;
    let auth = format!("Bearer {}", jeton.as_str().unwrap());
    let numero = url_formation.rsplit('/').next().unwrap();
    let (s, _) = call(
        ureq::get(&srv.url(&format!("/api/v1/espace/offres/{numero}"))).set("authorization", &auth),
        None,
    );
    assert_eq!(s, 404, "another organisation's offer by API");
    let (s, _) = call(
        ureq::post(&srv.url(&format!("/api/v1/espace/offres/{numero}/soumission")))
            .set("authorization", &auth),
        None,
    );
    assert_eq!(s, 404);
    let (s, _) = call(
        ureq::get(&srv.url(&format!("/api/v1/formations/{numero}"))),
        None,
    );
    assert_eq!(
        s, 404,
        "a submitted offer is not public before it is accepted"
    );

    // The skip link is the first stop of the keyboard on every page.
    aller(&org, &base, &url_action).await;
    js(
        &org,
        "document.activeElement && document.activeElement.blur(); return 0",
    )
    .await;
    touche(&org, TAB).await;
    attendre("the skip link focused by the first Tab", || async {
        js(&org, "return document.activeElement.className")
            .await
            .as_str()
            == Some("evitement")
    })
    .await;

    // Logging out and in again, with the keyboard.
    activer_au_clavier(&org, "button.lien").await;
    apres(&org, "/espace/connexion").await;
    connexion(&org, &base, "camille@asn.fr", "atelier de soudure nantais").await;
    attendre("le tableau de bord", || async {
        texte(&org).await.contains("Mes formations")
    })
    .await;
    assert!(texte(&org).await.contains("en attente de validation"));

    org.close().await.unwrap();
    equipe.close().await.unwrap();
    autre.close().await.unwrap();
}
