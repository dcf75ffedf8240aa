//! Nothing a client sends stops the server: stuck feed readers, slowloris, too many
//! connections, oversized heads, bombs (gzip, huge tokens, attributes), characters XML
//! forbids, damaged files. Every probe runs against the real binary on loopback.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

fn connecter(server: &Server) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// The first `n` bytes the server sends (fewer if it closes first).
fn debut(s: &mut TcpStream, n: usize) -> String {
    let mut buf = vec![0u8; n];
    let mut lus = 0;
    while lus < n {
        match s.read(&mut buf[lus..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => lus += k,
        }
    }
    String::from_utf8_lossy(&buf[..lus]).into_owned()
}

/// Reads until the server closes; how long that took.
fn jusqu_a_fermeture(s: &mut TcpStream) -> Duration {
    let t0 = Instant::now();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return t0.elapsed(),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                panic!("still open after {:?}", t0.elapsed())
            }
            Err(_) => return t0.elapsed(),
        }
    }
}

/// `sofi export -o VERS` on a data directory.
fn exporter(data: &Path, vers: &Path) -> std::process::Output {
    run(sofi()
        .arg("--data-dir")
        .arg(data)
        .arg("export")
        .arg("-o")
        .arg(vers))
}

fn recherche_ok(server: &Server) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    let r = agent
        .get(&server.url("/api/v1/recherche?q=comptabilite"))
        .call()
        .expect("search answers while others misbehave");
    assert_eq!(r.status(), 200);
}

#[test]
fn stuck_readers_slowloris_and_crowds_do_not_starve_others() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_avec(
        tmp.path(),
        true,
        &[
            ("SOFI_FLUX_MAX", "2"),
            ("SOFI_DELAI_INACTIVITE", "3"),
            ("SOFI_DELAI_ENTETES", "2"),
            ("SOFI_CONNEXIONS_MAX", "40"),
        ],
    );

    // Eight clients ask for the whole feed and never read it.
    let mut coinces: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = connecter(&server);
            s.write_all(b"GET /lheo/offres.xml HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..20 {
        recherche_ok(&server);
    }
    let statuts: Vec<String> = coinces.iter_mut().map(|s| debut(s, 12)).collect();
    let servis = statuts.iter().filter(|s| s.ends_with(" 200")).count();
    let refuses = statuts.iter().filter(|s| s.ends_with(" 503")).count();
    assert_eq!((servis, refuses), (2, 6), "{statuts:?}");
    // The stuck ones are cut once nothing has moved for 3 s, and the feed is served again.
    for s in &mut coinces {
        assert!(jusqu_a_fermeture(s) < Duration::from_secs(15));
    }
    let (status, r) = call(ureq::get(&server.url("/lheo/offres.xml")), None);
    assert_eq!(status, 200);
    let feed = tmp.path().join("apres.xml");
    std::fs::write(&feed, bytes(r)).unwrap();
    assert!(count_tag(&feed, "formation") > 100);

    // A slowloris: one header line every 400 ms, never the end of the head.
    let mut lent = connecter(&server);
    lent.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let t0 = Instant::now();
    let coupe = loop {
        std::thread::sleep(Duration::from_millis(400));
        if lent.write_all(b"X-Lent: 1\r\n").is_err() || t0.elapsed() > Duration::from_secs(15) {
            break t0.elapsed();
        }
        lent.set_nonblocking(true).unwrap();
        let mut b = [0u8; 256];
        let ferme = lent.read(&mut b).is_ok();
        lent.set_nonblocking(false).unwrap();
        if ferme {
            break t0.elapsed();
        }
    };
    assert!(coupe < Duration::from_secs(8), "slowloris held {coupe:?}");

    // An idle keep-alive connection is closed after the idle delay.
    let mut repos = connecter(&server);
    repos
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(debut(&mut repos, 12).ends_with(" 200"));
    assert!(jusqu_a_fermeture(&mut repos) < Duration::from_secs(10));

    // Past the connection cap: a 503 with Retry-After, at once, and the others still served.
    let foule: Vec<TcpStream> = (0..40).map(|_| connecter(&server)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut de_trop = connecter(&server);
    let reponse = debut(&mut de_trop, 4096);
    assert!(reponse.starts_with("HTTP/1.1 503"), "{reponse}");
    assert!(
        reponse.to_ascii_lowercase().contains("retry-after:"),
        "{reponse}"
    );
    assert!(reponse.contains("\"serveur-sature\""), "{reponse}");
    drop(foule);
    std::thread::sleep(Duration::from_millis(300));
    recherche_ok(&server);

    // Heads too large or too long: hyper's own refusals, with the API's JSON body.
    let mut req = ureq::get(&server.url("/health"));
    for i in 0..150 {
        req = req.set(&format!("x-en-tete-{i}"), "1");
    }
    let (status, r) = call(req, None);
    assert_eq!(status, 431);
    let v: serde_json::Value = r.into_json().unwrap();
    assert_eq!(v["erreur"]["code"], "en-tetes-trop-grands");
    for n in [20_000, 70_000] {
        let long = format!("/api/v1/recherche?q={}", "a".repeat(n));
        let (status, r) = call(ureq::get(&server.url(&long)), None);
        assert_eq!(status, 414, "{n}");
        let v: serde_json::Value = r.into_json().unwrap();
        assert_eq!(v["erreur"]["code"], "uri-trop-longue");
    }

    // Pages say how they may be framed, sniffed and referred.
    let (status, r) = call(ureq::get(&server.url("/")), None);
    assert_eq!(status, 200);
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(r.header("referrer-policy").is_some());
    assert!(r
        .header("content-security-policy")
        .unwrap()
        .contains("frame-ancestors"));

    // A journal point beyond the journal is a 400, not the full feed.
    let (status, r) = call(
        ureq::get(&server.url("/lheo/offres.xml?depuis=18446744073709551615")),
        None,
    );
    assert_eq!(status, 400);
    let v: serde_json::Value = r.into_json().unwrap();
    assert_eq!(v["erreur"]["parametre"], "depuis");
    recherche_ok(&server);
}

