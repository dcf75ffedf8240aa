//! Diffusion feeds and live import, against a real server on loopback and real stores.

mod common;

use common::*;
use sofi::model::Formation;
use sofi::store::Store;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// Every stored offer by numero, with only its diffusable actions (what a feed carries).
fn diffused(dir: &Path) -> BTreeMap<String, Formation> {
    let store = Store::open(dir).unwrap();
    store
        .offres()
        .map(|o| o.unwrap())
        .filter(|o| o.verdict.diffusable())
        .map(|o| {
            let mut f = o.formation.clone();
            let keep: Vec<bool> = o.verdict.diffusion.iter().map(|d| d.diffusee).collect();
            let mut i = 0;
            f.actions.retain(|_| {
                i += 1;
                keep[i - 1]
            });
            (f.numero.clone(), f)
        })
        .collect()
}

fn export(dir: &Path, out: &Path, extra: &[&str]) {
    let o = run(sofi()
        .arg("--data-dir")
        .arg(dir)
        .arg("export")
        .arg("-o")
        .arg(out)
        .args(extra));
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn export_of_100k_sessions_validates() {
    let tmp = tempfile::tempdir().unwrap();
    let gen = tmp.path().join("g.xml");
    generate(100_000, 11, &gen);
    let d = tmp.path().join("d");
    let (code, _) = import(&d, &[&gen], &[]);
    assert_eq!(code, 0);
    let out = tmp.path().join("export.xml");
    export(&d, &out, &[]);
    assert_eq!(
        count_tag(&out, "formation") as u64,
        stats(&d)["diffusables"].as_u64().unwrap()
    );
    xmllint_valid(&out);
    // CPF-eligible sessions say so (Intercarif's `eligibilite-cpf` extras), valid as above.
    let n = std::process::Command::new("grep")
        .args(["-c", "<extras info=\"eligibilite-cpf\">"])
        .arg(&out)
        .output()
        .unwrap();
    let n: u64 = String::from_utf8_lossy(&n.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(n > 1000, "{n} sessions marked CPF-eligible");
    // --gzip decodes to the same bytes.
    let gz = tmp.path().join("export.xml.gz");
    export(&d, &gz, &["--gzip"]);
    let mut plain = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap()),
        &mut plain,
    )
    .unwrap();
    assert_eq!(plain, std::fs::read(&out).unwrap());
}

#[test]
fn round_trip_of_real_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let samples: Vec<_> = samples()
        .into_iter()
        .filter(|p| !p.to_string_lossy().contains("anotea"))
        .collect();
    for s in &samples {
        import(&a, &[s], &[]);
    }
    let x1 = tmp.path().join("x1.xml");
    export(&a, &x1, &[]);
    xmllint_valid(&x1);
    let (code, rep) = import(&b, &[&x1], &[]);
    assert_eq!(code, 0);
    assert_eq!(rep[0]["rapport"]["rejetees"], 0);
    let (da, db) = (diffused(&a), diffused(&b));
    assert!(da.len() >= 2, "the diffusable real offers: {:?}", da.keys());
    assert_eq!(da, db, "import → export → import gives identical offers");
    let x2 = tmp.path().join("x2.xml");
    export(&b, &x2, &[]);
    assert_eq!(
        std::fs::read(&x1).unwrap(),
        std::fs::read(&x2).unwrap(),
        "export → import → export is byte-identical"
    );
}

