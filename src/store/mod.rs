//! The store: sled trees holding offers, organismes, secondary indexes and the journal.
//!
//! Invariants (each write is one sled transaction over every tree it touches):
//! - an offer is stored whole (formation + verdict + dates) or not at all;
//! - every change to `offres` appends exactly one journal entry, in the same transaction, with
//!   the next sequence number; re-storing an unchanged offer writes nothing;
//! - the secondary indexes and the counters always agree with `offres`;
//! - an offer's body (formation + verdict) is in `offres-N.corps`, appended and synced to disk
//!   before the transaction that points at it; its `OfferRecord` in sled carries the body's place,
//!   its xxh3-128 fingerprint (checked on every read) and what the indexes and counters need.
//!
//! Why bodies live outside sled: sled 0.34 holds up to 64 recently read pages per cache shard
//! (256 shards) before it considers evicting any, whatever `cache_capacity` says; with offers
//! inside its pages, a full scan (export, reindex) kept ~45 % of the store in memory. With
//! small fiches in sled, a scan stays flat and bodies come from the file with `pread`.
//!
//! Values are bincode 2 (serde); keys are chosen so that sled's byte order is the useful order
//! (big-endian numbers, `\0`-separated composite keys).

mod analytique;
mod audit;
mod bodies;
mod decisions;
mod dossiers;
mod durability;
mod migration;
mod partenaires;
mod people;
mod records;
mod recovery;
mod sauvegarde;
mod suspensions;
mod vidage;
mod writes;

pub use analytique::*;
pub use audit::{diff_json, Changement, Evenement};
use bodies::*;
pub use bodies::{BilanCompaction, COMPACTIONS, COMPACTION_EN_COURS};
pub use decisions::*;
pub use dossiers::*;
use durability::*;
pub use migration::{copie_avant_migration, format_du_stockage, BilanMigration};
pub use partenaires::*;
pub use people::*;
pub use records::*;
pub use sauvegarde::{
    dossier_neuf, ecrire_manifeste, lire_manifeste, sauvegardes_planifiees, Manifeste,
    DERNIERE_SAUVEGARDE, DERNIERE_VERIFIEE, MANIFESTE,
};
pub use suspensions::*;
pub use vidage::{ArbresVides, MetaOffre};
use writes::*;

