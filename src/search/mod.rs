//! Search: a tantivy index derived from the store (one document per session of each
//! diffusable action), French analysis, filters, disjunctive facets, grouping by action and
//! place. The index follows the store's journal; `sofi reindex` rebuilds it.

pub mod analyse;
pub mod config;
pub mod fautes;
pub mod index;
pub mod query;
pub mod suggest;
pub mod vue;

pub use config::Config;
pub use index::Moteur;
