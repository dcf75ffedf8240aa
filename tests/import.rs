//! `sofi import` / `sofi check` on real LHÉO samples and on hostile input, checked through the
//! CLI's reports and by opening the real sled store afterwards.

mod common;

use common::*;
use sofi::store::{Operation, Store};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

fn daeu() -> String {
    std::fs::read_to_string(lheo("samples/trefle/daeu.xml")).unwrap()
}

/// The `<formation>…</formation>` of a one-offer sample.
fn formation_of(doc: &str) -> String {
    let a = doc.find("<formation ").unwrap();
    let b = doc.rfind("</formation>").unwrap() + "</formation>".len();
    doc[a..b].to_string()
}

fn doc(ns: &str, formations: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<lheo{ns}><offres>\n{}\n</offres></lheo>\n",
        formations.join("\n")
    )
}

/// The daeu offer under another numero.
fn daeu_as(numero: &str) -> String {
    formation_of(&daeu()).replace("numero=\"15_464888\"", &format!("numero=\"{numero}\""))
}

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

#[test]
fn every_real_sample_imports_and_counts_match() {
    for sample in samples() {
        let tmp = tempfile::tempdir().unwrap();
        let (code, rep) = import(tmp.path(), &[&sample], &[]);
        assert_eq!(code, 0, "{}: {rep}", sample.display());
        let r = &rep[0]["rapport"];
        let formations = count_tag(&sample, "formation") as u64;
        assert_eq!(r["lues"], formations, "{}", sample.display());
        let s = stats(tmp.path());
        if sample.to_string_lossy().contains("anotea") {
            // 15-digit SIRETs: rejected with a reason that names the element.
            assert_eq!(r["rejetees"], 1);
            let e = &r["rejets"][0]["erreurs"][0];
            assert_eq!(e["code"], "siret-invalide");
            assert!(e["chemin"].as_str().unwrap().contains("SIRET"));
            assert_eq!(s["formations"], 0);
            continue;
        }
        assert_eq!(r["rejetees"], 0, "{}: {rep}", sample.display());
        assert_eq!(s["formations"], formations);
        assert_eq!(s["actions"], count_tag(&sample, "action") as u64);
        assert_eq!(s["sessions"], count_tag(&sample, "session") as u64);
        assert_eq!(s["organismes"], 1);
        assert_eq!(s["journal_seq"], formations);
    }
}

#[test]
fn stored_values_match_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _) = import(tmp.path(), &[&lheo("samples/trefle/daeu.xml")], &[]);
    assert_eq!(code, 0);
    let store = Store::open(tmp.path()).unwrap();
    let o = store.offre("15_464888").unwrap().expect("stored");
    let f = &o.formation;
    assert_eq!(
        f.intitule,
        "Diplôme d'accès aux études universitaires, option a, cours en présentiel"
    );
    assert_eq!(f.formacode_principal(), Some("15093"));
    assert_eq!(f.certifications[0].code_rncp.as_deref(), Some("28217"));
    assert!(f.objectif.starts_with("* être titulaire"));
    assert!(
        f.objectif.contains("<br />"),
        "escaped HTML is kept as text"
    );
    let a = &f.actions[0];
    assert_eq!(a.numero, "15_927411");
    assert_eq!(a.nombre_heures_total, Some(250));
    assert_eq!(a.financeurs[0].code_financeur, "2");
    assert_eq!(a.financeurs[0].extras[0].attr("info"), Some("specificites"));
    let lieu = a.lieux[0].coordonnees.adresse.as_ref().unwrap();
    assert_eq!(lieu.ville, "Toulouse");
    assert_eq!(lieu.code_insee_commune.as_deref(), Some("31555"));
    let s = &a.sessions[0];
    assert_eq!(
        (s.periode.debut.as_str(), s.periode.fin.as_str()),
        ("20181001", "20190524")
    );
    assert_eq!(f.organisme.siret, "19311383400389");
    assert_eq!(f.organisme.numero_activite, "7331P001531");
    assert_eq!(f.organisme.formacodes().len(), 5);
    assert_eq!(f.extras[0].attr("info"), Some("FLUX-CARIF"));
    assert_eq!(a.extras.len(), 3, "every action extras kept");
    // Verdict stored with the offer, with its reason.
    assert!(o.verdict.diffusable());
    assert!(o.verdict.diffusion[0].motif.contains("Conseil régional"));
    assert!(
        o.verdict
            .constats
            .iter()
            .any(|c| c.code == "ancienne-region"),
        "region 73 is a pre-2016 code"
    );
    assert_eq!(o.source, "daeu");
    assert!(o.recue_le > 0 && o.diffusee_le.is_some());
    assert_eq!(
        store.numeros_par_organisme("19311383400389").unwrap(),
        vec!["15_464888"]
    );
    assert_eq!(
        store.organisme("19311383400389").unwrap().unwrap().nom,
        "UT2J FC"
    );
}

#[test]
fn lheo_22_23_and_no_namespace_read_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let f = formation_of(&daeu());
    let mut stored = Vec::new();
    for (i, ns) in [
        " xmlns=\"http://www.lheo.org/2.2\"",
        " xmlns=\"http://lheo.gouv.fr/2.3\"",
        "",
    ]
    .iter()
    .enumerate()
    {
        let dir = tmp.path().join(format!("d{i}"));
        let p = write(
            tmp.path(),
            &format!("f{i}.xml"),
            doc(ns, std::slice::from_ref(&f)),
        );
        let (code, _) = import(&dir, &[&p], &["--source", "s"]);
        assert_eq!(code, 0);
        let store = Store::open(&dir).unwrap();
        stored.push(store.offre("15_464888").unwrap().unwrap().formation);
    }
    assert_eq!(stored[0], stored[1]);
    assert_eq!(stored[1], stored[2]);
}

