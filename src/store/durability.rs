//! Answered writes on disk: sled's log flushed and fsynced with group commit (one flush
//! covers every caller that asked before it started).

use super::*;

/// Group commit: writers that want their write on disk take a ticket; one of them flushes
/// sled for every ticket taken before its flush started, the others wait for it.
#[derive(Default)]
pub(super) struct Durability {
    pub(super) etat: Mutex<DurabilityState>,
    pub(super) fait: std::sync::Condvar,
}

#[derive(Default)]
pub(super) struct DurabilityState {
    /// Last ticket handed out.
    pub(super) demande: u64,
    /// Every ticket up to this one is on disk.
    pub(super) fait: u64,
    /// A flush is running.
    pub(super) en_cours: bool,
}

impl Store {
    pub fn flush(&self) -> Result<(), StoreError> {
        self.a()?.db.flush()?;
        Ok(())
    }

    /// Returns once every write made before the call is on disk (bodies already are: sled's
    /// log is flushed and fsynced). Answered writes call it before answering.
    ///
    /// Concurrent callers share flushes: a caller whose write is covered by a flush that
    /// started after its ticket waits for it instead of starting its own, so N concurrent
    /// saves cost about two fsyncs, not N.
    pub fn make_durable(&self) -> Result<(), StoreError> {
        let r = self.group_commit();
        self.track_failure(r)
    }

    pub(super) fn group_commit(&self) -> Result<(), StoreError> {
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
}