#[test]
fn a_low_open_files_limit_degrades_without_spinning() {
    let tmp = tempfile::tempdir().unwrap();
    import(tmp.path(), &[&lheo("samples/trefle/daeu.xml")], &[]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = tmp.path().join("serve.log");
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 160 && exec '{}' --data-dir '{}' serve --listen 127.0.0.1:{port} 2>'{}'",
            env!("CARGO_BIN_EXE_sofi"),
            tmp.path().display(),
            log.display()
        ))
        .env("SOFI_CONNEXIONS_MAX", "5000")
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/health");
    let t0 = Instant::now();
    while ureq::get(&url).call().is_err() {
        assert!(t0.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(50));
    }
    let cpu = |pid: u32| -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let champs: Vec<&str> = s.rsplit_once(')').unwrap().1.split_whitespace().collect();
        champs[11].parse::<u64>().unwrap() + champs[12].parse::<u64>().unwrap()
    };
    // More connections than descriptors.
    let mut tenues = Vec::new();
    for _ in 0..300 {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            tenues.push(s);
        }
    }
    let avant = cpu(child.id());
    std::thread::sleep(Duration::from_secs(2));
    let ticks = cpu(child.id()) - avant;
    assert!(ticks < 50, "{ticks} ticks of CPU in 2 s while overloaded");
    drop(tenues);
    std::thread::sleep(Duration::from_millis(500));
    let r = ureq::get(&url)
        .call()
        .expect("serves again once they are gone");
    assert_eq!(r.status(), 200);
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    let taille = std::fs::metadata(&log).unwrap().len();
    assert!(taille < 100_000, "log grew to {taille} bytes");
}

/// `<lheo><offres><formation><intitule-formation>` then `corps` repeated, gzipped.
fn bombe(path: &Path, morceau: &[u8], fois: usize) {
    let f = std::fs::File::create(path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    gz.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<lheo xmlns=\"http://lheo.gouv.fr/2.3\"><offres>")
        .unwrap();
    for _ in 0..fois {
        gz.write_all(morceau).unwrap();
    }
    gz.write_all(b"</offres></lheo>").unwrap();
    gz.finish().unwrap();
}

