//! The append-only file of offer bodies (`offres-N.corps`): where a body is, reading it back
//! against its fingerprint, and the compaction that drops replaced and deleted ones while the
//! server keeps serving and writing.

use super::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The body files, swapped whole by a compaction and shared by every clone of the store.
pub(super) struct Corps {
    /// Generation N of `offres-N.corps`, where bodies are appended.
    pub(super) gen: u64,
    pub(super) fichier: Arc<File>,
    /// While a compaction empties it: the previous generation, still read from.
    pub(super) ancien: Option<(u64, Arc<File>)>,
    /// The generation a finished compaction removed: its file is unlinked but kept open a
    /// few seconds, for a reader that took a fiche just before the last repointing.
    pub(super) retire: Option<(u64, Arc<File>)>,
}

impl Corps {
    pub(super) fn de(&self, gen: u64) -> Option<&File> {
        if gen == self.gen {
            return Some(&self.fichier);
        }
        [&self.ancien, &self.retire]
            .into_iter()
            .flatten()
            .find(|(g, _)| *g == gen)
            .map(|(_, f)| f.as_ref())
    }
}

/// What a compaction did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct BilanCompaction {
    /// Bytes of the body files before (both, when an interrupted one is resumed) and after.
    pub avant: u64,
    pub apres: u64,
    /// Bodies copied into the new file.
    pub copies: u64,
    /// How long writers waited for it, at most, in one go (ms).
    pub attente_max_ms: u64,
    pub duree_ms: u64,
    /// `false`: stopped midway (a shutdown); the next compaction goes on.
    pub finie: bool,
}

/// A running compaction's progress, in `meta` (see [`CLE_PROGRES`]), updated in the
/// transaction of each chunk: with the dead-byte counter, it gives the new file's dead bytes
/// at the end without a pass over every fiche under the writer lock.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Progres {
    /// Length of file N when writers left it (it never changes after).
    fin_ancien: u64,
    /// Bytes of the records copied and repointed.
    copies: u64,
    /// Bytes copied whose fiche had changed meanwhile (dead in N+1).
    perdus: u64,
    /// Started by an earlier version, without this record: the end recounts over the fiches.
    recompter: bool,
}

/// Set while a compaction runs, for `/metrics` and `/health`.
pub static COMPACTION_EN_COURS: AtomicBool = AtomicBool::new(false);
/// Compactions finished since the process started.
pub static COMPACTIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(super) fn unreadable(f: &OfferRecord, e: &dyn std::fmt::Display) -> StoreError {
    StoreError::Encodage(format!("corps à l'octet {} : {e}", f.pos))
}

/// Decompresses a body's LZ4 payload into `raw` and checks it against its fiche.
pub(super) fn verifier(
    f: &OfferRecord,
    payload: &[u8],
    raw: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let (taille, bloc) =
        lz4_flex::block::uncompressed_size(payload).map_err(|e| unreadable(f, &e))?;
    // A damaged length must not become a huge allocation.
    if taille > 1 << 28 {
        return Err(unreadable(f, &format!("taille annoncée {taille}")));
    }
    raw.resize(taille, 0);
    lz4_flex::block::decompress_into(bloc, raw).map_err(|e| unreadable(f, &e))?;
    if twox_hash::XxHash3_128::oneshot(raw) != f.empreinte {
        return Err(unreadable(f, &"empreinte différente"));
    }
    Ok(())
}

pub(super) fn body_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("offres-{generation}.corps"))
}

pub(super) fn open_body_file(dir: &Path, generation: u64) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(body_path(dir, generation))
}

impl Store {
    /// Whether the dead bytes call for a compaction: at least `pourcent` % of the body file
    /// and at least `min` bytes (`pourcent` 0: never); or an interrupted one is to resume.
    pub fn compaction_utile(&self, pourcent: u64, min: u64) -> Result<bool, StoreError> {
        if self.corps.load().ancien.is_some() {
            return Ok(true);
        }
        let morts = self.compteurs()?.octets_morts;
        let taille = self.body_file_len();
        Ok(pourcent > 0 && morts > 0 && morts >= min && morts * 100 >= taille * pourcent)
    }

