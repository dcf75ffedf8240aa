//! Read replicas: `sofi serve --suivre https://primary` follows a primary's LHÉO feed.
//!
//! A replica starts from the primary's full feed, then asks every half second for the
//! incremental feed since the journal sequence it last applied (`depuis`, the primary's
//! `X-Sofi-Journal`): changed offers and deletions, imported like any file into its own
//! store, which its own indexer follows. What it follows is kept in `DATA_DIR/suivi.json`
//! after each applied feed, so a restarted replica takes up where it stopped (a feed
//! applied twice changes nothing). A replica more than [`RESYNC`] entries behind, or ahead of
//! its primary (a primary restored from an older backup), takes the full feed again, which
//! withdraws what the primary no longer has.
//!
//! A replica holds what the public sees: the diffused offers. The back-office and every
//! write stay on the primary (the router sends them there).

use crate::import::{importer, Options};
use crate::lheo::Input;
use crate::referentiel::Referentiels;
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Source name of the offers a replica holds.
pub const SOURCE: &str = "primaire";

/// Entries behind the primary past which a replica takes the full feed again, by default.
pub const RESYNC: u64 = 100_000;

/// Time between two asks when the last one brought nothing.
const INTERVALLE: Duration = Duration::from_millis(500);

/// What a replica follows, kept in `DATA_DIR/suivi.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Fichier {
    primaire: String,
    /// The primary's journal sequence this replica has applied.
    seq: u64,
}

/// Where a replica stands (`/health`, `/metrics`).
#[derive(Debug, Default)]
pub struct Etat {
    /// The primary's journal sequence last applied here.
    pub applique: AtomicU64,
    /// The primary's journal sequence last seen.
    pub primaire_seq: AtomicU64,
    /// When this replica was last known to have applied everything the primary had
    /// (Unix ms; 0: never).
    pub a_jour_ms: AtomicI64,
    /// Full feeds taken (the first, then the resyncs).
    pub resyncs: AtomicU64,
    /// Why the last ask failed, until one succeeds.
    pub erreur: std::sync::Mutex<Option<String>>,
}

impl Etat {
    /// Entries of the primary's journal not applied here.
    pub fn retard_entrees(&self) -> u64 {
        self.primaire_seq
            .load(Ordering::Relaxed)
            .saturating_sub(self.applique.load(Ordering::Relaxed))
    }

    /// Seconds since this replica last had everything (0 when it has).
    pub fn retard_secondes(&self) -> i64 {
        if self.retard_entrees() == 0 && self.a_jour_ms.load(Ordering::Relaxed) > 0 {
            return 0;
        }
        match self.a_jour_ms.load(Ordering::Relaxed) {
            0 => -1,
            t => (crate::store::now_ms() - t).max(0) / 1000,
        }
    }

    pub fn erreur(&self) -> Option<String> {
        self.erreur.lock().ok().and_then(|e| e.clone())
    }
}

/// A replica's follower.
pub struct Suiveur {
    pub primaire: String,
    /// A partner key for a primary whose feeds need one.
    pub cle: Option<String>,
    pub store: Store,
    pub refs: Arc<Referentiels>,
    pub data_dir: PathBuf,
    pub etat: Arc<Etat>,
    /// Entries behind past which the full feed is taken again (see [`RESYNC`]).
    pub resync: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SuiviError {
    #[error("primaire {0} : {1}")]
    Http(String, String),
    #[error("import du flux : {0}")]
    Import(#[from] crate::import::ImportError),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("suivi.json : {0}")]
    Io(#[from] std::io::Error),
}

impl Suiveur {
    fn fichier(&self) -> PathBuf {
        self.data_dir.join("suivi.json")
    }

    fn lire(&self) -> Option<Fichier> {
        let f: Fichier = serde_json::from_slice(&std::fs::read(self.fichier()).ok()?).ok()?;
        // Following another primary than before: start again from its full feed.
        (f.primaire == self.primaire).then_some(f)
    }

    fn ecrire(&self, seq: u64) -> Result<(), SuiviError> {
        let f = Fichier {
            primaire: self.primaire.clone(),
            seq,
        };
        let tmp = self.fichier().with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&f).unwrap_or_default())?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, self.fichier())?;
        Ok(())
    }

    fn get(&self, chemin: &str) -> Result<ureq::Response, SuiviError> {
        let url = format!("{}{chemin}", self.primaire);
        let mut r = ureq::get(&url).timeout(Duration::from_secs(600));
        if let Some(c) = &self.cle {
            r = r.set(crate::http::partenaires::EN_TETE, c);
        }
        r.call().map_err(|e| match e {
            ureq::Error::Status(code, r) => SuiviError::Http(
                url.clone(),
                format!("{code} {}", r.into_string().unwrap_or_default()),
            ),
            e => SuiviError::Http(url.clone(), e.to_string()),
        })
    }