#[test]
fn live_import_incremental_feeds_and_partner_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let gen = tmp.path().join("g.xml");
    generate(400, 21, &gen);
    let server = Server::start(&tmp.path().join("srv"), false);
    let auth = format!("Bearer {}", server.token.trim());
    let post = |body: &[u8], q: &str| {
        call(
            ureq::post(&server.url(&format!("/api/v1/import{q}"))).set("Authorization", &auth),
            Some(body),
        )
    };
    let (status, r) = post(&std::fs::read(&gen).unwrap(), "?source=flux");
    assert_eq!(status, 200);
    let rep: serde_json::Value = r.into_json().unwrap();
    assert_eq!(rep["rejetees"], 0);

    // The partner takes a full feed and remembers where it stood.
    let (status, r) = call(ureq::get(&server.url("/lheo/offres.xml")), None);
    assert_eq!(status, 200);
    let seq: u64 = r.header("x-sofi-journal").unwrap().parse().unwrap();
    let full = tmp.path().join("full.xml");
    std::fs::write(&full, bytes(r)).unwrap();
    let partner = tmp.path().join("partner");
    import(&partner, &[&full], &["--source", "sofi"]);

    // Change 3 offers and delete 1 through the running server.
    let xml = std::fs::read_to_string(&gen).unwrap();
    let mut changed = Vec::new();
    for n in ["PDL_F0000002", "PDL_F0000005", "PDL_F0000009"] {
        let start = xml.find(&format!("<formation numero=\"{n}\"")).unwrap();
        let end = start + xml[start..].find("</formation>").unwrap() + "</formation>".len();
        let f = xml[start..end].replace("<intitule-formation>", "<intitule-formation>Nouveau : ");
        changed.push(f);
    }
    let doc = format!(
        "<lheo xmlns=\"http://lheo.gouv.fr/2.3\"><offres>{}</offres></lheo>",
        changed.join("")
    );
    let t0 = Instant::now();
    let (status, r) = post(doc.as_bytes(), "?source=flux");
    assert_eq!(status, 200);
    assert_eq!(r.into_json::<serde_json::Value>().unwrap()["modifiees"], 3);
    let (status, _) = call(
        ureq::delete(&server.url("/api/v1/formations/PDL_F0000003")).set("Authorization", &auth),
        None,
    );
    assert_eq!(status, 200);
    let (status, _) = call(
        ureq::delete(&server.url("/api/v1/formations/PDL_F0000003")).set("Authorization", &auth),
        None,
    );
    assert_eq!(status, 404);

    // ?depuis= has exactly those 4, visible at once (well within 1 s).
    let (status, r) = call(
        ureq::get(&server.url(&format!("/lheo/offres.xml?depuis={seq}"))),
        None,
    );
    assert_eq!(status, 200);
    assert!(t0.elapsed() < Duration::from_secs(5));
    let inc = String::from_utf8(bytes(r)).unwrap();
    let numeros: Vec<&str> = inc
        .match_indices("<formation numero=\"")
        .map(|(i, m)| {
            let rest = &inc[i + m.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    let diffusable_changes = ["PDL_F0000002", "PDL_F0000005", "PDL_F0000009"]
        .iter()
        .filter(|n| full_has(&full, n))
        .count();
    assert_eq!(numeros.len(), diffusable_changes);
    assert!(inc.contains("<extra info=\"formation\" numero=\"PDL_F0000003\"/>"));
    assert_eq!(
        inc.matches("<extra info=\"formation\"").count(),
        4 - diffusable_changes
    );
    assert!(inc.contains("Nouveau : "));
    let incf = tmp.path().join("inc.xml");
    std::fs::write(&incf, &inc).unwrap();
    xmllint_valid(&incf);

    // A partner applying full + incremental ends where a fresh full feed does.
    import(&partner, &[&incf], &["--source", "sofi"]);
    let (_, r) = call(ureq::get(&server.url("/lheo/offres.xml")), None);
    let fresh = tmp.path().join("fresh.xml");
    std::fs::write(&fresh, bytes(r)).unwrap();
    let reference = tmp.path().join("reference");
    import(&reference, &[&fresh], &["--source", "sofi"]);
    assert_eq!(diffused(&partner), diffused(&reference));
    assert!(Store::open(&partner)
        .unwrap()
        .offre("PDL_F0000003")
        .unwrap()
        .is_none());

    // By date too: everything changed today.
    let today = jiff::Zoned::now().date().to_string();
    let (status, r) = call(
        ureq::get(&server.url(&format!("/lheo/offres.xml?depuis={today}"))),
        None,
    );
    assert_eq!(status, 200);
    assert!(String::from_utf8(bytes(r)).unwrap().contains("Nouveau : "));
}

fn full_has(full: &Path, numero: &str) -> bool {
    std::fs::read_to_string(full)
        .unwrap()
        .contains(&format!("<formation numero=\"{numero}\""))
}

#[test]
fn feed_http_headers_filters_and_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let gen = tmp.path().join("g.xml");
    generate(600, 8, &gen);
    let d = tmp.path().join("d");
    import(&d, &[&gen], &[]);
    let server = Server::start(&d, false);
    let url = server.url("/lheo/offres.xml");
    let (status, r) = call(ureq::get(&url), None);
    assert_eq!(status, 200);
    let etag = r.header("etag").unwrap().to_string();
    let lm = r.header("last-modified").unwrap().to_string();
    assert!(etag.starts_with('"'), "strong ETag");
    let body = bytes(r);
    // 304 on an unchanged feed.
    let (status, _) = call(ureq::get(&url).set("If-None-Match", &etag), None);
    assert_eq!(status, 304);
    let (status, _) = call(ureq::get(&url).set("If-Modified-Since", &lm), None);
    assert_eq!(status, 304);
    // gzip decodes to the same bytes.
    let (status, r) = call(ureq::get(&url).set("Accept-Encoding", "gzip"), None);
    assert_eq!(status, 200);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let mut plain = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(r.into_reader()),
        &mut plain,
    )
    .unwrap();
    assert_eq!(plain, body);
    // Filters: every written action runs in the département / is paid by the financeur.
    let (_, r) = call(
        ureq::get(&format!("{url}?departement=53&financeur=2")),
        None,
    );
    let xml = String::from_utf8(bytes(r)).unwrap();
    let mut n = 0;
    for a in xml.split("<action ").skip(1) {
        let a = &a[..a.find("</action>").unwrap()];
        assert!(a.contains("<departement>53</departement>"));
        assert!(a.contains("<code-financeur>2</code-financeur>"));
        n += 1;
    }
    assert!(n > 0, "some actions in Mayenne funded by the Région");
    // Bad parameters are 400 naming the parameter.
    for (q, p) in [
        ("depuis=hier", "depuis"),
        ("formacode=abc", "formacode"),
        ("organisme=12", "organisme"),
        ("pays=FR", "pays"),
    ] {
        let (status, r) = call(ureq::get(&format!("{url}?{q}")), None);
        assert_eq!(status, 400, "{q}");
        let v: serde_json::Value = r.into_json().unwrap();
        assert_eq!(v["erreur"]["parametre"], p);
    }
}

