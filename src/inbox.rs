//! The inbox: LHÉO files dropped into `DATA_DIR/inbox/` are imported by the running server,
//! then moved to `DATA_DIR/inbox/done/` (read to the end; rejected offers are in the report)
//! or `DATA_DIR/inbox/rejected/` (unreadable or cut), with `NAME.rapport.json` beside them.
//!
//! A file is taken once its size and modification time have not changed for one poll, so a
//! file still being copied is left alone; names starting with `.` are ignored (write to
//! `.name.tmp` then rename for an atomic drop).

use crate::import::{importer, Options, Rapport};
use crate::lheo::open_input;
use crate::referentiel::Referentiels;
use crate::store::Store;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub const INTERVALLE: Duration = Duration::from_millis(500);

pub struct Inbox {
    pub dir: PathBuf,
    store: Store,
    refs: Arc<Referentiels>,
    /// Size and mtime seen at the previous poll.
    vus: HashMap<PathBuf, (u64, SystemTime)>,
}

impl Inbox {
    pub fn new(data_dir: &Path, store: Store, refs: Arc<Referentiels>) -> std::io::Result<Self> {
        let dir = data_dir.join("inbox");
        for d in [&dir, &dir.join("done"), &dir.join("rejected")] {
            std::fs::create_dir_all(d)?;
        }
        Ok(Inbox {
            dir,
            store,
            refs,
            vus: HashMap::new(),
        })
    }

    /// Polls until `stop` is set.
    pub fn run(mut self, stop: Arc<AtomicBool>) {
        // On failure (a full disk: the file stays and is tried again) the polls slow down
        // to one per 5 s, and the failure is said once per series.
        let mut echecs = 0u32;
        while !stop.load(Ordering::Relaxed) {
            match self.poll() {
                Ok(_) => echecs = 0,
                Err(e) => {
                    if echecs == 0 {
                        tracing::warn!("boîte de dépôt : {e} (nouvel essai dans 5 s au plus)");
                    }
                    echecs = echecs.saturating_add(1);
                }
            }
            let pauses = if echecs == 0 { 1 } else { echecs.min(10) };
            for _ in 0..pauses {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(INTERVALLE);
            }
        }
    }

    /// One pass: imports every file that is stable since the previous pass.
    pub fn poll(&mut self) -> std::io::Result<Vec<(PathBuf, Rapport)>> {
        let mut faits = Vec::new();
        let mut presents = HashMap::new();
        for e in std::fs::read_dir(&self.dir)? {
            let e = e?;
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let meta = e.metadata()?;
            if !meta.is_file() || name.starts_with('.') {
                continue;
            }
            let sig = (meta.len(), meta.modified()?);
            if self.vus.get(&path) == Some(&sig) {
                faits.push(self.importer(&path, &name)?);
            } else {
                presents.insert(path, sig);
            }
        }
        self.vus = presents;
        Ok(faits)
    }

    fn importer(&self, path: &Path, name: &str) -> std::io::Result<(PathBuf, Rapport)> {
        let source = name
            .trim_end_matches(".gz")
            .trim_end_matches(".xml")
            .to_string();
        let rapport = match open_input(path) {
            Ok(input) => {
                let opts = Options {
                    store: Some(&self.store),
                    source,
                    remplacer: false,
                    depot: None,
                };
                let r = importer(input, &self.refs, &opts, &|_| {})
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                // A file in `done/` is on disk: a crash after the move cannot lose it.
                self.store
                    .make_durable()
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                r
            }
            Err(e) => Rapport {
                source,
                erreur_fatale: Some(e.to_string()),
                ..Default::default()
            },
        };
        let dest_dir = self
            .dir
            .join(if rapport.succes() { "done" } else { "rejected" });
        let dest = dest_dir.join(name);
        // The report first: a file is never in `done/` or `rejected/` without its report.
        let json = serde_json::to_vec_pretty(&rapport).unwrap_or_default();
        std::fs::write(dest_dir.join(format!("{name}.rapport.json")), json)?;
        std::fs::rename(path, &dest)?;
        tracing::info!(
            "boîte de dépôt : {name} → {} ({} stockées, {} rejetées)",
            dest.display(),
            rapport.stockees,
            rapport.rejetees
        );
        Ok((dest, rapport))
    }
}
