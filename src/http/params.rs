//! One typed definition per request's query string: each struct is at once the parser (serde,
//! from repeated `key=value` pairs), the 400 that names the parameter (the failing field's
//! name, from `serde_path_to_error`), and the OpenAPI description (`utoipa::IntoParams`).
//!
//! The newtypes check a value's form as it is read (a Formacode has 5 digits); what needs the
//! référentiels (is this département known?) is checked where the request is turned into a
//! search ([`Recherche::requete`]) or a feed ([`Flux::filtres`]), still naming the parameter.
//!
//! (One file past 600 lines: the four request structs share the newtypes and the error
//! mapping, and a reader sees every parameter's rule in one place.)

use crate::diffusion::{Depuis, Filtres};
use crate::limits;
use crate::referentiel::Referentiels;
use crate::search::comprendre::DejaDit;
use crate::search::index::{code_dep, code_insee, jour, CERT_RNCP, CERT_RS, FINANCEUR_CPF};
use crate::search::query::{Requete, Tri};
use crate::search::Moteur;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use std::fmt::Display;
use std::str::FromStr;
use utoipa::{IntoParams, ToSchema};

/// A parameter that does not go: its name and why (the API's `erreur.parametre` and
/// `erreur.message`; the site shows both).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamError {
    pub param: String,
    pub message: String,
}

fn bad(p: &str, m: impl Into<String>) -> ParamError {
    ParamError {
        param: p.to_string(),
        message: m.into(),
    }
}

/// Reads a query string into `T`. Before serde sees it: at most [`limits::MAX_PARAMS`]
/// pairs and [`limits::MAX_PARAM_LEN`] bytes a value, so a hostile query costs little.
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ParamError> {
    let paires = form_urlencoded::parse(query.as_bytes());
    let mut n = 0;
    for (k, v) in paires {
        n += 1;
        if n > limits::MAX_PARAMS {
            let total = form_urlencoded::parse(query.as_bytes()).count();
            return Err(bad(
                &k,
                format!("{total} paramètres : {} au plus", limits::MAX_PARAMS),
            ));
        }
        if v.trim().len() > limits::MAX_PARAM_LEN {
            return Err(bad(
                &k,
                format!("valeur de plus de {} caractères", limits::MAX_PARAM_LEN),
            ));
        }
    }
    let de = serde_html_form::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let message = e.inner().to_string();
        let chemin = e.path().to_string();
        // serde names an unknown field in its message (the path is then the root).
        if let Some(inconnu) = message
            .strip_prefix("unknown field `")
            .and_then(|m| m.split('`').next())
        {
            let attendus = expected_list(&message);
            return bad(
                inconnu,
                format!("paramètre « {inconnu} » inconnu (paramètres : {attendus})"),
            );
        }
        let param = chemin.split(['.', '[']).next().unwrap_or("").to_string();
        let message = if message == "unsupported value" {
            "une seule valeur attendue, donnée plusieurs fois".to_string()
        } else if let Some(v) = message.strip_prefix("unknown variant `") {
            let (valeur, reste) = v.split_once('`').unwrap_or((v, ""));
            format!("« {valeur} » : attendu {}", expected_list(reste))
        } else {
            message
        };
        bad(&param, message)
    })
}

/// serde's "expected one of `a`, `b`" (or "expected `a` or `b`") as "a, b".
fn expected_list(message: &str) -> String {
    let a = message.split_once("expected ").map_or("", |(_, a)| a);
    let a = a.strip_prefix("one of ").unwrap_or(a);
    a.replace('`', "").replace(" or ", ", ")
}

/// Deserializes a trimmed string and turns it into `T`, or says why not (with the value).
fn valeur<'de, D: Deserializer<'de>, T>(
    d: D,
    f: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, D::Error> {
    let s = String::deserialize(d)?;
    let v = s.trim();
    f(v).map_err(|m| D::Error::custom(format!("« {v} » : {m}")))
}

fn digits_only(v: &str, n: usize) -> bool {
    v.len() == n && v.bytes().all(|b| b.is_ascii_digit())
}

/// A Formacode: 5 digits.
#[derive(Debug, Clone, Copy)]
pub struct Formacode(pub u64);

impl<'de> Deserialize<'de> for Formacode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        valeur(d, |v| {
            if digits_only(v, 5) {
                Ok(Formacode(v.parse().unwrap_or(0)))
            } else {
                Err("Formacode à 5 chiffres attendu".into())
            }
        })
    }
}

