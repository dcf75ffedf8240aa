//! `sofi dump` / `sofi load`: a data directory written as LHÉO and JSON Lines, loaded into
//! an empty one, gives back the same offers, dates, verdicts and back-office.

mod common;

use common::*;
use sofi::store::{Evenement, OffreStockee, Store};
use std::path::Path;

/// `sofi load SRC` into `data`.
fn charger(data: &Path, src: &Path) -> std::process::Output {
    run(sofi().arg("--data-dir").arg(data).arg("load").arg(src))
}

/// `sofi dump DEST` of `data`.
fn vider(data: &Path, dest: &Path) -> std::process::Output {
    run(sofi().arg("--data-dir").arg(data).arg("dump").arg(dest))
}

/// Every offer without its journal number (the journal starts again on load).
fn offres(data: &Path) -> Vec<OffreStockee> {
    let store = Store::open(data).unwrap();
    store
        .offres()
        .map(|o| {
            let mut o = o.unwrap();
            o.seq = 0;
            o
        })
        .collect()
}

fn evenement(objet: &str, action: &str) -> Evenement {
    Evenement {
        seq: 0,
        horodatage: sofi::store::now_ms(),
        auteur: "essai".into(),
        objet: objet.into(),
        action: action.into(),
        changements: vec![],
        motif: None,
    }
}

