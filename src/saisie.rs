//! What an organisation types to present its offer, step by step (formation, action,
//! session), and how it maps onto the F-A-S-D model that the rules judge and the store
//! keeps. The same structs are the organisation space's forms and its JSON API's bodies.
//!
//! Every field has its limit; a value over it, or a date, number or code that does not
//! parse, becomes a finding on that field (the draft is kept as typed where the model can
//! hold it), never a refusal of the whole save: what was typed is not lost.
//!
//! (One file past 600 lines: one struct per step with its two mappings, from the model and
//! onto it, in step order, so that a form's fields and the LHÉO elements they feed read
//! together.)

use crate::model::*;
use crate::referentiel::Referentiels;
use crate::rules::{Constat, Verdict};
use crate::store::{Etablissement, Site};
use serde::{Deserialize, Serialize};

/// Longest short text (intitulé, rythme, a name).
pub const MAX_COURT: usize = 255;
/// Longest long text (objectifs, contenu…), as LHÉO allows.
pub const MAX_LONG: usize = 3000;
/// Most sessions an action may have through the forms.
pub const MAX_SESSIONS: usize = 200;
/// Most actions a formation may have through the forms.
pub const MAX_ACTIONS: usize = 50;

/// The publics a form offers (Formacode "publics" codes, as `code-public-vise` takes).
pub const PUBLICS: &[&str] = &[
    "80006", "80009", "80007", "80005", "81020", "82044", "82045", "82058", "82055", "83056",
];

/// Step 1: the formation (what is taught).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct SaisieFormation {
    pub intitule: String,
    pub objectif: String,
    pub contenu: String,
    pub resultats_attendus: String,
    /// A certification: `RNCP12345`, `RS1234`, or a Certif Info number.
    pub certification: String,
    /// Up to 5 Formacode codes, separated by spaces or commas; the first is the main one.
    pub formacodes: String,
    pub niveau_entree: String,
    pub niveau_sortie: String,
    pub parcours: String,
    pub contact_nom: String,
    pub contact_telephone: String,
    pub contact_email: String,
}

/// Step 2: one action (one organisation runs it: place, modalities, price, Dispositif).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct SaisieAction {
    /// `0`: the main site; `1`…: a secondary site, in "Mon établissement"'s order.
    pub lieu: String,
    /// SIRET of the organisme formateur when it is not the establishment.
    pub siret_formateur: String,
    /// `0` présentiel, `1` mixte, `2` à distance.
    pub modalites_enseignement: String,
    /// `0` dates fixes, `1` entrées-sorties permanentes.
    pub entrees_sorties: String,
    pub heures_centre: String,
    pub heures_entreprise: String,
    pub rythme: String,
    pub alternance: String,
    /// Total price, in euros TTC.
    pub prix_total: String,
    /// `1`: the entry level is required.
    pub niveau_obligatoire: String,
    /// Prerequisites and access conditions.
    pub conditions_acces: String,
    /// Codes of `dict-financeurs` (the Dispositif's financeurs).
    pub financeurs: Vec<String>,
    /// `code-public-vise` codes (the Dispositif's publics).
    pub publics: Vec<String>,
    /// Information meeting date (`AAAA-MM-JJ`).
    pub date_information: String,
}

/// Step 3: one session (dates, recruitment, registration).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct SaisieSession {
    /// `AAAA-MM-JJ`, or LHÉO's `AAAAMMJJ` (`AAAAMM00` for a month, `AAAA0000` for a year).
    pub debut: String,
    pub fin: String,
    /// `1` ouvert, `2` fermé, `3` suspendu.
    pub etat_recrutement: String,
    pub places: String,
    /// Where to register: `0` main site, `1`… a secondary site.
    pub inscription: String,
    pub modalites_inscription: String,
}

/// Findings of a save that are about the typed values themselves (not the model): a date
/// that does not parse, a number that is not one.
#[derive(Debug, Default)]
pub struct Saisie {
    pub constats: Vec<Constat>,
}

impl Saisie {
    fn err(&mut self, chemin: String, code: &str, message: String) {
        self.constats.push(Constat::bloquant(code, chemin, message));
    }

