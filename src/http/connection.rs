//! One accepted TCP connection as hyper sees it: closed after a stretch with no byte moving
//! either way, and with hyper's own bodiless error answers given the API's JSON body.
//!
//! Why a wrapper and not a read or a write timeout: while a long feed streams out, hyper
//! polls the socket for reading too (to notice a client that hangs up), so a read timeout
//! would cut every long download; a write timeout alone would keep idle keep-alive
//! connections forever. "Nothing moved for `delai`" covers a client that never reads a feed,
//! a stalled upload and an idle connection, and never a transfer that progresses.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

pub struct Connection {
    io: TcpStream,
    delai: Duration,
    /// Last time a byte was read or written.
    derniere: Instant,
    /// Fires at `derniere + delai` at the latest (moved forward lazily when it fires).
    minuteur: Pin<Box<Sleep>>,
    /// A rewritten automatic answer still being written, and the length of hyper's original
    /// (what hyper is told was written once it is all out).
    reecrit: Option<(Vec<u8>, usize, usize)>,
}

impl Connection {
    pub fn new(io: TcpStream, delai: Duration) -> Self {
        let now = Instant::now();
        Connection {
            io,
            delai,
            derniere: now,
            minuteur: Box::pin(tokio::time::sleep_until(now + delai)),
            reecrit: None,
        }
    }

    /// `Ready(error)` once nothing has moved for `delai`; registers the task's waker otherwise.
    fn expiree(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            if self.minuteur.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let echeance = self.derniere + self.delai;
            if echeance <= Instant::now() {
                return Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connexion inactive depuis {} s", self.delai.as_secs()),
                ));
            }
            self.minuteur.as_mut().reset(echeance);
        }
    }

    /// Ready once a rewritten answer (if any) is all out.
    fn finir_reecrit(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = self.vider(cx);
        self.ecrit(cx, r).map_ok(|_| ())
    }

    /// A write's outcome: bytes written are activity; a write that waits may have waited
    /// too long.
    fn ecrit(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match r {
            Poll::Pending => self.expiree(cx).map(Err),
            Poll::Ready(r) => {
                if matches!(r, Ok(n) if n > 0) {
                    self.derniere = Instant::now();
                }
                Poll::Ready(r)
            }
        }
    }

    /// Writes what is left of a rewritten answer; `Ready(Ok(n))` with hyper's length once done.
    fn vider(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        while let Some((octets, ecrits, original)) = &mut self.reecrit {
            if *ecrits == octets.len() {
                let n = *original;
                self.reecrit = None;
                return Poll::Ready(Ok(n));
            }
            match Pin::new(&mut self.io).poll_write(cx, &octets[*ecrits..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    *ecrits += n;
                    self.derniere = Instant::now();
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(0))
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let avant = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Pending => this.expiree(cx).map(Err),
            Poll::Ready(r) => {
                if buf.filled().len() > avant {
                    this.derniere = Instant::now();
                }
                Poll::Ready(r)
            }
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.reecrit.is_none() {
            if let Some(reponse) = reponse_automatique(buf) {
                this.reecrit = Some((reponse, 0, buf.len()));
            }
        }
        let r = if this.reecrit.is_some() {
            this.vider(cx)
        } else {
            Pin::new(&mut this.io).poll_write(cx, buf)
        };
        this.ecrit(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut pleins = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(seul), None) = (pleins.next(), pleins.next()) {
            if this.reecrit.is_some() || reponse_automatique(seul).is_some() {
                return Pin::new(this).poll_write(cx, seul);
            }
        }
        let r = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.ecrit(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.finir_reecrit(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.finir_reecrit(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

/// hyper answers a request it cannot parse by itself, with a head and no body
/// (`proto::h1::role::on_error`: 400, 414 or 431 and `content-length: 0`). Such a head,
/// rewritten with the API's JSON error as its body; `None` for anything else (our own answers
/// always have a body, so never match).
fn reponse_automatique(buf: &[u8]) -> Option<Vec<u8>> {
    if buf.len() > 1024 || !buf.starts_with(b"HTTP/1.1 4") || !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let (code, message) = match &buf[9..12] {
        b"400" => ("requete-invalide", "requête HTTP mal formée"),
        b"414" => (
            "uri-trop-longue",
            "l'adresse demandée (chemin et paramètres) dépasse 65 534 octets",
        ),
        b"431" => (
            "en-tetes-trop-grands",
            "en-têtes de requête trop grands ou trop nombreux",
        ),
        _ => return None,
    };
    let tete = std::str::from_utf8(buf).ok()?;
    let vide = "\r\ncontent-length: 0\r\n";
    let debut = tete.to_ascii_lowercase().find(vide)?;
    let corps =
        serde_json::json!({"erreur": {"code": code, "message": message, "parametre": null}})
            .to_string();
    let mut out = String::with_capacity(tete.len() + corps.len() + 64);
    out.push_str(&tete[..debut]);
    out.push_str(&format!(
        "\r\ncontent-type: application/json; charset=utf-8\r\nx-content-type-options: nosniff\r\ncontent-length: {}\r\n",
        corps.len()
    ));
    out.push_str(&tete[debut + vide.len()..]);
    out.push_str(&corps);
    Some(out.into_bytes())
}

/// The answer to a connection beyond the cap, written straight to the socket.
pub fn trop_de_connexions() -> Vec<u8> {
    let corps = serde_json::json!({"erreur": {
        "code": "serveur-sature",
        "message": "trop de connexions ouvertes : réessayez dans quelques secondes",
        "parametre": null,
    }})
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\nretry-after: 2\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{corps}",
        corps.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bodiless_errors_are_rewritten() {
        let tete = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Mon, 30 Nov 2026 10:00:00 GMT\r\n\r\n";
        let r = String::from_utf8(reponse_automatique(tete).unwrap()).unwrap();
        let (h, corps) = r.split_once("\r\n\r\n").unwrap();
        assert!(h.starts_with("HTTP/1.1 431 "), "{h}");
        assert!(
            h.contains(&format!("content-length: {}", corps.len())),
            "{h}"
        );
        assert!(h.contains("date: Mon"), "{h}");
        let v: serde_json::Value = serde_json::from_str(corps).unwrap();
        assert_eq!(v["erreur"]["code"], "en-tetes-trop-grands");
        // Our own answers carry a body: left alone.
        assert!(
            reponse_automatique(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n")
                .is_none()
        );
        assert!(reponse_automatique(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}
