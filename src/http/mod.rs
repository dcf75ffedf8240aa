//! The HTTP server (hyper 1 + tokio): one task per connection, graceful shutdown on SIGTERM
//! and Ctrl-C (open requests finish, new connections are refused).

use crate::referentiel::Referentiels;
use crate::store::Store;
use bytes_body::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

mod bytes_body {
    pub type Body = http_body_util::Full<hyper::body::Bytes>;
}

/// What every request handler can reach.
pub struct App {
    pub store: Store,
    pub refs: Arc<Referentiels>,
}

fn json_response(status: StatusCode, v: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .header("access-control-allow-origin", "*")
        .body(Body::from(v.to_string()))
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

async fn route(app: Arc<App>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let resp = match (req.method(), path.as_str()) {
        (&Method::GET | &Method::HEAD, "/health") => health(&app),
        (_, "/health") => erreur(
            StatusCode::METHOD_NOT_ALLOWED,
            "methode-non-permise",
            "seules GET et HEAD sont permises ici",
            None,
        ),
        _ => erreur(
            StatusCode::NOT_FOUND,
            "introuvable",
            &format!("aucune ressource à l'adresse {path}"),
            None,
        ),
    };
    Ok(resp)
}

fn health(app: &App) -> Response<Body> {
    match app.store.compteurs() {
        Ok(c) => json_response(
            StatusCode::OK,
            &json!({
                "statut": "ok",
                "version": env!("CARGO_PKG_VERSION"),
                "formations": c.formations,
                "actions": c.actions,
                "sessions": c.sessions,
                "organismes": app.store.nb_organismes(),
                "diffusables": c.diffusables,
                "journal_seq": c.journal_seq,
            }),
        ),
        Err(e) => erreur(
            StatusCode::SERVICE_UNAVAILABLE,
            "stockage-indisponible",
            &e.to_string(),
            None,
        ),
    }
}

/// Serves until `shutdown` resolves, then waits (up to 10 s) for open connections.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!("accept: {e}");
                        continue;
                    }
                };
                let app = app.clone();
                let conn = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(move |req| route(app.clone(), req)));
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("connexion : {e}");
                    }
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
