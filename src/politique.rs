//! The auto-acceptance policy: which changes to a diffused offer go online as soon as its
//! organisation submits them, and which wait for staff. By default the everyday ones go
//! online at once (session dates, recruitment state and places, a new session of an
//! accepted action, contacts); the ones that move the scope decision or what a person
//! decides on wait (title, certification, organisme, financeurs and publics, price, and
//! anything else).
//!
//! The policy is a small TOML file (`serve --politique FILE`), checked at start: an unknown
//! key or category stops the start with the file, the key and the reason.

use crate::model::Formation;
use serde::Deserialize;
use std::path::Path;

/// What changed between a diffused revision and a working one, by category.
pub const CATEGORIES: &[(&str, &str)] = &[
    ("session.dates", "dates d'une session"),
    (
        "session.etat_recrutement",
        "état du recrutement d'une session",
    ),
    ("session.recrutement", "places et recrutement d'une session"),
    (
        "session.inscription",
        "modalités ou adresse d'inscription d'une session",
    ),
    (
        "session.nouvelle",
        "nouvelle session d'une action déjà acceptée",
    ),
    ("contacts", "contacts"),
];

/// Categories accepted at once by default.
const AUTOMATIQUES: &[&str] = &[
    "session.dates",
    "session.etat_recrutement",
    "session.recrutement",
    "session.inscription",
    "session.nouvelle",
    "contacts",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Politique {
    /// Categories whose changes alone go online without staff.
    pub automatiques: Vec<String>,
    /// Share of auto-accepted changes also put in the staff queue for a look (0–1).
    pub echantillon: f64,
}

impl Default for Politique {
    fn default() -> Self {
        Politique {
            automatiques: AUTOMATIQUES.iter().map(|s| s.to_string()).collect(),
            echantillon: 0.05,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fichier {
    automatiques: Option<Vec<String>>,
    echantillon: Option<f64>,
}

impl Politique {
    /// Reads a policy file; errors name the file, the key and the reason.
    pub fn charger(path: &Path) -> Result<Politique, String> {
        let texte = std::fs::read_to_string(path)
            .map_err(|e| format!("{} : illisible ({e})", path.display()))?;
        Politique::lire(&texte).map_err(|e| format!("{} : {e}", path.display()))
    }

    pub fn lire(texte: &str) -> Result<Politique, String> {
        let f: Fichier = toml::from_str(texte).map_err(|e| e.to_string())?;
        let defaut = Politique::default();
        let automatiques = f.automatiques.unwrap_or(defaut.automatiques);
        for a in &automatiques {
            if !CATEGORIES.iter().any(|(c, _)| c == a) {
                return Err(format!(
                    "clé automatiques : « {a} » n'est pas une catégorie ({})",
                    CATEGORIES
                        .iter()
                        .map(|(c, _)| *c)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        let echantillon = f.echantillon.unwrap_or(defaut.echantillon);
        if !(0.0..=1.0).contains(&echantillon) {
            return Err(format!(
                "clé echantillon : {echantillon} n'est pas une part entre 0 et 1"
            ));
        }
        Ok(Politique {
            automatiques,
            echantillon,
        })
    }

    /// Whether every change goes online at once under this policy (an empty list is not:
    /// nothing to accept).
    pub fn accepte(&self, changements: &[Changement]) -> bool {
        !changements.is_empty()
            && changements
                .iter()
                .all(|c| self.automatiques.contains(&c.categorie))
    }
}

/// One field that differs between two revisions, with its category (`sensible` when no
/// automatic category covers it).
#[derive(Debug, Clone, PartialEq)]
pub struct Changement {
    pub categorie: String,
    /// Where, as the model's path: `actions[0].sessions[1].periode.debut`.
    pub chemin: String,
    pub avant: String,
    pub apres: String,
}

/// The field-by-field difference of two revisions, classified.
pub fn changements(diffusee: &Formation, travail: &Formation) -> Vec<Changement> {
    let nouvelles = nouvelles_sessions(diffusee, travail);
    crate::store::diff_json(diffusee, travail)
        .into_iter()
        .map(|c| {
            let categorie = categorie(&c.champ, &nouvelles).to_string();
            Changement {
                categorie,
                chemin: c.champ,
                avant: c.avant,
                apres: c.apres,
            }
        })
        .collect()
}

/// `actions[a].sessions[s]` prefixes of sessions added to an action that was already there
/// (same numero at the same place).
fn nouvelles_sessions(diffusee: &Formation, travail: &Formation) -> Vec<String> {
    let mut out = Vec::new();
    for (ai, a) in travail.actions.iter().enumerate() {
        let Some(avant) = diffusee.actions.get(ai).filter(|x| x.numero == a.numero) else {
            continue;
        };
        for (si, s) in a.sessions.iter().enumerate() {
            if !avant.sessions.iter().any(|x| x.numero == s.numero) && si >= avant.sessions.len() {
                out.push(format!("actions[{ai}].sessions[{si}]"));
            }
        }
    }
    out
}

fn categorie(chemin: &str, nouvelles: &[String]) -> &'static str {
    if nouvelles
        .iter()
        .any(|n| chemin.starts_with(n.as_str()) && chemin[n.len()..].starts_with('.'))
    {
        return "session.nouvelle";
    }
    if chemin.starts_with("contacts[") {
        return "contacts";
    }
    let Some(reste) = session_champ(chemin) else {
        return "sensible";
    };
    if reste.starts_with("periode.debut") || reste.starts_with("periode.fin") {
        "session.dates"
    } else if reste == "etat_recrutement" {
        "session.etat_recrutement"
    } else if reste.starts_with("details[") {
        "session.recrutement"
    } else if reste.starts_with("modalites_inscription") || reste.starts_with("adresse_inscription")
    {
        "session.inscription"
    } else {
        "sensible"
    }
}

/// A change's place in words: `actions[0].sessions[1].periode.debut` → `action F_A1 ›
/// session F_A1_S2 › periode.debut`, with the numeros of the revision `f`.
pub fn libelle_chemin(f: &Formation, chemin: &str) -> String {
    let brut = chemin_brut(f, chemin);
    // The last segment in words, when it is one a person enters.
    match CHAMPS.iter().find(|(c, _)| brut.ends_with(c)) {
        Some((c, l)) => format!("{}{l}", &brut[..brut.len() - c.len()]),
        None => brut,
    }
}

/// Fields' paths (their end) and their names in the forms, most specific first.
const CHAMPS: &[(&str, &str)] = &[
    ("periode.debut", "début de la session"),
    ("periode.fin", "fin de la session"),
    ("etat_recrutement", "état du recrutement"),
    ("modalites_inscription", "modalités d'inscription"),
    ("prix_total_ttc", "prix total TTC"),
    ("prix_horaire_ttc", "prix horaire TTC"),
    ("nombre_heures_centre", "heures en centre"),
    ("nombre_heures_entreprise", "heures en entreprise"),
    ("nombre_heures_total", "heures au total"),
    ("conditions_specifiques", "conditions d'accès"),
    ("rythme", "rythme"),
    ("resultats_attendus", "résultats attendus"),
    ("intitule", "intitulé"),
    ("objectif", "objectifs"),
    ("contenu", "contenu (programme)"),
    ("code_niveau_entree", "niveau d'entrée"),
    ("code_niveau_sortie", "niveau de sortie"),
    ("parcours", "parcours"),
];

/// A value as the forms show it: a LHÉO date `AAAAMMJJ` as `JJ/MM/AAAA` (month or year
/// precision as `MM/AAAA`, `AAAA`), anything else as it is.
pub fn libelle_valeur(v: &str) -> String {
    let d = v.as_bytes();
    if d.len() != 8
        || !d.iter().all(u8::is_ascii_digit)
        || !(v.starts_with("19") || v.starts_with("20"))
    {
        return v.to_string();
    }
    match (&v[4..6], &v[6..8]) {
        ("00", _) => v[..4].to_string(),
        (m, "00") => format!("{m}/{}", &v[..4]),
        (m, j) => format!("{j}/{m}/{}", &v[..4]),
    }
}

/// A change's path with its action and session numbers (`action X › session Y › rest`).
fn chemin_brut(f: &Formation, chemin: &str) -> String {
    let index = |r: &str, clef: &str| -> Option<(usize, usize)> {
        let r2 = r.strip_prefix(clef)?;
        let fin = r2.find(']')?;
        Some((r2[..fin].parse().ok()?, clef.len() + fin + 1))
    };
    let Some((ai, n)) = index(chemin, "actions[") else {
        return chemin.to_string();
    };
    let a = f
        .actions
        .get(ai)
        .map_or(format!("n° {}", ai + 1), |a| a.numero.clone());
    let reste = chemin[n..].trim_start_matches('.');
    match index(reste, "sessions[") {
        Some((si, m)) => {
            let s = f
                .actions
                .get(ai)
                .and_then(|x| x.sessions.get(si))
                .map_or(format!("n° {}", si + 1), |s| s.numero.clone());
            format!(
                "action {a} › session {s} › {}",
                reste[m..].trim_start_matches('.')
            )
        }
        None => format!("action {a} › {reste}"),
    }
}

/// `actions[i].sessions[j].REST` → `REST`.
fn session_champ(chemin: &str) -> Option<&str> {
    let r = chemin.strip_prefix("actions[")?;
    let r = &r[r.find("].sessions[")? + "].sessions[".len()..];
    let r = &r[r.find("].")? + 2..];
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_in_the_forms() {
        assert_eq!(libelle_valeur("20271208"), "08/12/2027");
        assert_eq!(libelle_valeur("20271000"), "10/2027");
        assert_eq!(libelle_valeur("20270000"), "2027");
        assert_eq!(libelle_valeur("12345678"), "12345678");
        assert_eq!(libelle_valeur("Cariste"), "Cariste");
    }
    use crate::model::{Action, Periode, Session};

    fn offre() -> Formation {
        Formation {
            numero: "F".into(),
            intitule: "Soudure".into(),
            actions: vec![Action {
                numero: "F_A1".into(),
                sessions: vec![Session {
                    numero: "F_A1_S1".into(),
                    periode: Periode {
                        debut: "20270301".into(),
                        fin: "20270430".into(),
                        extras: vec![],
                    },
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_date_change_is_automatic_a_title_change_is_not() {
        let p = Politique::default();
        let a = offre();
        let mut b = a.clone();
        b.actions[0].sessions[0].periode.debut = "20270315".into();
        let c = changements(&a, &b);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].categorie, "session.dates");
        assert!(p.accepte(&c));
        b.intitule = "Soudure TIG".into();
        let c = changements(&a, &b);
        assert!(!p.accepte(&c), "{c:?}");
        assert!(c
            .iter()
            .any(|x| x.categorie == "sensible" && x.chemin == "intitule"));
    }

    #[test]
    fn a_new_session_of_an_accepted_action_is_automatic() {
        let a = offre();
        let mut b = a.clone();
        let mut s = b.actions[0].sessions[0].clone();
        s.numero = "F_A1_S2".into();
        b.actions[0].sessions.push(s);
        let c = changements(&a, &b);
        assert!(c.iter().all(|x| x.categorie == "session.nouvelle"), "{c:?}");
        assert!(Politique::default().accepte(&c));
    }

    #[test]
    fn the_file_is_checked() {
        assert!(Politique::lire("automatiques = [\"contacts\"]\nechantillon = 0.1").is_ok());
        let e = Politique::lire("automatiques = [\"intitule\"]").unwrap_err();
        assert!(e.contains("automatiques") && e.contains("intitule"), "{e}");
        let e = Politique::lire("echantillon = 3").unwrap_err();
        assert!(e.contains("echantillon"), "{e}");
        let e = Politique::lire("automatique = []").unwrap_err();
        assert!(e.contains("automatique"), "{e}");
    }
}
