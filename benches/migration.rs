//! `sofi migrate` at scale: a format-2 store rewritten in the format-1 layout (offers whole in
//! sled), then migrated back, timed.
//!
//!   SOFI_BENCH_SOURCE=/path/to/data-dir SOFI_BENCH_TRAVAIL=/tmp/migration \
//!     cargo bench --bench migration
//!
//! The source is only read (its server stopped); the work directory is emptied first.

use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let source = PathBuf::from(
        std::env::var("SOFI_BENCH_SOURCE").expect("SOFI_BENCH_SOURCE: a data directory"),
    );
    let travail = PathBuf::from(
        std::env::var("SOFI_BENCH_TRAVAIL").unwrap_or_else(|_| "/tmp/sofi-bench-migration".into()),
    );
    let _ = std::fs::remove_dir_all(&travail);
    let t0 = Instant::now();
    let store = sofi::store::Store::open(&source).expect("source store");
    let a = sled::open(travail.join("store")).unwrap();
    let offres = a.open_tree("offres").unwrap();
    let mut n = 0u64;
    for o in store.offres() {
        let Ok(o) = o else { continue };
        offres
            .insert(
                o.formation.numero.as_bytes(),
                sofi::store::encode(&o).unwrap(),
            )
            .unwrap();
        n += 1;
    }
    drop(store);
    let b = sled::open(source.join("store")).unwrap();
    for nom in b.tree_names() {
        if nom.as_ref() == b"offres" {
            continue;
        }
        let (tb, ta) = (b.open_tree(&nom).unwrap(), a.open_tree(&nom).unwrap());
        for kv in tb.iter() {
            let (k, v) = kv.unwrap();
            let propre_au_format_2 = nom.as_ref() == b"meta"
                && [&b"format"[..], b"corps", b"corps_fin", b"compteurs"].contains(&k.as_ref());
            if !propre_au_format_2 {
                ta.insert(k, v).unwrap();
            }
        }
    }
    a.flush().unwrap();
    // (Every handle, trees included, let go: sled's lock goes with the last.)
    drop((offres, a, b));
    eprintln!(
        "format 1 written: {n} offers in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let bilan = sofi::store::Store::migrer(&travail, None).unwrap().unwrap();
    println!(
        "migration 1 → 2: {} offers in {:.1} s",
        bilan.offres,
        t.elapsed().as_secs_f64()
    );
}