/// A SIRET: 14 digits.
#[derive(Debug, Clone)]
pub struct Siret(pub String);

impl<'de> Deserialize<'de> for Siret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        valeur(d, |v| {
            if digits_only(v, 14) {
                Ok(Siret(v.to_string()))
            } else {
                Err("SIRET à 14 chiffres attendu".into())
            }
        })
    }
}

/// A département code as written (44, 2A, 971); whether it exists is checked against the
/// référentiel afterwards.
#[derive(Debug, Clone)]
pub struct Departement(pub String);

impl<'de> Deserialize<'de> for Departement {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        valeur(d, |v| {
            if (2..=3).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric()) {
                Ok(Departement(v.to_string()))
            } else {
                Err("code de département attendu (44, 2A, 971)".into())
            }
        })
    }
}

impl Departement {
    fn check_known(&self, refs: &Referentiels) -> Result<(), ParamError> {
        if refs.departements.contains_key(&self.0) {
            Ok(())
        } else {
            Err(bad(
                "departement",
                format!("« {} » : code de département inconnu", self.0),
            ))
        }
    }
}

/// A voie: `continue`, `scolaire`, `apprentissage` or `universitaire`.
#[derive(Debug, Clone, Copy)]
pub struct VoieParam(pub crate::model::Voie);

impl<'de> Deserialize<'de> for VoieParam {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        valeur(d, |v| {
            crate::model::Voie::de_code(v)
                .map(VoieParam)
                .ok_or_else(|| "continue, scolaire, apprentissage ou universitaire attendu".into())
        })
    }
}

/// A financeur: a LHÉO `dict-financeurs` code, or `cpf` (eligible to the CPF).
#[derive(Debug, Clone)]
pub enum Financeur {
    Code(String),
    Cpf,
}

impl<'de> Deserialize<'de> for Financeur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        valeur(d, |v| match v {
            "cpf" => Ok(Financeur::Cpf),
            _ if !v.is_empty() && v.len() <= 2 && v.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(Financeur::Code(v.to_string()))
            }
            _ => Err("code financeur LHÉO ou « cpf » attendu".into()),
        })
    }
}

impl Financeur {
    fn check_known(&self, refs: &Referentiels) -> Result<(), ParamError> {
        match self {
            Financeur::Code(c) if refs.libelle("dict-financeurs", c).is_none() => Err(bad(
                "financeur",
                format!("« {c} » : code financeur LHÉO ou « cpf » attendu"),
            )),
            _ => Ok(()),
        }
    }
}

/// `1`/`true`/`oui` or `0`/`false`/`non`.
#[derive(Debug, Clone, Copy)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        valeur(d, |v| match v {
            "1" | "true" | "oui" => Ok(Flag(true)),
            "0" | "false" | "non" => Ok(Flag(false)),
            _ => Err("0 ou 1 attendu".into()),
        })
    }
}

/// A number; its bounds are checked by the request that uses it.
#[derive(Debug, Clone, Copy)]
pub struct Number<T>(pub T);

impl<'de, T: FromStr> Deserialize<'de> for Number<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        valeur(d, |v| {
            v.parse().map(Number).map_err(|_| "nombre attendu".into())
        })
    }
}

impl<T: PartialOrd + Display + Copy> Number<T> {
    fn within(self, p: &str, min: T, max: T) -> Result<T, ParamError> {
        if self.0 >= min && self.0 <= max {
            Ok(self.0)
        } else {
            Err(bad(
                p,
                format!("« {} » : nombre entre {min} et {max} attendu", self.0),
            ))
        }
    }
}

/// An ISO 8601 date (2027-03-01), as days since 1970.
#[derive(Debug, Clone, Copy)]
pub struct IsoDate(pub i64);

impl<'de> Deserialize<'de> for IsoDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        valeur(d, |v| {
            v.parse::<jiff::civil::Date>()
                .map(|d| IsoDate(jour(d)))
                .map_err(|_| "date ISO attendue (2027-03-01)".into())
        })
    }
}

/// A certification: `RNCP12345` or `RS1234`.
#[derive(Debug, Clone, Copy)]
pub struct Certification(pub u64);

