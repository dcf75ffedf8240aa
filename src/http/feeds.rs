//! `GET /lheo/offres.xml`: the LHÉO 2.3 diffusion feed, streamed.
//!
//! Query: `depuis` (journal sequence or ISO date/time), `departement`, `financeur`,
//! `formacode`, `organisme` (each repeatable). Headers: `X-Sofi-Journal` (the journal sequence
//! the feed was started at; pass it as `depuis` next time), strong `ETag`, `Last-Modified`,
//! 304 on `If-None-Match` / `If-Modified-Since`, gzip on `Accept-Encoding: gzip`.

use super::{erreur, App, Body};
use crate::diffusion::{ecrire_flux, Depuis, Filtres};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Chunks handed from the blocking writer to the connection.
const CHUNK: usize = 64 * 1024;

/// A `Write` that sends 64 KiB chunks to the response body; fails once the client is gone.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client parti"))
    }
}

/// Response body fed by a channel.
struct ChannelBody(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

pub(super) struct Requete {
    pub depuis: Option<Depuis>,
    pub filtres: Filtres,
}

/// Parses the query string; a bad value names its parameter.
pub(super) fn parse_query(q: Option<&str>) -> Result<Requete, (String, String)> {
    let mut r = Requete {
        depuis: None,
        filtres: Filtres::default(),
    };
    for (k, v) in paires(q.unwrap_or("")) {
        let v = v.trim().to_string();
        let check = |ok: bool, what: &str| {
            if ok {
                Ok(())
            } else {
                Err((k.clone(), format!("« {v} » : {what}")))
            }
        };
        match k.as_str() {
            "depuis" => r.depuis = Some(Depuis::parse(&v).map_err(|m| (k.clone(), m))?),
            "departement" => {
                check(
                    (2..=3).contains(&v.len()) && v.chars().all(|c| c.is_ascii_alphanumeric()),
                    "code de département attendu (44, 2A, 971)",
                )?;
                r.filtres.departements.push(v);
            }
            "financeur" => {
                check(
                    !v.is_empty() && v.len() <= 2 && v.bytes().all(|b| b.is_ascii_digit()),
                    "code financeur LHÉO attendu (ex. 2)",
                )?;
                r.filtres.financeurs.push(v);
            }
            "formacode" => {
                check(
                    v.len() == 5 && v.bytes().all(|b| b.is_ascii_digit()),
                    "Formacode à 5 chiffres attendu",
                )?;
                r.filtres.formacodes.push(v);
            }
            "organisme" => {
                check(
                    v.len() == 14 && v.bytes().all(|b| b.is_ascii_digit()),
                    "SIRET à 14 chiffres attendu",
                )?;
                r.filtres.organismes.push(v);
            }
            _ => return Err((k.clone(), format!("paramètre « {k} » inconnu"))),
        }
    }
    Ok(r)
}

/// Query pairs, percent-decoded.
pub fn paires(q: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

/// A percent-encoded path segment (an offer number in `/formation/{numero}`), decoded.
pub fn segment(s: &str) -> String {
    paires(&format!("n={s}"))
        .pop()
        .map(|(_, v)| v)
        .unwrap_or_default()
}

fn http_date(ms: i64) -> Option<String> {
    let ts = jiff::Timestamp::from_millisecond(ms).ok()?;
    jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&ts)
        .ok()
}

pub(super) async fn offres(app: Arc<App>, req: Request<Incoming>) -> Response<Body> {
    let q = match parse_query(req.uri().query()) {
        Ok(q) => q,
        Err((p, m)) => return erreur(StatusCode::BAD_REQUEST, "parametre-invalide", &m, Some(&p)),
    };
    let (seq, derniere) = match app.store.compteurs().and_then(|c| {
        let t = app
            .store
            .entree_journal(c.journal_seq)?
            .map(|e| e.horodatage);
        Ok((c.journal_seq, t))
    }) {
        Ok(x) => x,
        Err(e) => return super::indisponible("stockage-indisponible", e),
    };
    if let Some(Depuis::Seq(n)) = q.depuis.filter(|d| matches!(d, Depuis::Seq(n) if *n > seq)) {
        return erreur(
            StatusCode::BAD_REQUEST,
            "parametre-invalide",
            &format!("« {n} » : au-delà du journal, dont le dernier numéro est {seq}"),
            Some("depuis"),
        );
    }
    let gzip = req
        .headers()
        .get("accept-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    // Same journal position + same query → same bytes: a strong validator.
    let etag = {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        req.uri().query().unwrap_or("").hash(&mut h);
        env!("CARGO_PKG_VERSION").hash(&mut h);
        // After sled is reopened, journal numbers may be given again to other changes.
        app.store.reouvertures().hash(&mut h);
        format!(
            "\"j{seq}-{:016x}{}\"",
            h.finish(),
            if gzip { "-gz" } else { "" }
        )
    };
    let last_modified = derniere.and_then(http_date);
    let inm = req
        .headers()
        .get("if-none-match")
        .and_then(|v| v.to_str().ok());
    let pas_modifie = match inm {
        Some(v) => v.split(',').any(|t| t.trim() == etag || t.trim() == "*"),
        None => match (
            req.headers()
                .get("if-modified-since")
                .and_then(|v| v.to_str().ok()),
            derniere,
        ) {
            (Some(ims), Some(t)) => jiff::fmt::rfc2822::DateTimeParser::new()
                .parse_timestamp(ims)
                .is_ok_and(|since| t / 1000 <= since.as_second()),
            _ => false,
        },
    };
    let mut builder = Response::builder()
        .header("etag", &etag)
        .header("x-sofi-journal", seq.to_string())
        .header("vary", "accept-encoding")
        .header("access-control-allow-origin", "*")
        .header("access-control-expose-headers", "etag, x-sofi-journal");
    if let Some(lm) = &last_modified {
        builder = builder.header("last-modified", lm);
    }
    if pas_modifie {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(super::full(Bytes::new()))
            .expect("valid headers");
    }
    builder = builder.header("content-type", "application/xml; charset=utf-8");
    if gzip {
        builder = builder.header("content-encoding", "gzip");
    }
    if req.method() == hyper::Method::HEAD {
        return builder
            .status(StatusCode::OK)
            .body(super::full(Bytes::new()))
            .expect("valid headers");
    }
    // A feed holds a blocking thread while its client reads: a few at once, the next ones 503.
    let Ok(permis) = app.flux.clone().try_acquire_owned() else {
        return super::sature(
            "flux-sature",
            "trop de flux LHÉO en cours d'envoi : réessayez dans quelques secondes",
        );
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let app2 = app.clone();
    tokio::task::spawn_blocking(move || {
        let _permis = permis;
        let out = ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        let r = if gzip {
            let gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
            ecrire_flux(
                &app2.store,
                &app2.refs,
                q.depuis,
                &q.filtres,
                gz,
                &mut |_| {},
            )
            .and_then(|(_, gz)| Ok(gz.finish()?))
        } else {
            ecrire_flux(
                &app2.store,
                &app2.refs,
                q.depuis,
                &q.filtres,
                out,
                &mut |_| {},
            )
            .map(|(_, w)| w)
        };
        match r {
            Ok(mut w) => {
                let _ = w.flush();
            }
            Err(e) => tracing::warn!("flux LHÉO interrompu : {e}"),
        }
    });
    builder
        .status(StatusCode::OK)
        .body(ChannelBody(rx).boxed())
        .expect("valid headers")
}