#[test]
fn a_dump_loads_into_an_empty_directory_with_the_same_offer_and_back_office() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let lot = tmp.path().join("lot.xml");
    generate(300, 7, &lot);
    assert_eq!(import(&data, &[&lot], &["--source", "lot"]).0, 0);
    let daeu = lheo("samples/trefle/daeu.xml");
    assert_eq!(import(&data, &[&daeu], &["--source", "trefle"]).0, 0);
    // The back-office: accounts, an offer handed to its organisation, a report from the
    // public, a suspended organisme, a partner key, an API token.
    let (siret, numero, autre_siret) = {
        let store = Store::open(&data).unwrap();
        let toutes: Vec<_> = store.offres().map(|o| o.unwrap()).collect();
        let o = &toutes[0];
        let autre = toutes
            .iter()
            .find(|x| x.formation.organisme.siret != o.formation.organisme.siret)
            .unwrap();
        (
            o.formation.organisme.siret.clone(),
            o.formation.numero.clone(),
            autre.formation.organisme.siret.clone(),
        )
    };
    compte_actif(&data, "of@vidage.fr", "responsable", Some(&siret));
    compte_actif(&data, "staff@vidage.fr", "staff", None);
    let jeton = {
        let store = Store::open(&data).unwrap();
        store
            .confier_dossier(&numero, evenement(&format!("offre {numero}"), "confier"))
            .unwrap()
            .unwrap();
        store
            .signaler(&numero, "mauvais numéro de téléphone")
            .unwrap();
        assert!(store.suspendre(&autre_siret, "essai", "essai").unwrap() > 0);
        let cle = sofi::store::ClePartenaire {
            id: 0,
            nom: "Partenaire".into(),
            contact: "p@exemple.fr".into(),
            origines: vec!["https://www.exemple.fr".into()],
            departements: vec!["44".into()],
            formacodes: vec![],
            par_minute: 60,
            par_jour: 1000,
            cree_le: 1,
            cree_par: "essai".into(),
            expire_le: None,
            revoquee_le: None,
        };
        store
            .creer_cle(&cle, sofi::accounts::token_hash("cle-partenaire"), "essai")
            .unwrap();
        let of = store.compte_par_email("of@vidage.fr").unwrap().unwrap();
        store
            .creer_jeton_api(
                &sofi::store::JetonApi {
                    compte: of.id,
                    sirets: vec![siret.clone()],
                    libelle: "logiciel".into(),
                    cree_le: 1,
                },
                "essai",
            )
            .unwrap()
    };
    let avant = offres(&data);
    let export_avant = exporter(&data);

    let vidage = tmp.path().join("vidage");
    let out = vider(&data, &vidage);
    assert!(out.status.success(), "{}", stderr(&out));
    // LHÉO that the schema accepts, one file per source, and JSON Lines.
    let mut xml: Vec<_> = std::fs::read_dir(vidage.join("offres"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    xml.sort();
    assert_eq!(xml.len(), 2);
    for f in &xml {
        xmllint_valid(f);
    }
    let comptes = std::fs::read_to_string(vidage.join("arbres/comptes.jsonl")).unwrap();
    assert_eq!(comptes.lines().count(), 2);
    assert!(comptes.contains("of@vidage.fr") && comptes.contains("$argon2id$"));

    let charge = tmp.path().join("charge");
    let out = charger(&charge, &vidage);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(sofi()
        .arg("--data-dir")
        .arg(&charge)
        .args(["verify", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sain"], true, "{v}");

    // The same offers, verdicts, sources and dates; the same feed, byte for byte.
    assert!(offres(&charge) == avant, "the loaded offers differ");
    assert!(exporter(&charge) == export_avant, "the loaded feed differs");
    let (a, b) = (stats(&data), stats(&charge));
    for k in [
        "formations",
        "actions",
        "sessions",
        "diffusables",
        "organismes",
    ] {
        assert_eq!(a[k], b[k], "{k}");
    }
    // The same back-office, and it goes on from where it was.
    {
        let (x, y) = (Store::open(&data).unwrap(), Store::open(&charge).unwrap());
        assert_eq!(x.comptes().unwrap(), y.comptes().unwrap());
        assert_eq!(x.dossier(&numero).unwrap(), y.dossier(&numero).unwrap());
        assert_eq!(
            x.dossiers_de(&siret).unwrap(),
            y.dossiers_de(&siret).unwrap()
        );
        assert_eq!(x.signalements().unwrap(), y.signalements().unwrap());
        assert_eq!(x.suspensions().unwrap(), y.suspensions().unwrap());
        assert_eq!(x.cles().unwrap(), y.cles().unwrap());
        assert_eq!(x.file().unwrap(), y.file().unwrap());
        let audit = |s: &Store| -> Vec<Evenement> {
            s.audit_depuis(0).unwrap().map(|e| e.unwrap()).collect()
        };
        let evenements = audit(&x);
        assert!(evenements.len() >= 5);
        assert_eq!(evenements, audit(&y));
        assert!(
            y.jeton_api(&jeton).unwrap().is_some(),
            "API tokens still work"
        );
        // New records are numbered after the loaded ones.
        y.journaliser(evenement("compte 1", "essai")).unwrap();
        assert_eq!(
            audit(&y).last().unwrap().seq,
            evenements.last().unwrap().seq + 1
        );
        let max = x.comptes().unwrap().iter().map(|c| c.id).max().unwrap();
        assert!(y.nouvel_id().unwrap() > max);
    }
    // And it serves: an account of the dump signs in.
    let mut s = Server::start_avec(&charge, false, &[("SOFI_COOKIE_NON_SECURISE", "1")]);
    assert_eq!(s.wait_health()["formations"], a["formations"]);
    let mut of = Personne::connecter(&s, "of@vidage.fr");
    let (status, page) = of.get("/espace");
    assert_eq!(status, 200);
    assert!(page.contains(&numero), "{page}");
    assert!(s.stop().success());
}

#[test]
fn a_bad_or_unfinished_dump_is_refused_and_names_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let daeu = lheo("samples/trefle/daeu.xml");
    assert_eq!(import(&data, &[&daeu], &[]).0, 0);
    compte_actif(&data, "of@vidage.fr", "admin", None);
    let vidage = tmp.path().join("vidage");
    let out = vider(&data, &vidage);
    assert!(out.status.success(), "{}", stderr(&out));
    // Not into a directory that holds something, either way.
    let out = vider(&data, &vidage);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("n'est pas vide"), "{}", stderr(&out));
    let out = charger(&data, &vidage);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("n'est pas vide"), "{}", stderr(&out));

    // A damaged line is named with its file and line, and nothing is left half-loaded.
    let comptes = vidage.join("arbres/comptes.jsonl");
    let texte = std::fs::read_to_string(&comptes).unwrap();
    std::fs::write(
        &comptes,
        texte.replacen("\"email\":\"of@vidage.fr\"", "\"email\":42", 1),
    )
    .unwrap();
    let cible = tmp.path().join("cible");
    let out = charger(&cible, &vidage);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("comptes.jsonl ligne 1"),
        "{}",
        stderr(&out)
    );
    assert!(!cible.exists());
    assert!(!tmp.path().join(".cible.chargement").exists());
    std::fs::write(&comptes, texte).unwrap();
    // A manifest naming a file outside the dump is refused.
    let manifeste = std::fs::read_to_string(vidage.join("vidage.json")).unwrap();
    std::fs::write(
        vidage.join("vidage.json"),
        manifeste.replacen("\"fichier\": \"001\"", "\"fichier\": \"../../x\"", 1),
    )
    .unwrap();
    let out = charger(&cible, &vidage);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("un numéro est attendu"),
        "{}",
        stderr(&out)
    );
    assert!(!cible.exists());
    std::fs::write(vidage.join("vidage.json"), manifeste).unwrap();
    // An unfinished dump (no manifest) is refused before anything is created.
    std::fs::remove_file(vidage.join("vidage.json")).unwrap();
    let cible2 = tmp.path().join("cible2");
    let out = charger(&cible2, &vidage);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("manifeste"), "{}", stderr(&out));
    assert!(!cible2.exists());
}