impl<'de> Deserialize<'de> for Certification {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        valeur(d, |v| {
            let up = v.to_ascii_uppercase();
            let code = if let Some(n) = up.strip_prefix("RNCP") {
                n.parse::<u64>().ok().map(|n| CERT_RNCP | n)
            } else if let Some(n) = up.strip_prefix("RS") {
                n.parse::<u64>().ok().map(|n| CERT_RS | n)
            } else {
                None
            };
            code.map(Certification)
                .ok_or_else(|| "RNCP12345 ou RS1234 attendu".into())
        })
    }
}

/// The order of the results.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    Pertinence,
    Date,
    Distance,
}

/// `GET /api/v1/recherche` (and the site's `/recherche`): flat, repeatable filters, ANDed
/// between names and ORed within one name.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Recherche {
    /// Free text: words of the title, objectives, programme, Formacode labels and synonyms.
    #[param(max_length = 500)]
    pub q: Option<String>,
    /// Formacode domain (5 digits); also finds its more specific codes.
    #[serde(default)]
    #[param(value_type = Option<Vec<String>>, pattern = "^[0-9]{5}$")]
    pub formacode: Vec<Formacode>,
    /// Commune: INSEE code or postal code.
    #[serde(default)]
    #[param(value_type = Option<Vec<String>>, pattern = "^[0-9AB]{5}$")]
    pub commune: Vec<String>,
    /// Département code (44, 49, 53, 72, 85…).
    #[serde(default)]
    #[param(value_type = Option<Vec<String>>, pattern = "^[0-9AB]{2,3}$")]
    pub departement: Vec<Departement>,
    /// Latitude of a place search (with `lon`).
    #[param(value_type = Option<f64>, minimum = -90, maximum = 90)]
    pub lat: Option<Number<f64>>,
    /// Longitude of a place search (with `lat`).
    #[param(value_type = Option<f64>, minimum = -180, maximum = 180)]
    pub lon: Option<Number<f64>>,
    /// Radius in km around `lat`/`lon` or `commune` (default from index-config).
    #[param(value_type = Option<f64>, minimum = 0.1, maximum = 500)]
    pub rayon: Option<Number<f64>>,
    /// Sessions starting on or after this date.
    #[param(value_type = Option<String>, format = Date)]
    pub debut_min: Option<IsoDate>,
    /// Sessions starting on or before this date.
    #[param(value_type = Option<String>, format = Date)]
    pub debut_max: Option<IsoDate>,
    /// Public (Formacode 8xxxx).
    #[serde(default)]
    #[param(value_type = Option<Vec<String>>, pattern = "^[0-9]{5}$")]
    pub public: Vec<Formacode>,
    /// Financeur: LHÉO `dict-financeurs` code, or `cpf`.
    #[serde(default)]
    #[param(value_type = Option<Vec<String>>)]
    pub financeur: Vec<Financeur>,
    /// Leads to a certification (1) or not (0).
    #[param(value_type = Option<bool>)]
    pub certifiante: Option<Flag>,
    /// Certification: `RNCP12345` or `RS1234`.
    #[serde(default)]
    #[param(value_type = Option<Vec<String>>, pattern = "^(RNCP|RS)[0-9]+$")]
    pub certification: Vec<Certification>,
    /// Level on leaving (1 to 8).
    #[serde(default)]
    #[param(value_type = Option<Vec<u64>>, minimum = 1, maximum = 8)]
    pub niveau: Vec<Number<u64>>,
    /// Entirely at a distance (1) or not (0).
    #[param(value_type = Option<bool>)]
    pub a_distance: Option<Flag>,
    /// Organisme's SIRET (14 digits).
    #[serde(default)]
    #[param(value_type = Option<Vec<String>>, pattern = "^[0-9]{14}$")]
    pub organisme: Vec<Siret>,
    /// How the training is followed: `continue`, `scolaire`, `apprentissage`, `universitaire`.
    #[serde(default)]
    #[param(value_type = Option<Vec<String>>)]
    pub voie: Vec<VoieParam>,
    /// ROME métier code (`M1607`): the offer's own or its certification's.
    #[serde(default)]
    #[param(value_type = Option<Vec<String>>, pattern = "^[A-Na-n][0-9]{4}$")]
    pub rome: Vec<String>,
    /// NSF speciality or domain (`311`, `31`).
    #[serde(default)]
    #[param(value_type = Option<Vec<String>>)]
    pub nsf: Vec<String>,
    /// Words of `q` to take literally: what the engine understood in them (a town, a level,
    /// "cpf"…, see `interpretation` in the answer) is not applied.
    #[serde(default)]
    #[param(value_type = Option<Vec<String>>)]
    pub litteral: Vec<String>,
    /// Order: relevance (default), start date, or distance (needs a place).
    #[param(value_type = Option<SortOrder>)]
    pub tri: Option<SortOrder>,
    /// Page number, from 1.
    #[param(value_type = Option<usize>, minimum = 1, maximum = 10000)]
    pub page: Option<Number<usize>>,
    /// Results per page (capped at index-config's maximum).
    #[param(value_type = Option<usize>, minimum = 1)]
    pub par_page: Option<Number<usize>>,
}

