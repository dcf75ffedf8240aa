//! Widening a search that finds little: the same search in the département, in the region,
//! without dates, under the parent Formacode — each with its count, so the page can offer it.

use super::index::{code_dep, insee_de_code, Moteur};
use super::query::Requete;
use crate::referentiel::departements_region;
use serde::Serialize;

/// One wider search and how many results it would give.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Widening {
    /// `departement`, `region`, `sans_dates` or `formacode_parent`.
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub libelle: String,
    pub nombre: u64,
}

impl Moteur {
    /// The wider searches of `r`, when it finds fewer than index-config's `seuil_elargir`
    /// (else none).
    pub fn widen(&self, r: &Requete, total: u64) -> Vec<Widening> {
        if total >= self.config().defauts.seuil_elargir {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut essai = |type_: &'static str, libelle: String, v: Requete| {
            // A widening that finds nothing more is no help.
            if let Some(nombre) = self.compter(&v).ok().filter(|n| *n > total) {
                out.push(Widening {
                    type_,
                    libelle,
                    nombre,
                });
            }
        };
        let centre_dep = r
            .communes
            .first()
            .map(|c| insee_de_code(*c))
            .and_then(|c| self.refs.communes.get(&c).map(|x| x.departement.clone()));
        if let Some(dep) = centre_dep.filter(|_| !r.communes.is_empty() || r.centre.is_some()) {
            let mut v = r.clone();
            v.communes.clear();
            v.centre = None;
            v.departements = code_dep(&dep).into_iter().collect();
            essai("departement", format!("dans le département {dep}"), v);
        }
        if !r.communes.is_empty() || r.centre.is_some() || !r.departements.is_empty() {
            let mut v = r.clone();
            v.communes.clear();
            v.centre = None;
            v.departements = departements_region()
                .iter()
                .filter_map(|d| code_dep(d))
                .collect();
            essai("region", "dans toute la région".into(), v);
        }
        if r.debut_min.is_some() || r.debut_max.is_some() || !r.toutes_dates {
            let mut v = r.clone();
            v.debut_min = None;
            v.debut_max = None;
            v.toutes_dates = true;
            essai("sans_dates", "sans condition de date".into(), v);
        }
        if !r.formacodes.is_empty() {
            let parents: Vec<u64> = r
                .formacodes
                .iter()
                .filter_map(|c| self.refs.formacodes.get(&format!("{c:05}")))
                .filter_map(|f| f.generique.as_ref()?.parse().ok())
                .collect();
            if !parents.is_empty() {
                let mut v = r.clone();
                v.formacodes = parents;
                essai("formacode_parent", "dans le domaine plus large".into(), v);
            }
        }
        out
    }
}
