//! Failures and damage: a write that failed (a full disk) is probed and sled reopened once
//! writes go through again; damaged bodies are listed; `verifier` checks the whole store.

use super::*;

/// A key written and flushed: does sled take writes?
pub(super) fn probe_sled(a: &Trees) -> Result<(), StoreError> {
    a.meta.insert(b"sonde", &now_ms().to_be_bytes())?;
    a.db.flush()?;
    Ok(())
}

impl Store {
    /// Why writes fail now (the last write's error, until one succeeds), if they do.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().ok().and_then(|p| p.clone())
    }

    /// Offers found with a damaged body since the store was opened.
    pub fn damaged_offers(&self) -> Vec<String> {
        self.damaged_offers
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
        let damaged_offers = problemes.len();
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
        if damaged_offers == 0 && sessions != c.sessions {
            problemes.push(format!(
                "compteurs : {} sessions, {sessions} stockées",
                c.sessions
            ));
        }
        if let Some((vivants, attendus)) = self.octets_vivants()? {
            if vivants != attendus {
                problemes.push(format!(
                    "corps : {vivants} octets de corps vivants, les compteurs en disent {attendus}"
                ));
            }
        }
        Ok((offres, problemes))
    }

    /// After a failed write, checks whether writing works again (space freed on a full
    /// disk) and clears the failure when it does, so that writes resume and `/health` says
    /// so without a restart. First the body file (64 KiB appended, synced, cut off again),
    /// then sled itself (a key written and flushed): sled keeps an error that hit its own log
    /// and fails every later write, so then it is reopened.
    pub fn probe(&self) {
        if self.failure().is_none() && self.arbres.load().is_some() {
            return;
        }
        // At most one probe per 500 ms, whoever asks (health checks, writes, reads).
        let maintenant_ms = now_ms();
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
                let corps = self.corps.load();
                let essai = corps
                    .fichier
                    .write_all_at(&[0u8; 64 << 10], *fin)
                    .and_then(|()| corps.fichier.sync_data());
                let retour = corps.fichier.set_len(*fin);
                essai.and(retour)
            }
            Err(_) => return,
        };
        if disque.is_err() {
            return;
        }
        let sled = match self.arbres.load_full() {
            Some(a) => {
                let _cut = self.pause_ecritures();
                probe_sled(&a)
            }
            None => Err(StoreError::Reouverture),
        };
        if let Err(e) = sled.or_else(|_| self.reopen()) {
            tracing::warn!("stockage : pas encore rouvert ({e})");
            return;
        }
        if let Ok(mut p) = self.failure.lock() {
            *p = None;
        }
    }

    /// Opens sled again in place of handles that fail every write. The old ones must be gone
    /// first (sled locks its files): a scan still holding them makes this fail, and the next
    /// call tries again; meanwhile the store answers [`StoreError::Reouverture`]. Skipped
    /// while a write holds the writer lock (it will call again).
    pub(super) fn reopen(&self) -> Result<(), StoreError> {
        let Ok(_ecrivain) = self.fin.try_lock() else {
            return Err(StoreError::Reouverture);
        };
        drop(self.arbres.swap(None));
        let arbres = Trees::ouvrir(&self.dir)?;
        probe_sled(&arbres)?;
        self.arbres.store(Some(Arc::new(arbres)));
        self.reopen_count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!("stockage rouvert après une panne d'écriture");
        Ok(())
    }

    /// How many times sled was reopened: what was not on disk then is gone, so whatever
    /// follows the journal (the index, feed validators) starts again from the store.
    pub fn reopen_count(&self) -> u64 {
        self.reopen_count.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records whether a write failed, for [`Store::failure`].
    pub(super) fn track_failure<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Ok(mut p) = self.failure.lock() {
            *p = r.as_ref().err().map(|e| e.to_string());
        }
        r
    }
}