impl Recherche {
    /// The search this asks for, checked against the référentiels; `aujourdhui` in days.
    pub fn requete(self, moteur: &Moteur, aujourdhui: i64) -> Result<Requete, ParamError> {
        let d = &moteur.config().defauts;
        let refs = moteur.refs();
        let mut r = Requete::new(aujourdhui, d.par_page);
        r.rayon_km = d.rayon_km;
        r.toutes_dates = !d.a_venir;
        r.q = self.q.map(|q| q.trim().to_string()).unwrap_or_default();
        r.formacodes = self.formacode.iter().map(|f| f.0).collect();
        let mut commune_centre = None;
        for v in &self.commune {
            let v = v.trim();
            let insee: Vec<String> = if refs.communes.contains_key(v) {
                vec![v.to_string()]
            } else if let Some(c) = refs.communes_par_cp.get(v) {
                c.clone()
            } else {
                return Err(bad(
                    "commune",
                    format!("« {v} » : code INSEE ou code postal inconnu"),
                ));
            };
            if let Some(c) = insee.first().and_then(|c| refs.communes.get(c)) {
                if let (Some(a), Some(b)) = (c.lat, c.lon) {
                    commune_centre = Some((a, b));
                }
            }
            r.communes
                .extend(insee.iter().filter_map(|c| code_insee(c)));
        }
        for dep in &self.departement {
            dep.check_known(refs)?;
            r.departements.extend(code_dep(&dep.0));
        }
        let lat = self.lat.map(|n| n.within("lat", -90.0, 90.0)).transpose()?;
        let lon = self
            .lon
            .map(|n| n.within("lon", -180.0, 180.0))
            .transpose()?;
        let rayon = self
            .rayon
            .map(|n| n.within("rayon", 0.1, limits::MAX_RADIUS_KM))
            .transpose()?;
        r.debut_min = self.debut_min.map(|d| d.0);
        r.debut_max = self.debut_max.map(|d| d.0);
        for p in &self.public {
            let code = format!("{:05}", p.0);
            if refs.formacode_libelle(&code).is_none() {
                return Err(bad(
                    "public",
                    format!("« {code} » : code public (Formacode 8xxxx) inconnu"),
                ));
            }
            r.publics.push(p.0);
        }
        for f in &self.financeur {
            f.check_known(refs)?;
            r.financeurs.push(match f {
                Financeur::Cpf => FINANCEUR_CPF,
                Financeur::Code(c) => c.parse().unwrap_or(0),
            });
        }
        r.certifiante = self.certifiante.map(|b| b.0);
        r.certifications = self.certification.iter().map(|c| c.0).collect();
        for n in &self.niveau {
            r.niveaux.push(n.within("niveau", 1, 8)?);
        }
        r.a_distance = self.a_distance.map(|b| b.0);
        r.organismes = self
            .organisme
            .iter()
            .map(|s| s.0.parse().unwrap_or(0))
            .collect();
        r.voies = self.voie.iter().map(|v| v.0 as u64).collect();
        for code in &self.rome {
            match crate::search::query::code_rome(code.trim()) {
                Some(c) if refs.rome.contains_key(&c) => r.romes.push(c),
                Some(c) => return Err(bad("rome", format!("« {c} » : code ROME inconnu"))),
                None => {
                    return Err(bad(
                        "rome",
                        format!(
                            "« {} » : code ROME attendu (une lettre et 4 chiffres, M1607)",
                            code.trim()
                        ),
                    ))
                }
            }
        }
        for code in &self.nsf {
            let c = code.trim().to_ascii_lowercase();
            if !refs.nsf.contains_key(&c) {
                return Err(bad("nsf", format!("« {c} » : code NSF inconnu (311, 31…)")));
            }
            r.nsf.push(c);
        }
        r.tri = match self.tri {
            None | Some(SortOrder::Pertinence) => Tri::Pertinence,
            Some(SortOrder::Date) => Tri::Date,
            Some(SortOrder::Distance) => Tri::Distance,
        };
        if let Some(p) = self.page {
            r.page = p.within("page", 1, limits::MAX_PAGE)?;
        }
        if let Some(p) = self.par_page {
            // Capped, not refused: a partner asking for 500 gets the maximum.
            r.par_page = p.within("par_page", 1, 100_000)?.min(d.par_page_max);
        }
        match (lat, lon) {
            (Some(a), Some(b)) => r.centre = Some((a, b)),
            (None, None) => {}
            (Some(_), None) => return Err(bad("lon", "lat et lon vont ensemble")),
            (None, Some(_)) => return Err(bad("lat", "lat et lon vont ensemble")),
        }
        if let Some(ry) = rayon {
            if r.centre.is_none() {
                match commune_centre {
                    Some(c) => {
                        r.centre = Some(c);
                        r.communes.clear(); // the radius replaces the exact commune
                    }
                    None => return Err(bad("rayon", "un rayon demande commune ou lat et lon")),
                }
            }
            r.rayon_km = ry;
        }
        if r.debut_min.is_some() || r.debut_max.is_some() {
            r.toutes_dates = false;
        }
        if let (Some(a), Some(b)) = (r.debut_min, r.debut_max) {
            if a > b {
                return Err(bad("debut_max", "debut_max est avant debut_min"));
            }
        }
        comprendre(moteur, &mut r, &self.litteral);
        if r.tri == Tri::Distance && r.centre.is_none() {
            // Distance from the commune given, without narrowing to a radius.
            let Some(c) = commune_centre else {
                return Err(bad("tri", "tri=distance demande commune ou lat et lon"));
            };
            r.centre = Some(c);
            r.rayon_km = limits::ANYWHERE_RADIUS_KM;
        }
        Ok(r)
    }
}