    /// The primary's journal sequence now.
    fn seq_primaire(&self) -> Result<u64, SuiviError> {
        let v: serde_json::Value = self
            .get("/health")?
            .into_json()
            .map_err(|e| SuiviError::Http(self.primaire.clone(), e.to_string()))?;
        v["journal_seq"].as_u64().ok_or_else(|| {
            SuiviError::Http(self.primaire.clone(), "/health sans journal_seq".into())
        })
    }

    /// Takes one feed (full when `depuis` is `None`) and applies it; returns the primary's
    /// sequence it brings the replica to.
    fn appliquer(&self, depuis: Option<u64>) -> Result<u64, SuiviError> {
        let chemin = match depuis {
            Some(s) => format!("/lheo/offres.xml?depuis={s}"),
            None => "/lheo/offres.xml".to_string(),
        };
        let r = self.get(&chemin)?;
        let seq: u64 = r
            .header("x-sofi-journal")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| {
                SuiviError::Http(self.primaire.clone(), "flux sans X-Sofi-Journal".into())
            })?;
        let input = Input::de(r.into_reader(), None);
        let opts = Options {
            store: Some(&self.store),
            source: SOURCE.into(),
            // The full feed is all the primary diffuses: what it lacks is withdrawn.
            remplacer: depuis.is_none(),
            depot: None,
        };
        let rapport = importer(input, &self.refs, &opts, &|_| {})?;
        if let Some(e) = rapport.erreur_fatale {
            return Err(SuiviError::Http(
                self.primaire.clone(),
                format!("flux interrompu : {e}"),
            ));
        }
        self.store.make_durable()?;
        self.ecrire(seq)?;
        Ok(seq)
    }

    /// One round: what to take, taken. Returns whether it brought anything.
    pub fn tour(&self) -> Result<bool, SuiviError> {
        let primaire = self.seq_primaire()?;
        self.etat.primaire_seq.store(primaire, Ordering::Relaxed);
        let suivi = self.lire();
        let applique = match &suivi {
            Some(f) if f.seq <= primaire && primaire - f.seq <= self.resync => {
                if f.seq == primaire {
                    self.etat.applique.store(f.seq, Ordering::Relaxed);
                    self.etat
                        .a_jour_ms
                        .store(crate::store::now_ms(), Ordering::Relaxed);
                    return Ok(false);
                }
                self.appliquer(Some(f.seq))?
            }
            _ => {
                if suivi.is_some() {
                    tracing::warn!(
                        "réplique : {} entrées d'écart avec le primaire, reprise de son flux complet",
                        primaire as i64 - suivi.as_ref().map_or(0, |f| f.seq) as i64
                    );
                }
                self.etat.resyncs.fetch_add(1, Ordering::Relaxed);
                self.appliquer(None)?
            }
        };
        self.etat.applique.store(applique, Ordering::Relaxed);
        if applique >= self.etat.primaire_seq.load(Ordering::Relaxed) {
            self.etat
                .a_jour_ms
                .store(crate::store::now_ms(), Ordering::Relaxed);
        }
        Ok(true)
    }

    /// Follows the primary until `stop`; a failure (the primary down) is logged once per
    /// minute and retried with a growing pause, up to 5 s.
    pub fn run(self, stop: &AtomicBool) {
        if let Some(f) = self.lire() {
            self.etat.applique.store(f.seq, Ordering::Relaxed);
        }
        let mut pause = INTERVALLE;
        let mut dernier_log: Option<std::time::Instant> = None;
        while !stop.load(Ordering::Relaxed) {
            match self.tour() {
                Ok(apporte) => {
                    if let Ok(mut e) = self.etat.erreur.lock() {
                        *e = None;
                    }
                    pause = if apporte { Duration::ZERO } else { INTERVALLE };
                }
                Err(e) => {
                    if dernier_log.is_none_or(|t| t.elapsed().as_secs() >= 60) {
                        tracing::warn!("réplique : {e}");
                        dernier_log = Some(std::time::Instant::now());
                    }
                    if let Ok(mut m) = self.etat.erreur.lock() {
                        *m = Some(e.to_string());
                    }
                    pause = (pause * 2).clamp(INTERVALLE, Duration::from_secs(5));
                }
            }
            let t = std::time::Instant::now();
            while t.elapsed() < pause && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50).min(pause));
            }
        }
    }
}

/// Whether this data directory follows a primary (a replica's store is not to be written
/// by hand).
pub fn suit(data_dir: &Path) -> bool {
    data_dir.join("suivi.json").exists()
}