#[test]
fn bombs_are_refused_by_the_cli_the_upload_and_the_inbox() {
    let tmp = tempfile::tempdir().unwrap();
    // 1 GiB of tiny elements: a ratio of ~1,000.
    let ratio = tmp.path().join("ratio.xml.gz");
    bombe(&ratio, &b"<x/>".repeat(1 << 16), 1 << 12);
    // One 256 MiB text node.
    let texte = tmp.path().join("texte.xml.gz");
    bombe(&texte, &[b'A'; 1 << 20], 256);
    // 100,000 attributes on the root.
    let attributs = tmp.path().join("attributs.xml");
    let mut x = String::from("<lheo xmlns=\"http://lheo.gouv.fr/2.3\"");
    for i in 0..100_000 {
        x.push_str(&format!(" a{i}=\"1\""));
    }
    x.push_str("><offres></offres></lheo>");
    std::fs::write(&attributs, x).unwrap();
    // Billion laughs: entities are never expanded.
    let rires = tmp.path().join("rires.xml");
    let mut x = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lheo [\n<!ENTITY l0 \"lol\">\n");
    for i in 1..10 {
        x.push_str(&format!(
            "<!ENTITY l{i} \"{}\">\n",
            format!("&l{};", i - 1).repeat(10)
        ));
    }
    x.push_str("]>\n");
    let daeu = std::fs::read_to_string(lheo("samples/trefle/daeu.xml")).unwrap();
    let corps = &daeu[daeu.find("<lheo").unwrap()..];
    x.push_str(&corps.replacen("<intitule-formation>", "<intitule-formation>&l9;", 1));
    std::fs::write(&rires, x).unwrap();

    for (fichier, attendu) in [
        (&ratio, "bombe de décompression"),
        (&texte, "sans balise"),
        (&attributs, "attributs"),
    ] {
        let out = run(sofi().arg("check").arg(fichier));
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let tout = stdout(&out) + &stderr(&out);
        assert!(tout.contains(attendu), "{}: {tout}", fichier.display());
    }
    let out = run(sofi().args(["check", "--json"]).arg(&rires));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("entit"), "{}", stdout(&out));

    let data = tmp.path().join("d");
    let server = Server::start_avec(&data, false, &[("SOFI_LIMITE_IMPORT", "64M")]);
    for fichier in [&ratio, &texte] {
        let (status, r) = call(
            ureq::post(&server.url("/api/v1/import"))
                .set("authorization", &format!("Bearer {}", server.token)),
            Some(&std::fs::read(fichier).unwrap()),
        );
        assert_eq!(status, 422, "{}", fichier.display());
        let v: serde_json::Value = r.into_json().unwrap();
        assert!(v["erreur_fatale"].as_str().is_some(), "{v}");
    }
    for fichier in [&ratio, &texte, &attributs] {
        let nom = fichier.file_name().unwrap();
        std::fs::copy(fichier, data.join("inbox").join(nom)).unwrap();
    }
    let t0 = Instant::now();
    let rejetes = data.join("inbox/rejected");
    while std::fs::read_dir(&rejetes).unwrap().count() < 6 {
        assert!(t0.elapsed() < Duration::from_secs(60), "bombs not rejected");
        std::thread::sleep(Duration::from_millis(100));
    }
    for nom in ["ratio.xml.gz", "texte.xml.gz", "attributs.xml"] {
        assert!(rejetes.join(nom).exists());
        let rapport = std::fs::read_to_string(rejetes.join(format!("{nom}.rapport.json"))).unwrap();
        assert!(rapport.contains("erreur_fatale"), "{rapport}");
    }
    assert_eq!(server.wait_health()["statut"], "ok");
}

#[test]
fn forbidden_characters_and_unknown_attributes_never_reach_a_feed() {
    let tmp = tempfile::tempdir().unwrap();
    let daeu = std::fs::read_to_string(lheo("samples/trefle/daeu.xml")).unwrap();
    let reference = daeu.replacen("<intitule-formation>", "<intitule-formation>A&#1;B ", 1);
    let brut = daeu
        .replacen("numero=\"15_464888\"", "numero=\"BRUT\"", 1)
        .replacen("<intitule-formation>", "<intitule-formation>A\u{1}B ", 1);
    let attribut = daeu
        .replacen("numero=\"15_464888\"", "numero=\"ATTR\"", 1)
        .replacen(
            "<intitule-formation>",
            "<intitule-formation couleur=\"bleu\">",
            1,
        );
    let mut chemins = Vec::new();
    for (nom, x) in [
        ("ref.xml", reference),
        ("brut.xml", brut),
        ("attr.xml", attribut),
    ] {
        let p = tmp.path().join(nom);
        std::fs::write(&p, x).unwrap();
        chemins.push(p);
    }
    let data = tmp.path().join("d");
    let refs: Vec<&Path> = chemins.iter().map(|p| p.as_path()).collect();
    let (_, rep) = import(&data, &refs, &[]);
    let texte = rep.to_string();
    assert_eq!(rep[0]["rapport"]["rejetees"], 1, "{texte}");
    assert_eq!(rep[1]["rapport"]["rejetees"], 1, "{texte}");
    assert!(texte.contains("U+0001"), "{texte}");
    assert_eq!(rep[2]["rapport"]["stockees"], 1, "{texte}");
    assert!(rep[2]["rapport"]["avertissements"].as_u64().unwrap() >= 1);
    let export = tmp.path().join("export.xml");
    let out = exporter(&data, &export);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!std::fs::read_to_string(&export)
        .unwrap()
        .contains("couleur"));
    xmllint_valid(&export);
    // A broken export (a control character written into it) fails `sofi check`.
    let casse = std::fs::read_to_string(&export).unwrap().replacen(
        "<intitule-formation>",
        "<intitule-formation>\u{1}",
        1,
    );
    let casse_p = tmp.path().join("casse.xml");
    std::fs::write(&casse_p, casse).unwrap();
    let out = run(sofi().arg("check").arg(&casse_p));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
}

