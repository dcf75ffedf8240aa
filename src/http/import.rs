//! `POST /api/v1/import`: a LHÉO file (plain or gzip) posted to the running server, checked and
//! stored by the same pipeline as `sofi import`; the answer is the same report, as JSON.
//!
//! `Authorization: Bearer <token>` (401 without, 403 when wrong). `?source=NAME` (default
//! `api`), `?remplacer=1` for a full feed of that source. The body streams from the socket to
//! the reader thread through a small channel, so an upload never sits whole in memory; past
//! the size limit the read fails (413) and, as with a cut file, only the offers complete before
//! that point are kept.

use super::params;
use super::respond::{
    bad_param, busy, error, internal, json_response, unavailable, Body, DetailErreur,
};
use super::App;
use crate::import::{importer, Options};
use crate::lheo::Input;
use crate::limits::{DRAIN_MAX, UPLOAD_WAIT};
use axum::extract::Request;
use bytes::{Buf, Bytes};
use http_body_util::BodyExt;
use hyper::{Response, StatusCode};
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Blocking side of the upload: reads chunks the connection task sends.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while !self.cur.has_remaining() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.remaining());
        self.cur.copy_to_slice(&mut out[..n]);
        Ok(n)
    }
}

pub(super) async fn post(app: Arc<App>, req: Request) -> Response<Body> {
    match params(&app, &req) {
        Ok((source, remplacer)) => importer_corps(app, req, source, remplacer).await,
        Err(r) => {
            // Read what the client is sending before refusing it: closing a socket with unread
            // data resets the connection, and the client would never see the answer. Without
            // a valid token, only a little is read for it.
            let max = if r.status() == StatusCode::BAD_REQUEST {
                DRAIN_MAX
            } else {
                1 << 20
            };
            vidanger(req.into_body(), max).await;
            *r
        }
    }
}

/// Token and query string of an import; the error response otherwise.
fn params(app: &App, req: &Request) -> Result<(String, bool), Box<Response<Body>>> {
    if let Some(r) = super::identity::refus_admin(app, req) {
        return Err(Box::new(r));
    }
    params::parse::<params::Import>(req.uri().query().unwrap_or(""))
        .and_then(|p| Ok((p.source()?, p.remplacer.0)))
        .map_err(|e| Box::new(bad_param(e)))
}

