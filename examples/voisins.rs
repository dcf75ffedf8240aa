//! Lists the typo neighbours a query word reaches in an index:
//! `cargo run --release --example voisins -- DATA_DIR mot…`.
//!
//! Run it on a stopped server's data directory: it opens the index as `sofi serve` does (an
//! index of another layout is emptied, for `sofi serve` or `sofi reindex` to rebuild).
use sofi::search::{Config, Moteur};
use std::sync::Arc;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: voisins DATA_DIR mot…"));
    let refs = Arc::new(sofi::referentiel::Referentiels::charger().expect("référentiels"));
    let config = Arc::new(Config::charger(None).expect("index-config"));
    let (m, recree) =
        Moteur::ouvrir(&dir.join("index"), config, refs).expect("index (is a server running?)");
    if recree {
        eprintln!("the index was missing or of another layout: it is empty now");
    }
    for mot in args {
        for r in m.typo_report(&mot) {
            match r.neighbours {
                None => println!("{mot} → {}: no typo (word or stem too short)", r.term),
                Some(par_champ) => {
                    for (champ, v) in par_champ {
                        println!("{mot} → {} [{champ}] {} : {v:?}", r.term, v.len());
                    }
                }
            }
        }
    }
}
