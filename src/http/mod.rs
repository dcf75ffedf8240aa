//! The HTTP server (hyper 1 + tokio): one task per connection, graceful shutdown on SIGTERM
//! and Ctrl-C (open requests finish, new connections are refused).
//!
//! - `GET /health`: counts, journal sequence, offers waiting for diffusion;
//! - `GET /lheo/offres.xml`: diffusion feeds ([`feeds`]);
//! - `POST /api/v1/import`, `DELETE /api/v1/formations/{numero}`: live writes, admin token
//!   required ([`import`]).

pub mod api;
mod connection;
pub mod feeds;
pub mod import;

use crate::referentiel::Referentiels;
use crate::store::Store;
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub type Body = BoxBody<Bytes, std::io::Error>;

/// What every request handler can reach.
pub struct App {
    pub store: Store,
    pub refs: Arc<Referentiels>,
    /// Bearer token of the write routes.
    pub jeton_admin: String,
    /// Largest accepted import body, in bytes.
    pub limite_import: u64,
    /// The search engine (absent in tools that only need the store).
    pub moteur: Option<Arc<crate::search::Moteur>>,
    /// Connections, feeds and uploads the server takes at once, and its timeouts.
    pub limites: Limites,
    /// Feeds being written: each holds a blocking thread while its client reads.
    pub flux: Arc<tokio::sync::Semaphore>,
    /// Uploads being imported: each holds a blocking thread while its client sends.
    pub imports: Arc<tokio::sync::Semaphore>,
}

/// What one client can hold, so that slow or stuck ones cannot starve the others: beyond a
/// cap the answer is 503 with `Retry-After`, never a wait.
#[derive(Debug, Clone)]
pub struct Limites {
    /// Open connections; the next ones get a 503 and are closed.
    pub connexions: usize,
    /// Feeds (`/lheo/offres.xml`) written at once.
    pub flux: usize,
    /// Uploads (`POST /api/v1/import`) at once; the next ones wait up to 2 s for a place.
    pub imports: usize,
    /// Time to send a request's whole head (slowloris).
    pub delai_entetes: Duration,
    /// A connection on which no byte moved either way for this long is closed (idle
    /// keep-alive, a client that stopped reading a feed or sending an upload).
    pub delai_inactivite: Duration,
}

impl Default for Limites {
    fn default() -> Self {
        Limites {
            connexions: 512,
            flux: 4,
            imports: 4,
            delai_entetes: Duration::from_secs(10),
            delai_inactivite: Duration::from_secs(60),
        }
    }
}

impl App {
    /// The state every handler reaches; the semaphores follow `limites`.
    pub fn new(
        store: Store,
        refs: Arc<Referentiels>,
        jeton_admin: String,
        limite_import: u64,
        moteur: Option<Arc<crate::search::Moteur>>,
        limites: Limites,
    ) -> App {
        App {
            flux: Arc::new(tokio::sync::Semaphore::new(limites.flux)),
            imports: Arc::new(tokio::sync::Semaphore::new(limites.imports)),
            store,
            refs,
            jeton_admin,
            limite_import,
            moteur,
            limites,
        }
    }
}

/// 503 with `Retry-After`: a cap is reached, the same request will do later.
pub fn sature(code: &str, message: &str) -> Response<Body> {
    let mut r = erreur(StatusCode::SERVICE_UNAVAILABLE, code, message, None);
    r.headers_mut()
        .insert("retry-after", "5".parse().expect("static header"));
    r
}

pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|e| match e {}).boxed()
}

pub fn json_response(status: StatusCode, v: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .header("access-control-allow-origin", "*")
        .body(full(v.to_string()))
        .expect("static headers are valid")
}

/// The API's error shape: `{"erreur": {"code", "message", "parametre"}}`.
pub fn erreur(
    status: StatusCode,
    code: &str,
    message: &str,
    parametre: Option<&str>,
) -> Response<Body> {
    json_response(
        status,
        &json!({"erreur": {"code": code, "message": message, "parametre": parametre}}),
    )
}

/// 503: the store or the index failed; the request may succeed later.
pub fn indisponible(code: &str, e: impl std::fmt::Display) -> Response<Body> {
    erreur(StatusCode::SERVICE_UNAVAILABLE, code, &e.to_string(), None)
}

/// 500: a worker task died (a bug, never bad input).
pub fn interne(e: tokio::task::JoinError) -> Response<Body> {
    erreur(
        StatusCode::INTERNAL_SERVER_ERROR,
        "erreur-interne",
        &e.to_string(),
        None,
    )
}

fn methode_non_permise(permises: &str) -> Response<Body> {
    let mut r = erreur(
        StatusCode::METHOD_NOT_ALLOWED,
        "methode-non-permise",
        &format!("méthodes permises ici : {permises}"),
        None,
    );
    r.headers_mut()
        .insert("allow", permises.parse().expect("static header"));
    r
}

