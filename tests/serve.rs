//! `sofi serve` for real on loopback: health, 404s, the demo load, graceful SIGTERM.

mod common;

use common::*;

#[test]
fn health_404_and_graceful_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    import(tmp.path(), &[&lheo("samples/trefle/daeu.xml")], &[]);
    let mut server = Server::start(tmp.path(), false);
    let h = server.wait_health();
    assert_eq!(h["formations"], 1);
    assert_eq!(h["sessions"], 1);
    assert_eq!(h["journal_seq"], 1);
    let (status, r) = call(ureq::get(&server.url("/nulle-part")), None);
    assert_eq!(status, 404);
    let v: serde_json::Value = r.into_json().unwrap();
    assert_eq!(v["erreur"]["code"], "introuvable");
    let (status, _) = call(ureq::post(&server.url("/health")), Some(b""));
    assert_eq!(status, 405);
    // While the server holds the store, the CLI explains instead of failing obscurely.
    let out = run(sofi()
        .arg("--data-dir")
        .arg(tmp.path())
        .arg("import")
        .arg(lheo("samples/trefle/poec.xml")));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("déjà ouvert"), "{}", stderr(&out));
    assert!(server.stop().success());
}

#[test]
fn demo_loads_only_into_an_empty_store_and_its_feed_validates() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start(tmp.path(), true);
    let h = server.wait_health();
    assert_eq!(h["sessions"], 5_000);
    assert!(h["organismes"].as_u64().unwrap() >= 8);
    let (status, r) = call(ureq::get(&server.url("/lheo/offres.xml")), None);
    assert_eq!(status, 200);
    let feed = tmp.path().join("demo.xml");
    std::fs::write(&feed, bytes(r)).unwrap();
    assert_eq!(
        count_tag(&feed, "formation") as u64,
        h["diffusables"].as_u64().unwrap()
    );
    xmllint_valid(&feed);
    assert!(server.stop().success());

    // Without --demo an empty store stays empty.
    let empty = tempfile::tempdir().unwrap();
    let mut server = Server::start(empty.path(), false);
    assert_eq!(server.wait_health()["formations"], 0);
    assert!(server.stop().success());
}

#[test]
fn a_stale_or_missing_index_is_repaired_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    import(tmp.path(), &[&lheo("samples/trefle/daeu.xml")], &[]);
    let mut server = Server::start(tmp.path(), false);
    let count = |s: &Server, q: &str| -> u64 {
        let (status, r) = call(ureq::get(&s.url(&format!("/api/v1/recherche?{q}"))), None);
        assert_eq!(status, 200);
        r.into_json::<serde_json::Value>().unwrap()["total"]
            .as_u64()
            .unwrap()
    };
    let past = "debut_min=2000-01-01";
    assert_eq!(count(&server, &format!("q=universitaires&{past}")), 1);
    assert!(server.stop().success());
    // Changes made while the server is down: the index is behind the journal at restart.
    import(tmp.path(), &[&lheo("samples/trefle/formation.xml")], &[]);
    let mut server = Server::start(tmp.path(), false);
    let h = server.wait_health();
    assert_eq!(h["index_seq"], h["journal_seq"]);
    assert!(count(&server, past) >= 2);
    assert!(server.stop().success());
    // A deleted index is rebuilt from the store.
    std::fs::remove_dir_all(tmp.path().join("index")).unwrap();
    let mut server = Server::start(tmp.path(), false);
    assert!(count(&server, past) >= 2);
    assert!(server.stop().success());
}

/// The server's log lines up to "listening", as `sofi serve` writes them to a pipe (not a
/// terminal), with `args` before the subcommand.
fn lignes_du_journal(args: &[&str]) -> Vec<String> {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let port = common::navigateur::port_libre();
    let mut enfant = sofi()
        .arg("--data-dir")
        .arg(dir.path())
        .args(args)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let err = enfant.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let mut lignes = Vec::new();
    let fin = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while let Ok(l) = rx.recv_timeout(fin.saturating_duration_since(std::time::Instant::now())) {
        let ecoute = l.contains("écoute");
        lignes.push(l);
        if ecoute {
            break;
        }
    }
    assert!(lignes.iter().any(|l| l.contains("écoute")), "{lignes:?}");
    // One line per request, with its id.
    let url = format!("http://127.0.0.1:{port}/health");
    let (status, _) = call(ureq::get(&url).set("x-request-id", "journal-7"), None);
    assert_eq!(status, 200);
    while let Ok(l) = rx.recv_timeout(fin.saturating_duration_since(std::time::Instant::now())) {
        let vue = l.contains("journal-7");
        lignes.push(l);
        if vue {
            break;
        }
    }
    let _ = enfant.kill();
    let _ = enfant.wait();
    let ligne = lignes
        .iter()
        .find(|l| l.contains("journal-7"))
        .expect("no request line");
    assert!(
        ligne.contains("/health") && ligne.contains("200"),
        "{ligne}"
    );
    lignes
}