#[test]
fn gzip_and_stdin_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let gz = tmp.path().join("offre.xml.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(daeu().as_bytes()).unwrap();
    enc.finish().unwrap();
    let (code, rep) = import(&tmp.path().join("a"), &[&gz], &[]);
    assert_eq!(code, 0);
    assert_eq!(rep[0]["rapport"]["stockees"], 1);
    assert_eq!(rep[0]["rapport"]["source"], "offre");

    let mut child = sofi()
        .arg("--data-dir")
        .arg(tmp.path().join("b"))
        .args(["import", "--json", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(daeu().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rep[0]["rapport"]["stockees"], 1);
    assert_eq!(rep[0]["rapport"]["source"], "stdin");
}

#[test]
fn reimport_unchanged_writes_nothing_and_change_is_journalled() {
    let tmp = tempfile::tempdir().unwrap();
    let p = lheo("samples/trefle/daeu.xml");
    import(tmp.path(), &[&p], &[]);
    let (code, rep) = import(tmp.path(), &[&p], &[]);
    assert_eq!(code, 0);
    assert_eq!(rep[0]["rapport"]["inchangees"], 1);
    assert_eq!(rep[0]["rapport"]["stockees"], 0);
    assert_eq!(stats(tmp.path())["journal_seq"], 1);

    let changed = daeu().replace("<nombre-heures-total>250", "<nombre-heures-total>260");
    let p2 = write(tmp.path(), "daeu.xml", changed);
    let (_, rep) = import(tmp.path(), &[&p2], &[]);
    assert_eq!(rep[0]["rapport"]["modifiees"], 1);
    let s = stats(tmp.path());
    assert_eq!(
        (s["journal_seq"].as_u64(), s["formations"].as_u64()),
        (Some(2), Some(1))
    );
    // The replaced body stays in the file until compacted, and is counted as such.
    let corps = taille(&fichier_corps(tmp.path()));
    let morts = s["corps_octets_morts"].as_u64().unwrap();
    assert_eq!(s["corps_octets"].as_u64(), Some(corps));
    assert!(morts > 0 && 2 * morts <= corps + 8, "{morts} of {corps}");

    // Compaction drops it, keeps the offer byte for byte, and leaves one body file.
    let export = || exporter(tmp.path());
    let avant = export();
    let leftover = tmp.path().join("offres-99.corps");
    std::fs::write(&leftover, b"an interrupted compaction").unwrap();
    let out = run(sofi().arg("--data-dir").arg(tmp.path()).arg("compact"));
    assert!(out.status.success(), "{}", stderr(&out));
    let s = stats(tmp.path());
    assert_eq!(s["corps_octets_morts"], 0);
    assert_eq!(s["corps_octets"].as_u64(), Some(corps - morts));
    assert_eq!(taille(&fichier_corps(tmp.path())), corps - morts);
    assert!(!leftover.exists());
    assert_eq!(export(), avant);
    assert_eq!(
        stats(tmp.path())["journal_seq"],
        2,
        "compaction is not a change"
    );
}

#[test]
fn interrupted_compaction_is_read_through_and_resumed() {
    let tmp = tempfile::tempdir().unwrap();
    let p = lheo("samples/trefle/daeu.xml");
    import(tmp.path(), &[&p], &[]);
    let export = || exporter(tmp.path());
    let avant = export();
    // As left by a compaction killed after writing a chunk to generation 2, before
    // repointing its fiches.
    ecrire_meta(tmp.path(), "compaction", &2u64.to_be_bytes());
    std::fs::write(tmp.path().join("offres-2.corps"), [7u8; 100]).unwrap();
    assert_eq!(export(), avant);
    let out = run(sofi().arg("--data-dir").arg(tmp.path()).arg("compact"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fichier_corps(tmp.path()), tmp.path().join("offres-2.corps"));
    // The chunk nobody points at is counted dead, and the offer reads the same.
    assert_eq!(stats(tmp.path())["corps_octets_morts"], 100);
    assert_eq!(export(), avant);
}

#[test]
fn a_compaction_stopped_midway_reads_both_files_takes_writes_and_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let lot = tmp.path().join("lot.xml");
    generate(200, 4, &lot);
    let (code, _) = import(tmp.path(), &[&lot], &["--source", "essai"]);
    assert_eq!(code, 0);
    let autre = tmp.path().join("autre.xml");
    generate(200, 5, &autre);
    let (code, _) = import(tmp.path(), &[&autre], &["--source", "essai", "--remplacer"]);
    assert_eq!(code, 0);
    let avant = exporter(tmp.path());
    let s = stats(tmp.path());
    assert!(s["corps_octets_morts"].as_u64().unwrap() > 0, "{s}");

    // Stopped after ten bodies: writers already append to generation 2, the rest is in 1.
    let out =
        run(sofi()
            .arg("--data-dir")
            .arg(tmp.path())
            .args(["compact", "--arret-apres", "10"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let fichiers = |dir: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".corps"))
            .collect();
        v.sort();
        v
    };
    assert_eq!(fichiers(tmp.path()), ["offres-1.corps", "offres-2.corps"]);
    assert!(exporter(tmp.path()) == avant, "read through both files");
    // Both files take disk space until the end, and stats say so.
    assert_eq!(
        stats(tmp.path())["corps_octets"].as_u64(),
        Some(
            taille(&tmp.path().join("offres-1.corps")) + taille(&tmp.path().join("offres-2.corps"))
        )
    );
    // A backup in this state holds both files, verifies, and restores to the same offer;
    // the restored store finishes the compaction.
    let sauvegarde = tmp.path().join("sauvegarde");
    let out = run(sofi()
        .arg("--data-dir")
        .arg(tmp.path())
        .arg("backup")
        .arg(&sauvegarde)
        .arg("--verify"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fichiers(&sauvegarde), ["offres-1.corps", "offres-2.corps"]);
    let restaure = tmp.path().join("restaure");
    let out = run(sofi()
        .arg("--data-dir")
        .arg(&restaure)
        .arg("restore")
        .arg(&sauvegarde));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(exporter(&restaure) == avant, "restored through both files");
    let out = run(sofi().arg("--data-dir").arg(&restaure).arg("compact"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fichiers(&restaure), ["offres-2.corps"]);
    assert!(exporter(&restaure) == avant);
    // A write in between goes to generation 2, and is kept.
    let (code, _) = import(tmp.path(), &[&lot], &["--source", "essai", "--remplacer"]);
    assert_eq!(code, 0);
    let apres_ecriture = exporter(tmp.path());
    assert!(apres_ecriture != avant);

    let out = run(sofi().arg("--data-dir").arg(tmp.path()).arg("compact"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fichiers(tmp.path()), ["offres-2.corps"]);
    assert!(exporter(tmp.path()) == apres_ecriture);
    let s = stats(tmp.path());
    assert_eq!(
        s["corps_octets"].as_u64(),
        Some(taille(&tmp.path().join("offres-2.corps")))
    );
    let out = run(sofi()
        .arg("--data-dir")
        .arg(tmp.path())
        .args(["verify", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sain"], true, "{v}");
    // The dead bytes are recounted: only what the write in between replaced in generation 2.
    let morts = s["corps_octets_morts"].as_u64().unwrap();
    assert!(morts < s["corps_octets"].as_u64().unwrap() / 2, "{s}");
}

/// Writes a key of the store's `meta` tree behind Sofi's back (a state it must cope with).
fn ecrire_meta(dir: &Path, cle: &str, valeur: &[u8]) {
    let db = sled::open(dir.join("store")).unwrap();
    db.open_tree("meta").unwrap().insert(cle, valeur).unwrap();
}

fn fichier_corps(dir: &Path) -> std::path::PathBuf {
    let corps: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "corps"))
        .collect();
    assert_eq!(corps.len(), 1, "{corps:?}");
    corps[0].clone()
}

fn taille(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().len()
}

#[test]
fn damaged_body_or_older_store_is_reported_not_misread() {
    let tmp = tempfile::tempdir().unwrap();
    let p = lheo("samples/trefle/daeu.xml");
    import(tmp.path(), &[&p], &[]);
    // One flipped byte in the middle of the body.
    let corps = fichier_corps(tmp.path());
    let mut b = std::fs::read(&corps).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0x55;
    std::fs::write(&corps, b).unwrap();
    let out = run(sofi().arg("--data-dir").arg(tmp.path()).arg("export"));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("corps"), "{}", stderr(&out));

    // A store written by another layout version is refused with what to do.
    ecrire_meta(tmp.path(), "format", &1u32.to_be_bytes());
    let out = run(sofi().arg("--data-dir").arg(tmp.path()).arg("stats"));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("autre version") && stderr(&out).contains("format 1"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn one_bad_offer_does_not_reject_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let bad_date = daeu_as("BAD_DATE").replace("<debut>20181001", "<debut>20231345");
    let inverted = daeu_as("INVERSEE").replace("<fin>20190524", "<fin>20170101");
    let bad_fin = daeu_as("BAD_FIN").replace("<code-financeur>2<", "<code-financeur>99<");
    let bad_num =
        daeu_as("BAD_NUM").replace("<nombre-heures-total>250", "<nombre-heures-total>beaucoup");
    let bad_siret = daeu_as("BAD_SIRET").replace(
        "<SIRET>19311383400389</SIRET>\n</SIRET-organisme",
        "<SIRET>19311383400388</SIRET>\n</SIRET-organisme",
    );
    let unknown_fc = daeu_as("FC_INCONNU").replace(">15093<", ">99999<");
    let absurd = daeu_as("ABSURDE").replace("<debut>20181001", "<debut>30180101");
    let p = write(
        tmp.path(),
        "mix.xml",
        doc(
            " xmlns=\"http://www.lheo.org/2.2\"",
            &[
                daeu_as("OK_1"),
                bad_date,
                inverted,
                bad_fin,
                bad_num,
                bad_siret,
                unknown_fc,
                absurd,
                daeu_as("OK_2"),
            ],
        ),
    );
    let (code, rep) = import(tmp.path(), &[&p], &[]);
    assert_eq!(code, 0, "rejected offers are not a failure of the import");
    let r = &rep[0]["rapport"];
    assert_eq!(r["lues"], 9);
    assert_eq!(r["rejetees"], 5);
    assert_eq!(r["stockees"], 4);
    let codes: BTreeSet<(String, String)> = r["rejets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["numero"].as_str().unwrap().to_string(),
                x["erreurs"][0]["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("BAD_DATE", "date-invalide"),
        ("INVERSEE", "session-inversee"),
        ("BAD_FIN", "code-inconnu"),
        ("BAD_SIRET", "siret-invalide"),
        ("ABSURDE", "date-invalide"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(codes, expected);
    // Errors are located: line, column and element path.
    let rej = &r["rejets"][0];
    assert!(rej["ligne"].as_u64().unwrap() > 1);
    let e = &rej["erreurs"][0];
    assert!(e["chemin"]
        .as_str()
        .unwrap()
        .starts_with("formation[BAD_DATE]/action[15_927411]/session[927411]/periode"));
    assert!(e["ligne"].as_u64().is_some());
    // The unknown Formacode is a warning only.
    let store = Store::open(tmp.path()).unwrap();
    let fc = store
        .offre("FC_INCONNU")
        .unwrap()
        .expect("stored despite warning");
    assert!(fc
        .verdict
        .constats
        .iter()
        .any(|c| c.code == "formacode-inconnu"));
    assert!(store.offre("BAD_DATE").unwrap().is_none());
    // A bad optional number is dropped with a warning; the offer stays.
    let num = store
        .offre("BAD_NUM")
        .unwrap()
        .expect("stored without its bad number");
    assert_eq!(num.formation.actions[0].nombre_heures_total, None);
    assert!(num
        .verdict
        .constats
        .iter()
        .any(|c| c.code == "nombre-invalide" && c.message.contains("beaucoup")));
}

/// Optional values of the model that their XSD type refuses are dropped and named, the
/// offer kept, and the export stays valid.
#[test]
fn bad_optional_values_of_the_model_are_dropped_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let long = "x".repeat(300);
    let x = daeu()
        .replace(
            "<langue-formation>fr</langue-formation>",
            "<langue-formation>FRA</langue-formation>",
        )
        .replace(
            "<restauration>Non</restauration>",
            &format!("<restauration>Non</restauration>\n<hebergement>{long}</hebergement>"),
        )
        .replace(
            "<nombre-heures-centre>",
            "<prix-horaire-TTC>12,50 euros</prix-horaire-TTC>\n<nombre-heures-centre>",
        )
        .replace(
            "<code-niveau-sortie>5</code-niveau-sortie>",
            "<code-niveau-sortie>42</code-niveau-sortie>",
        );
    let f = write(tmp.path(), "optionnels.xml", x);
    let (code, rep) = import(tmp.path(), &[&f], &[]);
    assert_eq!(
        (code, &rep[0]["rapport"]["stockees"]),
        (0, &1.into()),
        "{rep}"
    );
    let store = Store::open(tmp.path()).unwrap();
    let o = store.offre("15_464888").unwrap().unwrap();
    let a = &o.formation.actions[0];
    assert!(a.langues.is_empty() && a.hebergement.is_none() && a.prix_horaire_ttc.is_none());
    assert_eq!(o.formation.code_niveau_sortie, None);
    let noms: Vec<&str> = o
        .verdict
        .constats
        .iter()
        .filter(|c| c.code == "valeur-invalide")
        .map(|c| c.chemin.rsplit('/').next().unwrap())
        .collect();
    for el in [
        "langue-formation",
        "hebergement",
        "prix-horaire-TTC",
        "code-niveau-sortie",
    ] {
        assert!(noms.contains(&el), "{el} named: {noms:?}");
    }
    drop(store);
    let out = tmp.path().join("export.xml");
    std::fs::write(&out, exporter(tmp.path())).unwrap();
    valide_xsd_et_dtd(&out);
}

#[test]
fn truncated_file_keeps_complete_offers_and_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("full.xml");
    generate(300, 7, &full);
    let bytes = std::fs::read(&full).unwrap();
    let cut = bytes.len() * 2 / 3;
    let complete = String::from_utf8_lossy(&bytes[..cut])
        .matches("</formation>")
        .count();
    let p = write(tmp.path(), "cut.xml", &bytes[..cut]);
    let out = run(sofi()
        .arg("--data-dir")
        .arg(tmp.path().join("d"))
        .arg("import")
        .arg(&p));
    assert!(!out.status.success(), "a truncated file exits non-zero");
    let text = stdout(&out);
    assert!(text.contains("tronqué"), "{text}");
    assert!(text.contains("cut.xml:"), "error names the file: {text}");
    assert_eq!(stats(&tmp.path().join("d"))["formations"], complete as u64);
}

#[test]
fn malformed_documents_give_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: &[(&str, Vec<u8>, &str)] = &[
        (
            "wrong-root.xml",
            b"<?xml version=\"1.0\"?><catalogue><offres/></catalogue>".to_vec(),
            "racine <catalogue>",
        ),
        ("empty.xml", Vec::new(), "document vide"),
        (
            "not-xml.xml",
            b"%PDF-1.4 binary".to_vec(),
            "pas un document XML",
        ),
        (
            "mismatch.xml",
            format!(
                "<lheo><offres>{}</offres></lheo>",
                daeu_as("X").replace("</intitule-formation>", "</intitule>")
            )
            .into_bytes(),
            "mal formé",
        ),
        (
            "latin1.xml",
            b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><lheo/>".to_vec(),
            "UTF-8",
        ),
        (
            "catalogue.xml",
            b"<catalogue xmlns=\"http://www.lheo.org/2.2\"/>".to_vec(),
            "racine <catalogue>",
        ),
    ];
    for (name, content, expect) in cases {
        let p = write(tmp.path(), name, content);
        let out = run(sofi()
            .arg("--data-dir")
            .arg(tmp.path().join("d"))
            .arg("import")
            .arg(&p));
        assert_eq!(out.status.code(), Some(1), "{name}");
        let text = stdout(&out) + &stderr(&out);
        assert!(text.contains(expect), "{name}: {text}");
        assert!(!text.contains("panicked"), "{name}: {text}");
    }
    assert_eq!(stats(&tmp.path().join("d"))["formations"], 0);
}

#[test]
fn invalid_utf8_and_entity_bomb_reject_only_their_offer() {
    let tmp = tempfile::tempdir().unwrap();
    let mut body = doc(
        "",
        &[
            daeu_as("AVANT"),
            daeu_as("LATIN1").replace("Diplôme", "DIPLOME_MARK"),
            daeu_as("BOMBE").replace("DAEU A", "&lol9;"),
            daeu_as("APRES"),
        ],
    )
    .into_bytes();
    // Raw Latin-1 'é' (0xE9) in a UTF-8 document.
    let pos = body.windows(12).position(|w| w == b"DIPLOME_MARK").unwrap();
    body.splice(pos..pos + 12, b"Dipl\xe9me".iter().copied());
    let mut bomb =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lheo [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        bomb.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    bomb.push_str("]>\n");
    let body = [
        bomb.into_bytes(),
        body[body.iter().position(|&b| b == b'\n').unwrap() + 1..].to_vec(),
    ]
    .concat();
    let p = write(tmp.path(), "hostile.xml", body);
    let (code, rep) = import(tmp.path(), &[&p], &[]);
    assert_eq!(code, 0);
    let r = &rep[0]["rapport"];
    assert_eq!(r["stockees"], 2, "{rep}");
    assert_eq!(r["rejetees"], 2);
    let msgs = r["rejets"].to_string();
    assert!(msgs.contains("UTF-8"), "{msgs}");
    assert!(msgs.contains("entité"), "{msgs}");
}

#[test]
fn huge_text_node_is_rejected_without_holding_it() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("huge.xml");
    let big = daeu_as("ENORME");
    let (head, tail) = big.split_at(big.find("</contenu-formation>").unwrap());
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    write!(f, "<lheo><offres>{}", daeu_as("PETITE")).unwrap();
    f.write_all(head.as_bytes()).unwrap();
    let chunk = "texte ".repeat(1 << 14);
    for _ in 0..(100_000_000 / chunk.len()) {
        f.write_all(chunk.as_bytes()).unwrap();
    }
    write!(f, "{tail}</offres></lheo>").unwrap();
    drop(f);
    // Past 4 MiB without markup the file is refused as it arrives (#14: a token bound, so
    // quick-xml never buffers it); the offer complete before it is kept.
    let (code, rep) = import(tmp.path(), &[&p], &[]);
    assert_eq!(code, 1);
    let r = &rep[0]["rapport"];
    assert_eq!(r["stockees"].as_u64(), Some(1));
    assert!(
        r["erreur_fatale"].as_str().unwrap().contains("sans balise"),
        "{r}"
    );
}

#[test]
fn check_stores_nothing_and_fails_on_blocking_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let ok = lheo("samples/trefle/daeu.xml");
    let out = run(sofi()
        .arg("--data-dir")
        .arg(tmp.path())
        .arg("check")
        .arg(&ok));
    assert!(out.status.success(), "{}", stdout(&out));
    let bad = write(
        tmp.path(),
        "bad.xml",
        daeu().replace("<debut>20181001", "<debut>2018-10-01"),
    );
    let out = run(sofi()
        .arg("check")
        .arg(&bad)
        .arg("--data-dir")
        .arg(tmp.path()));
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("date-invalide"));
    assert!(stdout(&out).contains("bad.xml:"));
    assert_eq!(stats(tmp.path())["formations"], 0);
}

#[test]
fn remplacer_withdraws_missing_offers_of_the_same_source() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("d");
    let v1 = write(
        tmp.path(),
        "flux.xml",
        doc("", &[daeu_as("A"), daeu_as("B"), daeu_as("C")]),
    );
    import(&d, &[&v1], &[]);
    let other = write(tmp.path(), "autre.xml", doc("", &[daeu_as("Z")]));
    import(&d, &[&other], &[]);
    let v2 = write(
        tmp.path(),
        "flux.xml",
        doc("", &[daeu_as("A"), daeu_as("C")]),
    );
    let (code, rep) = import(&d, &[&v2], &["--remplacer"]);
    assert_eq!(code, 0);
    assert_eq!(rep[0]["rapport"]["retirees"], 1);
    let store = Store::open(&d).unwrap();
    assert!(store.offre("B").unwrap().is_none());
    assert!(
        store.offre("Z").unwrap().is_some(),
        "other sources are untouched"
    );
    let last = store.journal_depuis(0).last().unwrap().unwrap();
    assert_eq!(
        (last.numero.as_str(), last.operation),
        ("B", Operation::Retrait)
    );
    drop(store);
    // A truncated full feed withdraws nothing.
    let cut = doc("", &[daeu_as("A")]);
    let p = write(tmp.path(), "flux.xml", &cut[..cut.len() - 20]);
    let (code, rep) = import(&d, &[&p], &["--remplacer"]);
    assert_eq!(code, 1);
    assert_eq!(rep[0]["rapport"]["retirees"], 0);
    assert_eq!(stats(&d)["formations"], 3);
}

#[test]
fn data_dir_from_env_and_after_subcommand() {
    let tmp = tempfile::tempdir().unwrap();
    let p = lheo("samples/trefle/daeu.xml");
    let out = run(sofi()
        .env("SOFI_DATA_DIR", tmp.path())
        .arg("import")
        .arg(&p));
    assert!(out.status.success());
    let out = run(sofi()
        .arg("stats")
        .arg("--json")
        .arg("--data-dir")
        .arg(tmp.path()));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in [
        "formations",
        "actions",
        "sessions",
        "organismes",
        "diffusables",
        "journal_seq",
    ] {
        assert!(v[k].is_u64(), "{k} in {v}");
    }
    assert_eq!(v["formations"], 1);
}

/// A copy of the référentiels compiled in, to change one file of.
fn copie_referentiels(dir: &Path) -> std::path::PathBuf {
    let ref_dir = dir.join("ref");
    std::fs::create_dir_all(&ref_dir).unwrap();
    for (nom, octets) in sofi::referentiel::FICHIERS {
        std::fs::write(ref_dir.join(nom), octets).unwrap();
    }
    ref_dir
}

#[test]
fn automatic_decisions_are_taken_again_when_a_referentiel_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("donnees");
    let offre = tmp.path().join("offre.xml");
    generate(400, 7, &offre);
    import(&data, &[&offre], &[]);
    // An offer listed only because its certification is in Certif Info (private money).
    let (numero, fiche) = {
        let store = Store::open(&data).unwrap();
        let trouvee = store
            .offres()
            .map(Result::unwrap)
            .find_map(|o| {
                let d = o
                    .verdict
                    .diffusion
                    .iter()
                    .find(|d| d.diffusee && d.motif.contains("Certif Info : fiche"))?;
                let fiche = d
                    .motif
                    .split("fiche ")
                    .nth(1)?
                    .split(' ')
                    .next()?
                    .to_string();
                (o.verdict.diffusion.iter().filter(|d| d.diffusee).count() == 1)
                    .then(|| (o.formation.numero.clone(), fiche))
            })
            .expect("an offer listed for its Certif Info certification");
        trouvee
    };
    let seq_avant = stats(&data)["journal_seq"].as_u64().unwrap();
    let rejuger = |ref_dir: Option<&Path>, extra: &[&str]| {
        let mut c = sofi();
        c.arg("--data-dir").arg(&data);
        if let Some(r) = ref_dir {
            c.arg("--ref-dir").arg(r);
        }
        let out = run(c.arg("rejuger").arg("--json").args(extra));
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    // Same rules, same référentiels: nothing to do.
    assert_eq!(rejuger(None, &[])["rejuge"], false);
    let v = rejuger(None, &["--force"]);
    assert_eq!(v["bilan"]["modifiees"], 0, "{v}");
    assert_eq!(stats(&data)["journal_seq"].as_u64(), Some(seq_avant));

    // The certification leaves Certif Info: the offer is no longer listed.
    let ref_dir = copie_referentiels(tmp.path());
    // The fiche goes, and so does any that replaced it (it would stand for it).
    let chemin = ref_dir.join("certifinfo.csv");
    let mut lecteur = csv::Reader::from_path(&chemin).unwrap();
    let entetes = lecteur.headers().unwrap().clone();
    let col = |n: &str| entetes.iter().position(|h| h == n).unwrap();
    let (code, ancien) = (col("code_certifinfo"), col("code_certifinfo_ancien"));
    let lignes: Vec<csv::StringRecord> = lecteur.records().map(Result::unwrap).collect();
    let gardees: Vec<&csv::StringRecord> = lignes
        .iter()
        .filter(|r| r[code] != fiche && r[ancien] != fiche)
        .collect();
    assert!(gardees.len() < lignes.len());
    let mut w = csv::Writer::from_path(&chemin).unwrap();
    w.write_record(&entetes).unwrap();
    for r in gardees {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();
    let v = rejuger(Some(&ref_dir), &[]);
    assert_eq!(v["rejuge"], true);
    let b = &v["bilan"];
    assert!(b["offres"].as_u64().unwrap() > 0, "{v}");
    assert!(b["diffusion_changee"].as_u64().unwrap() >= 1, "{v}");
    let store = Store::open(&data).unwrap();
    let o = store.offre(&numero).unwrap().unwrap();
    assert!(!o.verdict.diffusable(), "{:?}", o.verdict.diffusion);
    // Journalled (the feed lists it as a deletion), and explained in the audit trail.
    assert!(o.seq > seq_avant);
    let histoire = store.audit(Some(&format!("offre {numero}")), 10).unwrap();
    let e = histoire
        .iter()
        .find(|e| e.action == "decision-recalculee")
        .expect("audited");
    assert!(
        e.changements
            .iter()
            .any(|c| c.avant.contains(&fiche) && c.apres.contains("sans certification")),
        "{e:?}"
    );
    drop(store);
    let depuis = run(sofi()
        .arg("--data-dir")
        .arg(&data)
        .arg("--ref-dir")
        .arg(&ref_dir)
        .args(["export", "--depuis", &seq_avant.to_string()]));
    let xml = stdout(&depuis);
    assert!(xml.contains(&format!("numero=\"{numero}\"")), "{xml}");
    assert!(!xml.contains(&format!("<formation numero=\"{numero}\"")));
    // Done once: the same référentiels again find nothing to do.
    assert_eq!(rejuger(Some(&ref_dir), &[])["rejuge"], false);
    // Back to the shipped ones: listed again.
    let v = rejuger(None, &[]);
    assert!(
        v["bilan"]["diffusion_changee"].as_u64().unwrap() >= 1,
        "{v}"
    );
    let store = Store::open(&data).unwrap();
    assert!(store.offre(&numero).unwrap().unwrap().verdict.diffusable());
}

#[test]
fn a_staff_decision_is_not_taken_again() {
    use sofi::store::{Acceptation, Dossier, Etat, Evenement, Revision};
    let tmp = tempfile::tempdir().unwrap();
    let offre = tmp.path().join("offre.xml");
    generate(60, 3, &offre);
    import(tmp.path(), &[&offre], &[]);
    let store = Store::open(tmp.path()).unwrap();
    let modele = store.offres().next().unwrap().unwrap();
    // Two entered offers: one accepted by staff, one by the policy.
    for (numero, acceptation) in [
        ("ESP-1", Acceptation::Equipe),
        ("ESP-2", Acceptation::Automatique { a_revoir: false }),
    ] {
        let mut f = modele.formation.clone();
        f.numero = numero.into();
        let d = Dossier {
            numero: numero.into(),
            siret: f.organisme.siret.clone(),
            etat: Etat::EnAttente,
            travail: Some(Revision {
                formation: f,
                verdict: modele.verdict.clone(),
            }),
            en_ligne: false,
            motifs: vec![],
            cree_le: 1,
            modifie_le: 1,
            soumis_le: Some(1),
            a_revoir: false,
            source: "formulaire".into(),
        };
        store
            .enregistrer_dossier(
                &d,
                None,
                Evenement::new("test", format!("offre {numero}"), "creation"),
            )
            .unwrap();
        let par = if acceptation == Acceptation::Equipe {
            "compte 2 (equipe@carif.fr)"
        } else {
            "politique"
        };
        store
            .diffuser_dossier(
                numero,
                None,
                Evenement::new(par, format!("offre {numero}"), "diffusion"),
                acceptation,
            )
            .unwrap()
            .unwrap();
    }
    assert_eq!(
        store.decision("ESP-1").unwrap().unwrap().par.as_deref(),
        Some("compte 2 (equipe@carif.fr)")
    );
    assert_eq!(store.decision("ESP-2").unwrap().unwrap().par, None);
    // A rule that now blocks every offer: all are taken again but the staff's one.
    let total = store.compteurs().unwrap().formations;
    let bloque = |_: &sofi::model::Formation, v: &sofi::rules::Verdict| {
        let mut v = v.clone();
        v.constats.push(sofi::rules::Constat::bloquant(
            "nouvelle-regle",
            "formation",
            "refusée par la nouvelle règle",
        ));
        v.diffusion.clear();
        v
    };
    let b = store.rejuger("test-2", &bloque).unwrap();
    assert_eq!(
        (b.figees, b.offres, b.modifiees),
        (1, total - 1, total - 1),
        "{b:?}"
    );
    assert_eq!(b.diffusion_changee, total - 1);
    assert!(store.offre("ESP-1").unwrap().unwrap().verdict.diffusable());
    assert!(!store.offre("ESP-2").unwrap().unwrap().verdict.diffusable());
    assert_eq!(store.empreinte_regles().unwrap().as_deref(), Some("test-2"));
}

/// LHÉO writes an end known to the month or the year as `AAAAMM00` / `AAAA0000`: read as the
/// period's last day (not "inversée"), shown as "octobre 2026", written back unchanged.
#[test]
fn month_and_year_end_dates_are_lheo_and_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let avec = |debut: &str, fin: &str| {
        daeu()
            .replace(
                "<debut>20181001</debut>",
                &format!("<debut>{debut}</debut>"),
            )
            .replace("<fin>20190524</fin>", &format!("<fin>{fin}</fin>"))
    };
    let mois = write(tmp.path(), "mois.xml", avec("20261015", "20261000"));
    let (code, rep) = import(tmp.path(), &[&mois], &[]);
    assert_eq!(
        (code, &rep[0]["rapport"]["rejetees"]),
        (0, &0.into()),
        "{rep}"
    );
    let export = exporter(tmp.path());
    let export = String::from_utf8(export).unwrap();
    assert!(
        export.contains("<fin>20261000</fin>"),
        "written back unchanged"
    );
    // A real inversion is still one, and the message reads as dates.
    let inversee = write(tmp.path(), "inv.xml", avec("20261015", "20260930"));
    let (_, rep) = import(tmp.path(), &[&inversee], &[]);
    let rejet = rep[0]["rapport"]["rejets"][0]["erreurs"][0].to_string();
    assert!(
        rejet.contains("session-inversee") && rejet.contains("30 septembre 2026"),
        "{rep}"
    );
    // Shown as such on the offer's page; the year precision too.
    let annee = write(tmp.path(), "annee.xml", avec("20261015", "20270000"));
    let d2 = tmp.path().join("d2");
    import(&d2, &[&annee], &[]);
    let srv = Server::start(tmp.path(), false);
    let (st, r) = call(ureq::get(&srv.url("/formation/15_464888")), None);
    assert_eq!(st, 200);
    let page = r.into_string().unwrap();
    assert!(
        page.contains("Du 15 octobre 2026, jusqu&#39;en octobre 2026")
            || page.contains("Du 15 octobre 2026, jusqu'en octobre 2026"),
        "{page}"
    );
    drop(srv);
    let srv = Server::start(&d2, false);
    let (_, r) = call(ureq::get(&srv.url("/formation/15_464888")), None);
    let page = r.into_string().unwrap();
    assert!(
        page.contains("jusqu&#39;en 2027") || page.contains("jusqu'en 2027"),
        "{page}"
    );
}

/// Référentiel judgements: a replaced Certif Info code stands for the fiche that replaced it,
/// an unknown one is "absent du référentiel chargé" (the table shipped is an extract), an
/// inactive RNCP fiche and a commune that is no longer one are warned of; and the warnings
/// of an offer that is stored but not diffused are in the report, not just counted.
#[test]
fn referentiel_judgements_and_warnings_of_offers_not_diffused() {
    let tmp = tempfile::tempdir().unwrap();
    let variante = |numero: &str, rncp: &str, ci: &str, financeur: &str| {
        daeu_as(numero)
            .replace(
                "<code-RNCP>28217</code-RNCP>",
                &format!("<code-RNCP>{rncp}</code-RNCP>"),
            )
            .replace(
                "<code-CERTIFINFO>21072</code-CERTIFINFO>",
                &format!("<code-CERTIFINFO>{ci}</code-CERTIFINFO>"),
            )
            .replacen(
                "<code-INSEE-commune>31555</code-INSEE-commune>",
                "<code-INSEE-commune>08007</code-INSEE-commune>",
                1,
            )
            .replace(
                "<code-financeur>2</code-financeur>",
                &format!("<code-financeur>{financeur}</code-financeur>"),
            )
    };
    let f = write(
        tmp.path(),
        "r.xml",
        doc(
            " xmlns=\"http://lheo.gouv.fr/2.3\"",
            &[
                // Privately funded, with a Certif Info code replaced by a current certification.
                variante("REMPLACE", "181", "108299", "10"),
                // Privately funded, with a code the loaded table does not have.
                variante("ABSENT", "181", "99999998", "10"),
            ],
        ),
    );
    let (code, rep) = import(tmp.path(), &[&f], &[]);
    assert_eq!(code, 0, "{rep}");
    let r = &rep[0]["rapport"];
    assert_eq!(r["rejetees"], 0, "{rep}");
    let store = Store::open(tmp.path()).unwrap();
    let remplace = store.offre("REMPLACE").unwrap().unwrap();
    let codes = |v: &sofi::rules::Verdict| -> Vec<String> {
        v.constats
            .iter()
            .map(|c| format!("{} {}", c.code, c.message))
            .collect()
    };
    let c = codes(&remplace.verdict);
    for attendu in [
        "certifinfo-remplace code Certif Info 108299 remplacé par la fiche 12650",
        "rncp-inactive fiche RNCP 181",
        "commune-absorbee Les Alleux (08007) n'est plus une commune : elle fait partie de",
    ] {
        assert!(c.iter().any(|x| x.starts_with(attendu)), "{attendu}: {c:?}");
    }
    assert!(
        remplace.verdict.diffusable(),
        "listed through the fiche that replaced its code: {:?}",
        remplace.verdict.diffusion
    );
    // Not diffused: its reason and its warnings, in the report.
    let nd = r["non_diffusions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["numero"] == "ABSENT")
        .unwrap_or_else(|| panic!("{rep}"));
    let avertissements = nd["avertissements"].to_string();
    assert!(
        avertissements.contains("absent du référentiel chargé"),
        "{avertissements}"
    );
    drop(store);
    let out = run(sofi()
        .arg("--data-dir")
        .arg(tmp.path().join("autre"))
        .arg("import")
        .arg(&f));
    assert!(
        stdout(&out).contains("non diffusée ABSENT")
            && stdout(&out).contains("absent du référentiel chargé"),
        "{}",
        stdout(&out)
    );
}

/// Values kept as received (rare 2.3 elements) are checked against their XSD types: a bad
/// optional element is dropped with a warning naming it, a good one is kept and written back
/// in schema order, and the export stays valid.
#[test]
fn kept_elements_are_checked_against_the_schema_and_reordered() {
    let tmp = tempfile::tempdir().unwrap();
    let ajouts = "<cycle><type-cycle>1</type-cycle><annee-cycle>1</annee-cycle></cycle>\
        <recrutement><nb-places>douze</nb-places><modalite-recrutement>1</modalite-recrutement></recrutement>\
        <recrutement><modalite-recrutement>42</modalite-recrutement></recrutement>\
        <contact-session><coordonnees><nom>Accueil</nom><telfixe><numtel>0240000000000000000000000000000</numtel></telfixe></coordonnees></contact-session>";
    let x = daeu().replace(
        "</adresse-inscription>\n</session>",
        &format!("</adresse-inscription>\n{ajouts}\n</session>"),
    );
    let f = write(tmp.path(), "kept.xml", x);
    let (code, rep) = import(tmp.path(), &[&f], &[]);
    assert_eq!(code, 0, "{rep}");
    assert_eq!(rep[0]["rapport"]["stockees"], 1, "{rep}");
    let store = Store::open(tmp.path()).unwrap();
    let o = store.offre("15_464888").unwrap().unwrap();
    let warnings: Vec<String> = o
        .verdict
        .constats
        .iter()
        .filter(|c| c.code == "valeur-invalide")
        .map(|c| format!("{} {}", c.chemin, c.message))
        .collect();
    for attendu in [
        "« douze » n'est pas un nombre entier",
        "« 42 » n'est pas une valeur de la liste",
        "25 caractères au plus",
    ] {
        assert!(
            warnings.iter().any(|w| w.contains(attendu)),
            "{attendu}: {warnings:?}"
        );
    }
    assert!(
        o.verdict.constats.iter().all(|c| c.ligne.is_some()),
        "placed in the file"
    );
    drop(store);
    let export = String::from_utf8(exporter(tmp.path())).unwrap();
    let out = tmp.path().join("export.xml");
    std::fs::write(&out, &export).unwrap();
    valide_xsd_et_dtd(&out);
    let r = export
        .find("<recrutement>")
        .expect("the good recrutement kept");
    let c = export.find("<cycle>").expect("the cycle kept");
    assert!(r < c, "schema order: recrutement before cycle");
    assert!(!export.contains("douze") && !export.contains("<modalite-recrutement>42"));
    assert_eq!(export.matches("<recrutement>").count(), 1);
    assert!(
        export.contains("<contact-session>") && !export.contains("<numtel>0240000000000"),
        "the contact kept, without its too long phone number"
    );
}

/// `id` / `idref` point within one document: two sources both sending `id="f1"`, or an
/// `idref` whose `id` is on an element rebuilt from the model, would make a feed invalid.
#[test]
fn ids_of_the_files_do_not_reach_the_feed() {
    let tmp = tempfile::tempdir().unwrap();
    let avec_ids = |numero: &str| {
        daeu_as(numero)
            .replacen("<formation ", "<formation id=\"f1\" ", 1)
            .replacen("<adresse>", "<adresse id=\"a1\">", 1)
            .replacen("<coordonnees>", "<coordonnees idref=\"a1\">", 1)
    };
    let a = write(
        tmp.path(),
        "a.xml",
        doc(" xmlns=\"http://lheo.gouv.fr/2.3\"", &[avec_ids("A1")]),
    );
    let b = write(
        tmp.path(),
        "b.xml",
        doc(" xmlns=\"http://lheo.gouv.fr/2.3\"", &[avec_ids("B1")]),
    );
    assert!(std::fs::read_to_string(&a)
        .unwrap()
        .contains("idref=\"a1\""));
    let d = tmp.path().join("d");
    for f in [&a, &b] {
        let (code, rep) = import(&d, &[f], &[]);
        assert_eq!(
            (code, &rep[0]["rapport"]["stockees"]),
            (0, &1.into()),
            "{rep}"
        );
    }
    let export = exporter(&d);
    let out = tmp.path().join("export.xml");
    std::fs::write(&out, &export).unwrap();
    let texte = String::from_utf8(export).unwrap();
    assert!(
        !texte.contains(" id=\"") && !texte.contains("idref="),
        "{texte}"
    );
    valide_xsd_et_dtd(&out);
}

/// The offer page shows what a job-seeker needs: a closed session as closed, every place of
/// an action, each phone number and web address as its own link.
#[test]
fn the_offer_page_shows_closed_sessions_every_place_and_each_link() {
    let tmp = tempfile::tempdir().unwrap();
    let x = daeu();
    let lieu_debut = x.find("<lieu-de-formation>").unwrap();
    let lieu_fin = x.find("</lieu-de-formation>").unwrap() + "</lieu-de-formation>".len();
    let nantes = x[lieu_debut..lieu_fin]
        .replace("<ville>Toulouse</ville>", "<ville>Nantes</ville>")
        .replace(
            "<codepostal>31000</codepostal>",
            "<codepostal>44000</codepostal>",
        )
        .replace(
            "<code-INSEE-commune>31555</code-INSEE-commune>",
            "<code-INSEE-commune>44109</code-INSEE-commune>",
        )
        .replace(
            "<departement>31</departement>",
            "<departement>44</departement>",
        )
        .replace("<region>73</region>", "<region>52</region>");
    let x = format!("{}{nantes}{}", &x[..lieu_fin], &x[lieu_fin..])
        .replace(
            "</numtel>\n</telfixe>",
            "</numtel>\n<numtel>02 40 00 00 01</numtel>\n</telfixe>",
        )
        .replace(
            "</adresse-inscription>\n</session>",
            "</adresse-inscription>\n<etat-recrutement>2</etat-recrutement>\n</session>",
        )
        .replace(
            "</urlweb>\n</url-action>",
            "</urlweb>\n<urlweb>https://exemple.fr/daeu</urlweb>\n</url-action>",
        );
    let f = write(tmp.path(), "page.xml", x);
    let (code, rep) = import(tmp.path(), &[&f], &[]);
    assert_eq!(
        (code, &rep[0]["rapport"]["stockees"]),
        (0, &1.into()),
        "{rep}"
    );
    let srv = Server::start(tmp.path(), false);
    let (st, r) = call(ureq::get(&srv.url("/formation/15_464888")), None);
    assert_eq!(st, 200);
    let page = r.into_string().unwrap();
    assert!(page.contains("recrutement fermé"), "{page}");
    // Its conditions arrive HTML-escaped (`&lt;br /&gt;`): read, not shown as tags.
    assert!(
        page.contains("dossier à constituer<br><br>avoir interrompu") && !page.contains("&lt;br"),
        "{page}"
    );
    assert!(
        page.contains("<dt>Lieux</dt>") && page.contains("Nantes"),
        "{page}"
    );
    assert!(
        page.contains("href=\"tel:0240000001\""),
        "each number its own link: {page}"
    );
    assert!(
        page.contains("href=\"https://exemple.fr/daeu\""),
        "each address its own link"
    );
    assert!(page.contains("href=\"http://www.meformerenregion.fr/"));
}

/// The daeu offer as an apprenticeship given in Toulouse, Nantes and Angers: 2.3 cycle,
/// admission, contacts with names and types, an information date, a ROME code, a UAI with
/// a wrong check letter.
fn daeu_apprentissage() -> String {
    let x = daeu().replace("http://www.lheo.org/2.2", "http://lheo.gouv.fr/2.3");
    let lieu_debut = x.find("<lieu-de-formation>").unwrap();
    let lieu_fin = x.find("</lieu-de-formation>").unwrap() + "</lieu-de-formation>".len();
    let ailleurs = |ville: &str, cp: &str, insee: &str, dep: &str| {
        x[lieu_debut..lieu_fin]
            .replace("<ville>Toulouse</ville>", &format!("<ville>{ville}</ville>"))
            .replace(
                "<codepostal>31000</codepostal>",
                &format!("<codepostal>{cp}</codepostal>"),
            )
            .replace(
                "<code-INSEE-commune>31555</code-INSEE-commune>",
                &format!("<code-INSEE-commune>{insee}</code-INSEE-commune>"),
            )
            .replace(
                "<departement>31</departement>",
                &format!("<departement>{dep}</departement>"),
            )
            .replace("<region>73</region>", "<region>52</region>")
            .replace("<geolocalisation>\n<latitude>43.6</latitude>\n<longitude>1.433333</longitude>\n</geolocalisation>\n", "")
    };
    let nantes = ailleurs("Nantes", "44000", "44109", "44").replace(
        "<lieu-de-formation>",
        "<lieu-de-formation>\n<code-UAI-lieu-formation><code-UAI>0440001M</code-UAI></code-UAI-lieu-formation>",
    );
    let angers = ailleurs("Angers", "49000", "49007", "49");
    let session = "<recrutement><modalite-recrutement>3</modalite-recrutement><nb-places>24</nb-places></recrutement>\
        <contact-session><type-contact>14</type-contact><coordonnees><nom>Martin</nom><prenom>Léa</prenom><courriel>lea.martin@exemple.fr</courriel></coordonnees></contact-session>\
        <cycle><type-cycle>1</type-cycle><annee-cycle>1</annee-cycle><capacite-simultanee>24</capacite-simultanee>\
        <alternance><type-alternance>1</type-alternance><rythme-alternance><unite-rythme-alternance>3</unite-rythme-alternance>\
        <unites-entreprise>3</unites-entreprise><unites-centre>1</unites-centre></rythme-alternance></alternance></cycle>";
    format!("{}{nantes}{angers}{}", &x[..lieu_fin], &x[lieu_fin..])
        .replace("<debut>20181001</debut>", "<debut>20990901</debut>")
        .replace("<fin>20190524</fin>", "<fin>21000600</fin>")
        .replace(
            "</adresse-inscription>\n</session>",
            &format!("</adresse-inscription>\n{session}\n</session>"),
        )
        .replace(
            "<code-NSF>410</code-NSF>",
            "<code-NSF>410</code-NSF>\n<code-ROME>K2111</code-ROME>",
        )
        .replace(
            "<resultats-attendus>DAEU A</resultats-attendus>",
            "<resultats-attendus>Poursuite d'études en géomorphologie</resultats-attendus>",
        )
        .replace(
            "<contact-formation>\n<coordonnees>",
            "<contact-formation>\n<type-contact>3</type-contact>\n<coordonnees>\n<civilite>Madame</civilite>\n<nom>Durand</nom>\n<prenom>Anne</prenom>",
        )
        .replace(
            "</adresse-information>",
            "</adresse-information>\n<date-information><date>20990315</date></date-information>",
        )
        .replace(
            "</potentiel>\n</organisme-formateur>",
            "</potentiel>\n<code-UAI-formateur><code-UAI>0440001A</code-UAI></code-UAI-formateur>\n</organisme-formateur>",
        )
}

#[test]
fn initial_training_is_read_searched_by_voie_place_and_code_and_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(tmp.path(), "apprentissage.xml", daeu_apprentissage());
    let (code, rep) = import(tmp.path(), &[&f], &[]);
    assert_eq!(
        (code, &rep[0]["rapport"]["stockees"]),
        (0, &1.into()),
        "{rep}"
    );
    let store = Store::open(tmp.path()).unwrap();
    let o = store.offre("15_464888").unwrap().unwrap();
    let uai: Vec<&str> = o
        .verdict
        .constats
        .iter()
        .filter(|c| c.chemin.contains("code-UAI"))
        .map(|c| c.message.as_str())
        .collect();
    assert!(
        uai.iter()
            .any(|m| m.contains("0440001A") && m.contains("devrait être M")),
        "the bad check letter named: {:?}",
        o.verdict.constats
    );
    drop(store);
    let export = String::from_utf8(exporter(tmp.path())).unwrap();
    assert!(export.contains("0440001M") && !export.contains("0440001A"));
    let out = tmp.path().join("export.xml");
    std::fs::write(&out, &export).unwrap();
    valide_xsd_et_dtd(&out);

    // An organisation that declared itself in its space, with no offer yet.
    let store = Store::open(tmp.path()).unwrap();
    let declare = sofi::store::Etablissement {
        siret: "44306184100047".into(),
        numero_activite: "52440000144".into(),
        raison_sociale: "Lycée des métiers Test".into(),
        site_principal: sofi::store::Site {
            nom: "Site principal".into(),
            adresse: "1 rue de la Paix".into(),
            codepostal: "44000".into(),
            ville: "Nantes".into(),
            code_insee: "44109".into(),
            ..Default::default()
        },
        formacodes: vec!["31054".into()],
        ..Default::default()
    };
    store.enregistrer_etablissement(&declare, "test").unwrap();
    drop(store);

    let srv = Server::start(tmp.path(), false);
    let total = |q: &str| -> u64 {
        let (st, r) = call(ureq::get(&srv.url(&format!("/api/v1/recherche?{q}"))), None);
        let v: serde_json::Value = r.into_json().unwrap();
        assert_eq!(st, 200, "{q}: {v}");
        v["total"].as_u64().unwrap()
    };
    // The voie filter and its facet.
    assert_eq!(total("voie=apprentissage"), 3, "one group per place");
    assert_eq!(total("voie=scolaire"), 0);
    assert_eq!(total("voie=continue"), 0);
    let (_, r) = call(ureq::get(&srv.url("/api/v1/recherche?q=")), None);
    let v: serde_json::Value = r.into_json().unwrap();
    let voie = v["facettes"]["voie"].as_array().unwrap();
    assert!(
        voie.iter()
            .any(|x| x["valeur"] == "apprentissage" && x["nombre"] == 3),
        "{voie:?}"
    );
    // Every place of the action is found.
    for commune in ["44109", "49007", "31555"] {
        assert_eq!(total(&format!("commune={commune}")), 1, "{commune}");
    }
    // ROME and NSF, as filters and typed in q; the expected results are searchable.
    assert_eq!(total("rome=K2111"), 3);
    assert_eq!(total("q=K2111"), 3);
    assert_eq!(total("rome=M1607"), 0);
    assert_eq!(total("nsf=41"), 3);
    assert_eq!(total("q=nsf410"), 3);
    assert_eq!(total("nsf=31"), 0);
    assert_eq!(total("q=g%C3%A9omorphologie"), 3);
    // An establishment by its UAI.
    assert_eq!(total("q=0440001M"), 3);
    for (q, parametre) in [
        ("voie=alternance", "voie"),
        ("rome=Z1234", "rome"),
        ("nsf=12a", "nsf"),
    ] {
        let (st, r) = call(ureq::get(&srv.url(&format!("/api/v1/recherche?{q}"))), None);
        let v: serde_json::Value = r.into_json().unwrap();
        assert_eq!(
            (st, v["erreur"]["parametre"].as_str()),
            (400, Some(parametre)),
            "{v}"
        );
    }

    // The site shows a filter without facet with its label, removable.
    let (st, r) = call(
        ureq::get(&srv.url("/recherche?rome=K2111&voie=apprentissage")),
        None,
    );
    assert_eq!(st, 200);
    let page = r.into_string().unwrap();
    assert!(
        page.contains("Métier K2111") && page.contains("href=\"/recherche?voie=apprentissage\""),
        "{page}"
    );
    assert!(page.contains("Apprentissage"), "the voie facet: {page}");

    let (st, r) = call(ureq::get(&srv.url("/api/v1/formations/15_464888")), None);
    assert_eq!(st, 200);
    let v: serde_json::Value = r.into_json().unwrap();
    let s = &v["formation"]["actions"][0]["sessions"][0];
    assert_eq!(s["voie"], "apprentissage", "{s}");
    assert_eq!(s["recrutements"][0]["modalite_recrutement"], "3", "{s}");
    assert_eq!(
        s["cycles"][0]["alternance"]["unites_entreprise"], "3",
        "{s}"
    );
    assert_eq!(s["cycles"][0]["annees"][0], "1", "{s}");

    let (st, r) = call(ureq::get(&srv.url("/formation/15_464888")), None);
    assert_eq!(st, 200);
    let page = r.into_string().unwrap();
    for attendu in [
        "Apprentissage",
        "Référent Apprentissage",
        "Léa Martin",
        "Référent pédagogique",
        "Madame Anne Durand",
        "Admission : dossier",
        "24 places",
        "3 semaines en entreprise, 1 semaine en centre",
        "1re année",
        "jusqu'en juin 2100",
        "15 mars 2099",
        "Organisme formateur",
        "UAI 0440001M",
        "/organisme/19311383400389",
    ] {
        assert!(page.contains(attendu), "{attendu}: {page}");
    }
    let (st, r) = call(ureq::get(&srv.url("/organisme/19311383400389")), None);
    assert_eq!(st, 200);
    let page = r.into_string().unwrap();
    assert!(
        page.contains("7331P001531") && page.contains("/formation/15_464888"),
        "{page}"
    );
    let (st, r) = call(ureq::get(&srv.url("/organisme/44306184100047")), None);
    assert_eq!(st, 200, "an organisme page without any offer");
    let page = r.into_string().unwrap();
    assert!(
        page.contains("Lycée des métiers Test")
            && page.contains("1 rue de la Paix")
            && page.contains("Aucune formation de cet organisme"),
        "{page}"
    );
    let (st, _) = call(ureq::get(&srv.url("/organisme/12345678901234")), None);
    assert_eq!(st, 404);
    let (st, _) = call(ureq::get(&srv.url("/organisme/..%2F..%2Fetc")), None);
    assert_eq!(st, 404);
}

/// A `lheo-index` lists summaries: `sofi import` compares them with the store and follows
/// the `file` references that are files beside it (not addresses, not outside its folder).
#[test]
fn an_index_is_compared_with_the_store_and_its_local_files_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let lot = tmp.path().join("lot");
    std::fs::create_dir_all(&lot).unwrap();
    write(&lot, "daeu.xml", daeu());
    write(tmp.path(), "dehors.xml", doc("", &[daeu_as("DEHORS")]));
    let index = write(
        &lot,
        "index.xml",
        r#"<?xml version="1.0" encoding="UTF-8"?>
<lheo-index xmlns="http://www.lheo.org/2.2"><resumes-offres>
<resume-offre numero="15_464888" datemaj="20180911" file="daeu.xml"><intitule-formation>DAEU</intitule-formation></resume-offre>
<resume-offre numero="AILLEURS" file="http://www.intercariforef.org/formations/1.xml"/>
<resume-offre numero="DEHORS" file="../dehors.xml"/>
</resumes-offres><resumes-organismes><resume-organisme><nom-organisme>UT2J</nom-organisme></resume-organisme></resumes-organismes></lheo-index>
"#,
    );
    let (code, rep) = import(&data, &[&index], &[]);
    assert_eq!(code, 0, "{rep}");
    let i = &rep[0]["rapport"]["index"];
    assert_eq!(
        (i["resumes"].as_u64(), i["organismes"].as_u64()),
        (Some(3), Some(1)),
        "{rep}"
    );
    assert_eq!(
        (i["a_jour"].as_u64(), i["a_recuperer"].as_u64()),
        (Some(0), Some(3)),
        "{rep}"
    );
    assert_eq!(rep[0]["rapport"]["lues"], 0, "an index carries no offer");
    assert_eq!(
        rep.as_array().unwrap().len(),
        2,
        "the local file followed, only it: {rep}"
    );
    assert_eq!(rep[1]["rapport"]["stockees"], 1, "{rep}");
    let store = Store::open(&data).unwrap();
    assert!(store.offre("15_464888").unwrap().is_some());
    assert!(
        store.offre("DEHORS").unwrap().is_none(),
        "nothing read outside the index's folder"
    );
    drop(store);
    let (_, rep) = import(&data, &[&index], &[]);
    let i = &rep[0]["rapport"]["index"];
    assert_eq!(
        (i["a_jour"].as_u64(), i["a_recuperer"].as_u64()),
        (Some(1), Some(2)),
        "{rep}"
    );
    assert_eq!(
        rep.as_array().unwrap().len(),
        1,
        "nothing left to follow locally"
    );
}