    /// Rewrites the live bodies into a new body file while reads and writes go on (the
    /// server's automatic compaction, and `sofi compact`); resumes an interrupted one.
    ///
    /// Crash-safe by generations, in constant memory: one transaction makes N+1 the file
    /// writers append to and names N `ancien` (each fiche names its generation, so any mix
    /// reads right). Live bodies of N are then copied in chunks: read outside any lock, then
    /// appended and synced under the writer lock, their fiches repointed in the transaction
    /// that records N+1's new committed end and the progress ([`Progres`]). The last
    /// transaction sets the dead bytes from the counter and the progress, and forgets N,
    /// whose file is then removed. Interrupted, the next open reads both, and the next
    /// compaction goes on where this one stopped.
    ///
    /// Stops between two chunks when `arret` is set (a shutdown), or after copying
    /// `arret_apres` bodies (tests of the resumption): the next compaction goes on.
    pub fn compacter(
        &self,
        arret_apres: Option<u64>,
        arret: &AtomicBool,
    ) -> Result<BilanCompaction, StoreError> {
        let t0 = Instant::now();
        // One at a time, and never during a backup's copy of the body file.
        let _seule = self.maintenance.lock().unwrap_or_else(|e| e.into_inner());
        COMPACTION_EN_COURS.store(true, Ordering::Relaxed);
        let r = self.compacter_seule(arret_apres, arret);
        COMPACTION_EN_COURS.store(false, Ordering::Relaxed);
        let mut bilan = r?;
        bilan.duree_ms = t0.elapsed().as_millis() as u64;
        if bilan.finie {
            COMPACTIONS.fetch_add(1, Ordering::Relaxed);
        }
        Ok(bilan)
    }

