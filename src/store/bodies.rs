//! The append-only file of offer bodies (`offres-N.corps`): where a body is, reading it back
//! against its fingerprint, and the compaction that drops replaced and deleted ones.

use super::*;

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
    /// Rewrites the body file with the live bodies only (`sofi compact`, server stopped).
    /// Returns its size before and after.
    ///
    /// Crash-safe by generations, in constant memory: `meta/compaction` names the new file
    /// N+1 first; bodies are copied there in chunks, each chunk synced before its fiches are
    /// repointed (each fiche names its generation, so any mix of N and N+1 reads right); the
    /// last transaction makes N+1 current. Interrupted, it resumes where it stopped.
    /// Consumes the store: its file handles change.
    pub fn compact(self) -> Result<(u64, u64), StoreError> {
        let a = self.a()?;
        const PAQUET: usize = 1024;
        let avant = *self.writer_lock()
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
                (g, Arc::new(open_body_file(&self.dir, g)?))
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
        std::fs::remove_file(body_path(&self.dir, self.generation))?;
        Ok((avant, fin))
    }

    /// The body file of a generation: the current one, or a compaction's target.
    pub(super) fn fichier(&self, gen: u64) -> Result<&File, StoreError> {
        match &self.suivant {
            _ if gen == self.generation => Ok(&self.corps),
            Some((g, f)) if *g == gen => Ok(f),
            _ => Err(StoreError::Encodage(format!(
                "fichier de corps de génération {gen} absent"
            ))),
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
        let corps: Result<StoredBody, StoreError> = TAMPONS.with_borrow_mut(|(payload, raw)| {
            payload.resize(f.len as usize, 0);
            self.fichier(f.gen)?.read_exact_at(payload, f.pos + 4)?;
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
}