#[test]
fn logs_are_plain_without_colour_off_a_terminal_or_json() {
    let plain = lignes_du_journal(&[]);
    assert!(
        plain.iter().all(|l| !l.contains('\u{1b}')),
        "colour codes in a pipe: {plain:?}"
    );
    let json = lignes_du_journal(&["--log-format", "json"]);
    for l in &json {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
        assert!(
            v["level"].is_string() && v["fields"]["message"].is_string(),
            "{l}"
        );
    }
}

#[test]
fn the_configuration_file_sits_under_environment_and_options_and_is_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let fichier = tmp.path().join("sofi.toml");
    std::fs::write(
        &fichier,
        "data_dir = \"/srv/sofi\"\nconnexions-max = 100\nflux_max = 2\nlog_format = \"json\"\n",
    )
    .unwrap();
    let out = run(sofi()
        .env_remove("SOFI_DATA_DIR")
        .env("SOFI_CONNEXIONS_MAX", "50")
        .args(["config", "--json", "--flux-max", "3", "--config"])
        .arg(&fichier));
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let reglage = |cle: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|r| r["cle"] == cle)
            .unwrap_or_else(|| panic!("{cle} absent"))
            .clone()
    };
    assert_eq!(reglage("data_dir")["valeur"], "/srv/sofi");
    assert!(reglage("data_dir")["source"]
        .as_str()
        .unwrap()
        .starts_with("fichier "));
    assert_eq!(reglage("connexions_max")["valeur"], "50");
    assert_eq!(
        reglage("connexions_max")["source"],
        "environnement SOFI_CONNEXIONS_MAX"
    );
    assert_eq!(reglage("flux_max")["valeur"], "3");
    assert_eq!(reglage("flux_max")["source"], "option");
    assert_eq!(reglage("imports_max")["source"], "défaut");

    // The example shipped names every setting there is.
    let exemple = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/sofi.toml"),
    )
    .unwrap();
    for r in v.as_array().unwrap() {
        let cle = r["cle"].as_str().unwrap();
        assert!(
            cle == "config" || exemple.contains(&format!("{cle} =")),
            "deploy/sofi.toml does not document {cle}"
        );
    }
    let out = run(sofi()
        .arg("config")
        .arg("--config")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/sofi.toml")));
    assert!(out.status.success(), "{}", stderr(&out));

    // An unknown key or a bad value stops the start, naming the file and the key.
    for (texte, attendu) in [
        ("connexion_max = 3\n", "« connexion_max » inconnue"),
        (
            "limite_import = \"3Z\"\n",
            "« limite_import » : valeur « 3Z » refusée",
        ),
        ("log_format = \"xml\"\n", "plain, json"),
        ("listen = [\"a\"]\n", "« listen »"),
    ] {
        std::fs::write(&fichier, texte).unwrap();
        let out = run(sofi()
            .arg("--config")
            .arg(&fichier)
            .arg("--data-dir")
            .arg(tmp.path())
            .arg("serve"));
        assert_eq!(out.status.code(), Some(2), "{texte}");
        let e = stderr(&out);
        assert!(
            e.contains("sofi.toml") && e.contains(attendu),
            "{texte}: {e}"
        );
    }

    // Off loopback: no development cookie, no guessable admin token.
    for (args, attendu) in [
        (vec!["--cookie-non-securise"], "cookie-non-securise"),
        (vec!["--admin-token", "secret"], "trop faible"),
    ] {
        let out = run(sofi()
            .arg("--data-dir")
            .arg(tmp.path())
            .args(["serve", "--listen", "0.0.0.0:0"])
            .args(args));
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains(attendu), "{}", stderr(&out));
    }
}

/// `/metrics` parsed as Prometheus does: `name{labels} value`, comments, nothing else.
fn metriques(server: &Server) -> Vec<(String, String, f64)> {
    let (status, r) = call(ureq::get(&server.url("/metrics")), None);
    assert_eq!(status, 200);
    assert!(r.content_type().starts_with("text/plain"));
    let texte = r.into_string().unwrap();
    let mut v = Vec::new();
    for l in texte
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (serie, valeur) = l.rsplit_once(' ').unwrap_or_else(|| panic!("{l}"));
        let (nom, labels) = match serie.split_once('{') {
            Some((n, reste)) => (n, reste.strip_suffix('}').unwrap_or_else(|| panic!("{l}"))),
            None => (serie, ""),
        };
        assert!(
            nom.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{l}"
        );
        let valeur: f64 = valeur.parse().unwrap_or_else(|_| panic!("{l}"));
        v.push((nom.to_string(), labels.to_string(), valeur));
    }
    v
}

