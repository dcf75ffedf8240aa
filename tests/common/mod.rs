//! Helpers shared by the black-box tests: run the real binary on real files and a real store.
#![allow(dead_code)]

pub mod navigateur;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn sofi() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sofi"))
}

/// `../shared/lheo/<rel>`: the real LHÉO samples beside the repository.
pub fn lheo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/lheo")
        .join(rel)
}

pub fn samples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = ["samples/trefle", "samples/anotea", "lheo-2.2/examples"]
        .iter()
        .flat_map(|d| std::fs::read_dir(lheo(d)).expect("shared samples present"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    v.sort();
    v
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.stdin(Stdio::null()).output().expect("sofi runs");
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `sofi import --json` on `files`; returns the exit code and the reports.
pub fn import(dir: &Path, files: &[&Path], extra: &[&str]) -> (i32, serde_json::Value) {
    let out = run(sofi()
        .arg("--data-dir")
        .arg(dir)
        .arg("import")
        .arg("--json")
        .args(extra)
        .args(files));
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON report expected ({e}): {}\n{}",
            stdout(&out),
            stderr(&out)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

/// The diffusion feed of the store in `dir`, as `sofi export` writes it.
pub fn exporter(dir: &Path) -> Vec<u8> {
    let out = run(sofi().arg("--data-dir").arg(dir).arg("export"));
    assert!(out.status.success(), "{}", stderr(&out));
    out.stdout
}

pub fn stats(dir: &Path) -> serde_json::Value {
    let out = run(sofi().arg("stats").arg("--json").arg("--data-dir").arg(dir));
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn generate(sessions: u64, seed: u64, path: &Path) {
    let out = run(sofi()
        .args([
            "generate",
            "--sessions",
            &sessions.to_string(),
            "--seed",
            &seed.to_string(),
        ])
        .args(["--date-base", "2027-03-01", "-o"])
        .arg(path));
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Counts occurrences of an opening tag like `<session ` in a file.
pub fn count_tag(path: &Path, tag: &str) -> usize {
    let s = std::fs::read_to_string(path).unwrap();
    s.matches(&format!("<{tag} ")).count() + s.matches(&format!("<{tag}>")).count()
}

/// A `sofi serve` child process on a free loopback port, stopped (SIGTERM) on drop.
pub struct Server {
    pub child: std::process::Child,
    pub port: u16,
    pub token: String,
}

impl Server {
    pub fn start(data: &Path, demo: bool) -> Server {
        Server::start_avec(data, demo, &[])
    }

    /// With extra environment variables (limits, timeouts) for this server.
    pub fn start_avec(data: &Path, demo: bool, env: &[(&str, &str)]) -> Server {
        let port = navigateur::port_libre();
        let mut cmd = sofi();
        cmd.arg("--data-dir")
            .arg(data)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("SOFI_LIMITE_IMPORT", "5000000")
            // Tests make many requests from one address: the anonymous quotas are lifted
            // unless a test sets them (`tests/partenaires.rs`).
            .env("SOFI_ANONYME_PAR_MINUTE", "100000000")
            .env("SOFI_ANONYME_PAR_JOUR", "1000000000")
            // The search's internal paths, each met on small data: passes over segments of
            // 64+ groups on two threads, as big ones do; groups of 13+ values keep them out
            // of their record, as rare big ones do; past 8 profils per segment, groups count
            // their few-valued ids one by one; queries without words visit their filters'
            // postings whatever their share.
            .args([
                "--test-thresholds",
                "parallel_pass_min=64,short_ids=12,profiles=8,candidates_fraction=1",
            ])
            .env_remove("SOFI_ADMIN_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if demo {
            cmd.arg("--demo");
        }
        cmd.envs(env.iter().copied());
        let child = cmd.spawn().unwrap();
        // A server kept in a `static` (one per suite) is never dropped: a watchdog stops
        // it when the test process is gone, so that no server outlives its tests.
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "while kill -0 {} 2>/dev/null; do sleep 1; done; kill {} 2>/dev/null",
                std::process::id(),
                child.id()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut s = Server {
            child,
            port,
            token: String::new(),
        };
        s.wait_health();
        s.token = std::fs::read_to_string(data.join("admin-token")).unwrap();
        s
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn wait_health(&self) -> serde_json::Value {
        let t0 = std::time::Instant::now();
        loop {
            if let Ok(r) = ureq::get(&self.url("/health")).call() {
                let h: serde_json::Value = r.into_json().unwrap();
                // Up, and done rebuilding its index (searches answer 503 until then).
                let reconstruit = h["raisons"].as_array().is_some_and(|r| {
                    r.iter()
                        .any(|x| x.as_str().unwrap_or("").contains("reconstruction"))
                });
                if !reconstruit {
                    return h;
                }
            }
            assert!(
                t0.elapsed() < std::time::Duration::from_secs(120),
                "server did not come up"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// SIGTERM, then the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let t0 = std::time::Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(
                t0.elapsed() < std::time::Duration::from_secs(15),
                "no graceful exit"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Status and body of any response, 4xx and 5xx included.
pub fn call(req: ureq::Request, body: Option<&[u8]>) -> (u16, ureq::Response) {
    let r = match body {
        Some(b) => req.send_bytes(b),
        None => req.call(),
    };
    match r {
        Ok(r) => (r.status(), r),
        Err(ureq::Error::Status(code, r)) => (code, r),
        Err(e) => panic!("transport error: {e}"),
    }
}

pub fn bytes(r: ureq::Response) -> Vec<u8> {
    let mut v = Vec::new();
    std::io::Read::read_to_end(&mut r.into_reader(), &mut v).unwrap();
    v
}

pub fn xmllint_valid(path: &Path) {
    let xsd = lheo("lheo-2.3/schema/lheo.xsd");
    let out = Command::new("xmllint")
        .args(["--noout", "--stream", "--schema"])
        .arg(&xsd)
        .arg(path)
        .output()
        .expect("xmllint is installed (.ci/run installs libxml2-utils)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}", &err[..err.len().min(3000)]);
    assert!(err.contains("validates"), "{err}");
}

/// A feed as a strict partner checks it: the XSD with libxml2 (`xmllint`), the XSD again with
/// a second, independent XSD 1.0 implementation (Python's `xmlschema`, Debian's
/// `python3-xmlschema`), and the official DTD.
pub fn valide_partout(path: &Path) {
    valide_xsd_et_dtd(path);
    let out = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import sys, xmlschema; xmlschema.XMLSchema10(sys.argv[1]).validate(sys.argv[2])",
        ])
        .arg(lheo("lheo-2.3/schema/lheo.xsd"))
        .arg(path)
        .output()
        .expect("python3-xmlschema is installed (.ci/run installs it)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "xmlschema: {}",
        &err[err.len().saturating_sub(3000)..]
    );
}

/// libxml2's XSD validator and the official DTD. (`xmlschema` 1.10 refuses text inside
/// `extra`, whose type extends `xs:anyType` with no content of its own: XSD 1.0 gives it
/// anyType's mixed content, as libxml2 does, and real Intercarif records carry such text;
/// so the three-way check is for documents without it.)
pub fn valide_xsd_et_dtd(path: &Path) {
    xmllint_valid(path);
    let dtd = lheo("lheo-2.3/schema/lheo.dtd");
    let out = Command::new("xmllint")
        .args(["--noout", "--dtdvalid"])
        .arg(&dtd)
        .arg(path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "DTD: {}", &err[..err.len().min(3000)]);
}

/// The password of the accounts `compte_actif` makes.
pub const MOT_DE_PASSE_TEST: &str = "mot de passe de test";

/// An active back-office account, made as an admin would (`sofi user add`, server stopped),
/// its one-time link used with `MOT_DE_PASSE_TEST`.
pub fn compte_actif(data: &Path, email: &str, role: &str, siret: Option<&str>) {
    let mut c = sofi();
    c.arg("--data-dir")
        .arg(data)
        .args(["user", "add", "--email", email, "--role", role]);
    if let Some(s) = siret {
        c.args(["--siret", s]);
    }
    let o = run(&mut c);
    assert!(o.status.success(), "{}", stderr(&o));
    let sortie = stdout(&o);
    let i = sortie.find("/espace/lien/").expect("a one-time link");
    let jeton = &sortie[i + "/espace/lien/".len()..i + "/espace/lien/".len() + 64];
    sofi::store::Store::open(data)
        .unwrap()
        .utiliser_lien(jeton, &sofi::accounts::hash_password(MOT_DE_PASSE_TEST))
        .unwrap()
        .unwrap();
}

/// A staff (or organisation) member's browser without JavaScript: logs in, keeps its
/// session cookie, reads form tokens and posts forms from the site's own origin. Needs a
/// server started with `SOFI_COOKIE_NON_SECURISE=1`.
pub struct Personne {
    base: String,
    agent: ureq::Agent,
    cookie: String,
}

impl Personne {
    pub fn connecter(srv: &Server, email: &str) -> Personne {
        let base = srv.url("").trim_end_matches('/').to_string();
        let mut p = Personne {
            base,
            agent: ureq::AgentBuilder::new().redirects(0).build(),
            cookie: String::new(),
        };
        let (_, page) = p.get("/espace/connexion");
        let jeton = Personne::jeton(&page);
        let (st, _) = p.post(
            "/espace/connexion",
            &[
                ("_csrf", &jeton),
                ("email", email),
                ("mot_de_passe", MOT_DE_PASSE_TEST),
            ],
        );
        assert_eq!(st, 303, "login");
        p
    }

    fn lire(&mut self, r: ureq::Response) -> (u16, String) {
        for c in r.all("set-cookie") {
            self.cookie = c.split(';').next().unwrap().to_string();
        }
        (r.status(), r.into_string().unwrap_or_default())
    }

    pub fn get(&mut self, chemin: &str) -> (u16, String) {
        let (_, r) = call(
            self.agent
                .get(&format!("{}{chemin}", self.base))
                .set("cookie", &self.cookie),
            None,
        );
        self.lire(r)
    }

    pub fn post(&mut self, chemin: &str, champs: &[(&str, &str)]) -> (u16, String) {
        let corps: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(champs)
            .finish();
        let (_, r) = call(
            self.agent
                .post(&format!("{}{chemin}", self.base))
                .set("cookie", &self.cookie)
                .set("origin", &self.base)
                .set("content-type", "application/x-www-form-urlencoded"),
            Some(corps.as_bytes()),
        );
        self.lire(r)
    }

    /// The form token of a page.
    pub fn jeton(html: &str) -> String {
        let i = html.find("name=\"_csrf\" value=\"").expect("a form token") + 20;
        html[i..i + html[i..].find('"').unwrap()].to_string()
    }
}

/// Full feeds of changing files imported through a server's API (`remplacer`), one after the
/// other, each answered 200, until stopped: the writes a test runs something else under.
pub struct Importeur {
    arret: std::sync::Arc<std::sync::atomic::AtomicBool>,
    faits: std::sync::Arc<std::sync::atomic::AtomicU64>,
    fil: std::thread::JoinHandle<u64>,
}

impl Importeur {
    pub fn lancer(server: &Server, fichiers: Vec<Vec<u8>>) -> Importeur {
        use std::sync::atomic::Ordering;
        let arret = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let faits = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (url, token) = (
            server.url("/api/v1/import?source=essai&remplacer=1"),
            server.token.trim().to_string(),
        );
        let fil = {
            let (arret, faits) = (arret.clone(), faits.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !arret.load(Ordering::Relaxed) {
                    let (status, _) = call(
                        ureq::post(&url).set("authorization", &format!("Bearer {token}")),
                        Some(&fichiers[i % fichiers.len()]),
                    );
                    assert_eq!(status, 200);
                    faits.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
                i as u64
            })
        };
        Importeur { arret, faits, fil }
    }

    /// Imports answered so far.
    pub fn faits(&self) -> u64 {
        self.faits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Returns once `n` imports were answered in all.
    pub fn attendre(&self, n: u64) {
        while self.faits() < n {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Stops after the import under way; how many were done.
    pub fn arreter(self) -> u64 {
        self.arret.store(true, std::sync::atomic::Ordering::Relaxed);
        self.fil.join().unwrap()
    }
}
