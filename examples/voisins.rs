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
    let searcher = m.reader.searcher();
    let mut an = m.index.tokenizers().get("fr").expect("fr analyzer");
    let min = m.config.analyse.fautes_longueur_min;
    for mot in args {
        for t in sofi::search::analyse::termes(&mut an, &mot) {
            // The rule queries follow (see `requete_texte`).
            if mot.chars().count() < min || t.chars().count() < min {
                println!("{mot} → {t}: no typo (word or stem under {min} letters)");
                continue;
            }
            for (nom, champ) in [
                ("intitule", m.champs.intitule),
                ("thesaurus", m.champs.thesaurus),
            ] {
                let v = m.voisins.de(&searcher, champ, &t);
                println!("{mot} → {t} [{nom}] {} : {v:?}", v.len());
            }
        }
    }
}