    fn texte(&mut self, chemin: &str, champ: &str, v: &str, max: usize) -> String {
        let n = v.chars().count();
        if n > max {
            self.err(
                format!("{chemin}/{champ}"),
                "texte-trop-long",
                format!("{n} caractères, {max} au plus : le texte a été coupé"),
            );
            v.chars().take(max).collect()
        } else {
            v.trim().to_string()
        }
    }

    fn nombre(&mut self, chemin: &str, champ: &str, v: &str, max: u32) -> Option<u32> {
        let v = v.trim();
        if v.is_empty() {
            return None;
        }
        match v.parse::<u32>() {
            Ok(n) if n <= max => Some(n),
            _ => {
                self.err(
                    format!("{chemin}/{champ}"),
                    "nombre-invalide",
                    format!(
                        "« {} » : un nombre entier de 0 à {max} est attendu",
                        court(v)
                    ),
                );
                None
            }
        }
    }
}

fn court(v: &str) -> String {
    v.chars().take(40).collect()
}

/// `AAAA-MM-JJ` (a date input) or `AAAAMMJJ` with LHÉO's conventions → `AAAAMMJJ`.
pub fn date_lheo(v: &str) -> Result<String, String> {
    let v = v.trim();
    let compact: String = v.chars().filter(|c| *c != '-').collect();
    let compact = match compact.len() {
        6 => format!("{compact}00"),
        4 => format!("{compact}0000"),
        _ => compact,
    };
    LheoDate::parse(&compact).map(|_| compact).map_err(|e| {
        if v.is_empty() {
            "date obligatoire".to_string()
        } else {
            e
        }
    })
}

/// `AAAAMMJJ` → the value a date input shows (`AAAA-MM-JJ`), or as LHÉO wrote it when
/// it is a month or a year.
pub fn date_saisie(v: &str) -> String {
    if v.len() == 8 && !v.ends_with("00") && v != "99999999" {
        format!("{}-{}-{}", &v[..4], &v[4..6], &v[6..])
    } else {
        v.to_string()
    }
}