#[test]
fn metrics_count_requests_searches_imports_and_the_index_lag_without_personal_data() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), true);
    let sante = server.wait_health();
    for q in ["cariste", "jean.dupont@example.org"] {
        let url = format!("{}?q={q}", server.url("/api/v1/recherche"));
        assert_eq!(call(ureq::get(&url), None).0, 200);
    }
    let (status, r) = call(
        ureq::get(&server.url("/nulle-part/jean.dupont")).set("x-request-id", "essai-42"),
        None,
    );
    assert_eq!(status, 404);
    assert_eq!(r.header("x-request-id"), Some("essai-42"));
    let (_, r) = call(ureq::get(&server.url("/health")), None);
    let id = r.header("x-request-id").unwrap().to_string();
    assert_eq!(id.len(), 16, "a new id when none is given");
    let (status, _) = call(
        ureq::post(&server.url("/api/v1/import"))
            .set("authorization", &format!("Bearer {}", server.token.trim())),
        Some(&std::fs::read(lheo("samples/trefle/poec.xml")).unwrap()),
    );
    assert_eq!(status, 200);

    let formations = sante["formations"].as_f64().unwrap();
    let m = metriques(&server);
    let valeur = |nom: &str, labels: &str| {
        m.iter()
            .find(|(n, l, _)| n == nom && l == labels)
            .map(|x| x.2)
            .unwrap_or_else(|| panic!("{nom}{{{labels}}} absent"))
    };
    assert_eq!(
        valeur(
            "sofi_http_requetes_total",
            "route=\"/api/v1/recherche\",methode=\"GET\",statut=\"200\""
        ),
        2.0
    );
    assert_eq!(
        valeur(
            "sofi_http_requetes_total",
            "route=\"(aucune)\",methode=\"GET\",statut=\"404\""
        ),
        1.0
    );
    assert_eq!(valeur("sofi_recherches_total", ""), 2.0);
    assert_eq!(valeur("sofi_recherches_sans_resultat_total", ""), 1.0);
    // The demo's load and the upload.
    assert_eq!(valeur("sofi_imports_total", ""), 2.0);
    assert_eq!(
        valeur("sofi_import_offres_lues_total", ""),
        formations + 1.0
    );
    assert_eq!(
        valeur("sofi_import_offres_stockees_total", ""),
        formations + 1.0
    );
    assert_eq!(valeur("sofi_formations", ""), formations + 1.0);
    assert_eq!(
        valeur("sofi_journal_seq", ""),
        sante["journal_seq"].as_f64().unwrap() + 1.0
    );
    assert!(valeur("sofi_index_retard_entrees", "") <= 1.0);
    assert!(valeur("sofi_stockage_octets", "partie=\"store\"") > 0.0);
    assert!(valeur("sofi_stockage_octets", "partie=\"index\"") > 0.0);
    assert_eq!(
        valeur(
            "sofi_build_info",
            &format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))
        ),
        1.0
    );
    let buckets = m
        .iter()
        .filter(|(n, l, _)| {
            n == "sofi_http_duree_secondes_bucket" && l.starts_with("route=\"/api/v1/recherche\"")
        })
        .count();
    assert!(buckets >= 10, "{buckets} buckets");
    // What people typed never reaches a label.
    for (n, l, _) in &m {
        assert!(
            !l.contains("dupont") && !l.contains("cariste"),
            "{n}{{{l}}}"
        );
        assert!(!l.contains("127.0.0.1"), "{n}{{{l}}}");
    }
    // Within a few seconds the index has caught up.
    let fin = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while valeur_de(&metriques(&server), "sofi_index_retard_entrees") > 0.0 {
        assert!(std::time::Instant::now() < fin, "the index never caught up");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn valeur_de(m: &[(String, String, f64)], nom: &str) -> f64 {
    m.iter().find(|x| x.0 == nom).map_or(f64::NAN, |x| x.2)
}

#[test]
fn sighup_rereads_the_search_settings_and_the_policy_without_dropping_connections() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("index-config");
    std::fs::create_dir(&config).unwrap();
    for f in ["recherche.toml", "synonymes.txt", "mots-vides.txt"] {
        std::fs::copy(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("index-config")
                .join(f),
            config.join(f),
        )
        .unwrap();
    }
    let politique = tmp.path().join("politique.toml");
    std::fs::write(&politique, "echantillon = 0.1\n").unwrap();
    let data = tmp.path().join("data");
    let mut server = Server::start_avec(
        &data,
        true,
        &[
            ("SOFI_INDEX_CONFIG", config.to_str().unwrap()),
            ("SOFI_POLITIQUE", politique.to_str().unwrap()),
        ],
    );
    let total = |q: &str| -> u64 {
        let url = format!("{}?q={q}&litteral=1", server.url("/api/v1/recherche"));
        let (status, r) = call(ureq::get(&url), None);
        assert_eq!(status, 200);
        r.into_json::<serde_json::Value>().unwrap()["total"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(total("fenwickite"), 0);
    assert!(total("cariste") > 0);
    // A connection kept open across the reload.
    let agent = ureq::AgentBuilder::new().build();
    assert_eq!(
        agent.get(&server.url("/health")).call().unwrap().status(),
        200
    );

    let mut syn = std::fs::read_to_string(config.join("synonymes.txt")).unwrap();
    syn.push_str("fenwickite => cariste\n");
    std::fs::write(config.join("synonymes.txt"), syn).unwrap();
    // A policy that does not read is refused, and the one in force kept.
    std::fs::write(&politique, "echantillon = \"beaucoup\"\n").unwrap();
    unsafe { libc::kill(server.child.id() as i32, libc::SIGHUP) };
    let fin = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while total("fenwickite") == 0 {
        assert!(std::time::Instant::now() < fin, "the synonym was not taken");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(total("fenwickite") > 0);
    assert_eq!(
        agent.get(&server.url("/health")).call().unwrap().status(),
        200
    );
    assert!(server.wait_health()["statut"] == "ok");
    assert!(server.stop().success());
}

#[test]
fn while_the_index_is_rebuilt_searches_say_so_and_offer_pages_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("offre.xml");
    generate(20_000, 4, &f);
    let data = tmp.path().join("data");
    assert_eq!(import(&data, &[&f], &[]).0, 0);
    // No index (as after an upgrade that changed its layout): rebuilt while serving.
    let port = common::navigateur::port_libre();
    let mut enfant = sofi()
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let t0 = std::time::Instant::now();
    let h: serde_json::Value = loop {
        if let Ok(r) = ureq::get(&url("/health")).call() {
            break r.into_json().unwrap();
        }
        assert!(t0.elapsed() < std::time::Duration::from_secs(60));
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // Answering before the index is back.
    assert_eq!(h["statut"], "degrade", "{h}");
    let (status, r) = call(ureq::get(&url("/api/v1/recherche?q=cariste")), None);
    assert_eq!(status, 503);
    assert_eq!(r.header("retry-after"), Some("10"));
    let v: serde_json::Value = r.into_json().unwrap();
    assert_eq!(v["erreur"]["code"], "index-en-reconstruction");
    // The site's page says it in a page of the site.
    let (status, r) = call(ureq::get(&url("/recherche?q=cariste")), None);
    assert_eq!(status, 503);
    assert_eq!(r.header("retry-after"), Some("10"));
    assert!(r.content_type().starts_with("text/html"));
    let page = r.into_string().unwrap();
    assert!(page.contains("réessayez dans quelques secondes"), "{page}");
    assert!(page.contains("href=\"/recherche?q=cariste\""), "{page}");
    // An offer's page reads the store: it answers.
    let xml = std::fs::read_to_string(&f).unwrap();
    let debut = xml.find("<formation numero=\"").unwrap() + "<formation numero=\"".len();
    let numero = &xml[debut..debut + xml[debut..].find('"').unwrap()];
    let (status, _) = call(
        ureq::get(&url(&format!("/api/v1/formations/{numero}"))),
        None,
    );
    assert_eq!(status, 200, "{numero}");
    // Then searches answer.
    loop {
        let (status, _) = call(ureq::get(&url("/api/v1/recherche?q=cariste")), None);
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(120),
            "never rebuilt"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let h: serde_json::Value = ureq::get(&url("/health"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(h["statut"], "ok", "{h}");
    assert_eq!(h["index_seq"], h["journal_seq"]);
    let _ = enfant.kill();
    let _ = enfant.wait();
}

#[test]
fn the_systemd_unit_verifies_and_stays_under_an_exposure_of_2() {
    let analyse = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output();
    if analyse.is_err() {
        eprintln!("systemd-analyze absent: unit not checked");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // The unit as installed, with this build's binary where it would be.
    let unite = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/sofi.service"),
    )
    .unwrap()
    .replace("/usr/local/bin/sofi", env!("CARGO_BIN_EXE_sofi"));
    let chemin = tmp.path().join("sofi.service");
    std::fs::write(&chemin, unite).unwrap();
    let out = run(std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&chemin));
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    // Exposure in tenths: 20 is the 2.0.
    let out = run(std::process::Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--threshold=20"])
        .arg(&chemin));
    assert!(out.status.success(), "{}", stdout(&out));
}
