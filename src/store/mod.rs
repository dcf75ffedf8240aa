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
    #[error("stockage : {0}")]
    Io(#[from] std::io::Error),
    #[error("stockage en cours de réouverture après une panne d'écriture : réessayez dans quelques secondes")]
    Reouverture,
    #[error("le stockage {0} ne s'ouvre pas ({1}) : il est endommagé. Arrêtez Sofi, restaurez une sauvegarde du dossier de données, ou réimportez l'offre dans un dossier neuf")]
    Endommage(PathBuf, String),
    #[error("le dossier de données {0} a déjà servi mais son stockage store/ a disparu : Sofi ne le remplace pas par un site vide. Restaurez store/ (sauvegarde), ou, pour repartir de zéro, videz le dossier")]
    Disparu(PathBuf),
    #[error("le dossier de données {0} a été écrit par une autre version de Sofi (format {1}, attendu {FORMAT}) : réimportez l'offre dans un dossier neuf")]
    Format(PathBuf, u32),
}

/// Version of the on-disk layout, in `meta`; a store of another version is refused.
pub const FORMAT: u32 = 2;

/// What sled keeps per offer: where its body is, and what the indexes and counters need,
/// so that updates and deletions never read bodies.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OfferRecord {
    /// Generation of the body file it is in (see `Store::compacter`).
    gen: u64,
    /// Offset of the body's record in that file.
    pos: u64,
    /// Length of its LZ4 payload (the record is this plus a 4-byte length).
    len: u32,
    /// xxh3-128 of the body's bincode: an unchanged offer is recognised without reading it.
    empreinte: u128,
    source: String,
    recue_le: i64,
    verifiee_le: i64,
    modifiee_le: i64,
    diffusee_le: Option<i64>,
    seq: u64,
    siret: String,
    actions: u64,
    sessions: u64,
    diffusable: bool,
}

/// An offer's body as written (borrowed) and read (owned): same bincode.
#[derive(Serialize)]
struct StoredBodyRef<'a> {
    formation: &'a Formation,
    verdict: &'a Verdict,
}

#[derive(Deserialize)]
struct StoredBody {
    formation: Formation,
    verdict: Verdict,
}

/// An offer as stored, with its verdict and its life dates (Unix milliseconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OffreStockee {
    pub formation: Formation,
    pub verdict: Verdict,
    /// Where it came from (import source name, e.g. the file name).
    pub source: String,
    /// First received.
    pub recue_le: i64,
    /// Last checked (the rules ran on this version).
    pub verifiee_le: i64,
    /// Last changed.
    pub modifiee_le: i64,
    /// First time it was diffusable.
    pub diffusee_le: Option<i64>,
    /// Journal sequence number of its last change.
    pub seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    /// Created or changed.
    Ecriture,
    /// Deleted on request.
    Suppression,
    /// Withdrawn because a full feed of its source no longer had it.
    Retrait,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntreeJournal {
    pub seq: u64,
    pub numero: String,
    pub operation: Operation,
    pub horodatage: i64,
}

/// What a training organisation looks like across its offers (last written wins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganismeResume {
    pub siret: String,
    pub numero_activite: String,
    pub raison_sociale: String,
    pub nom: String,
    pub ville: String,
    pub formacodes: Vec<String>,
    /// Secondary sites: the places (INSEE code, else postal code + town) where its actions run,
    /// accumulated over its offers; the main site is `ville`.
    pub sites: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compteurs {
    pub formations: u64,
    pub actions: u64,
    pub sessions: u64,
    pub diffusables: u64,
    pub journal_seq: u64,
    pub organismes: u64,
    /// Offers received but never diffused (entries of the `attente` tree).
    pub en_attente: u64,
    /// Bytes of the body file no fiche points at any more (replaced or deleted bodies).
    pub octets_morts: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ecrit {
    Cree,
    Modifie,
    Inchange,
}

fn cfg() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// bincode, then LZ4: offers shrink about 4×, and so do the sled nodes that hold them, on
/// disk and in sled's cache (whose memory is what bounds an import's or export's RSS).
pub fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    Ok(lz4_flex::compress_prepend_size(&bincode_brut(v)?))
}

fn illisible(f: &OfferRecord, e: &dyn std::fmt::Display) -> StoreError {
    StoreError::Encodage(format!("corps à l'octet {} : {e}", f.pos))
}