use crate::model::Formation;
use crate::rules::Verdict;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sled::transaction::{
    ConflictableTransactionError, TransactionError, Transactional, TransactionalTree,
    UnabortableTransactionError,
};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("le dossier de données {0} est déjà ouvert par un autre processus Sofi (un `sofi serve` ?) : arrêtez-le, ou envoyez le fichier au serveur par POST /api/v1/import")]
    Verrouille(PathBuf),
    #[error("stockage : {0}")]
    Sled(#[from] sled::Error),
    #[error("stockage : enregistrement illisible ({0})")]
    Encodage(String),
    /// One offer's body cannot be read back whole (a damaged or truncated body file): that
    /// offer is skipped by scans (feeds, reindex) and counted, the others are served.
    #[error("offre {numero} : corps endommagé à l'octet {pos} de {fichier} ({message}) ; lancez `sofi verify`")]
    DamagedBody {
        numero: String,
        fichier: String,
        pos: u64,
        message: String,
    },
    /// A change refused because the store's state forbids it (an e-mail already taken, an
    /// offer changed by someone else meanwhile).
    #[error("{0}")]
    Conflit(String),
    #[error("stockage : {0}")]
    Io(#[from] std::io::Error),
    #[error("stockage en cours de réouverture après une panne d'écriture : réessayez dans quelques secondes")]
    Reouverture,
    #[error("le stockage {0} ne s'ouvre pas ({1}) : il est endommagé. Arrêtez Sofi, restaurez une sauvegarde du dossier de données, ou réimportez l'offre dans un dossier neuf")]
    Endommage(PathBuf, String),
    #[error("le dossier de données {0} a déjà servi mais son stockage store/ a disparu : Sofi ne le remplace pas par un site vide. Restaurez store/ (sauvegarde), ou, pour repartir de zéro, videz le dossier")]
    Disparu(PathBuf),
    #[error("le dossier de données {0} a été écrit par une autre version de Sofi (format {1}, attendu {FORMAT}) : `sofi migrate` le met au format de cette version (après en avoir copié le stockage à côté) ; un format plus récent demande une version plus récente de Sofi")]
    Format(PathBuf, u32),
}

/// Version of the on-disk layout, in `meta`; a store of another version is refused.
pub const FORMAT: u32 = 2;

/// File written in the data directory when its store is first created: from then on, a
/// missing `store/` is an accident to report, not a fresh start.
const MARQUEUR: &str = "sofi-donnees";
const MARQUEUR_TEXTE: &str = "Dossier de données de Sofi : son stockage est store/ et offres-N.corps.\nSi store/ disparaît, Sofi refuse de démarrer plutôt que de servir un site vide.\n";

const COMPTEURS: &[u8] = b"compteurs";
const CLE_FORMAT: &[u8] = b"format";
/// `meta` key of the body file's generation N (`offres-N.corps`), bumped by a compaction.
const CLE_CORPS: &[u8] = b"corps";

/// `meta` key of the end of the committed bodies in the current body file (u64 BE), set in
/// the transaction that points fiches at them: bytes past it were appended by a batch whose
/// transaction never ran (a crash), and are counted dead at the next open.
const CLE_CORPS_FIN: &[u8] = b"corps_fin";

/// `meta` key of the generation a compaction is emptying, while it runs (see
/// [`Store::compacter`]).
const CLE_ANCIEN: &[u8] = b"corps_ancien";

/// `meta` key of a running compaction's progress (see `bodies::Progres`).
const CLE_PROGRES: &[u8] = b"compaction_progres";

/// `meta` key of the generation an offline compaction of an earlier version was writing
/// (that one kept appending to N and copied to N+1): turned into [`CLE_ANCIEN`] at open.
const CLE_COMPACTION: &[u8] = b"compaction";

pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Today in days since 1970 (UTC): the key of the daily aggregates (usage, analytics).
pub fn jour_utc() -> u32 {
    (jiff::Timestamp::now().as_second().max(0) / 86_400) as u32
}

/// sled and its trees, replaced whole when sled must be reopened (see [`Store::probe`]).
struct Trees {
    db: sled::Db,
    offres: sled::Tree,
    par_organisme: sled::Tree,
    par_maj: sled::Tree,
    par_source: sled::Tree,
    organismes: sled::Tree,
    journal: sled::Tree,
    meta: sled::Tree,
    /// Offers received but never diffused: first reception (ms, big-endian) ++ numero.
    attente: sled::Tree,
    // The back-office (see `people` and `dossiers`).
    comptes: sled::Tree,
    /// E-mail → account id.
    emails: sled::Tree,
    /// SHA-256 of a session cookie → `SessionWeb`.
    sessions: sled::Tree,
    /// SHA-256 of a one-time link's token → `Lien`.
    liens: sled::Tree,
    /// SHA-256 of an API token → `JetonApi`.
    jetons: sled::Tree,
    demandes: sled::Tree,
    /// SIRET → `Etablissement`.
    etablissements: sled::Tree,
    /// Numero → `Dossier` (an offer's working revision and state).
    dossiers: sled::Tree,
    /// SIRET `\0` numero, for an organisation's dossiers.
    dossiers_siret: sled::Tree,
    /// Audit sequence number (big-endian) → `Evenement`; never edited or deleted.
    audit: sled::Tree,
    /// Object `\0` audit sequence number → (): an object's history.
    audit_objet: sled::Tree,
    /// Code → `Motif`, the coded reasons staff give.
    motifs: sled::Tree,
    /// The staff queue: submitted (ms, big-endian) ++ numero → `ElementFile`.
    file: sled::Tree,
    /// Id → `Signalement`: errors reported by the public on an offer.
    signalements: sled::Tree,
    /// SIRET → `Suspension` of a suspended organisme.
    suspensions: sled::Tree,
    /// SIRET `\0` numero → `OffreSuspendue`: its offers, kept aside until it is reinstated.
    suspendues: sled::Tree,
    /// Numero → `Decision`: who put an entered offer's diffused revision online (a person's
    /// decision is not recomputed when the rules or the référentiels change).
    decisions: sled::Tree,
    /// Id → `ClePartenaire` (see `partenaires`).
    cles: sled::Tree,
    /// SHA-256 of a partner key's token → its id.
    cles_jetons: sled::Tree,
    /// Day ++ key id ++ route → `Usage`, the daily aggregates.
    usage: sled::Tree,
    /// Search analytics' daily aggregates (see `analytique`).
    recherches: sled::Tree,
}

impl Trees {
    /// Opens sled in `dir/store` and its trees. sled panics on some damaged files: a clear
    /// error instead.
    fn ouvrir(dir: &Path) -> Result<Trees, StoreError> {
        let config = sled::Config::new()
            .path(dir.join("store"))
            .cache_capacity(cache_mo() << 20);
        let ouvert = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| config.open()))
            .map_err(|p| {
                let message = p
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| p.downcast_ref::<&str>().copied())
                    .unwrap_or("panique de sled");
                StoreError::Endommage(dir.join("store"), message.to_string())
            })?;
        let db = ouvert.map_err(|e| match e {
            sled::Error::Corruption { .. } | sled::Error::ReportableBug(_) => {
                StoreError::Endommage(dir.join("store"), e.to_string())
            }
            sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock => {
                StoreError::Verrouille(dir.to_path_buf())
            }
            sled::Error::Io(io) if io.to_string().contains("lock") => {
                StoreError::Verrouille(dir.to_path_buf())
            }
            e => StoreError::Sled(e),
        })?;
        Ok(Trees {
            offres: db.open_tree("offres")?,
            par_organisme: db.open_tree("par_organisme")?,
            par_maj: db.open_tree("par_maj")?,
            par_source: db.open_tree("par_source")?,
            organismes: db.open_tree("organismes")?,
            journal: db.open_tree("journal")?,
            meta: db.open_tree("meta")?,
            attente: db.open_tree("attente")?,
            comptes: db.open_tree("comptes")?,
            emails: db.open_tree("emails")?,
            sessions: db.open_tree("sessions")?,
            liens: db.open_tree("liens")?,
            jetons: db.open_tree("jetons")?,
            demandes: db.open_tree("demandes")?,
            etablissements: db.open_tree("etablissements")?,
            dossiers: db.open_tree("dossiers")?,
            dossiers_siret: db.open_tree("dossiers_siret")?,
            audit: db.open_tree("audit")?,
            audit_objet: db.open_tree("audit_objet")?,
            motifs: db.open_tree("motifs")?,
            file: db.open_tree("file")?,
            suspensions: db.open_tree("suspensions")?,
            signalements: db.open_tree("signalements")?,
            suspendues: db.open_tree("suspendues")?,
            decisions: db.open_tree("decisions")?,
            cles: db.open_tree("cles")?,
            cles_jetons: db.open_tree("cles_jetons")?,
            usage: db.open_tree("usage")?,
            recherches: db.open_tree("recherches")?,
            db,
        })
    }
}