#[test]
fn import_route_auth_and_size_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), false);
    let url = server.url("/api/v1/import");
    let daeu = std::fs::read(lheo("samples/trefle/daeu.xml")).unwrap();
    let (status, _) = call(ureq::post(&url), Some(&daeu));
    assert_eq!(status, 401);
    let (status, _) = call(
        ureq::post(&url).set("Authorization", "Bearer nope"),
        Some(&daeu),
    );
    assert_eq!(status, 403);
    let auth = format!("Bearer {}", server.token.trim());
    // Gzip bodies are accepted.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&daeu).unwrap();
    let gz = gz.finish().unwrap();
    let (status, r) = call(
        ureq::post(&url)
            .set("Authorization", &auth)
            .set("Content-Encoding", "gzip"),
        Some(&gz),
    );
    assert_eq!(status, 200);
    let rapport: serde_json::Value = r.into_json().unwrap();
    assert_eq!(rapport["stockees"], 1);
    // The bytes received, as sent (the report and the import's log line say them).
    assert_eq!(rapport["octets"], gz.len() as u64, "{rapport}");
    // Over the limit (5 MB in these tests): 413, whether announced or streamed.
    let big = vec![b' '; 6_000_000];
    let (status, _) = call(ureq::post(&url).set("Authorization", &auth), Some(&big));
    assert_eq!(status, 413);
    let streamed = match ureq::post(&url)
        .set("Authorization", &auth)
        .send(std::io::Cursor::new(big.clone()))
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(streamed, 413, "chunked upload past the limit");
    // A malformed body is a 4xx with the report, never a 5xx.
    let (status, r) = call(
        ureq::post(&url).set("Authorization", &auth),
        Some(b"<lheo><offres><formation>"),
    );
    assert_eq!(status, 422);
    assert!(r.into_string().unwrap().contains("tronqué"));
    // Token file readable by its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tmp.path().join("admin-token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0);
    }
}

#[test]
fn inbox_imports_dropped_files_and_health_reports_waiting_offers() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), false);
    let inbox = tmp.path().join("inbox");
    std::fs::copy(lheo("samples/trefle/poec.xml"), inbox.join("poec.xml")).unwrap();
    std::fs::write(
        inbox.join("casse.xml"),
        b"<lheo><offres><formation numero=\"x\">",
    )
    .unwrap();
    let t0 = Instant::now();
    while !(inbox.join("done/poec.xml").exists() && inbox.join("rejected/casse.xml").exists()) {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "inbox files not processed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let rep: serde_json::Value =
        serde_json::from_slice(&std::fs::read(inbox.join("done/poec.xml.rapport.json")).unwrap())
            .unwrap();
    assert_eq!(rep["stockees"], 1);
    let rep: serde_json::Value = serde_json::from_slice(
        &std::fs::read(inbox.join("rejected/casse.xml.rapport.json")).unwrap(),
    )
    .unwrap();
    assert!(rep["erreur_fatale"].as_str().unwrap().contains("tronqué"));
    // poec is privately funded without certification: received, not diffused, waiting.
    let h = server.wait_health();
    assert_eq!(h["formations"], 1);
    assert_eq!(h["non_diffusees"], 1);
    assert!(h["plus_ancienne_non_diffusee_s"].as_i64().unwrap() >= 0);
    assert!(h["journal_seq"].as_u64().unwrap() >= 1);
}