#[test]
fn damage_is_contained_and_said() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    let file = tmp.path().join("offre.xml");
    generate(600, 11, &file);
    import(&data, &[&file], &[]);
    let out = run(sofi().arg("--data-dir").arg(&data).arg("reindex"));
    assert!(out.status.success());
    let out = run(sofi().arg("--data-dir").arg(&data).arg("verify"));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // The body file loses its last bytes; an index file is scribbled on.
    let corps = data.join("offres-1.corps");
    let taille = std::fs::metadata(&corps).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&corps)
        .unwrap()
        .set_len(taille - 3000)
        .unwrap();
    let idx = std::fs::read_dir(data.join("index"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "idx"))
        .unwrap();
    let mut octets = std::fs::read(&idx).unwrap();
    octets[50] ^= 0xFF;
    std::fs::write(&idx, octets).unwrap();

    let out = run(sofi()
        .arg("--data-dir")
        .arg(&data)
        .args(["verify", "--json"]));
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        !v["offres_endommagees"].as_array().unwrap().is_empty(),
        "{v}"
    );
    assert!(!v["index"].as_array().unwrap().is_empty(), "{v}");
    // The export leaves the damaged offers out and stays well-formed.
    let export = tmp.path().join("export.xml");
    let out = exporter(&data, &export);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("octet"), "{}", stderr(&out));
    xmllint_valid(&export);
    // The server starts, rebuilds the index, serves, and says what is damaged.
    let mut server = Server::start(&data, false);
    let h = server.wait_health();
    assert_eq!(h["statut"], "degrade", "{h}");
    assert!(h["offres_endommagees"].as_u64().unwrap() >= 1);
    let (status, r) = call(ureq::get(&server.url("/lheo/offres.xml")), None);
    assert_eq!(status, 200);
    let flux = tmp.path().join("flux.xml");
    std::fs::write(&flux, bytes(r)).unwrap();
    xmllint_valid(&flux);
    let (status, _) = call(
        ureq::get(&server.url("/api/v1/recherche?debut_min=2000-01-01")),
        None,
    );
    assert_eq!(status, 200);
    assert!(server.stop().success());

    // A truncated sled file: a clear refusal, not a panic.
    let copie = tmp.path().join("copie");
    std::fs::create_dir_all(copie.join("store")).unwrap();
    for e in std::fs::read_dir(data.join("store")).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, copie.join("store").join(p.file_name().unwrap())).unwrap();
        }
    }
    std::fs::copy(&corps, copie.join("offres-1.corps")).unwrap();
    let db = copie.join("store/db");
    let n = std::fs::metadata(&db).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(n / 3)
        .unwrap();
    for e in std::fs::read_dir(copie.join("store")).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with("snap") {
            std::fs::remove_file(p).unwrap();
        }
    }
    // (sled recovers a truncated log to its last complete write, as after a crash; where
    // it cannot and panics, the panic becomes this error.)
    let out = run(sofi().arg("--data-dir").arg(&copie).arg("stats"));
    assert_ne!(out.status.code(), Some(101), "{}", stderr(&out));
    // A truncated sled configuration: sled cannot open it; the start stops and says what to do.
    std::fs::OpenOptions::new()
        .write(true)
        .open(copie.join("store/conf"))
        .unwrap()
        .set_len(10)
        .unwrap();
    let out = run(sofi().arg("--data-dir").arg(&copie).arg("stats"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("endommagé"), "{}", stderr(&out));
    assert!(stderr(&out).contains("restaurez"), "{}", stderr(&out));
    // A data directory that lost its store is refused, not served empty.
    std::fs::remove_dir_all(data.join("store")).unwrap();
    let out = run(sofi()
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("store/ a disparu"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn sizes_take_units_or_say_why_not() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(sofi()
        .arg("--data-dir")
        .arg(tmp.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("SOFI_LIMITE_IMPORT", "1X"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unité"), "{}", stderr(&out));
    let server = Server::start_avec(tmp.path(), false, &[("SOFI_LIMITE_IMPORT", "1M")]);
    let gros = tmp.path().join("gros.xml");
    generate(1000, 2, &gros);
    assert!(std::fs::metadata(&gros).unwrap().len() > 1 << 20);
    let (status, _) = call(
        ureq::post(&server.url("/api/v1/import"))
            .set("authorization", &format!("Bearer {}", server.token)),
        Some(&std::fs::read(&gros).unwrap()),
    );
    assert_eq!(status, 413);
}

#[test]
fn counters_follow_organismes_and_orphaned_bodies() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let daeu = lheo("samples/trefle/daeu.xml");
    let poec = lheo("samples/trefle/poec.xml");
    import(d, &[&daeu, &poec], &["--source", "s"]);
    assert_eq!(stats(d)["organismes"], 2);
    // A full feed of the source without POEC's offer withdraws it, and its organisme, which
    // has no other offer, is no longer counted.
    let (code, rep) = import(d, &[&daeu], &["--source", "s", "--remplacer"]);
    assert_eq!(code, 0);
    assert_eq!(rep[0]["rapport"]["retirees"], 1);
    let s = stats(d);
    assert_eq!(
        (s["formations"].as_u64(), s["organismes"].as_u64()),
        (Some(1), Some(1))
    );

    // Bodies a killed batch appended without its transaction are counted dead at the next
    // open, and new bodies go after them.
    let morts = s["corps_octets_morts"].as_u64().unwrap();
    let corps = d.join("offres-1.corps");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&corps)
        .unwrap();
    f.write_all(&[0xAB; 1000]).unwrap();
    drop(f);
    let s = stats(d);
    assert_eq!(s["corps_octets_morts"].as_u64(), Some(morts + 1000));
    import(d, &[&poec], &["--source", "s"]);
    let s = stats(d);
    assert_eq!(s["corps_octets_morts"].as_u64(), Some(morts + 1000));
    assert_eq!(s["organismes"], 2);
    let out = run(sofi().arg("--data-dir").arg(d).arg("verify"));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn writes_resume_by_themselves_once_the_disk_takes_them_again() {
    // A full disk, as a file-size limit: past it every write fails (EFBIG, SIGXFSZ ignored),
    // sled's own log included, until `prlimit` lifts it while the server runs.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    import(d, &[&lheo("samples/trefle/daeu.xml")], &[]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -S -f 2048 && exec '{}' --data-dir '{}' serve --listen 127.0.0.1:{port}",
            env!("CARGO_BIN_EXE_sofi"),
            d.display(),
        ))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let t0 = Instant::now();
    while ureq::get(&url("/health")).call().is_err() {
        assert!(t0.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(50));
    }
    let token = std::fs::read_to_string(d.join("admin-token")).unwrap();
    let modele = std::fs::read_to_string(lheo("samples/trefle/daeu.xml")).unwrap();
    let poster = |n: usize| {
        let corps = modele.replacen("numero=\"15_464888\"", &format!("numero=\"D{n}\""), 1);
        call(
            ureq::post(&url("/api/v1/import")).set("authorization", &format!("Bearer {token}")),
            Some(corps.as_bytes()),
        )
        .0
    };
    let mut n = 0;
    let mut acceptes = Vec::new();
    loop {
        n += 1;
        assert!(n < 20_000, "the size limit was never reached");
        match poster(n) {
            200 => acceptes.push(n),
            503 => break,
            s => panic!("status {s}"),
        }
    }
    let h: serde_json::Value = ureq::get(&url("/health"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(h["statut"], "degrade", "{h}");
    assert_eq!(poster(n + 1), 503, "still full");
    // Space again: the next writes go through, without a restart.
    let out = std::process::Command::new("prlimit")
        .args([
            "--pid",
            &child.id().to_string(),
            "--fsize=unlimited:unlimited",
        ])
        .output()
        .expect("prlimit (util-linux)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t0 = Instant::now();
    while poster(n + 2) != 200 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "writes did not resume"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let t0 = Instant::now();
    loop {
        let h: serde_json::Value = ureq::get(&url("/health"))
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        if h["statut"] == "ok" && h["index_seq"] == h["journal_seq"] {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "{h}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // What was answered before the failure is still there, and searchable.
    let (status, r) = call(
        ureq::get(&url("/api/v1/recherche?debut_min=2000-01-01&par_page=1")),
        None,
    );
    assert_eq!(status, 200);
    let total = r.into_json::<serde_json::Value>().unwrap()["total"]
        .as_u64()
        .unwrap();
    assert!(total >= 1);
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    let store = sofi::store::Store::open(d).unwrap();
    for k in acceptes.iter().chain([&(n + 2)]) {
        assert!(
            store.offre(&format!("D{k}")).unwrap().is_some(),
            "D{k} lost"
        );
    }
}