    fn compacter_seule(
        &self,
        arret_apres: Option<u64>,
        arret: &AtomicBool,
    ) -> Result<BilanCompaction, StoreError> {
        let a = self.a()?;
        let mut bilan = BilanCompaction::default();
        let paquet_max = arret_apres.map_or(1024, |n| n.clamp(1, 1024) as usize);
        // 1. Writers move to N+1 (or already did, in an interrupted compaction).
        let ancien = {
            let mut fin = self.writer_lock();
            let c = self.corps.load_full();
            let taille_ancien = match &c.ancien {
                Some((_, f)) => f.metadata()?.len(),
                None => 0,
            };
            bilan.avant = *fin + taille_ancien;
            match &c.ancien {
                Some(ancien) => ancien.clone(),
                None => {
                    let g = c.gen + 1;
                    let nouveau = open_body_file(&self.dir, g)?;
                    nouveau.set_len(0)?;
                    {
                        let _cut = self.pause_ecritures();
                        let progres = encode(&Progres {
                            fin_ancien: *fin,
                            ..Default::default()
                        })?;
                        (&a.meta,)
                            .transaction(|(meta,)| {
                                meta.insert(CLE_CORPS, &g.to_be_bytes())?;
                                meta.insert(CLE_ANCIEN, &c.gen.to_be_bytes())?;
                                meta.insert(CLE_PROGRES, progres.clone())?;
                                meta.insert(CLE_CORPS_FIN, &0u64.to_be_bytes())?;
                                Ok(())
                            })
                            .map_err(tx_err)?;
                    }
                    // On disk before any body goes to N+1.
                    self.flush()?;
                    self.corps.store(Arc::new(Corps {
                        gen: g,
                        fichier: Arc::new(nouveau),
                        ancien: Some((c.gen, c.fichier.clone())),
                        retire: None,
                    }));
                    *fin = 0;
                    (c.gen, c.fichier.clone())
                }
            }
        };
        // 2. The live bodies of N, chunk by chunk, in key order. Writers never write to N
        //    any more, so one pass finds them all.
        let mut apres: Option<sled::IVec> = None;
        let (mut record, mut raw) = (Vec::new(), Vec::new());
        loop {
            let mut paquet: Vec<(sled::IVec, sled::IVec, OfferRecord)> = Vec::new();
            let plage = match &apres {
                Some(k) => a.offres.range::<&[u8], _>((
                    std::ops::Bound::Excluded(k.as_ref()),
                    std::ops::Bound::Unbounded,
                )),
                None => a.offres.iter(),
            };
            let mut fini = true;
            for kv in plage {
                let (cle, valeur) = kv?;
                apres = Some(cle.clone());
                let f: OfferRecord = decode(&valeur)?;
                if f.gen == ancien.0 {
                    paquet.push((cle, valeur, f));
                    if paquet.len() == paquet_max {
                        fini = false;
                        break;
                    }
                }
            }
            if !paquet.is_empty() {
                let mut tampon = Vec::new();
                let mut places = Vec::with_capacity(paquet.len());
                for (_, _, f) in &paquet {
                    record.resize(4 + f.len as usize, 0);
                    ancien.1.read_exact_at(&mut record, f.pos)?;
                    // A damaged body stops the compaction: it is not copied.
                    verifier(f, &record[4..], &mut raw)?;
                    places.push(tampon.len() as u64);
                    tampon.extend_from_slice(&record);
                }
                let t = Instant::now();
                let mut fin = self.writer_lock();
                let c = self.corps.load();
                let base = *fin;
                let nouvelle_fin = base + tampon.len() as u64;
                c.fichier.write_all_at(&tampon, base)?;
                c.fichier.sync_data()?;
                {
                    let _cut = self.pause_ecritures();
                    (&a.offres, &a.meta)
                        .transaction(|(offres, meta)| {
                            let mut progres: Progres = match meta.get(CLE_PROGRES)? {
                                Some(b) => decode(&b).map_err(abort)?,
                                None => Progres {
                                    recompter: true,
                                    ..Default::default()
                                },
                            };
                            for ((cle, valeur, f), place) in paquet.iter().zip(&places) {
                                let octets = 4 + f.len as u64;
                                // Changed since the chunk was read (before the writer lock was
                                // taken): the copy is dead, and never undoes a write.
                                if offres.get(cle)?.as_ref() != Some(valeur) {
                                    progres.perdus += octets;
                                    continue;
                                }
                                let mut g = f.clone();
                                g.gen = c.gen;
                                g.pos = base + place;
                                offres.insert(cle, encode(&g).map_err(abort)?)?;
                                progres.copies += octets;
                            }
                            meta.insert(CLE_PROGRES, encode(&progres).map_err(abort)?)?;
                            meta.insert(CLE_CORPS_FIN, &nouvelle_fin.to_be_bytes())?;
                            Ok(())
                        })
                        .map_err(tx_err)?;
                }
                *fin = nouvelle_fin;
                drop(fin);
                bilan.attente_max_ms = bilan.attente_max_ms.max(t.elapsed().as_millis() as u64);
                bilan.copies += paquet.len() as u64;
                if arret_apres.is_some_and(|n| bilan.copies >= n) || arret.load(Ordering::Relaxed) {
                    self.flush()?;
                    bilan.apres = self.corps_octets();
                    return Ok(bilan);
                }
            }
            if fini {
                break;
            }
        }
        // 3. N is empty: forgotten, and the dead bytes are those of N+1. Every body of N
        //    alive when writers left it was either copied or replaced by a writer (who
        //    counted it dead), so N+1's dead bytes are the counter less N's length, plus
        //    what was copied (dead in N, not counted) and the copies that came too late.
        let t = Instant::now();
        let fin = self.writer_lock();
        let taille = *fin;
        let progres: Option<Progres> = match a.meta.get(CLE_PROGRES)? {
            Some(b) => Some(decode(&b)?),
            None => None,
        };
        // Started by an earlier version: recounted over the fiches.
        let vivants = match &progres {
            Some(p) if !p.recompter => None,
            _ => {
                let mut v = 0u64;
                for f in a.offres.iter().values() {
                    v += 4 + decode::<OfferRecord>(&f?)?.len as u64;
                }
                Some(v)
            }
        };
        {
            let _cut = self.pause_ecritures();
            (&a.meta,)
                .transaction(|(meta,)| {
                    let mut cpt: Compteurs = match meta.get(COMPTEURS)? {
                        Some(b) => decode(&b).map_err(abort)?,
                        None => Compteurs::default(),
                    };
                    cpt.octets_morts = match (&progres, vivants) {
                        (_, Some(v)) => taille.saturating_sub(v),
                        (Some(p), None) => {
                            (cpt.octets_morts + p.copies + p.perdus).saturating_sub(p.fin_ancien)
                        }
                        (None, None) => unreachable!("recounted without a progress record"),
                    };
                    meta.insert(COMPTEURS, encode(&cpt).map_err(abort)?)?;
                    meta.remove(CLE_ANCIEN)?;
                    meta.remove(CLE_PROGRES)?;
                    Ok(())
                })
                .map_err(tx_err)?;
        }
        let c = self.corps.load_full();
        self.corps.store(Arc::new(Corps {
            gen: c.gen,
            fichier: c.fichier.clone(),
            ancien: None,
            retire: Some(ancien.clone()),
        }));
        drop(fin);
        bilan.attente_max_ms = bilan.attente_max_ms.max(t.elapsed().as_millis() as u64);
        // N forgotten on disk before its file goes.
        self.flush()?;
        std::fs::remove_file(body_path(&self.dir, ancien.0))?;
        bilan.apres = taille;
        bilan.finie = true;
        Ok(bilan)
    }

