//! `sofi migrate`: a store of an older layout brought to this version's, in place.
//!
//! Each step goes from one layout to the next, in batches, each batch one sled transaction
//! that also records how far it went: a migration stopped anywhere (a crash, a full disk)
//! starts again where it stopped. Before the first batch, the caller copies the store aside
//! (`DATA_DIR/avant-migration-N/`).
//!
//! Layouts:
//! 1. Offers stored whole in sled (`OffreStockee`), no `format` key.
//! 2. Offers' bodies in the append-only body file, a small `OfferRecord` in sled (current).

use super::*;

/// `meta` key of the last offer a running migration has converted.
const CLE_MIGRATION: &[u8] = b"migration";

/// Offers converted per transaction.
const LOT_MIGRATION: usize = 1000;

/// What a migration did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct BilanMigration {
    pub depuis: u32,
    pub vers: u32,
    pub offres: u64,
    /// Offers already converted by an earlier, interrupted run.
    pub deja_faites: u64,
}

/// The layout of the store in `dir`: `None` when there is none yet.
pub fn format_du_stockage(dir: &Path) -> Result<Option<u32>, StoreError> {
    if !dir.join("store").join("conf").exists() {
        return Ok(None);
    }
    let db = ouvrir_sled(dir)?;
    let meta = db.open_tree("meta")?;
    Ok(Some(match meta.get(CLE_FORMAT)? {
        Some(v) => v.as_ref().try_into().map_or(0, u32::from_be_bytes),
        None if db.open_tree("offres")?.is_empty() => FORMAT,
        None => 1,
    }))
}

fn ouvrir_sled(dir: &Path) -> Result<sled::Db, StoreError> {
    sled::Config::new()
        .path(dir.join("store"))
        .cache_capacity(cache_mo() << 20)
        .open()
        .map_err(|e| match e {
            sled::Error::Io(ref io) if io.kind() == std::io::ErrorKind::WouldBlock => {
                StoreError::Verrouille(dir.to_path_buf())
            }
            e => StoreError::from(e),
        })
}

/// Copies the store aside before a migration (`DATA_DIR/avant-migration-N/store`), unless an
/// interrupted migration already did. Returns the copy's directory.
pub fn copie_avant_migration(dir: &Path, depuis: u32) -> Result<PathBuf, StoreError> {
    let copie = dir.join(format!("avant-migration-{depuis}"));
    let finie = copie.join("copie-terminee");
    if !finie.exists() {
        let _ = std::fs::remove_dir_all(&copie);
        super::sauvegarde::copier_dossier(&dir.join("store"), &copie.join("store"))?;
        std::fs::write(&finie, b"")?;
    }
    Ok(copie)
}

