//! The portable dump (`sofi dump DEST`, `sofi load SRC`): a data directory in formats that
//! outlive a version of Sofi, for the changes `sofi migrate` does not cover.
//!
//! A dump is a directory:
//! - `offres/NNN.xml`: the offers of one source as LHÉO 2.3, every stored offer (diffused
//!   or not), whole; `offres/NNN.jsonl`, line for line, what LHÉO does not say: the source,
//!   the verdict and the dates;
//! - `arbres/<tree>.jsonl`: accounts, organisations, dossiers, the audit trail, partner keys
//!   and the rest of the back-office (see `store::vidage`);
//! - `vidage.json`, written last: the manifest (what each file holds).
//!
//! Loading writes the offers with the verdicts they had (a later version's rules then judge
//! them again at start, as after any change of rules) and their dates; the journal starts
//! again, so feed followers take the full feed once.

use crate::lheo::reader::lire_en_parallele;
use crate::lheo::LheoWriter;
use crate::model::Formation;
use crate::store::{ArbresVides, MetaOffre, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The manifest's file name.
pub const MANIFESTE: &str = "vidage.json";

/// Layout of the dump this version writes; it reads this one and the earlier ones.
pub const FORMAT_VIDAGE: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifeste {
    pub format_vidage: u32,
    pub version_sofi: String,
    /// Unix ms.
    pub horodatage: i64,
    pub offres: u64,
    pub sources: Vec<SourceVidee>,
    /// Offers whose body could not be read: not in the dump (`sofi verify` names them).
    pub endommagees: Vec<String>,
    #[serde(flatten)]
    pub arbres: ArbresVides,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SourceVidee {
    pub source: String,
    /// `offres/<fichier>.xml` and `.jsonl`.
    pub fichier: String,
    pub offres: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum VidageError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}: {1}")]
    Fichier(PathBuf, std::io::Error),
    #[error("{0}")]
    Contenu(String),
}

fn io(p: &Path) -> impl Fn(std::io::Error) -> VidageError + '_ {
    move |e| VidageError::Fichier(p.to_path_buf(), e)
}

/// One source's two files being written.
struct Sortie {
    xml: LheoWriter<BufWriter<File>>,
    lignes: BufWriter<File>,
    n: u64,
    fichier: String,
}

