//! The accept loop: one task per connection, caps on connections, EMFILE back-off, graceful
//! shutdown on SIGTERM and Ctrl-C (open requests finish, new connections are refused).

use super::connection;
use super::App;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Serves until `shutdown` resolves, then waits (up to 10 s) for open connections.
///
/// At most `limits.connections` connections are served at once; the next ones are answered
/// 503 and closed. Out of file descriptors (or memory for sockets), accepting backs off
/// instead of spinning, and says so once per interval.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let table = super::router::table(app.clone());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let places = Arc::new(tokio::sync::Semaphore::new(app.limits.connections));
    let mut http = http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(app.limits.header_timeout)
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
                let (stream, peer) = match accepted {
                    Ok((stream, peer)) => (stream, peer),
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
                let table = table.clone();
                let metriques = app.metriques.clone();
                let proxies = app.proxies.clone();
                let io = connection::Connection::new(stream, app.limits.idle_timeout);
                let conn = http.serve_connection(
                    TokioIo::new(io),
                    service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                        let client =
                            super::identity::ClientAddr::de(peer.ip(), req.headers(), &proxies);
                        req.extensions_mut().insert(client);
                        super::router::respond(table.clone(), metriques.clone(), req)
                    }),
                );
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
pub fn raise_open_files_limit() -> u64 {
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
pub async fn shutdown_signal() {
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

pub fn parse_listen_address(addr: &str) -> Result<SocketAddr, String> {
    addr.parse()
        .map_err(|_| format!("adresse d'écoute « {addr} » invalide (attendu IP:PORT)"))
}

/// The admin token: `given` (`sofi serve --admin-token`, `SOFI_ADMIN_TOKEN`), else the one in
/// `DATA_DIR/admin-token`, created at first start with 32 random bytes and readable by its
/// owner only.
pub fn admin_token(data_dir: &Path, given: Option<String>) -> std::io::Result<String> {
    if let Some(t) = given.filter(|t| !t.trim().is_empty()) {
        return Ok(t.trim().to_string());
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