impl SaisieFormation {
    /// What a formation shows in its form.
    pub fn de(f: &Formation) -> SaisieFormation {
        let cert = f.certifications.first();
        let contact = f.contacts.first().map(|c| &c.coordonnees);
        SaisieFormation {
            intitule: f.intitule.clone(),
            objectif: f.objectif.clone(),
            contenu: f.contenu.clone(),
            resultats_attendus: f.resultats_attendus.clone(),
            certification: cert
                .and_then(|c| {
                    c.code_rncp
                        .clone()
                        .or(c.code_rs.clone())
                        .or(c.code_certifinfo.clone())
                })
                .unwrap_or_default(),
            formacodes: f
                .domaine
                .formacodes
                .iter()
                .map(|c| c.code.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            niveau_entree: f.code_niveau_entree.clone(),
            niveau_sortie: f.code_niveau_sortie.clone().unwrap_or_default(),
            parcours: f.parcours.clone(),
            contact_nom: contact.and_then(|c| c.nom.clone()).unwrap_or_default(),
            contact_telephone: contact
                .and_then(|c| c.telfixe.as_ref())
                .map(|n| n.child_texts("numtel").collect::<Vec<_>>().join(""))
                .unwrap_or_default(),
            contact_email: contact.and_then(|c| c.courriel.clone()).unwrap_or_default(),
        }
    }

    /// Writes the step onto a formation.
    pub fn appliquer(&self, f: &mut Formation, refs: &Referentiels, s: &mut Saisie) {
        let p = &format!("formation[{}]", f.numero);
        f.intitule = s.texte(p, "intitule-formation", &self.intitule, MAX_COURT);
        f.objectif = s.texte(p, "objectif-formation", &self.objectif, MAX_LONG);
        f.contenu = s.texte(p, "contenu-formation", &self.contenu, MAX_LONG);
        f.resultats_attendus = s.texte(p, "resultats-attendus", &self.resultats_attendus, MAX_LONG);
        f.code_niveau_entree = self.niveau_entree.trim().to_string();
        f.code_niveau_sortie =
            Some(self.niveau_sortie.trim().to_string()).filter(|v| !v.is_empty());
        f.parcours = self.parcours.trim().to_string();
        // Formacodes: the first is the main one.
        let codes: Vec<&str> = self
            .formacodes
            .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .filter(|c| !c.is_empty())
            .collect();
        f.domaine.formacodes = codes
            .iter()
            .take(6)
            .enumerate()
            .map(|(i, c)| {
                let mut code = Code::new(c.chars().take(10).collect::<String>(), "V14");
                if i == 0 {
                    code.attrs.push(("tag".into(), "principal".into()));
                }
                code
            })
            .collect();
        // Certification: resolved against the référentiels; only active fiches.
        let c = self.certification.trim().to_uppercase();
        f.certifications.clear();
        if !c.is_empty() {
            match certification(&c, refs) {
                Ok(cert) => f.certifications.push(cert),
                Err(m) => s.err(format!("{p}/certification"), "certification-inconnue", m),
            }
        }
        f.certifiante = if f.certifications.is_empty() {
            "0"
        } else {
            "1"
        }
        .into();
        let tel = self
            .contact_telephone
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .take(25)
            .collect::<String>();
        let nom = s.texte(p, "contact-formation/nom", &self.contact_nom, 50);
        let courriel = s.texte(p, "contact-formation/courriel", &self.contact_email, 160);
        if !courriel.is_empty() && crate::accounts::email(&courriel).is_err() {
            s.err(
                format!("{p}/contact-formation/courriel"),
                "courriel-invalide",
                format!(
                    "« {} » n'est pas une adresse électronique",
                    court(&courriel)
                ),
            );
        }
        f.contacts = vec![Contact {
            type_contact: Some("3".into()),
            coordonnees: Coordonnees {
                nom: Some(nom).filter(|v| !v.is_empty()),
                telfixe: (!tel.is_empty()).then(|| numtel(&tel)),
                courriel: Some(courriel).filter(|v| !v.is_empty()),
                ..Default::default()
            },
            extras: vec![],
        }];
    }
}

/// A certification code as typed → the model's certification, checked against the
/// référentiels (active fiches only).
fn certification(c: &str, refs: &Referentiels) -> Result<Certification, String> {
    let c = c.replace(' ', "");
    if let Some(n) = c.strip_prefix("RNCP") {
        return match refs.rncp.get(n) {
            Some(f) if f.actif => Ok(Certification {
                code_rncp: Some(c.clone()),
                code_certifinfo: refs
                    .certifinfo_par_rncp
                    .get(n)
                    .and_then(|v| v.first().cloned()),
                ..Default::default()
            }),
            Some(_) => Err(format!("la fiche {c} n'est plus active au RNCP")),
            None if refs.certifinfo_par_rncp.contains_key(n) => Ok(Certification {
                code_rncp: Some(c.clone()),
                code_certifinfo: refs.certifinfo_par_rncp[n].first().cloned(),
                ..Default::default()
            }),
            None => Err(format!("{c} n'est pas une fiche RNCP connue")),
        };
    }
    if let Some(n) = c.strip_prefix("RS") {
        return match refs.certifinfo_par_rs.get(n) {
            Some(v) => Ok(Certification {
                code_rs: Some(c.clone()),
                code_certifinfo: v.first().cloned(),
                ..Default::default()
            }),
            None => Err(format!(
                "{c} n'est pas une fiche du Répertoire spécifique connue"
            )),
        };
    }
    match refs.certifinfo.get(&c) {
        Some(ci) if ci.certifiante() => Ok(Certification {
            code_certifinfo: Some(c.clone()),
            code_rncp: ci.code_rncp.as_ref().map(|r| format!("RNCP{r}")),
            code_rs: ci.code_rs.as_ref().map(|r| format!("RS{r}")),
            ..Default::default()
        }),
        Some(_) => Err(format!(
            "la certification Certif Info {c} n'est plus active"
        )),
        None => Err(format!(
            "« {} » : un code RNCP (RNCP12345), RS (RS1234) ou Certif Info est attendu",
            court(&c)
        )),
    }
}

fn numtel(tel: &str) -> Node {
    Node {
        name: "telfixe".into(),
        children: vec![Node {
            name: "numtel".into(),
            text: tel.into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// An establishment's site as a LHÉO address, with its commune's codes and coordinates.
pub fn adresse_de(site: &Site, refs: &Referentiels) -> Adresse {
    let commune = refs.communes.get(&site.code_insee);
    Adresse {
        denomination: None,
        lignes: site
            .adresse
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .take(4)
            .map(|l| l.chars().take(50).collect())
            .collect(),
        codepostal: site.codepostal.clone(),
        ville: site.ville.clone(),
        departement: commune.map(|c| c.departement.clone()),
        code_insee_commune: Some(site.code_insee.clone()).filter(|c| !c.is_empty()),
        code_insee_canton: None,
        region: commune.map(|c| c.region.clone()),
        pays: Some("FR".into()),
        geolocalisation: match (site.lat, site.lon) {
            (Some(la), Some(lo)) => Some(Geolocalisation {
                latitude: format!("{la:.6}"),
                longitude: format!("{lo:.6}"),
                extras: vec![],
            }),
            _ => None,
        },
        extras: vec![],
    }
}

/// The site an action or session points at (`0` the main one), if it exists.
pub fn site_de<'a>(e: &'a Etablissement, v: &str) -> Option<&'a Site> {
    match v.trim().parse::<usize>() {
        Ok(0) | Err(_) => Some(&e.site_principal),
        Ok(i) => e.sites.get(i - 1),
    }
}

/// The organisme of the offers of an establishment.
pub fn organisme_de(e: &Etablissement, refs: &Referentiels) -> Organisme {
    let contact = e.contacts.first();
    Organisme {
        numero_activite: e.numero_activite.clone(),
        siret: e.siret.clone(),
        nom: e.raison_sociale.chars().take(250).collect(),
        raison_sociale: e.raison_sociale.chars().take(250).collect(),
        coordonnees: Coordonnees {
            adresse: Some(adresse_de(&e.site_principal, refs)),
            ..Default::default()
        },
        contacts: contact
            .map(|c| Contact {
                type_contact: Some("4".into()),
                coordonnees: Coordonnees {
                    nom: Some(c.nom.clone()).filter(|v| !v.is_empty()),
                    courriel: Some(c.email.clone()).filter(|v| !v.is_empty()),
                    telfixe: (!c.telephone.is_empty()).then(|| numtel(&c.telephone)),
                    ..Default::default()
                },
                extras: vec![],
            })
            .into_iter()
            .collect(),
        potentiel: (!e.formacodes.is_empty()).then(|| Node {
            name: "potentiel".into(),
            children: e
                .formacodes
                .iter()
                .map(|c| Node {
                    name: "code-FORMACODE".into(),
                    attrs: vec![("ref".into(), "V14".into())],
                    text: c.clone(),
                    children: vec![],
                })
                .collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl SaisieAction {
    pub fn de(a: &Action, e: &Etablissement) -> SaisieAction {
        let insee = a
            .lieux
            .first()
            .and_then(|l| l.coordonnees.adresse.as_ref())
            .and_then(|ad| ad.code_insee_commune.clone())
            .unwrap_or_default();
        let lieu = if e.site_principal.code_insee == insee {
            "0".to_string()
        } else {
            e.sites
                .iter()
                .position(|s| s.code_insee == insee)
                .map_or("0".to_string(), |i| (i + 1).to_string())
        };
        SaisieAction {
            lieu,
            siret_formateur: a
                .organismes_formateurs
                .first()
                .and_then(|n| n.children.iter().find(|c| c.name == "SIRET-formateur"))
                .map(|n| n.child_texts("SIRET").collect())
                .unwrap_or_default(),
            modalites_enseignement: a.modalites_enseignement.clone(),
            entrees_sorties: a.modalites_entrees_sorties.clone(),
            heures_centre: a
                .nombre_heures_centre
                .map(|h| h.to_string())
                .unwrap_or_default(),
            heures_entreprise: a
                .nombre_heures_entreprise
                .map(|h| h.to_string())
                .unwrap_or_default(),
            rythme: a.rythme.clone(),
            alternance: a.modalites_alternance.clone(),
            prix_total: a.prix_total_ttc.clone().unwrap_or_default(),
            niveau_obligatoire: a.niveau_entree_obligatoire.clone(),
            conditions_acces: a.conditions_specifiques.clone(),
            financeurs: a
                .financeurs
                .iter()
                .map(|f| f.code_financeur.clone())
                .collect(),
            publics: a.publics.iter().map(|p| p.code.clone()).collect(),
            date_information: a
                .dates_information
                .first()
                .map(|n| date_saisie(&n.child_texts("date").collect::<String>()))
                .unwrap_or_default(),
        }
    }

    /// Writes the step onto an action (`chemin`: the action's path in findings).
    pub fn appliquer(
        &self,
        a: &mut Action,
        e: &Etablissement,
        refs: &Referentiels,
        chemin: &str,
        s: &mut Saisie,
    ) {
        let site = site_de(e, &self.lieu);
        if site.is_none() {
            s.err(
                format!("{chemin}/lieu-de-formation"),
                "lieu-inconnu",
                "ce site n'existe pas dans « Mon établissement »".into(),
            );
        }
        a.lieux = vec![Lieu {
            coordonnees: Coordonnees {
                adresse: Some(adresse_de(site.unwrap_or(&e.site_principal), refs)),
                ..Default::default()
            },
            ..Default::default()
        }];
        let sf: String = self
            .siret_formateur
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        a.organismes_formateurs.clear();
        if !sf.is_empty() {
            if crate::rules::siret_valide(&sf) {
                a.organismes_formateurs.push(Node {
                    name: "organisme-formateur".into(),
                    children: vec![Node {
                        name: "SIRET-formateur".into(),
                        children: vec![Node {
                            name: "SIRET".into(),
                            text: sf,
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                });
            } else {
                s.err(
                    format!("{chemin}/organisme-formateur"),
                    "siret-invalide",
                    format!(
                        "« {} » n'est pas un SIRET valide (14 chiffres, clé de Luhn)",
                        court(&sf)
                    ),
                );
            }
        }
        a.modalites_enseignement = self.modalites_enseignement.trim().to_string();
        a.modalites_entrees_sorties = self.entrees_sorties.trim().to_string();
        a.nombre_heures_centre =
            s.nombre(chemin, "nombre-heures-centre", &self.heures_centre, 99_999);
        a.nombre_heures_entreprise = s.nombre(
            chemin,
            "nombre-heures-entreprise",
            &self.heures_entreprise,
            99_999,
        );
        a.nombre_heures_total = match (a.nombre_heures_centre, a.nombre_heures_entreprise) {
            (None, None) => None,
            (c, e) => Some(c.unwrap_or(0) + e.unwrap_or(0)),
        };
        a.rythme = s.texte(chemin, "rythme-formation", &self.rythme, MAX_LONG);
        a.modalites_alternance =
            s.texte(chemin, "modalites-alternance", &self.alternance, MAX_LONG);
        let prix = self
            .prix_total
            .trim()
            .replace(',', ".")
            .replace([' ', '€'], "");
        a.prix_total_ttc = None;
        if !prix.is_empty() {
            match prix.parse::<f64>() {
                Ok(p) if (0.0..10_000_000.0).contains(&p) => {
                    a.prix_total_ttc = Some(format!("{p:.2}"));
                    a.prix_horaire_ttc = a
                        .nombre_heures_total
                        .filter(|h| *h > 0)
                        .map(|h| format!("{:.2}", p / h as f64));
                }
                _ => s.err(
                    format!("{chemin}/prix-total-TTC"),
                    "prix-invalide",
                    format!(
                        "« {} » : un montant en euros est attendu (ex. 1250,50)",
                        court(&prix)
                    ),
                ),
            }
        }
        a.niveau_entree_obligatoire = if self.niveau_obligatoire == "1" {
            "1"
        } else {
            "0"
        }
        .into();
        a.conditions_specifiques = s.texte(
            chemin,
            "conditions-specifiques",
            &self.conditions_acces,
            MAX_LONG,
        );
        let mut financeurs: Vec<&String> = self.financeurs.iter().take(8).collect();
        financeurs.dedup();
        a.financeurs = financeurs
            .into_iter()
            .map(|c| Financeur {
                code_financeur: c.chars().take(5).collect(),
                ..Default::default()
            })
            .collect();
        let public = a.financement_public();
        a.prise_en_charge_frais_possible = if public { "1" } else { "0" }.into();
        a.conventionnement = Some(if public { "1" } else { "0" }.into());
        a.publics = self
            .publics
            .iter()
            .take(10)
            .map(|c| Code::new(c.chars().take(10).collect::<String>(), "V14"))
            .collect();
        a.dates_information.clear();
        if !self.date_information.trim().is_empty() {
            match date_lheo(&self.date_information) {
                Ok(d) => a.dates_information.push(Node {
                    name: "date-information".into(),
                    children: vec![Node {
                        name: "date".into(),
                        text: d,
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                Err(m) => s.err(format!("{chemin}/date-information"), "date-invalide", m),
            }
        }
        if a.langues.is_empty() {
            a.langues = vec!["fr".into()];
        }
    }
}

impl SaisieSession {
    pub fn de(s: &Session, e: &Etablissement) -> SaisieSession {
        let insee = s
            .adresse_inscription
            .adresse
            .code_insee_commune
            .clone()
            .unwrap_or_default();
        let inscription = if e.site_principal.code_insee == insee {
            "0".into()
        } else {
            e.sites
                .iter()
                .position(|x| x.code_insee == insee)
                .map_or("0".into(), |i| (i + 1).to_string())
        };
        SaisieSession {
            debut: date_saisie(&s.periode.debut),
            fin: date_saisie(&s.periode.fin),
            etat_recrutement: s.etat_recrutement.clone().unwrap_or_default(),
            places: places(s).unwrap_or_default(),
            inscription,
            modalites_inscription: s.modalites_inscription.clone().unwrap_or_default(),
        }
    }

    pub fn appliquer(
        &self,
        x: &mut Session,
        e: &Etablissement,
        refs: &Referentiels,
        chemin: &str,
        s: &mut Saisie,
    ) {
        let periode = format!("{chemin}/periode");
        x.periode.debut = match date_lheo(&self.debut) {
            Ok(d) => d,
            Err(m) => {
                s.err(
                    format!("{periode}/debut"),
                    "date-invalide",
                    format!("début : {m}"),
                );
                "00000000".into()
            }
        };
        x.periode.fin = match date_lheo(&self.fin) {
            Ok(d) => d,
            Err(m) => {
                s.err(
                    format!("{periode}/fin"),
                    "date-invalide",
                    format!("fin : {m}"),
                );
                "99999999".into()
            }
        };
        x.etat_recrutement =
            Some(self.etat_recrutement.trim().to_string()).filter(|v| !v.is_empty());
        let site = site_de(e, &self.inscription).unwrap_or(&e.site_principal);
        x.adresse_inscription = AdresseBloc {
            adresse: Adresse {
                geolocalisation: None,
                ..adresse_de(site, refs)
            },
            extras: vec![],
        };
        x.modalites_inscription = Some(s.texte(
            chemin,
            "modalites-inscription",
            &self.modalites_inscription,
            MAX_LONG,
        ))
        .filter(|v| !v.is_empty());
        let n = s.nombre(chemin, "nb-places", &self.places, 99_999);
        x.details.retain(|d| d.name != "recrutement");
        if let Some(n) = n {
            // LHÉO 2.3 `recrutement/nb-places`, first of the session's 2.3 details.
            x.details.insert(
                0,
                Node {
                    name: "recrutement".into(),
                    children: vec![Node {
                        name: "nb-places".into(),
                        text: n.to_string(),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            );
        }
    }
}

/// A session's number of places (LHÉO 2.3 `recrutement/nb-places`).
pub fn places(s: &Session) -> Option<String> {
    s.details
        .iter()
        .find(|d| d.name == "recrutement")
        .and_then(|r| r.children.iter().find(|c| c.name == "nb-places"))
        .map(|n| n.text.clone())
}

/// An empty action ready for its form, with the defaults most offers take.
pub fn nouvelle_action(numero: String) -> Action {
    Action {
        numero,
        modalites_enseignement: "0".into(),
        modalites_entrees_sorties: "0".into(),
        niveau_entree_obligatoire: "0".into(),
        modalites_alternance: "Sans objet".into(),
        langues: vec!["fr".into()],
        ..Default::default()
    }
}

/// The next free number for a child (`{parent}_A3`, `{parent}_S2`).
pub fn numero_suivant<'a>(
    parent: &str,
    lettre: char,
    existants: impl Iterator<Item = &'a str>,
) -> String {
    let prefixe = format!("{parent}_{lettre}");
    let n = existants
        .filter_map(|e| e.strip_prefix(&prefixe)?.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    format!("{prefixe}{}", n + 1)
}

/// The same formation, place and modalities with a duration within 10 hours: a duplicate
/// of another offer of the organisation, caught before submission (as Mon Compte
/// Formation does).
pub fn doublons(f: &Formation, autres: &[Formation]) -> Vec<Constat> {
    let cle = |f: &Formation| {
        f.certifications
            .first()
            .and_then(|c| {
                c.code_rncp
                    .clone()
                    .or(c.code_rs.clone())
                    .or(c.code_certifinfo.clone())
            })
            .unwrap_or_else(|| crate::search::analyse::plier(f.intitule.trim()))
    };
    let lieu = |a: &Action| {
        a.lieux
            .first()
            .and_then(|l| l.coordonnees.adresse.as_ref())
            .map(|ad| {
                ad.code_insee_commune
                    .clone()
                    .unwrap_or_else(|| ad.codepostal.clone())
            })
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    let k = cle(f);
    for a in &f.actions {
        for autre in autres
            .iter()
            .filter(|o| o.numero != f.numero && cle(o) == k)
        {
            for b in &autre.actions {
                let proche = match (a.nombre_heures_total, b.nombre_heures_total) {
                    (Some(x), Some(y)) => x.abs_diff(y) <= 10,
                    (None, None) => true,
                    _ => false,
                };
                if proche
                    && lieu(a) == lieu(b)
                    && a.modalites_enseignement == b.modalites_enseignement
                {
                    out.push(Constat::bloquant(
                        "doublon",
                        format!("formation[{}]/action[{}]", f.numero, a.numero),
                        format!(
                            "même formation, même lieu, mêmes modalités et durée à 10 h près que l'action {} de l'offre {} « {} » : complétez cette offre plutôt que d'en créer une autre",
                            b.numero, autre.numero, autre.intitule
                        ),
                    ));
                }
            }
        }
    }
    out
}

/// Runs the rules on a revision and adds the typed values' own findings and duplicates.
pub fn juger(
    f: &Formation,
    refs: &Referentiels,
    saisie: Vec<Constat>,
    autres: &[Formation],
) -> Verdict {
    let mut v = crate::rules::verifier(f, refs);
    v.constats.extend(saisie);
    v.constats.extend(doublons(f, autres));
    v
}

/// What to do about a finding, in French, by its code.
pub fn que_faire(code: &str) -> &'static str {
    match code {
        "obligatoire-manquant" => "Renseignez ce champ.",
        "texte-trop-long" => "Raccourcissez le texte.",
        "code-inconnu" | "code-obsolete" => "Choisissez une valeur de la liste.",
        "date-invalide" | "date-invalide-calendrier" => {
            "Saisissez une date réelle (jour, mois, année)."
        }
        "dates-inversees" | "session-inversee" => "Vérifiez que la fin vient après le début.",
        "nombre-invalide" => "Saisissez un nombre entier, sans unité.",
        "prix-invalide" => "Saisissez un montant en euros, par exemple 1250,50.",
        "siret-invalide" => "Vérifiez les 14 chiffres du SIRET.",
        "nda-invalide" => "Corrigez le numéro dans « Mon établissement ».",
        "certification-inconnue" => "Choisissez une fiche RNCP, RS ou Certif Info active.",
        "formacode-inconnu" => "Choisissez un code du thésaurus Formacode.",
        "doublon" => "Complétez l'offre existante plutôt que d'en créer une seconde.",
        "courriel-invalide" => "Vérifiez l'adresse électronique.",
        "lieu-inconnu" => "Choisissez un site déclaré dans « Mon établissement ».",
        c if c.starts_with("carif-") => "Modifiez ce point, puis soumettez de nouveau l'offre.",
        _ => "Corrigez la valeur indiquée, puis enregistrez.",
    }
}