    /// The live records' bytes counted over the fiches, and what the files' lengths and the
    /// dead-byte counter say they are (`None`: a compaction started by an earlier version
    /// is to resume, whose progress is not known).
    pub(super) fn octets_vivants(&self) -> Result<Option<(u64, u64)>, StoreError> {
        let a = self.a()?;
        let fin = self.writer_lock();
        let c = self.corps.load_full();
        let morts = self.compteurs()?.octets_morts;
        let mut vivants = 0u64;
        for v in a.offres.iter().values() {
            vivants += 4 + decode::<OfferRecord>(&v?)?.len as u64;
        }
        let attendus = match &c.ancien {
            None => (*fin as i128) - morts as i128,
            Some((_, f)) => match a.meta.get(CLE_PROGRES)? {
                Some(b) => {
                    let p: Progres = decode(&b)?;
                    if p.recompter {
                        return Ok(None);
                    }
                    (f.metadata()?.len() + *fin) as i128 - (morts + p.copies + p.perdus) as i128
                }
                None => return Ok(None),
            },
        };
        Ok(Some((vivants, attendus.max(0) as u64)))
    }

    /// Closes the file a finished compaction removed (its space is freed then): a few
    /// seconds after, when no reader can still hold a fiche pointing into it.
    pub fn liberer_corps_retire(&self) {
        let _fin = self.writer_lock();
        let c = self.corps.load_full();
        if c.retire.is_some() {
            self.corps.store(Arc::new(Corps {
                gen: c.gen,
                fichier: c.fichier.clone(),
                ancien: c.ancien.clone(),
                retire: None,
            }));
        }
    }

    /// An offer from its fiche: the body read from the body file and checked. Any failure
    /// to read it back whole is [`StoreError::DamagedBody`], naming the offer and the offset.
    pub(super) fn lire(&self, numero: &[u8], fiche: &[u8]) -> Result<OffreStockee, StoreError> {
        thread_local! {
            /// The compressed and the raw body: reused, as an export reads every offer.
            static TAMPONS: std::cell::RefCell<(Vec<u8>, Vec<u8>)> = Default::default();
        }
        let f: OfferRecord = decode(fiche)?;
        let fichiers = self.corps.load();
        let corps: Result<StoredBody, StoreError> = TAMPONS.with_borrow_mut(|(payload, raw)| {
            payload.resize(f.len as usize, 0);
            let fichier = fichiers.de(f.gen).ok_or_else(|| {
                StoreError::Encodage(format!("fichier de corps de génération {} absent", f.gen))
            })?;
            fichier.read_exact_at(payload, f.pos + 4)?;
            verifier(&f, payload, raw)?;
            bincode::serde::decode_from_slice(raw, cfg())
                .map(|(v, _)| v)
                .map_err(|e| unreadable(&f, &e))
        });
        let corps = corps.map_err(|e| {
            let numero = String::from_utf8_lossy(numero).into_owned();
            if let Ok(mut v) = self.damaged_offers.lock() {
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
    pub fn body_file_len(&self) -> u64 {
        *self.writer_lock()
    }

    /// Bytes the body files take on disk: the current one, and while a compaction empties
    /// it the previous one too (`stats` and `/metrics`; the dead bytes count in both).
    pub fn corps_octets(&self) -> u64 {
        let ancien = self
            .corps
            .load()
            .ancien
            .as_ref()
            .and_then(|(_, f)| f.metadata().ok())
            .map_or(0, |m| m.len());
        self.body_file_len() + ancien
    }
}