async fn route(app: Arc<App>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let mut r = router(app, req).await;
    // No answer of ours is to be sniffed into another type (an offer's text as HTML).
    r.headers_mut().insert(
        "x-content-type-options",
        hyper::header::HeaderValue::from_static("nosniff"),
    );
    Ok(r)
}

/// Longest URI (path and query) served: no page or API call needs more.
pub const MAX_URI: usize = 16 << 10;

async fn router(app: Arc<App>, req: Request<Incoming>) -> Response<Body> {
    let longueur = req.uri().path().len() + req.uri().query().map_or(0, |q| q.len() + 1);
    if longueur > MAX_URI {
        return erreur(
            StatusCode::URI_TOO_LONG,
            "uri-trop-longue",
            &format!("l'adresse demandée (chemin et paramètres) dépasse {MAX_URI} octets"),
            None,
        );
    }
    let path = req.uri().path().to_string();
    let get = matches!(*req.method(), Method::GET | Method::HEAD);
    if req.method() == Method::OPTIONS {
        return preflight();
    }
    if get {
        if let Some(r) = crate::site::route(&app, &req).await {
            return r;
        }
    }
    let resp = match path.as_str() {
        "/health" if get => health(&app),
        "/health" => methode_non_permise("GET, HEAD"),
        "/lheo/offres.xml" if get => feeds::offres(app, req).await,
        "/lheo/offres.xml" => methode_non_permise("GET, HEAD"),
        "/api/v1/import" if req.method() == Method::POST => import::post(app, req).await,
        "/api/v1/import" => methode_non_permise("POST"),
        p if p.starts_with("/api/v1/formations/") && req.method() == Method::DELETE => {
            let numero = p["/api/v1/formations/".len()..].to_string();
            import::delete(app, req, &numero).await
        }
        p if p.starts_with("/api/v1/formations/") && get => {
            let numero = p["/api/v1/formations/".len()..].to_string();
            api::formation(app, req, &numero).await
        }
        "/api/v1/recherche" if get => api::recherche(app, req).await,
        "/api/v1/suggestions" if get => api::suggestions(app, req).await,
        "/api/v1/openapi.json" if get => api::openapi(),
        p if p.starts_with("/api/v1/referentiels/") && get => {
            let nom = p["/api/v1/referentiels/".len()..].to_string();
            api::referentiel(app, req, &nom).await
        }
        "/api/v1/recherche" | "/api/v1/suggestions" | "/api/v1/openapi.json" => {
            methode_non_permise("GET, HEAD")
        }
        _ => erreur(
            StatusCode::NOT_FOUND,
            "introuvable",
            &format!("aucune ressource à l'adresse {path}"),
            None,
        ),
    };
    resp
}

/// CORS preflight: reads are open to every origin.
fn preflight() -> Response<Body> {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header("access-control-allow-origin", "*")
        .header("access-control-allow-methods", "GET, HEAD, OPTIONS")
        .header(
            "access-control-allow-headers",
            "if-none-match, accept-encoding",
        )
        .header("access-control-max-age", "86400")
        .body(full(Bytes::new()))
        .expect("static headers")
}

fn health(app: &App) -> Response<Body> {
    let r = (|| {
        let c = app.store.compteurs()?;
        let (attente, plus_ancienne) = app.store.en_attente()?;
        // Degraded: up, but something it should do it cannot do now; the reasons say what.
        let mut raisons = Vec::new();
        app.store.sonder();
        if let Some(p) = app.store.panne() {
            raisons.push(format!("écritures impossibles : {p}"));
        }
        if let Some(p) = app.moteur.as_ref().and_then(|m| m.panne()) {
            raisons.push(format!("l'index ne suit plus le journal : {p}"));
        }
        let endommagees = app.store.endommagees();
        if !endommagees.is_empty() {
            raisons.push(format!(
                "{} offre(s) au corps endommagé, laissées hors des flux et de la recherche (sofi verify)",
                endommagees.len()
            ));
        }
        Ok::<_, crate::store::StoreError>(json!({
            "statut": if raisons.is_empty() { "ok" } else { "degrade" },
            "raisons": raisons,
            "offres_endommagees": endommagees.len(),
            "version": env!("CARGO_PKG_VERSION"),
            "formations": c.formations,
            "actions": c.actions,
            "sessions": c.sessions,
            "organismes": c.organismes,
            "diffusables": c.diffusables,
            "journal_seq": c.journal_seq,
            "non_diffusees": attente,
            "plus_ancienne_non_diffusee_s": plus_ancienne
                .map(|t| (crate::store::maintenant() - t).max(0) / 1000),
            "index_seq": app.moteur.as_ref().map(|m| m.seq_indexee()),
            "index_documents": app.moteur.as_ref().map(|m| m.nb_documents()),
        }))
    })();
    match r {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => indisponible("stockage-indisponible", e),
    }
}