async fn importer_corps(
    app: Arc<App>,
    req: Request,
    source: String,
    remplacer: bool,
) -> Response<Body> {
    let limite = app.upload_limit;
    let annonce = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = annonce.filter(|&n| n > limite) {
        if n <= limite + DRAIN_MAX {
            vidanger(req.into_body(), DRAIN_MAX).await;
        }
        return trop_grand(limite);
    }
    // An upload holds a blocking thread while its client sends: a few at once. The next ones
    // wait a little (a burst of small files goes through), then get a 503.
    let attente = tokio::time::timeout(UPLOAD_WAIT, app.upload_slots.clone().acquire_owned());
    let Ok(Ok(permis)) = attente.await else {
        vidanger(req.into_body(), 1 << 20).await;
        return busy(
            "imports-sature",
            "trop d'imports en cours : réessayez dans quelques secondes",
        );
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(16);
    let depasse = Arc::new(AtomicU64::new(0));
    let depasse2 = depasse.clone();
    let mut body = req.into_body();
    let lecture = tokio::spawn(async move {
        let mut total = 0u64;
        while let Some(frame) = body.frame().await {
            let chunk = match frame {
                Ok(f) => match f.into_data() {
                    Ok(d) => d,
                    Err(_) => continue,
                },
                Err(e) => {
                    let _ = tx.send(Err(io::Error::other(e))).await;
                    return;
                }
            };
            total += chunk.len() as u64;
            if total > limite {
                depasse2.store(total, Ordering::Relaxed);
                let _ = tx
                    .send(Err(io::Error::other(format!(
                        "corps de requête de plus de {limite} octets"
                    ))))
                    .await;
                drop(tx);
                vidanger(body, DRAIN_MAX).await;
                return;
            }
            if tx.send(Ok(chunk)).await.is_err() {
                // The reader stopped early (a fatal error in the file): the rest is read and
                // dropped, so the client gets the answer instead of a reset, and a body over
                // the limit is still answered 413.
                let mut reste = DRAIN_MAX;
                while let Some(Ok(frame)) = body.frame().await {
                    let n = frame.data_ref().map_or(0, |d| d.len() as u64);
                    total += n;
                    if total > limite {
                        depasse2.store(total, Ordering::Relaxed);
                    }
                    if n >= reste {
                        break;
                    }
                    reste -= n;
                }
                return;
            }
        }
    });
    let app2 = app.clone();
    let r = tokio::task::spawn_blocking(move || {
        let _permis = permis;
        let input = Input::de(
            ChannelReader {
                rx,
                cur: Bytes::new(),
            },
            annonce,
        );
        let opts = Options {
            store: Some(&app2.store),
            source,
            remplacer,
            depot: None,
        };
        let rapport = importer(input, &app2.refs, &opts, &|_| {})?;
        // Answered means on disk.
        app2.store.make_durable()?;
        Ok::<_, crate::import::ImportError>(rapport)
    })
    .await;
    // Answer once the client has sent the rest (see `vidanger`).
    let _ = lecture.await;
    match r {
        Ok(Ok(rapport)) => {
            if depasse.load(Ordering::Relaxed) > 0 {
                /// A 413 that still reports what was stored before the limit.
                #[derive(serde::Serialize)]
                struct TropGrand<'a> {
                    erreur: DetailErreur<'a>,
                    rapport: &'a crate::import::Rapport,
                }
                let message = format!("corps de requête de plus de {limite} octets");
                let corps = TropGrand {
                    erreur: DetailErreur {
                        code: "corps-trop-grand",
                        message: &message,
                        parametre: None,
                    },
                    rapport: &rapport,
                };
                return json_response(StatusCode::PAYLOAD_TOO_LARGE, &corps);
            }
            let status = if rapport.succes() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            json_response(status, &rapport)
        }
        Ok(Err(e)) => unavailable("stockage-indisponible", e),
        Err(e) => internal(e),
    }
}

/// Reads and drops the rest of a refused body (up to `max` bytes), so the client finishes
/// sending and reads the refusal instead of a connection reset.
async fn vidanger(mut body: axum::body::Body, max: u64) {
    let mut reste: u64 = max;
    while let Some(Ok(frame)) = body.frame().await {
        let n = frame.data_ref().map_or(0, |d| d.len() as u64);
        if n >= reste {
            break;
        }
        reste -= n;
    }
}

fn trop_grand(limite: u64) -> Response<Body> {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "corps-trop-grand",
        &format!(
            "le corps de la requête dépasse la limite de {limite} octets (SOFI_LIMITE_IMPORT)"
        ),
        None,
    )
}

/// `DELETE`'s answer.
#[derive(serde::Serialize)]
struct Supprimee<'a> {
    supprimee: &'a str,
}

/// `DELETE /api/v1/formations/{numero}`: deletes one offer (journalled); 404 if absent.
pub(super) async fn delete(app: Arc<App>, req: Request, numero: String) -> Response<Body> {
    if let Some(r) = super::identity::refus_admin(&app, &req) {
        return r;
    }
    let app2 = app.clone();
    let n2 = numero.clone();
    let r = tokio::task::spawn_blocking(move || {
        let n = app2.store.supprimer(
            std::slice::from_ref(&n2),
            crate::store::Operation::Suppression,
        )?;
        app2.store.make_durable()?;
        Ok::<_, crate::store::StoreError>(n)
    })
    .await;
    match r {
        Ok(Ok(1)) => json_response(StatusCode::OK, &Supprimee { supprimee: &numero }),
        Ok(Ok(_)) => error(
            StatusCode::NOT_FOUND,
            "introuvable",
            &format!("aucune formation de numéro « {numero} »"),
            None,
        ),
        Ok(Err(e)) => unavailable("stockage-indisponible", e),
        Err(e) => internal(e),
    }
}
