//! Search: a tantivy index derived from the store (one document per session of each
//! diffusable action), French analysis, filters, disjunctive facets, grouping by action and
//! place. The index follows the store's journal; `sofi reindex` rebuilds it.

pub mod analyse;
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

/// A tuning knob read once from the environment (tests and benches set some), else `defaut`.
pub(crate) fn tuning<T: std::str::FromStr + Copy + Send + Sync>(
    cellule: &'static std::sync::OnceLock<T>,
    nom: &str,
    defaut: T,
) -> T {
    *cellule.get_or_init(|| {
        std::env::var(nom)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(defaut)
    })
}