/// Decompresses a body's LZ4 payload into `raw` and checks it against its fiche.
fn verifier(f: &OfferRecord, payload: &[u8], raw: &mut Vec<u8>) -> Result<(), StoreError> {
    let (taille, bloc) =
        lz4_flex::block::uncompressed_size(payload).map_err(|e| illisible(f, &e))?;
    // A damaged length must not become a huge allocation.
    if taille > 1 << 28 {
        return Err(illisible(f, &format!("taille annoncée {taille}")));
    }
    raw.resize(taille, 0);
    lz4_flex::block::decompress_into(bloc, raw).map_err(|e| illisible(f, &e))?;
    if twox_hash::XxHash3_128::oneshot(raw) != f.empreinte {
        return Err(illisible(f, &"empreinte différente"));
    }
    Ok(())
}

fn bincode_brut<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    bincode::serde::encode_to_vec(v, cfg()).map_err(|e| StoreError::Encodage(e.to_string()))
}

pub fn decode<T: DeserializeOwned>(b: &[u8]) -> Result<T, StoreError> {
    let raw =
        lz4_flex::decompress_size_prepended(b).map_err(|e| StoreError::Encodage(e.to_string()))?;
    bincode::serde::decode_from_slice(&raw, cfg())
        .map(|(v, _)| v)
        .map_err(|e| StoreError::Encodage(e.to_string()))
}

fn key2(a: &str, b: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + b.len() + 1);
    k.extend_from_slice(a.as_bytes());
    k.push(0);
    k.extend_from_slice(b.as_bytes());
    k
}

fn key_maj(t: i64, numero: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + numero.len());
    k.extend_from_slice(&(t as u64).to_be_bytes());
    k.extend_from_slice(numero.as_bytes());
    k
}

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

/// `meta` key of the generation a compaction is writing, while it runs.
const CLE_COMPACTION: &[u8] = b"compaction";

fn chemin_corps(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("offres-{generation}.corps"))
}

fn ouvrir_corps(dir: &Path, generation: u64) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(chemin_corps(dir, generation))
}

pub fn maintenant() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// sled and its trees, replaced whole when sled must be reopened (see [`Store::sonder`]).
struct Arbres {
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
}

impl Arbres {
    /// Opens sled in `dir/store` and its trees. sled panics on some damaged files: a clear
    /// error instead.
    fn ouvrir(dir: &Path) -> Result<Arbres, StoreError> {
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
        Ok(Arbres {
            offres: db.open_tree("offres")?,
            par_organisme: db.open_tree("par_organisme")?,
            par_maj: db.open_tree("par_maj")?,
            par_source: db.open_tree("par_source")?,
            organismes: db.open_tree("organismes")?,
            journal: db.open_tree("journal")?,
            meta: db.open_tree("meta")?,
            attente: db.open_tree("attente")?,
            db,
        })
    }
}

#[derive(Clone)]
pub struct Store {
    /// `None` only while sled is being reopened after a failure it does not recover from
    /// (see [`Store::sonder`]).
    arbres: Arc<arc_swap::ArcSwapOption<Arbres>>,
    /// The body file, read with `pread` from any thread.
    corps: Arc<File>,
    generation: u64,
    /// The target of an interrupted compaction, still read from until one completes.
    suivant: Option<(u64, Arc<File>)>,
    dir: PathBuf,
    /// Its length: held by the one writer at a time (bodies are appended in order, and no
    /// other write slips between a batch's checks and its transaction).
    fin: Arc<Mutex<u64>>,
    /// Group commit of answered writes (see [`Store::durcir`]).
    durabilite: Arc<Durabilite>,
    /// Why the last write failed (a full disk…), until one succeeds: `/health` says it.
    panne: Arc<Mutex<Option<String>>>,
    /// Offers whose body was found damaged since the store was opened.
    endommagees: Arc<Mutex<std::collections::BTreeSet<String>>>,
    /// Times sled was reopened (see [`Store::reouvertures`]).
    reouvertures: Arc<std::sync::atomic::AtomicU64>,
    /// When [`Store::sonder`] last probed (Unix ms).
    derniere_sonde: Arc<std::sync::atomic::AtomicI64>,
}

/// A key written and flushed: does sled take writes?
fn essai_sled(a: &Arbres) -> Result<(), StoreError> {
    a.meta.insert(b"sonde", &maintenant().to_be_bytes())?;
    a.db.flush()?;
    Ok(())
}

/// Group commit: writers that want their write on disk take a ticket; one of them flushes
/// sled for every ticket taken before its flush started, the others wait for it.
#[derive(Default)]
struct Durabilite {
    etat: Mutex<EtatDurabilite>,
    fait: std::sync::Condvar,
}

#[derive(Default)]
struct EtatDurabilite {
    /// Last ticket handed out.
    demande: u64,
    /// Every ticket up to this one is on disk.
    fait: u64,
    /// A flush is running.
    en_cours: bool,
}

