//! LHÉO, the French exchange format for training offers: a streaming reader for 2.2 and 2.3
//! (with or without namespace, plain or gzip, file or stdin) and a schema-order 2.3 writer.

pub mod decode;
mod elements;
pub mod reader;
pub mod schema;
pub mod writer;

pub use reader::{FinDocument, LheoReader, OffreLue, ResumeOffre};
pub use writer::LheoWriter;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub const NS_22: &str = "http://www.lheo.org/2.2";
pub const NS_23: &str = "http://lheo.gouv.fr/2.3";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V22,
    V23,
}

impl Version {
    pub fn from_namespace(ns: &str) -> Option<Version> {
        match ns.trim() {
            NS_22 => Some(Version::V22),
            NS_23 => Some(Version::V23),
            _ => None,
        }
    }
}

/// A problem that stops the reading of a file. Offers complete before it were read.
#[derive(Debug, thiserror::Error)]
pub enum LheoError {
    #[error("{ligne}:{colonne}: {message} (élément {chemin}{})", numero.as_ref().map(|n| format!(", offre {n}")).unwrap_or_default())]
    Syntaxe {
        ligne: u32,
        colonne: u32,
        chemin: String,
        numero: Option<String>,
        message: String,
    },
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Counts the raw bytes read from a file, for progress bars.
pub struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// An opened input: the decompressed byte stream, its raw size when known, and a counter of
/// raw bytes read so far.
pub struct Input {
    pub reader: Box<dyn BufRead + Send>,
    pub taille: Option<u64>,
    pub lus: Arc<AtomicU64>,
}

impl Input {
    /// Any byte stream (a file, an upload, a primary's feed), gzip or not, with its raw size
    /// when known; the raw bytes read are counted in `lus` (progress, the report's `octets`).
    pub fn de<R: Read + Send + 'static>(raw: R, taille: Option<u64>) -> Input {
        let lus = Arc::new(AtomicU64::new(0));
        let counted = Counted {
            inner: raw,
            count: lus.clone(),
        };
        Input {
            reader: from_reader(counted),
            taille,
            lus,
        }
    }
}

/// Opens a file (`-` is stdin). Gzip is recognised by its magic bytes, whatever the name.
pub fn open_input(path: &Path) -> io::Result<Input> {
    Ok(if path == Path::new("-") {
        Input::de(io::stdin(), None)
    } else {
        let f = File::open(path)?;
        let taille = f.metadata().ok().map(|m| m.len());
        Input::de(f, taille)
    })
}

/// How far a gzip input may expand: beyond either bound it is refused as a decompression
/// bomb (a 10 MB file that expands to 10 GB), wherever it comes from (CLI, upload, inbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decompression {
    /// Decompressed bytes per compressed byte, checked once past [`Decompression::SEUIL`].
    pub ratio_max: u64,
    /// Decompressed bytes, whatever the ratio.
    pub octets_max: u64,
}

impl Decompression {
    /// Below this much output the ratio is not checked: small files compress very well.
    pub const SEUIL: u64 = 64 << 20;
}

impl Default for Decompression {
    /// LHÉO compresses 10 to 20 times (a generated offer: 16× with `gzip -6`); 100 leaves room and stops a bomb after 64 MiB of
    /// output. (`sofi --help` shows 16 GiB as `16G`, written there as text.)
    fn default() -> Self {
        Decompression {
            ratio_max: 100,
            octets_max: 16 << 30,
        }
    }
}

static DECOMPRESSION: std::sync::OnceLock<Decompression> = std::sync::OnceLock::new();

/// Sets the bounds every later gzip input gets (once, at start: the CLI's options).
pub fn regler_decompression(d: Decompression) {
    let _ = DECOMPRESSION.set(d);
}

/// A gzip stream's output, refused past the [`Decompression`] bounds.
struct Borne<R> {
    inner: R,
    compresses: Arc<AtomicU64>,
    sortis: u64,
    limites: Decompression,
}

impl<R: Read> Read for Borne<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sortis += n as u64;
        let entres = self.compresses.load(Ordering::Relaxed).max(1);
        let l = self.limites;
        if self.sortis > l.octets_max
            || (self.sortis > Decompression::SEUIL && self.sortis / entres > l.ratio_max)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "archive gzip refusée (bombe de décompression ?) : {} Mo décompressés pour {} Mo lus, au-delà de {} fois ou de {} Go",
                    self.sortis >> 20,
                    entres >> 20,
                    l.ratio_max,
                    l.octets_max >> 30
                ),
            ));
        }
        Ok(n)
    }
}

/// Wraps any byte stream, decompressing it when it starts with the gzip magic bytes.
pub fn from_reader<R: Read + Send + 'static>(r: R) -> Box<dyn BufRead + Send> {
    let compresses = Arc::new(AtomicU64::new(0));
    let counted = Counted {
        inner: r,
        count: compresses.clone(),
    };
    let mut buffered = BufReader::with_capacity(256 * 1024, counted);
    let gz = matches!(buffered.fill_buf(), Ok(b) if b.starts_with(&[0x1f, 0x8b]));
    if gz {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            Borne {
                inner: flate2::bufread::MultiGzDecoder::new(buffered),
                compresses,
                sortis: 0,
                limites: DECOMPRESSION.get().copied().unwrap_or_default(),
            },
        ))
    } else {
        Box::new(buffered)
    }
}
