//! What the benches share: the session count, memory readings, generating and importing a file.
#![allow(dead_code)]

use sofi::generate::{Generateur, Parametres};
use sofi::import::{importer, Options, Rapport};
use sofi::lheo::open_input;
use sofi::referentiel::Referentiels;
use sofi::store::Store;
use std::path::Path;

/// `SOFI_BENCH_SESSIONS`, default 100,000.
pub fn sessions() -> u64 {
    std::env::var("SOFI_BENCH_SESSIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

/// A `/proc/self/status` memory field in MB (`VmRSS:` now, `VmHWM:` peak).
pub fn rss_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Writes the generated offer of `sessions` sessions (seed 1) to `path`.
pub fn generer(refs: &Referentiels, sessions: u64, date_base: jiff::civil::Date, path: &Path) {
    let out = std::io::BufWriter::with_capacity(256 * 1024, std::fs::File::create(path).unwrap());
    Generateur::new(
        refs,
        Parametres {
            sessions,
            seed: 1,
            date_base,
        },
    )
    .ecrire(out)
    .unwrap();
}

/// Imports `path` into `store` (source `bench`), as `sofi import` does.
pub fn importer_fichier(store: &Store, refs: &Referentiels, path: &Path) -> Rapport {
    importer(
        open_input(path).unwrap(),
        refs,
        &Options {
            store: Some(store),
            source: "bench".into(),
            remplacer: false,
            depot: None,
        },
        &|_| {},
    )
    .unwrap()
}