type Tx = ConflictableTransactionError<StoreError>;

fn abort(e: StoreError) -> Tx {
    ConflictableTransactionError::Abort(e)
}

fn tx_err(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Sled(e),
    }
}

fn counts(f: &Formation, v: &Verdict) -> (u64, u64, u64) {
    (
        f.actions.len() as u64,
        f.sessions().count() as u64,
        v.diffusable() as u64,
    )
}

/// sled's cache in MiB: `SOFI_CACHE_MO`, else 4. Fiches are small, so 4 MiB of them is most
/// of the hot part of the trees; a 1M-session import peaked at 158 MB with 4, 205 MB with 16,
/// for 5 % of its speed (README).
fn cache_mo() -> u64 {
    std::env::var("SOFI_CACHE_MO")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4)
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
        let arbres = Arbres::ouvrir(dir)?;
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
        let generation = generation_de(CLE_CORPS)?.unwrap_or(0);
        let en_cours = generation_de(CLE_COMPACTION)?;
        // Other generations are what a finished compaction left behind.
        for e in std::fs::read_dir(dir)?.flatten() {
            let nom = e.file_name();
            let nom = nom.to_string_lossy();
            let garde = [Some(generation), en_cours]
                .into_iter()
                .flatten()
                .any(|g| e.path() == chemin_corps(dir, g));
            if nom.starts_with("offres-") && nom.ends_with(".corps") && !garde {
                std::fs::remove_file(e.path())?;
            }
        }
        let corps = ouvrir_corps(dir, generation)?;
        let suivant = match en_cours {
            Some(g) => Some((g, Arc::new(ouvrir_corps(dir, g)?))),
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
            corps: Arc::new(corps),
            generation,
            suivant,
            dir: dir.to_path_buf(),
            fin: Arc::new(Mutex::new(fin)),
            durabilite: Arc::default(),
            panne: Arc::default(),
            endommagees: Arc::default(),
            reouvertures: Arc::default(),
            derniere_sonde: Arc::default(),
        })
    }

    /// Rewrites the body file with the live bodies only (`sofi compacter`, server stopped).
    /// Returns its size before and after.
    ///
    /// Crash-safe by generations, in constant memory: `meta/compaction` names the new file
    /// N+1 first; bodies are copied there in chunks, each chunk synced before its fiches are
    /// repointed (each fiche names its generation, so any mix of N and N+1 reads right); the
    /// last transaction makes N+1 current. Interrupted, it resumes where it stopped.
    /// Consumes the store: its file handles change.
    pub fn compacter(self) -> Result<(u64, u64), StoreError> {
        let a = self.a()?;
        const PAQUET: usize = 1024;
        let avant = *self.ecrivain()
            + match &self.suivant {
                Some((_, f)) => f.metadata()?.len(),
                None => 0,
            };
        let (cible, fichier) = match &self.suivant {
            Some((g, f)) => (*g, f.clone()),
            None => {
                let g = self.generation + 1;
                a.meta.insert(CLE_COMPACTION, &g.to_be_bytes())?;
                self.flush()?;
                (g, Arc::new(ouvrir_corps(&self.dir, g)?))
            }
        };
        let mut fin = fichier.metadata()?.len();
        let mut apres: Option<Vec<u8>> = None;
        let (mut record, mut raw) = (Vec::new(), Vec::new());
        // Bytes of every fiche's record, wherever it is: what stays alive in N+1.
        let mut vivants = 0u64;
        loop {
            // A chunk of fiches still in the old file, read without holding an iterator.
            let debut = apres.take();
            let mut paquet = Vec::with_capacity(PAQUET);
            let plage = match &debut {
                Some(k) => a.offres.range::<&[u8], _>((
                    std::ops::Bound::Excluded(k.as_slice()),
                    std::ops::Bound::Unbounded,
                )),
                None => a.offres.iter(),
            };
            for kv in plage {
                let (cle, valeur) = kv?;
                apres = Some(cle.to_vec());
                let f: OfferRecord = decode(&valeur)?;
                vivants += 4 + f.len as u64;
                if f.gen != cible {
                    paquet.push((cle, f));
                    if paquet.len() == PAQUET {
                        break;
                    }
                }
            }
            if paquet.is_empty() {
                break;
            }
            let mut tampon = Vec::new();
            for (_, f) in &mut paquet {
                record.resize(4 + f.len as usize, 0);
                self.fichier(f.gen)?.read_exact_at(&mut record, f.pos)?;
                // A damaged body stops the compaction: it is not copied.
                verifier(f, &record[4..], &mut raw)?;
                f.pos = fin + tampon.len() as u64;
                f.gen = cible;
                tampon.extend_from_slice(&record);
            }
            fichier.write_all_at(&tampon, fin)?;
            fichier.sync_data()?;
            fin += tampon.len() as u64;
            for (cle, f) in &paquet {
                a.offres.insert(cle, encode(f)?)?;
            }
        }
        (&a.meta,)
            .transaction(|(meta,)| {
                let mut cpt: Compteurs = match meta.get(COMPTEURS)? {
                    Some(b) => decode(&b).map_err(abort)?,
                    None => Compteurs::default(),
                };
                cpt.octets_morts = fin - vivants;
                meta.insert(COMPTEURS, encode(&cpt).map_err(abort)?)?;
                meta.insert(CLE_CORPS, &cible.to_be_bytes())?;
                meta.insert(CLE_CORPS_FIN, &fin.to_be_bytes())?;
                meta.remove(CLE_COMPACTION)?;
                Ok(())
            })
            .map_err(tx_err)?;
        self.flush()?;
        std::fs::remove_file(chemin_corps(&self.dir, self.generation))?;
        Ok((avant, fin))
    }

    /// The body file of a generation: the current one, or a compaction's target.
    fn fichier(&self, gen: u64) -> Result<&File, StoreError> {
        match &self.suivant {
            _ if gen == self.generation => Ok(&self.corps),
            Some((g, f)) if *g == gen => Ok(f),
            _ => Err(StoreError::Encodage(format!(
                "fichier de corps de génération {gen} absent"
            ))),
        }
    }

    pub fn flush(&self) -> Result<(), StoreError> {
        self.a()?.db.flush()?;
        Ok(())
    }

    /// sled's handles, or the error that says they are being reopened (after trying to).
    fn a(&self) -> Result<Arc<Arbres>, StoreError> {
        if let Some(a) = self.arbres.load_full() {
            return Ok(a);
        }
        self.sonder();
        self.arbres.load_full().ok_or(StoreError::Reouverture)
    }

    /// Returns once every write made before the call is on disk (bodies already are: sled's
    /// log is flushed and fsynced). Answered writes call it before answering.
    ///
    /// Concurrent callers share flushes: a caller whose write is covered by a flush that
    /// started after its ticket waits for it instead of starting its own, so N concurrent
    /// saves cost about two fsyncs, not N.
    pub fn durcir(&self) -> Result<(), StoreError> {
        let r = self.durcir_groupe();
        self.suivre(r)
    }

    /// Why writes fail now (the last write's error, until one succeeds), if they do.
    pub fn panne(&self) -> Option<String> {
        self.panne.lock().ok().and_then(|p| p.clone())
    }

    /// Offers found with a damaged body since the store was opened.
    pub fn endommagees(&self) -> Vec<String> {
        self.endommagees
            .lock()
            .map(|v| v.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Reads every offer back (each body against its fingerprint) and replays the journal
    /// against the stored offers and the counters (`sofi verify`). Returns how many offers
    /// there are and what is wrong, in words.
    pub fn verifier(&self) -> Result<(u64, Vec<String>), StoreError> {
        use std::collections::BTreeSet;
        let c = self.compteurs()?;
        let mut problemes = Vec::new();
        let mut presentes = BTreeSet::new();
        let mut sessions = 0u64;
        for o in self.offres() {
            match o {
                Ok(o) => {
                    sessions += o.formation.sessions().count() as u64;
                    presentes.insert(o.formation.numero);
                }
                Err(StoreError::DamagedBody { numero, .. }) => {
                    problemes.push(format!(
                        "offre {numero} : corps endommagé (hors flux et recherche)"
                    ));
                    presentes.insert(numero);
                }
                Err(e) => return Err(e),
            }
        }
        let endommagees = problemes.len();
        let mut rejouees = BTreeSet::new();
        let mut derniere = 0;
        for e in self.journal_depuis(0) {
            let e = e?;
            if e.seq != derniere + 1 {
                problemes.push(format!("journal : trou entre {derniere} et {}", e.seq));
            }
            derniere = e.seq;
            match e.operation {
                Operation::Ecriture => rejouees.insert(e.numero),
                _ => rejouees.remove(&e.numero),
            };
        }
        if derniere != c.journal_seq {
            problemes.push(format!(
                "journal : dernier numéro {derniere}, compteur {}",
                c.journal_seq
            ));
        }
        if rejouees != presentes {
            problemes.push(format!(
                "journal : {} offres en le rejouant, {} stockées",
                rejouees.len(),
                presentes.len()
            ));
        }
        let offres = presentes.len() as u64;
        if offres != c.formations {
            problemes.push(format!(
                "compteurs : {} formations, {offres} stockées",
                c.formations
            ));
        }
        // The sessions of a damaged body cannot be counted.
        if endommagees == 0 && sessions != c.sessions {
            problemes.push(format!(
                "compteurs : {} sessions, {sessions} stockées",
                c.sessions
            ));
        }
        Ok((offres, problemes))
    }

    /// After a failed write, checks whether writing works again (space freed on a full
    /// disk) and clears the failure when it does, so that writes resume and `/health` says
    /// so without a restart. First the body file (64 KiB appended, synced, cut off again),
    /// then sled itself (a key written and flushed): sled keeps an error that hit its own log
    /// and fails every later write, so then it is reopened.
    pub fn sonder(&self) {
        if self.panne().is_none() && self.arbres.load().is_some() {
            return;
        }
        // At most one probe per 500 ms, whoever asks (health checks, writes, reads).
        let maintenant_ms = maintenant();
        let derniere = self
            .derniere_sonde
            .load(std::sync::atomic::Ordering::Relaxed);
        if maintenant_ms - derniere < 500
            || self
                .derniere_sonde
                .compare_exchange(
                    derniere,
                    maintenant_ms,
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Relaxed,
                )
                .is_err()
        {
            return;
        }
        // Where writes go: 64 KiB past the end of the body file (bytes past the committed end
        // are garbage by design), synced, then cut off again; under the writer lock, skipped
        // while a write holds it.
        let disque = match self.fin.try_lock() {
            Ok(fin) => {
                let essai = self
                    .corps
                    .write_all_at(&[0u8; 64 << 10], *fin)
                    .and_then(|()| self.corps.sync_data());
                let retour = self.corps.set_len(*fin);
                essai.and(retour)
            }
            Err(_) => return,
        };
        if disque.is_err() {
            return;
        }
        let sled = match self.arbres.load_full() {
            Some(a) => essai_sled(&a),
            None => Err(StoreError::Reouverture),
        };
        if let Err(e) = sled.or_else(|_| self.rouvrir()) {
            tracing::warn!("stockage : pas encore rouvert ({e})");
            return;
        }
        if let Ok(mut p) = self.panne.lock() {
            *p = None;
        }
    }

    /// Opens sled again in place of handles that fail every write. The old ones must be gone
    /// first (sled locks its files): a scan still holding them makes this fail, and the next
    /// call tries again; meanwhile the store answers [`StoreError::Reouverture`]. Skipped
    /// while a write holds the writer lock (it will call again).
    fn rouvrir(&self) -> Result<(), StoreError> {
        let Ok(_ecrivain) = self.fin.try_lock() else {
            return Err(StoreError::Reouverture);
        };
        drop(self.arbres.swap(None));
        let arbres = Arbres::ouvrir(&self.dir)?;
        essai_sled(&arbres)?;
        self.arbres.store(Some(Arc::new(arbres)));
        self.reouvertures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!("stockage rouvert après une panne d'écriture");
        Ok(())
    }

    /// How many times sled was reopened: what was not on disk then is gone, so whatever
    /// follows the journal (the index, feed validators) starts again from the store.
    pub fn reouvertures(&self) -> u64 {
        self.reouvertures.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records whether a write failed, for [`Store::panne`].
    fn suivre<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Ok(mut p) = self.panne.lock() {
            *p = r.as_ref().err().map(|e| e.to_string());
        }
        r
    }

    fn durcir_groupe(&self) -> Result<(), StoreError> {
        let d = &*self.durabilite;
        let verrou = || d.etat.lock().unwrap_or_else(|e| e.into_inner());
        let mut e = verrou();
        e.demande += 1;
        let ticket = e.demande;
        loop {
            if e.fait >= ticket {
                return Ok(());
            }
            if e.en_cours {
                e = d.fait.wait(e).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            // This flush covers every ticket handed out so far.
            let cible = e.demande;
            e.en_cours = true;
            drop(e);
            let r = self.flush();
            e = verrou();
            e.en_cours = false;
            if r.is_ok() {
                e.fait = e.fait.max(cible);
            }
            d.fait.notify_all();
            r?;
        }
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

    /// An offer from its fiche: the body read from the body file and checked. Any failure
    /// to read it back whole is [`StoreError::DamagedBody`], naming the offer and the offset.
    fn lire(&self, numero: &[u8], fiche: &[u8]) -> Result<OffreStockee, StoreError> {
        thread_local! {
            /// The compressed and the raw body: reused, as an export reads every offer.
            static TAMPONS: std::cell::RefCell<(Vec<u8>, Vec<u8>)> = Default::default();
        }
        let f: OfferRecord = decode(fiche)?;
        let corps: Result<StoredBody, StoreError> = TAMPONS.with_borrow_mut(|(payload, raw)| {
            payload.resize(f.len as usize, 0);
            self.fichier(f.gen)?.read_exact_at(payload, f.pos + 4)?;
            verifier(&f, payload, raw)?;
            bincode::serde::decode_from_slice(raw, cfg())
                .map(|(v, _)| v)
                .map_err(|e| illisible(&f, &e))
        });
        let corps = corps.map_err(|e| {
            let numero = String::from_utf8_lossy(numero).into_owned();
            if let Ok(mut v) = self.endommagees.lock() {
                v.insert(numero.clone());
            }
            StoreError::DamagedBody {
                numero,
                fichier: format!("offres-{}.corps", f.gen),
                pos: f.pos,
                message: match e {
                    StoreError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                        "fichier tronqué avant la fin du corps".to_string()
                    }
                    e => e.to_string(),
                },
            }
        })?;
        Ok(OffreStockee {
            formation: corps.formation,
            verdict: corps.verdict,
            source: f.source,
            recue_le: f.recue_le,
            verifiee_le: f.verifiee_le,
            modifiee_le: f.modifiee_le,
            diffusee_le: f.diffusee_le,
            seq: f.seq,
        })
    }

    /// Bytes of the body file (live bodies, replaced ones, and any tail a crash left).
    pub fn taille_corps(&self) -> u64 {
        *self.ecrivain()
    }

    fn ecrivain(&self) -> std::sync::MutexGuard<'_, u64> {
        // A panic while holding it cannot leave a half-written batch: the transaction is
        // sled's, and the file offset is only advanced after a complete write.
        self.fin.lock().unwrap_or_else(|e| e.into_inner())
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

    /// Stores a batch of checked offers from one source, in one transaction. Offers with a
    /// blocking verdict must not be passed. Returns what happened to each.
    pub fn ecrire(
        &self,
        lot: &[(Formation, Verdict)],
        source: &str,
    ) -> Result<Vec<Ecrit>, StoreError> {
        self.sonder();
        let r = self.ecrire_lot(lot, source);
        self.suivre(r)
    }

    fn ecrire_lot(
        &self,
        lot: &[(Formation, Verdict)],
        source: &str,
    ) -> Result<Vec<Ecrit>, StoreError> {
        let a = self.a()?;
        let now = maintenant();
        let mut fin = self.ecrivain();
        // 1. Bodies of the new and changed offers, appended and synced first: a fiche never
        //    points at bytes that are not on disk.
        let mut places: Vec<Option<(u64, u32, u128)>> = Vec::with_capacity(lot.len());
        let mut ajout = Vec::new();
        // Offers moving to another organisme: the one they leave may be left without any.
        let mut partants = Vec::new();
        for (formation, verdict) in lot {
            let raw = bincode_brut(&StoredBodyRef { formation, verdict })?;
            let empreinte = twox_hash::XxHash3_128::oneshot(&raw);
            let inchangee = match a.offres.get(formation.numero.as_bytes())? {
                Some(b) => {
                    let old: OfferRecord = decode(&b)?;
                    if old.siret != formation.organisme.siret {
                        partants.push((old.siret, formation.numero.clone()));
                    }
                    old.empreinte == empreinte && old.source == source
                }
                None => false,
            };
            if inchangee {
                places.push(None);
                continue;
            }
            let payload = lz4_flex::compress_prepend_size(&raw);
            let pos = *fin + ajout.len() as u64;
            ajout.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            ajout.extend_from_slice(&payload);
            places.push(Some((pos, payload.len() as u32, empreinte)));
        }
        if !ajout.is_empty() {
            self.corps.write_all_at(&ajout, *fin)?;
            self.corps.sync_data()?;
            *fin += ajout.len() as u64;
        }
        let arrivants: std::collections::HashSet<&str> = lot
            .iter()
            .map(|(f, _)| f.organisme.siret.as_str())
            .collect();
        let sans_offre = self.organismes_sans_offre(&partants, &arrivants)?;
        let fin_engagee = *fin;
        // 2. Fiches, indexes, organismes, journal and counters, in one transaction.
        let trees = (
            &a.offres,
            &a.par_organisme,
            &a.par_maj,
            &a.par_source,
            &a.organismes,
            &a.journal,
            &a.meta,
            &a.attente,
        );
        sled::Transactional::transaction(
            &trees,
            |(offres, par_org, par_maj, par_src, orgs, journal, meta, attente)| {
                let mut cpt: Compteurs = match meta.get(COMPTEURS)? {
                    Some(b) => decode(&b).map_err(abort)?,
                    None => Compteurs::default(),
                };
                let mut issues = Vec::with_capacity(lot.len());
                for siret in &sans_offre {
                    if orgs.remove(siret.as_bytes())?.is_some() {
                        cpt.organismes -= 1;
                    }
                }
                meta.insert(CLE_CORPS_FIN, &fin_engagee.to_be_bytes())?;
                for ((formation, verdict), place) in lot.iter().zip(&places) {
                    let Some((pos, len, empreinte)) = *place else {
                        issues.push(Ecrit::Inchange);
                        continue;
                    };
                    let key = formation.numero.as_bytes();
                    let old: Option<OfferRecord> = match offres.get(key)? {
                        Some(b) => Some(decode(&b).map_err(abort)?),
                        None => None,
                    };
                    cpt.journal_seq += 1;
                    let seq = cpt.journal_seq;
                    let (actions, sessions, diffusable) = counts(formation, verdict);
                    let fiche = OfferRecord {
                        gen: self.generation,
                        pos,
                        len,
                        empreinte,
                        source: source.to_string(),
                        recue_le: old.as_ref().map_or(now, |o| o.recue_le),
                        verifiee_le: now,
                        modifiee_le: now,
                        diffusee_le: old
                            .as_ref()
                            .and_then(|o| o.diffusee_le)
                            .or((diffusable == 1).then_some(now)),
                        seq,
                        siret: formation.organisme.siret.clone(),
                        actions,
                        sessions,
                        diffusable: diffusable == 1,
                    };
                    // Received but never diffused: waiting, for /health.
                    let attente_key = key_maj(fiche.recue_le, &formation.numero);
                    if fiche.diffusee_le.is_none() {
                        if attente.insert(attente_key, &[])?.is_none() {
                            cpt.en_attente += 1;
                        }
                    } else if attente.remove(attente_key)?.is_some() {
                        cpt.en_attente -= 1;
                    }
                    if let Some(o) = &old {
                        unindex(o, &formation.numero, par_org, par_maj, par_src)?;
                        cpt.actions -= o.actions;
                        cpt.sessions -= o.sessions;
                        cpt.diffusables -= o.diffusable as u64;
                        cpt.octets_morts += 4 + o.len as u64;
                    } else {
                        cpt.formations += 1;
                    }
                    cpt.actions += actions;
                    cpt.sessions += sessions;
                    cpt.diffusables += diffusable;
                    offres.insert(key, encode(&fiche).map_err(abort)?)?;
                    index(&fiche, &formation.numero, par_org, par_maj, par_src)?;
                    let o = &formation.organisme;
                    if !o.siret.is_empty() {
                        let mut sites: Vec<String> = match orgs.get(o.siret.as_bytes())? {
                            Some(b) => decode::<OrganismeResume>(&b).map_err(abort)?.sites,
                            None => {
                                cpt.organismes += 1;
                                Vec::new()
                            }
                        };
                        for lieu in formation.actions.iter().flat_map(|a| &a.lieux) {
                            if let Some(a) = &lieu.coordonnees.adresse {
                                let site = a
                                    .code_insee_commune
                                    .clone()
                                    .unwrap_or_else(|| format!("{} {}", a.codepostal, a.ville));
                                if !sites.contains(&site) {
                                    sites.push(site);
                                }
                            }
                        }
                        let resume = OrganismeResume {
                            sites,
                            siret: o.siret.clone(),
                            numero_activite: o.numero_activite.clone(),
                            raison_sociale: o.raison_sociale.clone(),
                            nom: o.nom.clone(),
                            ville: o
                                .coordonnees
                                .adresse
                                .as_ref()
                                .map(|a| a.ville.clone())
                                .unwrap_or_default(),
                            formacodes: o.formacodes().into_iter().map(str::to_string).collect(),
                        };
                        orgs.insert(o.siret.as_bytes(), encode(&resume).map_err(abort)?)?;
                    }
                    let entree = EntreeJournal {
                        seq,
                        numero: formation.numero.clone(),
                        operation: Operation::Ecriture,
                        horodatage: now,
                    };
                    journal.insert(&seq.to_be_bytes(), encode(&entree).map_err(abort)?)?;
                    issues.push(if old.is_some() {
                        Ecrit::Modifie
                    } else {
                        Ecrit::Cree
                    });
                }
                meta.insert(COMPTEURS, encode(&cpt).map_err(abort)?)?;
                Ok(issues)
            },
        )
        .map_err(tx_err)
    }

    /// Removes offers (journalled), in one transaction. Returns how many existed.
    pub fn supprimer(&self, numeros: &[String], operation: Operation) -> Result<usize, StoreError> {
        self.sonder();
        let r = self.supprimer_lot(numeros, operation);
        self.suivre(r)
    }

    fn supprimer_lot(&self, numeros: &[String], operation: Operation) -> Result<usize, StoreError> {
        let a = self.a()?;
        let now = maintenant();
        let _ecrivain = self.ecrivain();
        let mut partants = Vec::new();
        for numero in numeros {
            if let Some(b) = a.offres.get(numero.as_bytes())? {
                partants.push((decode::<OfferRecord>(&b)?.siret, numero.clone()));
            }
        }
        let sans_offre = self.organismes_sans_offre(&partants, &Default::default())?;
        let trees = (
            &a.offres,
            &a.par_organisme,
            &a.par_maj,
            &a.par_source,
            &a.organismes,
            &a.journal,
            &a.meta,
            &a.attente,
        );
        sled::Transactional::transaction(
            &trees,
            |(offres, par_org, par_maj, par_src, orgs, journal, meta, attente)| {
                let mut cpt: Compteurs = match meta.get(COMPTEURS)? {
                    Some(b) => decode(&b).map_err(abort)?,
                    None => Compteurs::default(),
                };
                for siret in &sans_offre {
                    if orgs.remove(siret.as_bytes())?.is_some() {
                        cpt.organismes -= 1;
                    }
                }
                let mut n = 0;
                for numero in numeros {
                    let Some(b) = offres.remove(numero.as_bytes())? else {
                        continue;
                    };
                    let old: OfferRecord = decode(&b).map_err(abort)?;
                    unindex(&old, numero, par_org, par_maj, par_src)?;
                    if attente.remove(key_maj(old.recue_le, numero))?.is_some() {
                        cpt.en_attente -= 1;
                    }
                    cpt.formations -= 1;
                    cpt.actions -= old.actions;
                    cpt.sessions -= old.sessions;
                    cpt.diffusables -= old.diffusable as u64;
                    cpt.octets_morts += 4 + old.len as u64;
                    cpt.journal_seq += 1;
                    let entree = EntreeJournal {
                        seq: cpt.journal_seq,
                        numero: numero.clone(),
                        operation,
                        horodatage: now,
                    };
                    journal.insert(
                        &cpt.journal_seq.to_be_bytes(),
                        encode(&entree).map_err(abort)?,
                    )?;
                    n += 1;
                }
                meta.insert(COMPTEURS, encode(&cpt).map_err(abort)?)?;
                Ok(n)
            },
        )
        .map_err(tx_err)
    }
}

impl Store {
    /// The organismes left without any offer once the offers in `partants` (SIRET, numero)
    /// leave them, unless an offer of theirs `arrivants` is being written. Read before the
    /// transaction that removes them (sled transactions cannot scan a prefix), under the
    /// writer lock, so no other write slips between.
    fn organismes_sans_offre(
        &self,
        partants: &[(String, String)],
        arrivants: &std::collections::HashSet<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let a = self.a()?;
        let mut sirets: Vec<&str> = partants
            .iter()
            .map(|(s, _)| s.as_str())
            .filter(|s| !s.is_empty() && !arrivants.contains(s))
            .collect();
        sirets.sort_unstable();
        sirets.dedup();
        let partis: std::collections::HashSet<&str> =
            partants.iter().map(|(_, n)| n.as_str()).collect();
        let mut vides = Vec::new();
        for siret in sirets {
            let restent = prefixed(&a.par_organisme, siret)?
                .iter()
                .any(|n| !partis.contains(n.as_str()));
            if !restent {
                vides.push(siret.to_string());
            }
        }
        Ok(vides)
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

fn index(
    f: &OfferRecord,
    numero: &str,
    par_org: &TransactionalTree,
    par_maj: &TransactionalTree,
    par_src: &TransactionalTree,
) -> Result<(), UnabortableTransactionError> {
    par_org.insert(key2(&f.siret, numero), &[])?;
    par_maj.insert(key_maj(f.modifiee_le, numero), &[])?;
    par_src.insert(key2(&f.source, numero), &[])?;
    Ok(())
}

fn unindex(
    f: &OfferRecord,
    numero: &str,
    par_org: &TransactionalTree,
    par_maj: &TransactionalTree,
    par_src: &TransactionalTree,
) -> Result<(), UnabortableTransactionError> {
    par_org.remove(key2(&f.siret, numero))?;
    par_maj.remove(key_maj(f.modifiee_le, numero))?;
    par_src.remove(key2(&f.source, numero))?;
    Ok(())
}
