//! Suggestions as you type: métiers (ROME appellations, both genders), titles of indexed
//! offers (mostly certifications) whose words start with what was typed, then Formacode
//! labels and communes of the region by word prefix (folded). Métiers and certifications
//! come first: they are what people look for, a rare Formacode label seldom is.

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
    /// `metier`, `intitule`, `formacode` or `commune`.
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub valeur: String,
    pub libelle: String,
}

/// One label to suggest: folded label, value, label.
type Entree = (String, String, String);

/// Labels to suggest, folded once at start, by type.
pub struct Libelles {
    par_type: Vec<(&'static str, Vec<Entree>)>,
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
        // Métiers: one entry per appellation ("Coiffeur / Coiffeuse"), searched as typed.
        let mut vus = std::collections::HashSet::new();
        for (_, l) in &refs.appellations {
            if vus.insert(l.as_str()) {
                entrees.push((plier(l), "metier", l.clone(), l.clone()));
            }
        }
        // Shortest first within a type: the generic label before its variants
        // ("Coiffeur / Coiffeuse" before "Coiffeur / Coiffeuse à domicile").
        entrees.sort_by(|a, b| (a.0.len(), &a.0).cmp(&(b.0.len(), &b.0)));
        // Communes: the most populated first.
        let mut communes: Vec<_> = refs
            .communes
            .values()
            .filter(|c| {
                c.actuelle
                    && crate::referentiel::departements_region().contains(&c.departement.as_str())
            })
            .collect();
        communes.sort_by_key(|c| (std::cmp::Reverse(c.population), c.code_insee.clone()));
        for c in communes {
            let cp = c.codes_postaux.first().cloned().unwrap_or_default();
            entrees.push((
                plier(&c.nom),
                "commune",
                c.code_insee.clone(),
                format!("{} ({cp})", c.nom),
            ));
        }
        let mut par_type: Vec<(&'static str, Vec<Entree>)> = Vec::new();
        for (pli, t, v, l) in entrees {
            match par_type.iter_mut().find(|(x, _)| *x == t) {
                Some((_, e)) => e.push((pli, v, l)),
                None => par_type.push((t, vec![(pli, v, l)])),
            }
        }
        Libelles { par_type }
    }

    /// Entries where every typed word is a prefix of some word of the label.
    fn chercher(&self, q: &[String], n: usize, type_: &str) -> Vec<Suggestion> {
        let mut out = Vec::new();
        let Some((t, entrees)) = self.par_type.iter().find(|(t, _)| *t == type_) else {
            return out;
        };
        for (pli, v, l) in entrees {
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
        let mut out = self.libelles.chercher(&ms, n / 4, "metier");
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
        // A last word typed in full is longer than its indexed stem ("cariste" → "carist"):
        // the stem is the prefix then.
        let prefixe = super::analyse::termes(&mut an, dernier)
            .into_iter()
            .next()
            .filter(|r| dernier.starts_with(r.as_str()))
            .unwrap_or_else(|| dernier.clone());
        clauses.push((
            Occur::Must,
            Box::new(FuzzyTermQuery::new_prefix(
                Term::from_field_text(self.champs.intitule, &prefixe),
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
        let reste = n.saturating_sub(out.len()).max(1);
        out.extend(self.libelles.chercher(&ms, reste, "formacode"));
        out.extend(self.libelles.chercher(&ms, 3, "commune"));
        Ok(out)
    }
}