/// The staff queue as read at a generation of the `file` tree.
type FileLue = (u64, Arc<Vec<ElementFile>>);

#[derive(Clone)]
pub struct Store {
    /// `None` only while sled is being reopened after a failure it does not recover from
    /// (see [`Store::probe`]).
    arbres: Arc<arc_swap::ArcSwapOption<Trees>>,
    /// The body files, read with `pread` from any thread; swapped by a compaction.
    corps: Arc<arc_swap::ArcSwap<Corps>>,
    /// Held by a compaction, and by a backup while it copies: one of them at a time.
    maintenance: Arc<Mutex<()>>,
    dir: PathBuf,
    /// Its length: held by the one writer at a time (bodies are appended in order, and no
    /// other write slips between a batch's checks and its transaction).
    fin: Arc<Mutex<u64>>,
    /// Group commit of answered writes (see [`Store::make_durable`]).
    durabilite: Arc<Durability>,
    /// Why the last write failed (a full disk…), until one succeeds: `/health` says it.
    failure: Arc<Mutex<Option<String>>>,
    /// Offers whose body was found damaged since the store was opened.
    damaged_offers: Arc<Mutex<std::collections::BTreeSet<String>>>,
    /// Times sled was reopened (see [`Store::reopen_count`]).
    reopen_count: Arc<std::sync::atomic::AtomicU64>,
    /// Held (shared) by every transaction over several trees, and by every other write to a
    /// tree such transactions write; taken alone for a moment by a backup to cut a
    /// consistent state (see [`Store::sauvegarder`]).
    pause: Arc<std::sync::RwLock<()>>,
    /// When [`Store::probe`] last probed (Unix ms).
    derniere_sonde: Arc<std::sync::atomic::AtomicI64>,
    /// The staff queue as last read, and the generation of `file` it was read at (see
    /// [`Store::file`]).
    file_cache: Arc<Mutex<Option<FileLue>>>,
    file_generation: Arc<std::sync::atomic::AtomicU64>,
}

