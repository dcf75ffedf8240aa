//! Search analytics, counted as searches are answered (site and API) and as people click
//! from a results page to an offer (on Sofi's own link, no script): daily aggregates only,
//! flushed to the store every few seconds. A query longer than 200 characters, or one that
//! looks like personal data (an e-mail, a phone number), is not kept — only counted as
//! dropped. No address, no cookie, no per-person trail.

use crate::search::query::{Reponse, Requete};
use crate::search::Moteur;
use crate::store::{CleAnalytique, CompteRecherche, Store, StoreError};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// Longest query kept.
pub const LONGUEUR_MAX: usize = 200;

/// The normalised query under which dropped queries are counted.
pub const ECARTEES: &str = "!ecartees";

/// Days of aggregates kept by default (`--retention-jours`).
pub const RETENTION_JOURS: u32 = 400;

pub struct Analytique {
    pub retention_jours: u32,
    comptes: Mutex<HashMap<CleAnalytique, CompteRecherche>>,
    /// Today's normalised queries: a click counts only for one of them (a forged link
    /// cannot make up queries).
    du_jour: Mutex<(u32, HashSet<String>)>,
}

/// An e-mail address or a phone number (9 to 12 digits once spaces, dots and dashes
/// are taken out; a SIRET's 14 or a postal code's 5 are not phones).
pub fn donnee_personnelle(q: &str) -> bool {
    let email = q.split_whitespace().any(|m| {
        m.split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && b.contains('.'))
    });
    let serre: String = q
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
        .collect();
    let telephone = serre
        .split(|c: char| !c.is_ascii_digit())
        .any(|run| (9..=12).contains(&run.len()));
    email || telephone
}

impl Analytique {
    pub fn new(retention_jours: u32) -> Analytique {
        Analytique {
            retention_jours,
            comptes: Mutex::new(HashMap::new()),
            du_jour: Mutex::new((0, HashSet::new())),
        }
    }

    fn ajouter(&self, k: CleAnalytique, c: CompteRecherche) {
        self.comptes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(k)
            .or_default()
            .ajouter(&c);
    }

    /// The key a search is counted under: its normalised words, then the filters used
    /// (`comptabl|departement,financeur`); `None` for a dropped query.
    pub fn cle(moteur: &Moteur, r: &Requete) -> Option<String> {
        if r.q.chars().count() > LONGUEUR_MAX || donnee_personnelle(&r.q) {
            return None;
        }
        let mut filtres: Vec<&str> = Vec::new();
        let mut si = |vide: bool, nom: &'static str| {
            if !vide {
                filtres.push(nom);
            }
        };
        si(r.formacodes.is_empty(), "formacode");
        si(r.communes.is_empty() && r.centre.is_none(), "lieu");
        si(r.departements.is_empty(), "departement");
        si(r.debut_min.is_none() && r.debut_max.is_none(), "dates");
        si(r.publics.is_empty(), "public");
        si(r.financeurs.is_empty(), "financeur");
        si(
            r.certifiante.is_none() && r.certifications.is_empty(),
            "certification",
        );
        si(r.niveaux.is_empty(), "niveau");
        si(r.a_distance.is_none(), "a_distance");
        si(r.voies.is_empty(), "voie");
        si(r.organismes.is_empty(), "organisme");
        Some(format!("{}|{}", moteur.normaliser(&r.q), filtres.join(",")))
    }

    /// Counts one answered search; returns its key (for the results' links), if kept.
    pub fn recherche(&self, moteur: &Moteur, r: &Requete, rep: &Reponse) -> Option<String> {
        let jour = crate::store::jour_utc();
        let Some(cle) = Self::cle(moteur, r) else {
            self.ajouter(
                CleAnalytique::Requete(jour, ECARTEES.into()),
                CompteRecherche {
                    recherches: 1,
                    ..Default::default()
                },
            );
            return None;
        };
        let zero = rep.total == 0;
        self.ajouter(
            CleAnalytique::Requete(jour, cle.clone()),
            CompteRecherche {
                recherches: 1,
                sans_resultat: zero as u64,
                clics: 0,
                resultats: rep.total,
            },
        );
        // Demand: where (the département asked, else anywhere) and in which Formacode
        // field (the one asked, else the one most of the hits are in).
        let champ = r
            .formacodes
            .first()
            .copied()
            .or_else(|| {
                let mut par_racine: HashMap<u64, u64> = HashMap::new();
                for v in rep.facettes.get("formacode").unwrap_or(&[]) {
                    if let Ok(c) = v.valeur.parse::<u64>() {
                        *par_racine.entry(moteur.racine_formacode(c)).or_default() += v.nombre;
                    }
                }
                par_racine
                    .into_iter()
                    .max_by_key(|x| (x.1, x.0))
                    .map(|x| x.0)
            })
            .map(|c| format!("{:05}", moteur.racine_formacode(c)))
            .unwrap_or_else(|| "--".into());
        let dep = r
            .departements
            .first()
            .map(|d| crate::search::index::dep_de_code(*d))
            .unwrap_or_else(|| "--".into());
        self.ajouter(
            CleAnalytique::Demande(jour, champ, dep),
            CompteRecherche {
                recherches: 1,
                sans_resultat: zero as u64,
                clics: 0,
                resultats: rep.total,
            },
        );
        let mut j = self.du_jour.lock().unwrap_or_else(|e| e.into_inner());
        if j.0 != jour {
            *j = (jour, HashSet::new());
        }
        j.1.insert(cle.clone());
        Some(cle)
    }

    /// A click from a results page to an offer, for the query `cle` (one of today's).
    pub fn clic(&self, cle: &str) {
        let jour = crate::store::jour_utc();
        let connue = {
            let j = self.du_jour.lock().unwrap_or_else(|e| e.into_inner());
            j.0 == jour && j.1.contains(cle)
        };
        if connue {
            self.ajouter(
                CleAnalytique::Requete(jour, cle.to_string()),
                CompteRecherche {
                    clics: 1,
                    ..Default::default()
                },
            );
        }
    }

    /// Writes the counts since the last call to the store, and drops the days past the
    /// retention.
    pub fn vider(&self, store: &Store) -> Result<(), StoreError> {
        let lot: Vec<(CleAnalytique, CompteRecherche)> =
            std::mem::take(&mut *self.comptes.lock().unwrap_or_else(|e| e.into_inner()))
                .into_iter()
                .collect();
        if let Err(e) = store.ajouter_analytique(&lot) {
            for (k, c) in lot {
                self.ajouter(k, c);
            }
            return Err(e);
        }
        let j = crate::store::jour_utc();
        store.purger_analytique(j.saturating_sub(self.retention_jours), j)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_data_is_recognised() {
        for q in [
            "jean.dupont@exemple.fr",
            "appeler 06 12 34 56 78",
            "+33 6 12 34 56 78",
            "0612345678",
        ] {
            assert!(donnee_personnelle(q), "{q}");
        }
        for q in [
            "comptabilité nantes",
            "44000",
            "12345678901234",
            "bac+2",
            "RNCP35185",
        ] {
            assert!(!donnee_personnelle(q), "{q}");
        }
    }
}