/// A feed with no formation — an empty store, a filter that matches nothing, nothing new
/// since, deletions only — is `<lheo-plus>` (LHÉO's `offres` needs one formation at least),
/// valid for two XSD validators and the DTD, and `sofi import` reads it back.
#[test]
fn feeds_without_formation_are_valid_lheo() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("srv"), false);
    let auth = format!("Bearer {}", server.token.trim());
    let n = std::cell::Cell::new(0);
    let flux = |q: &str| -> String {
        let (status, r) = call(
            ureq::get(&server.url(&format!("/lheo/offres.xml{q}"))),
            None,
        );
        assert_eq!(status, 200, "{q}");
        let corps = String::from_utf8(bytes(r)).unwrap();
        n.set(n.get() + 1);
        let f = tmp.path().join(format!("flux-{}.xml", n.get()));
        std::fs::write(&f, &corps).unwrap();
        valide_partout(&f);
        // What Sofi writes, Sofi reads.
        let (code, rep) = import(&tmp.path().join("relu"), &[&f], &["--source", "relu"]);
        assert_eq!(code, 0, "{rep}");
        corps
    };
    // An empty store.
    let vide = flux("");
    assert!(
        vide.contains("<lheo-plus xmlns=\"http://lheo.gouv.fr/2.3\">"),
        "{vide}"
    );
    let out = tmp.path().join("export-vide.xml");
    let o = run(sofi()
        .arg("--data-dir")
        .arg(tmp.path().join("autre"))
        .args(["export", "-o"])
        .arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    valide_partout(&out);

    let (status, _) = call(
        ureq::post(&server.url("/api/v1/import?source=flux")).set("Authorization", &auth),
        Some(
            std::fs::read(lheo("samples/trefle/daeu.xml"))
                .unwrap()
                .as_slice(),
        ),
    );
    assert_eq!(status, 200);
    let (_, r) = call(ureq::get(&server.url("/lheo/offres.xml")), None);
    let seq: u64 = r.header("x-sofi-journal").unwrap().parse().unwrap();
    assert!(String::from_utf8(bytes(r)).unwrap().contains("<lheo xmlns"));
    // A filter that matches nothing, and nothing new since the last pull.
    assert!(flux("?departement=971").contains("<lheo-plus"));
    assert!(flux(&format!("?depuis={seq}")).contains("<lheo-plus"));
    // Deletions only.
    let (status, _) = call(
        ureq::delete(&server.url("/api/v1/formations/15_464888")).set("Authorization", &auth),
        None,
    );
    assert_eq!(status, 200);
    let suppressions = flux(&format!("?depuis={seq}"));
    assert!(
        suppressions.contains("<lheo-plus")
            && suppressions.contains("<extra info=\"formation\" numero=\"15_464888\"/>"),
        "{suppressions}"
    );
    // A partner applying it deletes the offer.
    let partenaire = tmp.path().join("partenaire");
    import(
        &partenaire,
        &[&lheo("samples/trefle/daeu.xml")],
        &["--source", "sofi"],
    );
    let f = tmp.path().join("suppressions.xml");
    std::fs::write(&f, &suppressions).unwrap();
    import(&partenaire, &[&f], &["--source", "sofi"]);
    assert_eq!(stats(&partenaire)["formations"], 0);
}

/// The scope rule holds on the JSON API too: an action the rule does not list is neither
/// returned nor named by `/api/v1/formations/{numero}`.
#[test]
fn the_api_returns_only_listed_actions() {
    let tmp = tempfile::tempdir().unwrap();
    let gen = tmp.path().join("g.xml");
    generate(2000, 5, &gen);
    let d = tmp.path().join("d");
    import(&d, &[&gen], &[]);
    let (numero, cachee) = {
        let store = Store::open(&d).unwrap();
        let trouvee = store
            .offres()
            .map(Result::unwrap)
            .find_map(|o| {
                let non = o.verdict.diffusion.iter().find(|x| !x.diffusee)?;
                o.verdict
                    .diffusable()
                    .then(|| (o.formation.numero.clone(), non.action.clone()))
            })
            .expect("an offer with a listed action and one that is not");
        trouvee
    };
    let srv = Server::start(&d, false);
    let (st, r) = call(
        ureq::get(&srv.url(&format!("/api/v1/formations/{numero}"))),
        None,
    );
    assert_eq!(st, 200);
    let corps = r.into_string().unwrap();
    let j: serde_json::Value = serde_json::from_str(&corps).unwrap();
    let actions = j["formation"]["actions"].as_array().unwrap();
    assert!(!actions.is_empty());
    assert!(
        !corps.contains(&format!("\"{cachee}\"")) && !corps.contains(&format!("[{cachee}]")),
        "the unlisted action {cachee} leaks: {corps}"
    );
    assert!(j["verdict"]["diffusion"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["diffusee"] == true));
}