/// sled's cache in MiB (`sofi --cache-mo`, default 4). Records are small, so 4 MiB of them is
/// most of the hot part of the trees; a 1M-session import peaked at 158 MB with 4, 205 MB
/// with 16, for 5 % of its speed (docs/PERFORMANCE.md).
static CACHE_MO: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// Sets sled's cache size for the stores this process opens next (once, at start).
pub fn set_cache_mib(mo: u64) {
    let _ = CACHE_MO.set(mo.max(1));
}

fn cache_mo() -> u64 {
    *CACHE_MO.get().unwrap_or(&4)
}

impl Store {
    /// Opens (or creates) the store in `dir/store`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Sled(e.into()))?;
        // A data directory that held a store and lost it is not silently started empty.
        let a_servi = dir.join(MARQUEUR).exists()
            || std::fs::read_dir(dir)?.flatten().any(|e| {
                let nom = e.file_name();
                let nom = nom.to_string_lossy();
                nom.starts_with("offres-")
                    && nom.ends_with(".corps")
                    && e.metadata().is_ok_and(|m| m.len() > 0)
            });
        if a_servi && !dir.join("store").join("conf").exists() {
            return Err(StoreError::Disparu(dir.to_path_buf()));
        }
        let arbres = Trees::ouvrir(dir)?;
        let (offres, meta) = (&arbres.offres, &arbres.meta);
        match meta.get(CLE_FORMAT)? {
            Some(v) if v.as_ref() == FORMAT.to_be_bytes() => {}
            Some(v) => {
                let f = v.as_ref().try_into().map_or(0, u32::from_be_bytes);
                return Err(StoreError::Format(dir.to_path_buf(), f));
            }
            None if !offres.is_empty() => return Err(StoreError::Format(dir.to_path_buf(), 1)),
            None => {
                meta.insert(CLE_FORMAT, &FORMAT.to_be_bytes())?;
                meta.insert(CLE_CORPS, &1u64.to_be_bytes())?;
            }
        }
        let generation_de = |cle: &[u8]| -> Result<Option<u64>, StoreError> {
            Ok(meta
                .get(cle)?
                .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes)))
        };
        // An offline compaction of an earlier version, interrupted: its target, which holds
        // only synced copies, becomes the file written to, and the old one is emptied by the
        // next compaction.
        if let (Some(cible), Some(n)) = (generation_de(CLE_COMPACTION)?, generation_de(CLE_CORPS)?)
        {
            let longueur = open_body_file(dir, cible)?.metadata()?.len();
            (meta,)
                .transaction(|(meta,)| {
                    meta.insert(CLE_CORPS, &cible.to_be_bytes())?;
                    meta.insert(CLE_ANCIEN, &n.to_be_bytes())?;
                    meta.insert(CLE_CORPS_FIN, &longueur.to_be_bytes())?;
                    meta.remove(CLE_COMPACTION)?;
                    Ok(())
                })
                .map_err(tx_err)?;
            meta.flush()?;
        }
        let generation = generation_de(CLE_CORPS)?.unwrap_or(0);
        let ancien = generation_de(CLE_ANCIEN)?;
        // Other generations are what a finished compaction left behind.
        for e in std::fs::read_dir(dir)?.flatten() {
            let nom = e.file_name();
            let nom = nom.to_string_lossy();
            let garde = [Some(generation), ancien]
                .into_iter()
                .flatten()
                .any(|g| e.path() == body_path(dir, g));
            if nom.starts_with("offres-") && nom.ends_with(".corps") && !garde {
                std::fs::remove_file(e.path())?;
            }
        }
        let corps = open_body_file(dir, generation)?;
        let ancien = match ancien {
            Some(g) => Some((g, Arc::new(open_body_file(dir, g)?))),
            None => None,
        };
        if !a_servi {
            std::fs::write(dir.join(MARQUEUR), MARQUEUR_TEXTE)?;
        }
        // A batch cut short by a crash may have left bodies past the last fiche: they are
        // garbage, counted dead (so that `stats` and compaction see them), and new bodies go
        // after them.
        let fin = corps.metadata()?.len();
        let engage = generation_de(CLE_CORPS_FIN)?;
        if engage != Some(fin) {
            let orphelins = engage.map_or(0, |e| fin.saturating_sub(e));
            (meta,)
                .transaction(|(meta,)| {
                    if orphelins > 0 {
                        let mut cpt: Compteurs = match meta.get(COMPTEURS)? {
                            Some(b) => decode(&b).map_err(abort)?,
                            None => Compteurs::default(),
                        };
                        cpt.octets_morts += orphelins;
                        meta.insert(COMPTEURS, encode(&cpt).map_err(abort)?)?;
                    }
                    meta.insert(CLE_CORPS_FIN, &fin.to_be_bytes())?;
                    Ok(())
                })
                .map_err(tx_err)?;
        }
        Ok(Store {
            arbres: Arc::new(arc_swap::ArcSwapOption::from_pointee(arbres)),
            corps: Arc::new(arc_swap::ArcSwap::from_pointee(Corps {
                gen: generation,
                fichier: Arc::new(corps),
                ancien,
                retire: None,
            })),
            maintenance: Arc::default(),
            dir: dir.to_path_buf(),
            fin: Arc::new(Mutex::new(fin)),
            durabilite: Arc::default(),
            failure: Arc::default(),
            damaged_offers: Arc::default(),
            reopen_count: Arc::default(),
            derniere_sonde: Arc::default(),
            pause: Arc::default(),
            file_cache: Arc::default(),
            file_generation: Arc::default(),
        })
    }

    /// The shared side of [`Store::pause`]: held across a transaction over several trees.
    fn pause_ecritures(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.pause.read().unwrap_or_else(|e| e.into_inner())
    }

    /// sled's handles, or the error that says they are being reopened (after trying to).
    fn a(&self) -> Result<Arc<Trees>, StoreError> {
        if let Some(a) = self.arbres.load_full() {
            return Ok(a);
        }
        self.probe();
        self.arbres.load_full().ok_or(StoreError::Reouverture)
    }

    pub fn compteurs(&self) -> Result<Compteurs, StoreError> {
        let a = self.a()?;
        match a.meta.get(COMPTEURS)? {
            Some(b) => decode(&b),
            None => Ok(Compteurs::default()),
        }
    }

    pub fn offre(&self, numero: &str) -> Result<Option<OffreStockee>, StoreError> {
        let a = self.a()?;
        a.offres
            .get(numero.as_bytes())?
            .map(|b| self.lire(numero.as_bytes(), &b))
            .transpose()
    }

    /// Every stored offer, in numero order.
    pub fn offres(&self) -> impl Iterator<Item = Result<OffreStockee, StoreError>> + '_ {
        let (iter, erreur) = match self.a() {
            Ok(a) => (Some(a.offres.iter()), None),
            Err(e) => (None, Some(Err(e))),
        };
        erreur
            .into_iter()
            .chain(iter.into_iter().flatten().map(|kv| {
                let (k, v) = kv?;
                self.lire(&k, &v)
            }))
    }

    pub fn organisme(&self, siret: &str) -> Result<Option<OrganismeResume>, StoreError> {
        let a = self.a()?;
        a.organismes
            .get(siret.as_bytes())?
            .map(|b| decode(&b))
            .transpose()
    }

    /// Numeros of the offers of one organisme (by SIRET).
    pub fn numeros_par_organisme(&self, siret: &str) -> Result<Vec<String>, StoreError> {
        let a = self.a()?;
        prefixed(&a.par_organisme, siret)
    }

    /// Numeros of the offers last received from `source`.
    pub fn numeros_par_source(&self, source: &str) -> Result<Vec<String>, StoreError> {
        let a = self.a()?;
        prefixed(&a.par_source, source)
    }

    /// Numeros changed at or after `depuis` (Unix ms), oldest change first.
    pub fn numeros_modifies_depuis(&self, depuis: i64) -> Result<Vec<String>, StoreError> {
        let a = self.a()?;
        a.par_maj
            .range((depuis as u64).to_be_bytes()..)
            .keys()
            .map(|k| {
                let k = k?;
                Ok(String::from_utf8_lossy(&k[8..]).into_owned())
            })
            .collect()
    }

    /// Offers first received at or after `depuis` (Unix ms), from any source: when each was
    /// received and first diffused (`None`: not yet), read from the fiches only.
    pub fn receptions_depuis(
        &self,
        depuis: i64,
    ) -> Result<Vec<(String, i64, Option<i64>)>, StoreError> {
        let a = self.a()?;
        let mut r = Vec::new();
        // Received since then implies changed since then.
        for k in a.par_maj.range((depuis as u64).to_be_bytes()..).keys() {
            let k = k?;
            if let Some(b) = a.offres.get(&k[8..])? {
                let f: OfferRecord = decode(&b)?;
                if f.recue_le >= depuis {
                    r.push((f.source, f.recue_le, f.diffusee_le));
                }
            }
        }
        Ok(r)
    }

    /// Offers received but never diffused, and when the oldest of them was received (ms).
    pub fn en_attente(&self) -> Result<(usize, Option<i64>), StoreError> {
        let a = self.a()?;
        let oldest = match a.attente.first()? {
            Some((k, _)) if k.len() >= 8 => {
                Some(u64::from_be_bytes(k[..8].try_into().expect("8 bytes")) as i64)
            }
            _ => None,
        };
        Ok((self.compteurs()?.en_attente as usize, oldest))
    }

    /// The data directory this store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The journal entry with this sequence number.
    pub fn entree_journal(&self, seq: u64) -> Result<Option<EntreeJournal>, StoreError> {
        let a = self.a()?;
        a.journal
            .get(seq.to_be_bytes())?
            .map(|b| decode(&b))
            .transpose()
    }

    /// The last sequence number written before `t` (Unix ms): entries after it are the changes
    /// made at or after `t`. Journal times only grow, so this is a binary search.
    pub fn seq_avant(&self, t: i64) -> Result<u64, StoreError> {
        let (mut lo, mut hi) = (0u64, self.compteurs()?.journal_seq);
        // Invariant: entry `lo` (or the start) is before `t`; entries above `hi` are not.
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            let before = self.entree_journal(mid)?.is_none_or(|e| e.horodatage < t);
            if before {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Ok(lo)
    }

    /// Journal entries with a sequence number above `seq`.
    pub fn journal_depuis(
        &self,
        seq: u64,
    ) -> impl Iterator<Item = Result<EntreeJournal, StoreError>> {
        let (iter, erreur) = match self.a() {
            Ok(a) => (
                Some(
                    a.journal
                        .range(seq.saturating_add(1).to_be_bytes()..)
                        .values(),
                ),
                None,
            ),
            Err(e) => (None, Some(Err(e))),
        };
        erreur.into_iter().chain(
            iter.into_iter()
                .flatten()
                .map(|v| v.map_err(StoreError::from).and_then(|b| decode(&b))),
        )
    }
}

fn prefixed(tree: &sled::Tree, prefix: &str) -> Result<Vec<String>, StoreError> {
    let mut p = prefix.as_bytes().to_vec();
    p.push(0);
    tree.scan_prefix(&p)
        .keys()
        .map(|k| {
            let k = k?;
            Ok(String::from_utf8_lossy(&k[p.len()..]).into_owned())
        })
        .collect()
}
