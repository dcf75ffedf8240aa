//! What a search answers: result groups with their next sessions, facet values, the page;
//! and the facets' labels and order, built from a pass's counts.

use super::*;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionRes {
    pub debut: Option<String>,
    pub fin: Option<String>,
    /// `ouvert`, `fermé` or `suspendu`, when the organisation says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recrutement: Option<&'static str>,
}

/// Who can have a training paid.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Financement {
    /// A public financeur covers it: free for the job-seekers it is meant for.
    pub public: bool,
    /// It can be paid with the CPF (a certification whose registration is running).
    pub cpf: bool,
    /// The trainee pays (financeur "bénéficiaire de l'action", or no financeur given).
    pub personnel: bool,
}

/// What a result card shows, computed when the group is indexed and stored on its first
/// document: what a person decides on.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Carte {
    pub financement: Financement,
    /// Total price incl. VAT, in euros.
    pub prix: Option<f64>,
    pub heures: Option<u32>,
    /// Level on leaving, 1 to 8.
    pub niveau: Option<u8>,
    /// (start day, `dict-etat-recrutement` code) of the group's sessions.
    pub recrutements: Vec<(i64, u8)>,
}

impl Carte {
    pub fn de<'a>(
        f: &crate::model::Formation,
        a: &crate::model::Action,
        sessions: impl Iterator<Item = &'a crate::model::Session>,
        cpf: bool,
    ) -> Carte {
        Carte {
            financement: Financement {
                public: a.financement_public(),
                cpf,
                personnel: a.financeurs.is_empty()
                    || a.financeurs.iter().any(|x| x.code_financeur.trim() == "10"),
            },
            prix: a.prix_euros(),
            heures: a.nombre_heures_total.or(
                match (a.nombre_heures_centre, a.nombre_heures_entreprise) {
                    (None, None) => None,
                    (c, e) => Some(c.unwrap_or(0) + e.unwrap_or(0)),
                },
            ),
            niveau: Some(super::super::index::niveau(f.code_niveau_sortie.as_deref()) as u8)
                .filter(|n| *n > 0),
            recrutements: sessions
                .filter_map(|s| {
                    let e = s.etat_recrutement.as_deref()?.trim().parse::<u8>().ok()?;
                    Some((super::super::index::debut(s), e))
                })
                .collect(),
        }
    }

    pub(crate) fn encoder(&self) -> Vec<u8> {
        bincode::serde::encode_to_vec(self, bincode::config::standard()).unwrap_or_default()
    }

    /// (A card of another layout reads as empty: the index is rebuilt when its layout changes.)
    pub(super) fn decoder(b: &[u8]) -> Carte {
        bincode::serde::decode_from_slice(b, bincode::config::standard())
            .map(|(c, _)| c)
            .unwrap_or_default()
    }

    pub(super) fn recrutement(&self, debut: i64) -> Option<&'static str> {
        self.recrutements
            .iter()
            .find(|(d, _)| *d == debut)
            .and_then(|(_, e)| match e {
                1 => Some("ouvert"),
                2 => Some("fermé"),
                3 => Some("suspendu"),
                _ => None,
            })
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Resultat {
    pub formation_numero: String,
    pub action_numero: String,
    pub intitule: String,
    pub organisme: String,
    pub siret: String,
    pub commune: Option<String>,
    pub commune_nom: Option<String>,
    pub departement: Option<String>,
    pub prochaines_sessions: Vec<SessionRes>,
    pub autres_sessions: usize,
    pub a_distance: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
    pub financement: Financement,
    /// Total price incl. VAT, in euros, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prix: Option<f64>,
    /// Length in hours, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heures: Option<u32>,
    /// Level on leaving (1 to 8) and in words ("niveau 4 (bac)").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub niveau: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub niveau_libelle: Option<&'static str>,
    pub extraits: Vec<String>,
    pub score: f32,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ValeurFacette {
    pub valeur: String,
    pub libelle: String,
    pub nombre: u64,
    pub selectionne: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reponse {
    pub total: u64,
    pub page: usize,
    pub par_page: usize,
    pub resultats: Vec<Resultat>,
    /// Facet values by dimension (`debut`, `departement`, `formacode`, `financeur`, …).
    #[schema(value_type = std::collections::BTreeMap<String, Vec<ValeurFacette>>)]
    pub facettes: Facettes,
}

/// Facets by dimension name, in a fixed order; serialized as a JSON object.
#[derive(Debug, Clone)]
pub struct Facettes(pub Vec<(&'static str, Vec<ValeurFacette>)>);

impl Facettes {
    pub fn get(&self, nom: &str) -> Option<&[ValeurFacette]> {
        self.0
            .iter()
            .find(|(n, _)| *n == nom)
            .map(|(_, v)| v.as_slice())
    }
}

impl Serialize for Facettes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

pub(super) fn iso(j: i64) -> Option<String> {
    (j != JOUR_INCONNU_DEBUT && j != JOUR_INCONNU_FIN).then(|| date_de_jour(j).to_string())
}

impl Moteur {
    pub(super) fn facettes(&self, r: &Requete, comptes: &[Vec<(u64, u64)>]) -> Facettes {
        let mut out = Facettes(Vec::new());
        for &(nom, d) in FACETTES {
            let selection = r.selection(d);
            let mut vals: Vec<(u64, u64)> = comptes[d].clone();
            for s in &selection {
                if comptes[d].binary_search_by_key(s, |x| x.0).is_err() {
                    vals.push((*s, 0));
                }
            }
            // Formacode: the field heads and domains, plus the path to what is selected and
            // its children; other dimensions: every value.
            if d == D_FORMACODE {
                let garder: Vec<u64> = selection
                    .iter()
                    .flat_map(|s| self.refs.formacode_ancetres(&format!("{s:05}")))
                    .filter_map(|c| c.parse().ok())
                    .collect();
                vals.retain(|(v, _)| {
                    let tete = v % 100 == 54 || v / 100 == 1;
                    tete || (!garder.is_empty()
                        && (garder.contains(v)
                            || self
                                .parents_formacode
                                .get(v)
                                .is_some_and(|p| garder.contains(p))))
                });
            }
            let max = if d == D_ORGANISME { 20 } else { 200 };
            // Only the first `max` are shown (besides the selected ones): select them before
            // sorting, there can be thousands of organismes.
            let rang = |a: &(u64, u64), b: &(u64, u64)| b.1.cmp(&a.1).then(a.0.cmp(&b.0));
            if vals.len() > max {
                vals.select_nth_unstable_by(max, rang);
                let mut choisis: Vec<(u64, u64)> = vals[max..]
                    .iter()
                    .filter(|(v, _)| selection.contains(v))
                    .copied()
                    .collect();
                vals.truncate(max);
                vals.sort_unstable_by(rang);
                choisis.sort_unstable_by(rang);
                vals.extend(choisis);
            } else {
                vals.sort_unstable_by(rang);
            }
            let mut liste = Vec::new();
            for (v, n) in vals
                .into_iter()
                .enumerate()
                .filter(|(i, (v, _))| *i < max || selection.contains(v))
                .map(|(_, x)| x)
            {
                let (valeur, libelle, parent) = self.libelle(d, v);
                liste.push(ValeurFacette {
                    selectionne: selection.contains(&v),
                    valeur,
                    libelle,
                    nombre: n,
                    parent,
                });
            }
            out.0.push((nom, liste));
        }
        out
    }
}

impl Moteur {
    pub(super) fn libelle(&self, d: usize, v: u64) -> (String, String, Option<String>) {
        let refs = &self.refs;
        match d {
            D_FORMACODE => {
                let code = format!("{v:05}");
                let f = refs.formacodes.get(&code);
                (
                    code.clone(),
                    refs.formacode_libelle(&code).unwrap_or(&code).to_string(),
                    f.and_then(|f| f.generique.clone()),
                )
            }
            D_DEPARTEMENT => {
                let c = dep_de_code(v);
                let nom = refs
                    .departements
                    .get(&c)
                    .map(|x| x.nom.clone())
                    .unwrap_or(c.clone());
                (c, nom, None)
            }
            D_DATES => {
                let m = MOIS.get(v as usize).copied().unwrap_or(0);
                (format!("{m}m"), format!("dans les {m} mois"), None)
            }
            D_PUBLIC => {
                let c = v.to_string();
                let l = refs.formacode_libelle(&c).unwrap_or(&c).to_string();
                (c, l, None)
            }
            D_FINANCEUR => {
                if v == FINANCEUR_CPF {
                    return ("cpf".into(), "Éligible au CPF".into(), None);
                }
                let c = v.to_string();
                let l = refs
                    .libelle("dict-financeurs", &c)
                    .unwrap_or(&c)
                    .to_string();
                (c, l, None)
            }
            D_CERTIFIANTE | D_DISTANCE => {
                let (c, l) = match (d, v) {
                    (D_CERTIFIANTE, 1) => ("1", "Certifiante"),
                    (D_CERTIFIANTE, _) => ("0", "Non certifiante"),
                    (_, 1) => ("1", "À distance"),
                    _ => ("0", "En présentiel"),
                };
                (c.into(), l.into(), None)
            }
            D_NIVEAU => (v.to_string(), format!("Niveau {v}"), None),
            D_VOIE => match crate::model::Voie::de_nombre(v) {
                Some(voie) => (voie.code().into(), voie.libelle().into(), None),
                None => (v.to_string(), v.to_string(), None),
            },
            D_ORGANISME => {
                let s = format!("{v:014}");
                (s.clone(), s, None)
            }
            _ => (v.to_string(), v.to_string(), None),
        }
    }
}
