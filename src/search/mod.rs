//! Search: a tantivy index derived from the store (one document per session of each
//! diffusable action), French analysis, filters, disjunctive facets, grouping by action and
//! place. The index follows the store's journal; `sofi reindex` rebuilds it.

pub mod analyse;
pub mod comprendre;
pub mod config;
pub mod extraits;
pub mod fautes;
pub mod index;
pub mod query;
pub mod stats;
pub mod suggest;
pub mod vue;
pub mod widen;

pub use config::Config;
pub use index::Moteur;

/// Where the search switches between its internal paths. The defaults are the measured best
/// (docs/PERFORMANCE.md); tests lower them (`sofi serve --test-thresholds`, hidden) so that
/// every path runs on small data. Nothing reads them from the environment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Segments with at least this many groups are passed over by two threads.
    pub parallel_pass_min: usize,
    /// A query without words visits the groups its filters' postings give when those hold
    /// less than 1/N of the documents.
    pub candidates_fraction: u64,
    /// Ids a group record holds itself (at most 22; more go to the view's long list).
    pub short_ids: usize,
    /// Profils a segment numbers (at most 65,535).
    pub profiles: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            parallel_pass_min: 131_072,
            candidates_fraction: 3,
            short_ids: vue::IDS_COURTS,
            profiles: vue::SANS_PROFIL as usize,
        }
    }
}

impl std::str::FromStr for Thresholds {
    type Err = String;

    /// `parallel_pass_min=64,short_ids=12,profiles=8,candidates_fraction=1` (any subset).
    fn from_str(s: &str) -> Result<Self, String> {
        let mut t = Thresholds::default();
        for pair in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("« {pair} » : clé=valeur attendu"))?;
            let n: u64 = v
                .trim()
                .parse()
                .map_err(|_| format!("« {v} » : nombre attendu pour {k}"))?;
            match k.trim() {
                "parallel_pass_min" => t.parallel_pass_min = n as usize,
                "candidates_fraction" => t.candidates_fraction = n.max(1),
                "short_ids" => t.short_ids = (n as usize).min(vue::IDS_COURTS),
                "profiles" => t.profiles = (n as usize).min(vue::SANS_PROFIL as usize),
                k => return Err(format!("seuil « {k} » inconnu")),
            }
        }
        Ok(t)
    }
}

static THRESHOLDS: std::sync::OnceLock<Thresholds> = std::sync::OnceLock::new();

/// Sets the thresholds for this process (once, before the first search).
pub fn set_thresholds(t: Thresholds) {
    let _ = THRESHOLDS.set(t);
}

pub(crate) fn thresholds() -> &'static Thresholds {
    THRESHOLDS.get_or_init(Thresholds::default)
}
