//! Suggestions as you type: Formacode labels and communes of the region by word prefix
//! (folded), and titles of indexed offers whose words start with what was typed.

use super::analyse::{mots, plier};
use super::index::{texte, Moteur};
use serde::Serialize;
use std::collections::HashSet;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::Term;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Suggestion {
    /// `formacode`, `intitule` or `commune`.
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub valeur: String,
    pub libelle: String,
}

/// Labels to suggest, folded once at start.
pub struct Libelles {
    entrees: Vec<(String, &'static str, String, String)>,
}

impl Libelles {
    pub fn new(refs: &crate::referentiel::Referentiels) -> Self {
        let mut entrees = Vec::new();
        for f in refs.formacodes.values() {
            entrees.push((
                plier(&f.libelle),
                "formacode",
                f.code.clone(),
                f.libelle.clone(),
            ));
        }
        for c in refs.communes.values().filter(|c| {
            c.actuelle && crate::referentiel::DEPARTEMENTS_REGION.contains(&c.departement.as_str())
        }) {
            let cp = c.codes_postaux.first().cloned().unwrap_or_default();
            entrees.push((
                plier(&c.nom),
                "commune",
                c.code_insee.clone(),
                format!("{} ({cp})", c.nom),
            ));
        }
        entrees.sort();
        Libelles { entrees }
    }

    /// Entries where every typed word is a prefix of some word of the label.
    fn chercher(&self, q: &[String], n: usize, type_: &str) -> Vec<Suggestion> {
        let mut out = Vec::new();
        for (pli, t, v, l) in &self.entrees {
            if *t != type_ {
                continue;
            }
            let ok = q.iter().all(|m| {
                pli.split(|c: char| !c.is_alphanumeric())
                    .any(|w| w.starts_with(m.as_str()))
            });
            if ok {
                out.push(Suggestion {
                    type_: t,
                    valeur: v.clone(),
                    libelle: l.clone(),
                });
                if out.len() == n {
                    break;
                }
            }
        }
        out
    }
}

impl Moteur {
    pub fn suggest(&self, q: &str, n: usize) -> tantivy::Result<Vec<Suggestion>> {
        let ms = mots(q);
        if ms.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = self.libelles.chercher(&ms, n / 2, "formacode");
        // Titles: every word but the last as typed (stemmed), the last as a prefix.
        let (dernier, debut) = ms.split_last().expect("non-empty");
        let mut an = self.index.tokenizers().get("fr").expect("fr analyzer");
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for m in debut {
            for t in super::analyse::termes(&mut an, m) {
                clauses.push((
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_text(self.champs.intitule, &t),
                        IndexRecordOption::Basic,
                    )),
                ));
            }
        }
        clauses.push((
            Occur::Must,
            Box::new(FuzzyTermQuery::new_prefix(
                Term::from_field_text(self.champs.intitule, dernier),
                0,
                false,
            )),
        ));
        let searcher = self.reader.searcher();
        let top = searcher.search(
            &BooleanQuery::new(clauses),
            &TopDocs::with_limit(50).order_by_score(),
        )?;
        let mut vus = HashSet::new();
        for (_, addr) in top {
            let d: tantivy::TantivyDocument = searcher.doc(addr)?;
            let t = texte(&d, self.champs.intitule);
            if vus.insert(t.clone()) {
                out.push(Suggestion {
                    type_: "intitule",
                    valeur: t.clone(),
                    libelle: t,
                });
            }
            if vus.len() >= n / 2 {
                break;
            }
        }
        out.extend(self.libelles.chercher(&ms, 3, "commune"));
        Ok(out)
    }
}