/// Serves until `shutdown` resolves, then waits (up to 10 s) for open connections.
///
/// At most `limites.connexions` connections are served at once; the next ones are answered
/// 503 and closed. Out of file descriptors (or memory for sockets), accepting backs off
/// instead of spinning, and says so once per interval.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let places = Arc::new(tokio::sync::Semaphore::new(app.limites.connexions));
    let mut http = http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(app.limites.delai_entetes)
        // Above hyper's own URI limit (65,534 bytes), so that a long URI is a 414, not a 431.
        .max_header_size(128 << 10);
    let mut pause = Duration::ZERO;
    let mut erreurs = ErreursAccept::default();
    tokio::pin!(shutdown);
    loop {
        if !pause.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = &mut shutdown => break,
            }
        }
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(e) => {
                        pause = erreurs.noter(&e, pause);
                        continue;
                    }
                };
                pause = Duration::ZERO;
                // Responses go out in more than one write: without this, Nagle's algorithm and
                // delayed ACKs add ~40 ms to every keep-alive request.
                let _ = stream.set_nodelay(true);
                let Ok(place) = places.clone().try_acquire_owned() else {
                    tokio::spawn(refuser(stream));
                    continue;
                };
                let app = app.clone();
                let io = connection::Connection::new(stream, app.limites.delai_inactivite);
                let conn = http
                    .serve_connection(TokioIo::new(io), service_fn(move |req| route(app.clone(), req)));
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("connexion : {e}");
                    }
                    drop(place);
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(10)) => {
            tracing::warn!("arrêt : des connexions n'ont pas fini à temps");
        }
    }
    Ok(())
}

/// A connection beyond the cap: a 503 and close, within a second.
async fn refuser(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(&connection::trop_de_connexions()).await?;
        stream.shutdown().await
    })
    .await;
}

/// Accept errors, logged at most once per interval with how many there were.
#[derive(Default)]
struct ErreursAccept {
    depuis_dernier_log: u64,
    dernier_log: Option<std::time::Instant>,
}

impl ErreursAccept {
    const INTERVALLE_LOG: Duration = Duration::from_secs(10);

    /// Counts the error and returns how long to wait before accepting again: doubling from
    /// 10 ms up to 1 s while the process lacks descriptors or memory, 10 ms otherwise.
    fn noter(&mut self, e: &std::io::Error, pause: Duration) -> Duration {
        self.depuis_dernier_log += 1;
        let maintenant = std::time::Instant::now();
        if self
            .dernier_log
            .is_none_or(|t| maintenant - t >= Self::INTERVALLE_LOG)
        {
            tracing::warn!(
                "accept : {e} ({} erreur(s) depuis le dernier message)",
                self.depuis_dernier_log
            );
            self.depuis_dernier_log = 0;
            self.dernier_log = Some(maintenant);
        }
        let epuise = matches!(
            e.raw_os_error(),
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
        );
        if epuise {
            (pause * 2).clamp(Duration::from_millis(10), Duration::from_secs(1))
        } else {
            Duration::from_millis(10)
        }
    }
}

/// Raises the soft limit on open files to the hard one, and returns it: every connection is
/// a descriptor, and the default soft limit (often 1,024) is far below what the box allows.
pub fn relever_limite_fichiers() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a stack struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 1024;
        }
        if r.rlim_cur < r.rlim_max {
            let voulu = libc::rlimit {
                rlim_cur: r.rlim_max,
                rlim_max: r.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &voulu) == 0 {
                r.rlim_cur = r.rlim_max;
            }
        }
    }
    r.rlim_cur
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn signal_arret() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

pub fn adresse(addr: &str) -> Result<SocketAddr, String> {
    addr.parse()
        .map_err(|_| format!("adresse d'écoute « {addr} » invalide (attendu IP:PORT)"))
}

/// The admin token: `SOFI_ADMIN_TOKEN`, else the one in `DATA_DIR/admin-token`, created at
/// first start with 32 random bytes and readable by its owner only.
pub fn jeton_admin(data_dir: &Path) -> std::io::Result<String> {
    if let Ok(t) = std::env::var("SOFI_ADMIN_TOKEN") {
        if !t.trim().is_empty() {
            return Ok(t.trim().to_string());
        }
    }
    let path = data_dir.join("admin-token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        return Ok(t.trim().to_string());
    }
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::create_dir_all(data_dir)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    use std::io::Write;
    opts.open(&path)?.write_all(token.as_bytes())?;
    tracing::info!("jeton d'administration créé dans {}", path.display());
    Ok(token)
}