/// Applies what is understood in `q` (`search::comprendre`) that the parameters do not
/// already say.
fn comprendre(moteur: &Moteur, r: &mut Requete, litteraux: &[String]) {
    let deja = DejaDit {
        lieu: r.centre.is_some() || !r.communes.is_empty() || !r.departements.is_empty(),
        niveau: !r.niveaux.is_empty(),
        a_distance: r.a_distance.is_some(),
        financeur: !r.financeurs.is_empty(),
        voie: !r.voies.is_empty(),
    };
    let c = moteur.lexique().comprendre(
        moteur.refs(),
        &r.q,
        litteraux,
        deja,
        r.rayon_km,
        &moteur.config().synonymes,
    );
    if let Some((_, centre)) = c.lieu {
        r.centre = Some(centre);
    }
    r.departements
        .extend(c.departement.as_deref().and_then(code_dep));
    r.niveaux.extend(c.niveau);
    if c.a_distance {
        r.a_distance = Some(true);
    }
    if c.cpf {
        r.financeurs.push(FINANCEUR_CPF);
    }
    if c.gratuit {
        r.financeurs.extend(
            crate::rules::FINANCEURS_PUBLICS
                .iter()
                .filter_map(|f| f.parse::<u64>().ok()),
        );
    }
    if c.apprentissage {
        r.voies.push(crate::model::Voie::Apprentissage as u64);
    }
    r.q = c.reste;
    r.compris = c.compris;
    r.corrections = c.corrections;
}

/// `GET /lheo/offres.xml`: which offers a feed carries.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Flux {
    /// Changes after this journal sequence (the last feed's `X-Sofi-Journal`), or after an
    /// ISO date or date-time.
    pub depuis: Option<String>,
    /// Département of the action's place.
    #[serde(default)]
    #[param(value_type = Option<Vec<String>>, pattern = "^[0-9AB]{2,3}$")]
    pub departement: Vec<Departement>,
    /// Financeur: LHÉO `dict-financeurs` code, or `cpf`.
    #[serde(default)]
    #[param(value_type = Option<Vec<String>>)]
    pub financeur: Vec<Financeur>,
    /// Formacode of the formation (exact code).
    #[serde(default)]
    #[param(value_type = Option<Vec<String>>, pattern = "^[0-9]{5}$")]
    pub formacode: Vec<Formacode>,
    /// Organisme's SIRET.
    #[serde(default)]
    #[param(value_type = Option<Vec<String>>, pattern = "^[0-9]{14}$")]
    pub organisme: Vec<Siret>,
}