/// Writes the dump of `store` into `dest` (absent or empty).
pub fn vider(store: &Store, dest: &Path) -> Result<Manifeste, VidageError> {
    crate::store::dossier_neuf(dest, "un vidage va dans un dossier neuf")?;
    let dossier = dest.join("offres");
    std::fs::create_dir_all(&dossier).map_err(io(&dossier))?;
    let mut sorties: BTreeMap<String, Sortie> = BTreeMap::new();
    let mut endommagees = Vec::new();
    let mut total = 0u64;
    for o in store.offres() {
        let o = match o {
            Ok(o) => o,
            Err(StoreError::DamagedBody { numero, .. }) => {
                endommagees.push(numero);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if !sorties.contains_key(&o.source) {
            let fichier = format!("{:03}", sorties.len() + 1);
            let xml = dossier.join(format!("{fichier}.xml"));
            let jsonl = dossier.join(format!("{fichier}.jsonl"));
            let s = Sortie {
                xml: LheoWriter::new(BufWriter::new(File::create(&xml).map_err(io(&xml))?))
                    .map_err(io(&xml))?,
                lignes: BufWriter::new(File::create(&jsonl).map_err(io(&jsonl))?),
                n: 0,
                fichier,
            };
            sorties.insert(o.source.clone(), s);
        }
        let s = sorties.get_mut(&o.source).expect("inserted above");
        let xml = dossier.join(format!("{}.xml", s.fichier));
        s.xml.formation(&o.formation).map_err(io(&xml))?;
        let jsonl = dossier.join(format!("{}.jsonl", s.fichier));
        serde_json::to_writer(&mut s.lignes, &MetaOffre::de(&o))
            .map_err(|e| VidageError::Contenu(e.to_string()))?;
        s.lignes.write_all(b"\n").map_err(io(&jsonl))?;
        s.n += 1;
        total += 1;
    }
    let mut sources = Vec::new();
    for (source, s) in sorties {
        let xml = dossier.join(format!("{}.xml", s.fichier));
        let jsonl = dossier.join(format!("{}.jsonl", s.fichier));
        s.xml
            .finish()
            .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
            .and_then(|f| f.sync_all())
            .map_err(io(&xml))?;
        s.lignes
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
            .map_err(io(&jsonl))?;
        sources.push(SourceVidee {
            source,
            fichier: s.fichier,
            offres: s.n,
        });
    }
    let arbres = store.vider_arbres(dest)?;
    let m = Manifeste {
        format_vidage: FORMAT_VIDAGE,
        version_sofi: env!("CARGO_PKG_VERSION").to_string(),
        horodatage: crate::store::now_ms(),
        offres: total,
        sources,
        endommagees,
        arbres,
    };
    crate::store::ecrire_manifeste(dest, MANIFESTE, &m)?;
    Ok(m)
}

/// Reads a dump's manifest: refused when it is missing (an unfinished dump) or of a later
/// layout.
pub fn lire_manifeste(src: &Path) -> Result<Manifeste, VidageError> {
    let chemin = src.join(MANIFESTE);
    let octets = std::fs::read(&chemin).map_err(|e| {
        VidageError::Contenu(format!(
            "{} : {e} ; un vidage inachevé n'a pas de manifeste",
            chemin.display()
        ))
    })?;
    let m: Manifeste = serde_json::from_slice(&octets)
        .map_err(|e| VidageError::Contenu(format!("{} : {e}", chemin.display())))?;
    // File names come from the manifest: numbers only, never a path elsewhere.
    if let Some(s) = m
        .sources
        .iter()
        .find(|s| s.fichier.is_empty() || !s.fichier.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(VidageError::Contenu(format!(
            "{} : fichier « {} » de la source {} : un numéro est attendu",
            chemin.display(),
            s.fichier,
            s.source
        )));
    }
    if m.format_vidage > FORMAT_VIDAGE {
        return Err(VidageError::Contenu(format!(
            "vidage au format {} (Sofi {}) : cette version lit jusqu'au format {FORMAT_VIDAGE}",
            m.format_vidage, m.version_sofi
        )));
    }
    Ok(m)
}

/// Offers written per batch when loading.
const LOT: usize = 1000;

/// Loads a dump into `store`, which must hold nothing yet. Returns the manifest.
pub fn charger(store: &Store, src: &Path) -> Result<Manifeste, VidageError> {
    let m = lire_manifeste(src)?;
    let c = store.compteurs()?;
    if c.formations > 0 || c.journal_seq > 0 {
        return Err(VidageError::Contenu(format!(
            "{} contient déjà des offres : un vidage se charge dans un dossier de données neuf",
            store.dir().display()
        )));
    }
    store.charger_arbres(src, &m.arbres)?;
    for s in &m.sources {
        let xml = src.join("offres").join(format!("{}.xml", s.fichier));
        let jsonl = src.join("offres").join(format!("{}.jsonl", s.fichier));
        // Tokenized on its own thread, as imports are.
        let lecteur = lire_en_parallele(std::io::BufReader::with_capacity(
            1 << 20,
            File::open(&xml).map_err(io(&xml))?,
        ));
        let mut lignes = std::io::BufReader::new(File::open(&jsonl).map_err(io(&jsonl))?)
            .lines()
            .enumerate();
        let mut lot: Vec<(Formation, MetaOffre)> = Vec::with_capacity(LOT);
        let mut n = 0u64;
        for lue in lecteur {
            let lue = lue.map_err(|e| VidageError::Contenu(format!("{} : {e}", xml.display())))?;
            if let Some(c) = lue
                .constats
                .iter()
                .find(|c| c.gravite == crate::rules::Gravite::Bloquant)
            {
                return Err(VidageError::Contenu(format!(
                    "{} ligne {} : offre {} illisible ({})",
                    xml.display(),
                    lue.ligne,
                    lue.formation.numero,
                    c.message
                )));
            }
            let (i, l) = lignes.next().ok_or_else(|| {
                VidageError::Contenu(format!(
                    "{} : moins de lignes que d'offres dans {}",
                    jsonl.display(),
                    xml.display()
                ))
            })?;
            let meta: MetaOffre = serde_json::from_str(&l.map_err(io(&jsonl))?).map_err(|e| {
                VidageError::Contenu(format!("{} ligne {} : {e}", jsonl.display(), i + 1))
            })?;
            // The store never holds an offer its rules block.
            if meta.verdict.bloquant() {
                return Err(VidageError::Contenu(format!(
                    "{} ligne {} : offre {} avec un verdict bloquant",
                    jsonl.display(),
                    i + 1,
                    meta.numero
                )));
            }
            if meta.numero != lue.formation.numero || meta.source != s.source {
                return Err(VidageError::Contenu(format!(
                    "{} ligne {} : offre {} de {}, attendue {} de {}",
                    jsonl.display(),
                    i + 1,
                    meta.numero,
                    meta.source,
                    lue.formation.numero,
                    s.source
                )));
            }
            lot.push((lue.formation, meta));
            n += 1;
            if lot.len() == LOT {
                store.ecrire_restaurees(std::mem::replace(&mut lot, Vec::with_capacity(LOT)))?;
            }
        }
        if !lot.is_empty() {
            store.ecrire_restaurees(lot)?;
        }
        if n != s.offres || lignes.next().is_some() {
            return Err(VidageError::Contenu(format!(
                "{} : {n} offres lues, le manifeste en annonce {} (et autant de lignes dans {})",
                xml.display(),
                s.offres,
                jsonl.display()
            )));
        }
    }
    store.flush()?;
    Ok(m)
}
