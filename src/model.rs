//! The F-A-S-D offer model: Formation → Action → Session, with the Dispositif (financeurs and
//! publics) on each action and the Organisme responsible for the formation.
//!
//! Field names follow LHÉO 2.3 (snake_case). Codes stay strings (leading zeros matter), LHÉO
//! dates stay `AAAAMMJJ` strings (the `00000000`/`99999999` conventions are read by
//! [`LheoDate`]). Anything read that the model does not interpret is kept verbatim as a
//! [`Node`] in the place the schema puts it, so that an offer can be written back unchanged.

use serde::{Deserialize, Serialize};

/// A verbatim XML subtree: `extras`, and the rarer 2.3 elements Sofi does not interpret.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    /// Text of each direct child named `name`.
    pub fn child_texts<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.children
            .iter()
            .filter(move |c| c.name == name)
            .map(|c| c.text.as_str())
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Attributes common to LHÉO elements that Sofi keeps apart from the business key.
pub type Attrs = Vec<(String, String)>;

/// A code with its `ref` (Formacode version, ROME version) and `tag` (`principal`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Code {
    pub code: String,
    pub attrs: Attrs,
}

impl Code {
    pub fn new(code: impl Into<String>, version: &str) -> Self {
        Code {
            code: code.into(),
            attrs: vec![("ref".into(), version.into())],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Formation {
    /// Business key (`formation/@numero`): re-importing the same numero updates the offer.
    pub numero: String,
    pub datecrea: Option<String>,
    pub datemaj: Option<String>,
    /// Other attributes (`href`, `file`, `ref`, …), kept for re-export.
    pub attrs: Attrs,
    pub domaine: DomaineFormation,
    pub intitule: String,
    pub objectif: String,
    pub resultats_attendus: String,
    pub contenu: String,
    /// `certifiante`: `0` or `1` as read.
    pub certifiante: String,
    pub contacts: Vec<Contact>,
    pub parcours: String,
    pub code_niveau_entree: String,
    pub objectif_general: Option<String>,
    pub certifications: Vec<Certification>,
    /// `code-type-formation` (2.3): CPF/ELU marking of non-certifying CPF-eligible training.
    pub types_formation: Vec<Node>,
    pub code_niveau_sortie: Option<String>,
    pub url: Option<Node>,
    pub actions: Vec<Action>,
    pub organisme: Organisme,
    /// `identifiant-module`, `positionnement`, `sous-modules`, `modules-prerequis`, in order.
    pub modules: Vec<Node>,
    pub extras: Vec<Node>,
}

impl Formation {
    pub fn sessions(&self) -> impl Iterator<Item = &Session> {
        self.actions.iter().flat_map(|a| a.sessions.iter())
    }

    /// The main Formacode: the one tagged `principal`, else the first.
    pub fn formacode_principal(&self) -> Option<&str> {
        let codes = &self.domaine.formacodes;
        codes
            .iter()
            .find(|c| c.attrs.iter().any(|(k, v)| k == "tag" && v == "principal"))
            .or(codes.first())
            .map(|c| c.code.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DomaineFormation {
    pub formacodes: Vec<Code>,
    pub nsf: Vec<String>,
    pub rome: Vec<Code>,
    pub extras: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Certification {
    pub code_rncp: Option<String>,
    pub code_certifinfo: Option<String>,
    pub code_rs: Option<String>,
    pub code_cpf: Option<String>,
    pub reference_formacode: Option<String>,
    pub extras: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Contact {
    pub type_contact: Option<String>,
    pub coordonnees: Coordonnees,
    pub extras: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Coordonnees {
    pub attrs: Attrs,
    pub civilite: Option<String>,
    pub nom: Option<String>,
    pub prenom: Option<String>,
    pub lignes: Vec<String>,
    pub adresse: Option<Adresse>,
    /// `telfixe`, `portable`, `fax`, `web`: small wrappers kept whole (`numtel`/`urlweb` + extras).
    pub telfixe: Option<Node>,
    pub portable: Option<Node>,
    pub fax: Option<Node>,
    pub courriel: Option<String>,
    pub web: Option<Node>,
    pub extras: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Adresse {
    pub denomination: Option<String>,
    pub lignes: Vec<String>,
    pub codepostal: String,
    pub ville: String,
    pub departement: Option<String>,
    pub code_insee_commune: Option<String>,
    pub code_insee_canton: Option<String>,
    pub region: Option<String>,
    pub pays: Option<String>,
    pub geolocalisation: Option<Geolocalisation>,
    pub extras: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Geolocalisation {
    pub latitude: String,
    pub longitude: String,
    pub extras: Vec<Node>,
}

impl Geolocalisation {
    pub fn lat_lon(&self) -> Option<(f64, f64)> {
        let lat: f64 = self.latitude.trim().parse().ok()?;
        let lon: f64 = self.longitude.trim().parse().ok()?;
        ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
    }
}

/// A place where an action runs (`lieu-de-formation`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Lieu {
    pub siret: Option<Node>,
    pub uai: Option<Node>,
    pub coordonnees: Coordonnees,
    pub extras: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Action {
    pub numero: String,
    pub datecrea: Option<String>,
    pub datemaj: Option<String>,
    pub attrs: Attrs,
    pub rythme: String,
    /// The publics of the Dispositif (`code-public-vise`, Formacode 8xxxx).
    pub publics: Vec<Code>,
    pub info_public_vise: Option<String>,
    pub niveau_entree_obligatoire: String,
    pub modalites_alternance: String,
    pub modalites_enseignement: String,
    pub conditions_specifiques: String,
    pub prise_en_charge_frais_possible: String,
    pub lieux: Vec<Lieu>,
    pub modalites_entrees_sorties: String,
    pub url: Option<Node>,
    pub duree_cycle: Option<String>,
    pub sessions: Vec<Session>,
    pub adresse_information: Option<AdresseBloc>,
    pub dates_information: Vec<Node>,
    pub restauration: Option<String>,
    pub hebergement: Option<String>,
    pub transport: Option<String>,
    pub acces_handicapes: Option<String>,
    pub langues: Vec<String>,
    pub modalites_recrutement: Option<String>,
    pub modalites_pedagogiques: Option<String>,
    pub codes_modalite_pedagogique: Vec<Code>,
    pub equipements: Vec<Node>,
    pub frais_restants: Option<String>,
    pub code_perimetre_recrutement: Option<String>,
    pub infos_perimetre_recrutement: Option<String>,
    pub prix_horaire_ttc: Option<String>,
    pub prix_total_ttc: Option<String>,
    pub duree_indicative: Option<String>,
    pub nombre_heures_centre: Option<u32>,
    pub nombre_heures_entreprise: Option<u32>,
    pub nombre_heures_total: Option<u32>,
    pub detail_conditions_prise_en_charge: Option<String>,
    pub conventionnement: Option<String>,
    pub duree_conventionnee: Option<u32>,
    pub organismes_formateurs: Vec<Node>,
    /// The financeurs of the Dispositif.
    pub financeurs: Vec<Financeur>,
    pub enseignements: Vec<Node>,
    pub extras: Vec<Node>,
}

impl Action {
    /// `modalites-enseignement` 2: entirely at a distance.
    pub fn a_distance(&self) -> bool {
        self.modalites_enseignement == "2"
    }
    /// `modalites-entrees-sorties` 1: rolling entry.
    pub fn entrees_permanentes(&self) -> bool {
        self.modalites_entrees_sorties == "1"
    }
    /// A public financeur (`rules::FINANCEURS_PUBLICS`) covers it: free for the job-seekers
    /// it is meant for.
    pub fn financement_public(&self) -> bool {
        self.financeurs
            .iter()
            .any(|f| crate::rules::FINANCEURS_PUBLICS.contains(&f.code_financeur.trim()))
    }
    /// `prix-total-TTC` in euros, when it reads as a price ("1780.00", "12,5").
    pub fn prix_euros(&self) -> Option<f64> {
        self.prix_total_ttc
            .as_deref()?
            .trim()
            .replace(',', ".")
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x >= 0.0)
    }
}

/// How a training is followed: the `voie` filter and facet. Initial training is told apart
/// by the 2.3 `session/cycle` (`type-cycle` 0: formation initiale, 1: contrat
/// d'apprentissage); without a cycle a session is continuing training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Voie {
    Continue = 1,
    Scolaire = 2,
    Apprentissage = 3,
    Universitaire = 4,
}

impl Voie {
    pub const TOUTES: [Voie; 4] = [
        Voie::Continue,
        Voie::Scolaire,
        Voie::Apprentissage,
        Voie::Universitaire,
    ];

    /// The parameter value (`?voie=apprentissage`).
    pub fn code(self) -> &'static str {
        match self {
            Voie::Continue => "continue",
            Voie::Scolaire => "scolaire",
            Voie::Apprentissage => "apprentissage",
            Voie::Universitaire => "universitaire",
        }
    }

    pub fn libelle(self) -> &'static str {
        match self {
            Voie::Continue => "Formation continue",
            Voie::Scolaire => "Voie scolaire",
            Voie::Apprentissage => "Apprentissage",
            Voie::Universitaire => "Voie universitaire",
        }
    }

    pub fn de_code(c: &str) -> Option<Voie> {
        Voie::TOUTES.into_iter().find(|v| v.code() == c)
    }

    pub fn de_nombre(n: u64) -> Option<Voie> {
        Voie::TOUTES.into_iter().find(|v| *v as u64 == n)
    }

    /// The voie of session `s` of formation `f`: apprenticeship when a cycle is a contrat
    /// d'apprentissage (or its alternance is one); initial when a cycle is formation
    /// initiale — universitaire when the organisme is a university (its name says so) or
    /// the training leads past bac+2, scolaire otherwise; continuing training without a cycle.
    pub fn de_session(f: &Formation, s: &Session) -> Voie {
        let cycles: Vec<&Node> = s.details.iter().filter(|d| d.name == "cycle").collect();
        if cycles.is_empty() {
            return Voie::Continue;
        }
        let apprentissage = cycles.iter().any(|c| {
            c.child_texts("type-cycle").any(|t| t.trim() == "1")
                || c.children
                    .iter()
                    .filter(|a| a.name == "alternance")
                    .any(|a| a.child_texts("type-alternance").any(|t| t.trim() == "1"))
        });
        if apprentissage {
            return Voie::Apprentissage;
        }
        if !cycles
            .iter()
            .any(|c| c.child_texts("type-cycle").any(|t| t.trim() == "0"))
        {
            return Voie::Continue;
        }
        let nom = format!("{} {}", f.organisme.nom, f.organisme.raison_sociale).to_lowercase();
        let universite = ["universit", "iut ", "institut universitaire", "insa "]
            .iter()
            .any(|m| nom.contains(m));
        // dict-niveaux: 7 and 8 (old scale), 16 to 18 (2019 scale: licence and above).
        let superieur = matches!(
            f.code_niveau_sortie.as_deref(),
            Some("7" | "8" | "16" | "17" | "18")
        );
        if universite || superieur {
            Voie::Universitaire
        } else {
            Voie::Scolaire
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Financeur {
    pub code_financeur: String,
    pub nb_places_financees: Option<u32>,
    pub extras: Vec<Node>,
}

/// `adresse` wrapped with its own extras (`adresse-inscription`, `adresse-information`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AdresseBloc {
    pub adresse: Adresse,
    pub extras: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Periode {
    pub debut: String,
    pub fin: String,
    pub extras: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Session {
    pub numero: String,
    pub datecrea: Option<String>,
    pub datemaj: Option<String>,
    pub attrs: Attrs,
    pub periode: Periode,
    pub adresse_inscription: AdresseBloc,
    pub modalites_inscription: Option<String>,
    pub periode_inscription: Option<Node>,
    pub etat_recrutement: Option<String>,
    /// 2.3 elements kept verbatim, in schema order: `recrutement`, `url-session`,
    /// `contact-session`, `reference-certification`, `blocs-competences`, `cycle`.
    pub details: Vec<Node>,
    pub extras: Vec<Node>,
}

/// The organisation legally responsible for the offer (`organisme-formation-responsable`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Organisme {
    pub attrs: Attrs,
    /// Numéro de déclaration d'activité (NDA), 11 characters.
    pub numero_activite: String,
    pub siret: String,
    pub siret_extras: Vec<Node>,
    pub nom: String,
    pub raison_sociale: String,
    /// Main site.
    pub coordonnees: Coordonnees,
    pub coordonnees_extras: Vec<Node>,
    pub contacts: Vec<Contact>,
    pub renseignements_specifiques: Option<String>,
    /// Formacode domains the organisation is competent in (`potentiel`).
    pub potentiel: Option<Node>,
    pub uai: Option<Node>,
    pub extras: Vec<Node>,
}

impl Organisme {
    pub fn formacodes(&self) -> Vec<&str> {
        self.potentiel
            .as_ref()
            .map(|p| p.child_texts("code-FORMACODE").collect())
            .unwrap_or_default()
    }
}

/// A LHÉO `AAAAMMJJ` date with its conventions: `00000000` unknown start, `99999999` unknown
/// end, `AAAAMM00` month precision, `AAAA0000` year precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LheoDate {
    Inconnue,
    Date(jiff::civil::Date),
}

impl LheoDate {
    /// Parses `AAAAMMJJ`; `Err` names what is wrong.
    pub fn parse(s: &str) -> Result<LheoDate, String> {
        if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("« {s} » n'est pas une date AAAAMMJJ"));
        }
        if s == "00000000" || s == "99999999" {
            return Ok(LheoDate::Inconnue);
        }
        let y: i16 = s[0..4].parse().unwrap_or(0);
        let m: i8 = s[4..6].parse().unwrap_or(0);
        let d: i8 = s[6..8].parse().unwrap_or(0);
        if !(1900..=2199).contains(&y) {
            return Err(format!("« {s} » : année {y} hors de 1900–2199"));
        }
        // Month or year precision: take the first day of the period.
        let (m, d) = match (m, d) {
            (0, 0) => (1, 1),
            (m, 0) => (m, 1),
            (m, d) => (m, d),
        };
        jiff::civil::Date::new(y, m, d)
            .map(LheoDate::Date)
            .map_err(|_| format!("« {s} » n'est pas une date du calendrier"))
    }

    /// Parses an end date: a month (`AAAAMM00`) or a year (`AAAA0000`) ends on its last day,
    /// so that a session `20261015`–`20261000` ends after it starts.
    pub fn parse_fin(s: &str) -> Result<LheoDate, String> {
        let d = LheoDate::parse(s)?;
        Ok(match d {
            LheoDate::Date(x) if s.ends_with("0000") => LheoDate::Date(x.last_of_year()),
            LheoDate::Date(x) if s.ends_with("00") => LheoDate::Date(x.last_of_month()),
            d => d,
        })
    }

    pub fn date(self) -> Option<jiff::civil::Date> {
        match self {
            LheoDate::Date(d) => Some(d),
            LheoDate::Inconnue => None,
        }
    }
}

/// The months in French, for dates written out.
pub const MOIS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// `AAAAMMJJ` in French, with LHÉO's conventions (`AAAAMM00`: a month).
pub fn lheo_date_fr(d: &str) -> String {
    if d.len() != 8 || d == "00000000" || d == "99999999" {
        return "date non communiquée".into();
    }
    let (y, m, j) = (
        &d[..4],
        d[4..6].parse::<usize>().unwrap_or(0),
        d[6..].parse::<u32>().unwrap_or(0),
    );
    match (m, j) {
        (0, _) => format!("année {y}"),
        (m, 0) if m <= 12 => format!("{} {y}", MOIS[m - 1]),
        (m, j) if m <= 12 => format!("{j} {} {y}", MOIS[m - 1]),
        _ => d.to_string(),
    }
}

/// Formats a date as LHÉO writes it.
pub fn lheo_date(d: jiff::civil::Date) -> String {
    format!("{:04}{:02}{:02}", d.year(), d.month(), d.day())
}

/// A level of the 2019 scale (1 to 8, see `search::index::niveau`) in a few words: the
/// dictionary's label is a paragraph.
pub fn niveau_en_mots(n: u64) -> Option<&'static str> {
    Some(match n {
        1 => "niveau 1 (savoirs de base)",
        2 => "niveau 2",
        3 => "niveau 3 (CAP, BEP)",
        4 => "niveau 4 (bac)",
        5 => "niveau 5 (bac+2)",
        6 => "niveau 6 (bac+3, bac+4)",
        7 => "niveau 7 (bac+5)",
        8 => "niveau 8 (doctorat)",
        _ => return None,
    })
}

/// Sofi's CPF annotation on a session (`<extras info="eligibilite-cpf">` with an
/// `<extra info="source">` starting "sofi"), which its feeds write and its imports drop.
pub fn annotation_cpf_sofi(n: &Node) -> bool {
    n.attrs
        .iter()
        .any(|(k, v)| k == "info" && v == "eligibilite-cpf")
        && n.children.iter().any(|c| {
            c.attrs.iter().any(|(k, v)| k == "info" && v == "source") && c.text.starts_with("sofi")
        })
}
