//! Lists the typo neighbours a query word gets in an index (`voisins DATA_DIR mot…`).
use sofi::search::{Config, Moteur};
use std::sync::Arc;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("DATA_DIR"));
    let refs = Arc::new(sofi::referentiel::Referentiels::charger().unwrap());
    let config = Arc::new(Config::charger(None).unwrap());
    let (m, _) = Moteur::ouvrir(&dir.join("index"), config, refs).unwrap();
    let searcher = m.reader.searcher();
    let mut an = m.index.tokenizers().get("fr").unwrap();
    for mot in args {
        for t in sofi::search::analyse::termes(&mut an, &mot) {
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
