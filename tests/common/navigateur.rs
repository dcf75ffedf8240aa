//! Real headless Chromium for the page tests: chromedriver on a free port, a session with the
//! options the CI machine needs, and small waiting and keyboard helpers.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Pilote(Child);

impl Drop for Pilote {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn port_libre() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver on a free port, ready.
pub fn chromedriver() -> (Pilote, u16) {
    let port = port_libre();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian package chromium-driver) must be installed");
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (Pilote(child), port)
}

pub async fn navigateur(port: u16, profil: &std::path::Path) -> Client {
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run",
                     "--window-size=1280,1000", format!("--user-data-dir={}", profil.display())],
        },
        "goog:loggingPrefs": {"browser": "ALL"},
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a chromedriver session")
}

/// chromedriver's browser log (console messages and failed loads) since the last call.
#[derive(Debug)]
struct Journal;

impl fantoccini::wd::WebDriverCompatibleCommand for Journal {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or("")))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

pub async fn erreurs_console(c: &Client) -> Vec<String> {
    let v = c.issue_cmd(Journal).await.unwrap_or(Value::Null);
    v.as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or("").to_string())
        .collect()
}

pub async fn capture(c: &Client, nom: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{nom}.png")), png).unwrap();
}

pub async fn attendre<F, Fut>(quoi: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t0 = Instant::now();
    while !f().await {
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "waited too long for {quoi}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn cliquer(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits until the address (path and query) contains `motif`.
pub async fn attendre_url(c: &Client, motif: &str) {
    attendre(motif, || async {
        c.current_url().await.unwrap().as_str().contains(motif)
    })
    .await;
}

pub async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

/// Waits until `script` (which returns a count of elements) finds at least one.
pub async fn attendre_elements(c: &Client, quoi: &str, script: &str) {
    attendre(quoi, || async {
        js(c, script).await.as_u64().unwrap_or(0) > 0
    })
    .await;
}

/// Presses one key (a WebDriver key code such as `\u{E004}` for Tab).
pub async fn touche(c: &Client, k: char) {
    let a = KeyActions::new("clavier".into())
        .then(KeyAction::Down { value: k })
        .then(KeyAction::Up { value: k });
    c.perform_actions(a).await.unwrap();
}

pub const TAB: char = '\u{E004}';
pub const ENTREE: char = '\u{E007}';
pub const ESPACE: char = '\u{E00D}';

/// Presses Tab until the focused element matches `css` (as a person with a keyboard
/// would), at most 300 times.
pub async fn tabuler_jusqua(c: &Client, css: &str) {
    let test = format!(
        "return document.activeElement && document.activeElement.matches({}) ? 1 : 0",
        serde_json::to_string(css).unwrap()
    );
    for _ in 0..300 {
        if js(c, &test).await.as_u64() == Some(1) {
            return;
        }
        touche(c, TAB).await;
    }
    panic!("{css} cannot be reached with Tab");
}

/// Types text into the focused element, key by key.
pub async fn taper(c: &Client, texte: &str) {
    let mut a = KeyActions::new("saisie".into());
    for ch in texte.chars() {
        a = a
            .then(KeyAction::Down { value: ch })
            .then(KeyAction::Up { value: ch });
    }
    c.perform_actions(a).await.unwrap();
}

/// Tabs to a field, empties it and types a value.
pub async fn remplir(c: &Client, css: &str, texte: &str) {
    tabuler_jusqua(c, css).await;
    js(
        c,
        "document.activeElement.select && document.activeElement.select(); return 0",
    )
    .await;
    // Select-all then type replaces what was there (Ctrl+A for textareas).
    let a = KeyActions::new("efface".into())
        .then(KeyAction::Down { value: '\u{E009}' })
        .then(KeyAction::Down { value: 'a' })
        .then(KeyAction::Up { value: 'a' })
        .then(KeyAction::Up { value: '\u{E009}' })
        .then(KeyAction::Down { value: '\u{E003}' })
        .then(KeyAction::Up { value: '\u{E003}' });
    c.perform_actions(a).await.unwrap();
    taper(c, texte).await;
}

/// Tabs to a link or button and presses Enter.
pub async fn activer_au_clavier(c: &Client, css: &str) {
    tabuler_jusqua(c, css).await;
    // The page it leaves is marked: `apres` waits for another one, even at the same address
    // (a form that saves and shows itself again).
    js(
        c,
        "document.documentElement.dataset.quittee = '1'; return 1",
    )
    .await;
    touche(c, ENTREE).await;
}

/// The main content's text (read by script: no element handle to go stale mid-navigation).
pub async fn texte(c: &Client) -> String {
    js(
        c,
        "const m = document.querySelector('main'); return m ? m.innerText : ''",
    )
    .await
    .as_str()
    .unwrap_or("")
    .to_string()
}

pub async fn aller(c: &Client, base: &str, chemin: &str) {
    c.goto(&format!("{base}{chemin}")).await.unwrap();
}

/// Waits for a page whose address contains `motif` after a keyboard submit.
pub async fn apres(c: &Client, motif: &str) {
    attendre_url(c, motif).await;
    attendre("page chargée", || async {
        js(
            c,
            "return document.readyState === 'complete' && !document.documentElement.dataset.quittee ? 1 : 0",
        )
        .await
        .as_u64()
            == Some(1)
    })
    .await;
}

#[allow(unused_imports)]
use InputSource as _;