impl Store {
    /// Brings the store in `dir` to [`FORMAT`]; `arret_apres` stops after that many batches
    /// (to test that a stopped migration resumes). Returns `None` when there was nothing to
    /// do.
    pub fn migrer(
        dir: &Path,
        arret_apres: Option<usize>,
    ) -> Result<Option<BilanMigration>, StoreError> {
        let depuis = match format_du_stockage(dir)? {
            None => return Ok(None),
            Some(f) if f == FORMAT => return Ok(None),
            Some(f) if f > FORMAT => {
                return Err(StoreError::Conflit(format!(
                    "le stockage est au format {f}, plus récent que celui de cette version ({FORMAT}) : mettez Sofi à jour"
                )))
            }
            Some(f) => f,
        };
        // (Only one step exists: 1 → 2.)
        let db = ouvrir_sled(dir)?;
        let (offres, meta) = (db.open_tree("offres")?, db.open_tree("meta")?);
        let lire_u64 = |cle: &[u8]| -> Result<Option<u64>, StoreError> {
            Ok(meta
                .get(cle)?
                .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes)))
        };
        // Bytes past the last committed batch belong to a batch that never committed.
        let mut fin = lire_u64(CLE_CORPS_FIN)?.unwrap_or(0);
        let corps = open_body_file(dir, 1)?;
        corps.set_len(fin)?;
        let reprise = meta.get(CLE_MIGRATION)?;
        let mut bilan = BilanMigration {
            depuis,
            vers: FORMAT,
            ..Default::default()
        };
        if let Some(k) = &reprise {
            bilan.deja_faites = offres.range(..=k.as_ref()).count() as u64;
        }
        let debut: std::ops::Bound<sled::IVec> = match reprise {
            Some(k) => std::ops::Bound::Excluded(k),
            None => std::ops::Bound::Unbounded,
        };
        let mut iter = offres.range((debut, std::ops::Bound::Unbounded));
        let mut lots = 0;
        loop {
            let mut lot: Vec<(sled::IVec, OfferRecord)> = Vec::with_capacity(LOT_MIGRATION);
            let mut ajout = Vec::new();
            for kv in iter.by_ref().take(LOT_MIGRATION) {
                let (k, v) = kv?;
                let o: OffreStockee = decode(&v).map_err(|e| {
                    StoreError::Encodage(format!(
                        "offre {} au format 1 illisible : {e}",
                        String::from_utf8_lossy(&k)
                    ))
                })?;
                let raw = raw_bincode(&StoredBodyRef {
                    formation: &o.formation,
                    verdict: &o.verdict,
                })?;
                let empreinte = twox_hash::XxHash3_128::oneshot(&raw);
                let payload = lz4_flex::compress_prepend_size(&raw);
                let pos = fin + ajout.len() as u64;
                ajout.extend_from_slice(&(payload.len() as u32).to_le_bytes());
                ajout.extend_from_slice(&payload);
                let (actions, sessions, diffusable) = counts(&o.formation, &o.verdict);
                lot.push((
                    k,
                    OfferRecord {
                        gen: 1,
                        pos,
                        len: payload.len() as u32,
                        empreinte,
                        source: o.source,
                        recue_le: o.recue_le,
                        verifiee_le: o.verifiee_le,
                        modifiee_le: o.modifiee_le,
                        diffusee_le: o.diffusee_le,
                        seq: o.seq,
                        siret: o.formation.organisme.siret.clone(),
                        actions,
                        sessions,
                        diffusable: diffusable == 1,
                    },
                ));
            }
            let Some((derniere, _)) = lot.last() else {
                break;
            };
            let derniere = derniere.clone();
            // Bodies on disk before the records that point at them.
            corps.write_all_at(&ajout, fin)?;
            corps.sync_data()?;
            fin += ajout.len() as u64;
            let fiches: Vec<(sled::IVec, Vec<u8>)> = lot
                .iter()
                .map(|(k, f)| Ok((k.clone(), encode(f)?)))
                .collect::<Result<_, StoreError>>()?;
            (&offres, &meta)
                .transaction(|(offres, meta)| {
                    for (k, f) in &fiches {
                        offres.insert(k, f.as_slice())?;
                    }
                    meta.insert(CLE_MIGRATION, &derniere)?;
                    meta.insert(CLE_CORPS_FIN, &fin.to_be_bytes())?;
                    Ok::<_, ConflictableTransactionError<StoreError>>(())
                })
                .map_err(tx_err)?;
            db.flush()?;
            bilan.offres += lot.len() as u64;
            lots += 1;
            if arret_apres.is_some_and(|n| lots >= n) {
                return Err(StoreError::Conflit(format!(
                    "migration arrêtée après {lots} lots, comme demandé : relancez `sofi migrate`"
                )));
            }
        }
        // The counters in this version's layout, from what is there now.
        let mut cpt = Compteurs::default();
        for v in offres.iter().values() {
            let f: OfferRecord = decode(&v?)?;
            cpt.formations += 1;
            cpt.actions += f.actions;
            cpt.sessions += f.sessions;
            cpt.diffusables += f.diffusable as u64;
        }
        cpt.organismes = db.open_tree("organismes")?.len() as u64;
        cpt.en_attente = db.open_tree("attente")?.len() as u64;
        cpt.journal_seq = match db.open_tree("journal")?.last()? {
            Some((k, _)) => k.as_ref().try_into().map_or(0, u64::from_be_bytes),
            None => 0,
        };
        (&meta,)
            .transaction(|(meta,)| {
                meta.insert(COMPTEURS, encode(&cpt).map_err(abort)?)?;
                meta.insert(CLE_CORPS, &1u64.to_be_bytes())?;
                meta.insert(CLE_CORPS_FIN, &fin.to_be_bytes())?;
                meta.insert(CLE_FORMAT, &FORMAT.to_be_bytes())?;
                meta.remove(CLE_MIGRATION)?;
                Ok(())
            })
            .map_err(tx_err)?;
        db.flush()?;
        Ok(Some(bilan))
    }
}