impl Flux {
    /// Where the feed starts and which offers it keeps, checked against the référentiels.
    pub fn filtres(self, refs: &Referentiels) -> Result<(Option<Depuis>, Filtres), ParamError> {
        let depuis = match self.depuis {
            Some(d) => Some(Depuis::parse(d.trim()).map_err(|m| bad("depuis", m))?),
            None => None,
        };
        let mut f = Filtres::default();
        for d in self.departement {
            d.check_known(refs)?;
            f.departements.push(d.0);
        }
        for x in self.financeur {
            x.check_known(refs)?;
            match x {
                Financeur::Cpf => f.cpf = true,
                Financeur::Code(c) => f.financeurs.push(c),
            }
        }
        f.formacodes = self
            .formacode
            .iter()
            .map(|c| format!("{:05}", c.0))
            .collect();
        f.organismes = self.organisme.into_iter().map(|s| s.0).collect();
        Ok((depuis, f))
    }
}

/// `GET /api/v1/suggestions`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Suggestions {
    /// The beginning of a word or title (100 characters at most).
    #[param(max_length = 100)]
    pub q: Option<String>,
}

impl Suggestions {
    pub fn text_of(self) -> Result<String, ParamError> {
        let q = self.q.unwrap_or_default();
        if q.chars().count() > limits::MAX_SUGGEST_LEN {
            return Err(bad(
                "q",
                format!("{} caractères au plus", limits::MAX_SUGGEST_LEN),
            ));
        }
        Ok(q)
    }
}

/// `1`/`true`/`oui`, `0`/`false`/`non`, or empty (no).
#[derive(Debug, Clone, Copy, Default)]
pub struct FlagOrEmpty(pub bool);

impl<'de> Deserialize<'de> for FlagOrEmpty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        valeur(d, |v| match v {
            "1" | "true" | "oui" => Ok(FlagOrEmpty(true)),
            "0" | "false" | "non" | "" => Ok(FlagOrEmpty(false)),
            _ => Err("attendu 0 ou 1".into()),
        })
    }
}

/// `POST /api/v1/import`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Import {
    /// Name of the sending system (default `api`): a full feed replaces only its own offers.
    #[param(max_length = 100)]
    pub source: Option<String>,
    /// 1: the file is that source's whole offer; its offers absent from the file are deleted.
    #[param(value_type = Option<bool>)]
    #[serde(default)]
    pub remplacer: FlagOrEmpty,
}

impl Import {
    /// The source's name, checked.
    pub fn source(&self) -> Result<String, ParamError> {
        match &self.source {
            None => Ok("api".into()),
            Some(v) if v.is_empty() || v.len() > 100 || v.chars().any(char::is_control) => {
                Err(bad("source", "source : 1 à 100 caractères imprimables"))
            }
            Some(v) => Ok(v.clone()),
        }
    }
}

/// A percent-encoded path segment (an offer number in `/formation/{numero}`), decoded.
pub fn segment(s: &str) -> String {
    form_urlencoded::parse(format!("n={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failing_field_names_the_parameter() {
        let e = parse::<Flux>("formacode=12345&formacode=abc").unwrap_err();
        assert_eq!(e.param, "formacode");
        assert!(e.message.contains("« abc »"), "{}", e.message);
        let e = parse::<Flux>("pays=FR").unwrap_err();
        assert_eq!(e.param, "pays");
        assert!(e.message.contains("departement"), "{}", e.message);
        let f = parse::<Flux>("departement=44&departement=49&organisme=12345678901234").unwrap();
        assert_eq!(f.departement.len(), 2);
        let e = parse::<Recherche>(&"departement=44&".repeat(65)).unwrap_err();
        assert!(e.message.contains("64 au plus"));
        let e = parse::<Recherche>("q=a&q=b").unwrap_err();
        assert_eq!(e.param, "q", "{}", e.message);
        assert!(e.message.contains("une seule valeur"), "{}", e.message);
        let e = parse::<Recherche>("tri=prix").unwrap_err();
        assert_eq!(e.param, "tri");
        assert!(e.message.contains("« prix »"), "{}", e.message);
    }
}
