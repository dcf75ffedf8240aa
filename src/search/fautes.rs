//! Typo tolerance: the indexed words one edit away from a query word, found once per index
//! generation and then searched as plain terms.
//!
//! tantivy's `FuzzyTermQuery` gathers, for every query, every document of every matching
//! term into a bitset as large as the segment, the exact word's own (often huge) posting list
//! included, and scores them all alike. Listing the neighbours from the term dictionary
//! instead lets a query score them with BM25 like any word (at a lower weight), skips the
//! exact word (already a clause of its own), and is cached: the dictionary only changes with
//! the index's segments.

use std::collections::HashMap;
use std::sync::Mutex;
use tantivy::query::FuzzyTermQuery;
use tantivy::schema::Field;
use tantivy::{Searcher, Term};

/// At most this many neighbours per word and field: a short word can have hundreds, and a
/// query over all of them would be slow for little gain.
const MAX_VOISINS: usize = 32;
/// Cached words per generation before the cache starts over (bounds its memory).
const MAX_CACHE: usize = 20_000;

/// Neighbours of words (one edit, a transposition counting as one), per field, for the
/// searcher generation they were listed in.
#[derive(Default)]
pub struct Voisins {
    cache: Mutex<(u64, ParMot)>,
}

type ParMot = HashMap<(Field, String), Vec<String>>;

impl Voisins {
    /// The indexed terms of `champ` one edit away from `mot` (itself excluded), in every
    /// segment of `searcher`, sorted.
    pub fn de(&self, searcher: &Searcher, champ: Field, mot: &str) -> Vec<String> {
        let generation = searcher.generation().generation_id();
        let cle = (champ, mot.to_string());
        {
            let mut c = self.cache.lock().expect("typo cache lock");
            // (A query still on an older searcher neither resets nor reads the cache.)
            if generation > c.0 || c.1.len() >= MAX_CACHE {
                *c = (generation, HashMap::new());
            }
            if let Some(v) = c.1.get(&cle).filter(|_| c.0 == generation) {
                return v.clone();
            }
        }
        let mut out: Vec<String> = Vec::new();
        // tantivy's own automaton (one edit, a transposition counting as one); its tables
        // are built once per process.
        let Ok(automate) =
            FuzzyTermQuery::new(Term::from_field_text(champ, mot), 1, true).automaton()
        else {
            return out;
        };
        for seg in searcher.segment_readers() {
            let Ok(inv) = seg.inverted_index(champ) else {
                continue;
            };
            let Ok(mut termes) = inv.terms().search(&automate).into_stream() else {
                continue;
            };
            while termes.advance() {
                if let Ok(t) = std::str::from_utf8(termes.key()) {
                    if t != mot && !out.iter().any(|x| x == t) {
                        out.push(t.to_string());
                    }
                }
                if out.len() >= MAX_VOISINS {
                    break;
                }
            }
        }
        out.sort_unstable();
        let mut c = self.cache.lock().expect("typo cache lock");
        if c.0 == generation {
            c.1.insert(cle, out.clone());
        }
        out
    }
}

/// What typo tolerance does with one query word (for `examples/voisins.rs`).
pub struct TypoReport {
    /// The word as analysed (folded, stemmed).
    pub term: String,
    /// Per searched field, the indexed terms one edit away; `None` when the word or its stem
    /// is too short to get any (index-config's `fautes_longueur_min`).
    pub neighbours: Option<Vec<(&'static str, Vec<String>)>>,
}

impl super::Moteur {
    /// The typo neighbours each term of `word` reaches, as queries use them.
    pub fn typo_report(&self, word: &str) -> Vec<TypoReport> {
        let searcher = self.reader.searcher();
        let Some(mut an) = self.index.tokenizers().get("fr") else {
            return Vec::new();
        };
        let min = self.config().analyse.fautes_longueur_min;
        super::analyse::termes(&mut an, word)
            .into_iter()
            .map(|term| {
                let court = word.chars().count() < min || term.chars().count() < min;
                let neighbours = (!court).then(|| {
                    [
                        ("intitule", self.champs.intitule),
                        ("thesaurus", self.champs.thesaurus),
                    ]
                    .into_iter()
                    .map(|(nom, champ)| (nom, self.voisins.de(&searcher, champ, &term)))
                    .collect()
                });
                TypoReport { term, neighbours }
            })
            .collect()
    }
}
