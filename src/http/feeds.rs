//! `GET /lheo/offres.xml`: the LHÉO 2.3 diffusion feed, streamed.
//!
//! Query: `depuis` (journal sequence or ISO date/time), `departement`, `financeur`,
//! `formacode`, `organisme` (each repeatable). Headers: `X-Sofi-Journal` (the journal sequence
//! the feed was started at; pass it as `depuis` next time), strong `ETag`, `Last-Modified`,
//! 304 on `If-None-Match` / `If-Modified-Since`, gzip on `Accept-Encoding: gzip`.

use super::params;
use super::respond::{bad_param, busy, error, full, unavailable, Body};
use super::App;
use crate::diffusion::{ecrire_flux, Depuis};
use axum::extract::Request;
use bytes::Bytes;
use headers::HeaderMapExt;
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper::{Response, StatusCode};
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

/// Whether the client takes gzip, by `Accept-Encoding` with its q-values (`gzip;q=0` is a
/// refusal). The feed compresses on its writer thread, not in the router's layer: a feed is
/// hundreds of MB, and its ETag must tell the two encodings apart.
fn accepts_gzip(entetes: &hyper::HeaderMap) -> bool {
    let mut gzip = None;
    let mut etoile = None;
    for valeur in entetes.get_all("accept-encoding") {
        for e in valeur.to_str().unwrap_or("").split(',') {
            let mut parties = e.split(';');
            let nom = parties.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parties
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match nom.as_str() {
                "gzip" | "x-gzip" => gzip = Some(q),
                "*" => etoile = Some(q),
                _ => {}
            }
        }
    }
    gzip.or(etoile).is_some_and(|q| q > 0.0)
}

pub(super) async fn offres(app: Arc<App>, req: Request) -> Response<Body> {
    let (depuis, mut filtres) = match params::parse::<params::Flux>(req.uri().query().unwrap_or(""))
        .and_then(|f| f.filtres(&app.refs))
    {
        Ok(q) => q,
        Err(e) => return bad_param(e),
    };
    // A partner key's forced filters (asking wider never widens them).
    let acces = req.extensions().get::<super::partenaires::Acces>();
    super::partenaires::imposer_flux(acces, &app.refs, &mut filtres);
    let cle = acces.and_then(|a| a.0.as_ref()).map_or(0, |c| c.id);
    let (seq, derniere) = match app.store.compteurs().and_then(|c| {
        let t = app
            .store
            .entree_journal(c.journal_seq)?
            .map(|e| e.horodatage);
        Ok((c.journal_seq, t))
    }) {
        Ok(x) => x,
        Err(e) => return unavailable("stockage-indisponible", e),
    };
    if let Some(Depuis::Seq(n)) = depuis.filter(|d| matches!(d, Depuis::Seq(n) if *n > seq)) {
        return error(
            StatusCode::BAD_REQUEST,
            "parametre-invalide",
            &format!("« {n} » : au-delà du journal, dont le dernier numéro est {seq}"),
            Some("depuis"),
        );
    }
    let gzip = accepts_gzip(req.headers());
    // Same journal position + same query → same bytes: a strong validator.
    let etag = {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        req.uri().query().unwrap_or("").hash(&mut h);
        cle.hash(&mut h);
        env!("CARGO_PKG_VERSION").hash(&mut h);
        // After sled is reopened, journal numbers may be given again to other changes.
        app.store.reopen_count().hash(&mut h);
        format!(
            "\"j{seq}-{:016x}{}\"",
            h.finish(),
            if gzip { "-gz" } else { "" }
        )
    };
    let etag: headers::ETag = etag.parse().expect("a quoted string is a valid ETag");
    let derniere = derniere.and_then(|ms| {
        std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_millis(u64::try_from(ms).ok()?))
    });
    // If-None-Match wins over If-Modified-Since (RFC 9110, 13.2.2).
    let pas_modifie = match req.headers().typed_get::<headers::IfNoneMatch>() {
        Some(inm) => !inm.precondition_passes(&etag),
        None => match (
            req.headers().typed_get::<headers::IfModifiedSince>(),
            derniere,
        ) {
            (Some(ims), Some(t)) => !ims.is_modified(t),
            _ => false,
        },
    };
    let mut builder = Response::builder()
        .header("x-sofi-journal", seq.to_string())
        .header("vary", "accept-encoding");
    if let Some(h) = builder.headers_mut() {
        h.typed_insert(etag);
        if let Some(t) = derniere {
            h.typed_insert(headers::LastModified::from(t));
        }
    }
    if pas_modifie {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(full(Bytes::new()))
            .expect("valid headers");
    }
    builder = builder.header("content-type", "application/xml; charset=utf-8");
    if gzip {
        builder = builder.header("content-encoding", "gzip");
    }
    if req.method() == hyper::Method::HEAD {
        return builder
            .status(StatusCode::OK)
            .body(full(Bytes::new()))
            .expect("valid headers");
    }
    // A feed holds a blocking thread while its client reads: a few at once, the next ones 503.
    let Ok(permis) = app.feed_slots.clone().try_acquire_owned() else {
        return busy(
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
            ecrire_flux(&app2.store, &app2.refs, depuis, &filtres, gz, &mut |_| {})
                .and_then(|(_, gz)| Ok(gz.finish()?))
        } else {
            ecrire_flux(&app2.store, &app2.refs, depuis, &filtres, out, &mut |_| {}).map(|(_, w)| w)
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
