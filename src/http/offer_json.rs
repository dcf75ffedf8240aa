//! The public JSON of an offer, as its own types: the store keeps `model::Formation` (bincode,
//! every LHÉO element down to the verbatim `Node` trees needed to write it back), partners get
//! these views. A change to the store format does not silently change the API, and no raw XML
//! tree reaches the JSON: an element kept verbatim appears as its text, or not at all.
//!
//! Field names are the model's (LHÉO's own, in snake_case); dates stay LHÉO's `AAAAMMJJ`
//! strings, as they always were in this document.

use crate::model::{
    Action, Adresse, AdresseBloc, Certification, Code, Contact, Coordonnees, Financeur, Formation,
    Lieu, Node, Session,
};
use crate::rules::{Constat, DecisionAction};
use crate::store::{OffreStockee, OrganismeResume};
use serde::Serialize;
use utoipa::ToSchema;

/// The text of a verbatim element: its own text, else its children's, joined.
fn text_of(n: &Node) -> Option<String> {
    let t = n.text.trim();
    if !t.is_empty() {
        return Some(t.to_string());
    }
    let enfants: Vec<String> = n.children.iter().filter_map(text_of).collect();
    (!enfants.is_empty()).then(|| enfants.join(" "))
}

fn codes(c: &[Code]) -> Vec<CodeJson<'_>> {
    c.iter()
        .map(|c| CodeJson {
            code: &c.code,
            principal: c.attrs.iter().any(|(k, v)| k == "tag" && v == "principal"),
        })
        .collect()
}

/// A code (Formacode, ROME, public…), as in `domaine.formacodes[].code`.
#[derive(Serialize, ToSchema)]
pub struct CodeJson<'a> {
    pub code: &'a str,
    /// Tagged `principal` by its producer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub principal: bool,
}

/// The formation's domains: Formacode, NSF and ROME codes.
#[derive(Serialize, ToSchema)]
pub struct DomaineJson<'a> {
    pub formacodes: Vec<CodeJson<'a>>,
    pub nsf: &'a [String],
    pub rome: Vec<CodeJson<'a>>,
}

/// `GET /api/v1/formations/{numero}`.
#[derive(Serialize, ToSchema)]
pub struct OffreJson<'a> {
    pub formation: FormationJson<'a>,
    /// The organisme as the store sums it up (secondary sites, Formacode domains).
    #[schema(value_type = Option<Object>)]
    pub organisme: Option<&'a OrganismeResume>,
    pub verdict: VerdictJson<'a>,
    /// The import source it came from.
    pub source: &'a str,
    /// First received, checked, diffused (ms since 1970).
    pub recue_le: i64,
    pub verifiee_le: i64,
    pub diffusee_le: Option<i64>,
}

impl<'a> OffreJson<'a> {
    /// Only the actions the scope rule lists leave the server, with their findings and
    /// decisions: an action that is not listed is not named either.
    pub fn de(o: &'a OffreStockee, organisme: Option<&'a OrganismeResume>) -> Self {
        let listee = |a: &Action| {
            o.verdict
                .diffusion
                .iter()
                .any(|d| d.diffusee && d.action == a.numero)
        };
        let cachees: Vec<String> = o
            .formation
            .actions
            .iter()
            .filter(|a| !listee(a))
            .map(|a| format!("/action[{}]", a.numero))
            .collect();
        let mut formation = FormationJson::de(&o.formation);
        formation.actions = o
            .formation
            .actions
            .iter()
            .filter(|a| listee(a))
            .map(|a| ActionJson::de(&o.formation, a))
            .collect();
        OffreJson {
            formation,
            organisme,
            verdict: VerdictJson {
                constats: o
                    .verdict
                    .constats
                    .iter()
                    .filter(|c| !cachees.iter().any(|x| c.chemin.contains(x.as_str())))
                    .collect(),
                diffusion: o.verdict.diffusion.iter().filter(|d| d.diffusee).collect(),
            },
            source: &o.source,
            recue_le: o.recue_le,
            verifiee_le: o.verifiee_le,
            diffusee_le: o.diffusee_le,
        }
    }
}

/// The rules' findings and the diffusion decision of each action, with its reason.
#[derive(Serialize, ToSchema)]
pub struct VerdictJson<'a> {
    #[schema(value_type = Vec<Object>)]
    pub constats: Vec<&'a Constat>,
    #[schema(value_type = Vec<Object>)]
    pub diffusion: Vec<&'a DecisionAction>,
}

#[derive(Serialize, ToSchema)]
pub struct FormationJson<'a> {
    pub numero: &'a str,
    pub datecrea: Option<&'a str>,
    pub datemaj: Option<&'a str>,
    pub intitule: &'a str,
    pub objectif: &'a str,
    pub resultats_attendus: &'a str,
    pub contenu: &'a str,
    pub certifiante: &'a str,
    pub parcours: &'a str,
    pub code_niveau_entree: &'a str,
    pub code_niveau_sortie: Option<&'a str>,
    pub objectif_general: Option<&'a str>,
    pub domaine: DomaineJson<'a>,
    pub certifications: Vec<CertificationJson<'a>>,
    pub contacts: Vec<ContactJson<'a>>,
    pub url: Option<String>,
    pub actions: Vec<ActionJson<'a>>,
    pub organisme: OrganismeJson<'a>,
}

impl<'a> FormationJson<'a> {
    pub fn de(f: &'a Formation) -> Self {
        FormationJson {
            numero: &f.numero,
            datecrea: f.datecrea.as_deref(),
            datemaj: f.datemaj.as_deref(),
            intitule: &f.intitule,
            objectif: &f.objectif,
            resultats_attendus: &f.resultats_attendus,
            contenu: &f.contenu,
            certifiante: &f.certifiante,
            parcours: &f.parcours,
            code_niveau_entree: &f.code_niveau_entree,
            code_niveau_sortie: f.code_niveau_sortie.as_deref(),
            objectif_general: f.objectif_general.as_deref(),
            domaine: DomaineJson {
                formacodes: codes(&f.domaine.formacodes),
                nsf: &f.domaine.nsf,
                rome: codes(&f.domaine.rome),
            },
            certifications: f.certifications.iter().map(CertificationJson::de).collect(),
            contacts: f.contacts.iter().map(ContactJson::de).collect(),
            url: f.url.as_ref().and_then(text_of),
            actions: f.actions.iter().map(|a| ActionJson::de(f, a)).collect(),
            organisme: OrganismeJson {
                numero_activite: &f.organisme.numero_activite,
                siret: &f.organisme.siret,
                nom: &f.organisme.nom,
                raison_sociale: &f.organisme.raison_sociale,
                coordonnees: CoordonneesJson::de(&f.organisme.coordonnees),
                contacts: f.organisme.contacts.iter().map(ContactJson::de).collect(),
                renseignements_specifiques: f.organisme.renseignements_specifiques.as_deref(),
                formacodes: f.organisme.formacodes(),
            },
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CertificationJson<'a> {
    pub code_rncp: Option<&'a str>,
    pub code_certifinfo: Option<&'a str>,
    pub code_rs: Option<&'a str>,
    pub code_cpf: Option<&'a str>,
    pub reference_formacode: Option<&'a str>,
}

impl<'a> CertificationJson<'a> {
    fn de(c: &'a Certification) -> Self {
        CertificationJson {
            code_rncp: c.code_rncp.as_deref(),
            code_certifinfo: c.code_certifinfo.as_deref(),
            code_rs: c.code_rs.as_deref(),
            code_cpf: c.code_cpf.as_deref(),
            reference_formacode: c.reference_formacode.as_deref(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ContactJson<'a> {
    pub type_contact: Option<&'a str>,
    pub coordonnees: CoordonneesJson<'a>,
}

impl<'a> ContactJson<'a> {
    fn de(c: &'a Contact) -> Self {
        ContactJson {
            type_contact: c.type_contact.as_deref(),
            coordonnees: CoordonneesJson::de(&c.coordonnees),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CoordonneesJson<'a> {
    pub civilite: Option<&'a str>,
    pub nom: Option<&'a str>,
    pub prenom: Option<&'a str>,
    pub lignes: &'a [String],
    pub adresse: Option<AdresseJson<'a>>,
    pub telfixe: Option<String>,
    pub portable: Option<String>,
    pub fax: Option<String>,
    pub courriel: Option<&'a str>,
    pub web: Option<String>,
}

impl<'a> CoordonneesJson<'a> {
    fn de(c: &'a Coordonnees) -> Self {
        CoordonneesJson {
            civilite: c.civilite.as_deref(),
            nom: c.nom.as_deref(),
            prenom: c.prenom.as_deref(),
            lignes: &c.lignes,
            adresse: c.adresse.as_ref().map(AdresseJson::de),
            telfixe: c.telfixe.as_ref().and_then(text_of),
            portable: c.portable.as_ref().and_then(text_of),
            fax: c.fax.as_ref().and_then(text_of),
            courriel: c.courriel.as_deref(),
            web: c.web.as_ref().and_then(text_of),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AdresseJson<'a> {
    pub denomination: Option<&'a str>,
    pub lignes: &'a [String],
    pub codepostal: &'a str,
    pub ville: &'a str,
    pub departement: Option<&'a str>,
    pub code_insee_commune: Option<&'a str>,
    pub region: Option<&'a str>,
    pub pays: Option<&'a str>,
    /// WGS 84 degrees, when the place is geolocated.
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

impl<'a> AdresseJson<'a> {
    fn de(a: &'a Adresse) -> Self {
        let geo = a.geolocalisation.as_ref().and_then(|g| g.lat_lon());
        AdresseJson {
            denomination: a.denomination.as_deref(),
            lignes: &a.lignes,
            codepostal: &a.codepostal,
            ville: &a.ville,
            departement: a.departement.as_deref(),
            code_insee_commune: a.code_insee_commune.as_deref(),
            region: a.region.as_deref(),
            pays: a.pays.as_deref(),
            latitude: geo.map(|g| g.0),
            longitude: geo.map(|g| g.1),
        }
    }

    fn from_bloc(b: &'a AdresseBloc) -> Self {
        Self::de(&b.adresse)
    }
}

#[derive(Serialize, ToSchema)]
pub struct OrganismeJson<'a> {
    pub numero_activite: &'a str,
    pub siret: &'a str,
    pub nom: &'a str,
    pub raison_sociale: &'a str,
    pub coordonnees: CoordonneesJson<'a>,
    pub contacts: Vec<ContactJson<'a>>,
    pub renseignements_specifiques: Option<&'a str>,
    pub formacodes: Vec<&'a str>,
}

#[derive(Serialize, ToSchema)]
pub struct LieuJson<'a> {
    pub siret: Option<String>,
    pub uai: Option<String>,
    pub coordonnees: CoordonneesJson<'a>,
}

impl<'a> LieuJson<'a> {
    fn de(l: &'a Lieu) -> Self {
        LieuJson {
            siret: l.siret.as_ref().and_then(text_of),
            uai: l.uai.as_ref().and_then(text_of),
            coordonnees: CoordonneesJson::de(&l.coordonnees),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct FinanceurJson<'a> {
    pub code_financeur: &'a str,
    pub nb_places_financees: Option<u32>,
}

impl<'a> FinanceurJson<'a> {
    fn de(f: &'a Financeur) -> Self {
        FinanceurJson {
            code_financeur: &f.code_financeur,
            nb_places_financees: f.nb_places_financees,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ActionJson<'a> {
    pub numero: &'a str,
    pub datecrea: Option<&'a str>,
    pub datemaj: Option<&'a str>,
    pub rythme: &'a str,
    pub publics: Vec<CodeJson<'a>>,
    pub info_public_vise: Option<&'a str>,
    pub niveau_entree_obligatoire: &'a str,
    pub modalites_alternance: &'a str,
    pub modalites_enseignement: &'a str,
    pub conditions_specifiques: &'a str,
    pub prise_en_charge_frais_possible: &'a str,
    pub lieux: Vec<LieuJson<'a>>,
    pub modalites_entrees_sorties: &'a str,
    pub url: Option<String>,
    pub duree_cycle: Option<&'a str>,
    pub sessions: Vec<SessionJson<'a>>,
    pub adresse_information: Option<AdresseJson<'a>>,
    pub restauration: Option<&'a str>,
    pub hebergement: Option<&'a str>,
    pub transport: Option<&'a str>,
    pub acces_handicapes: Option<&'a str>,
    pub langues: &'a [String],
    pub modalites_recrutement: Option<&'a str>,
    pub modalites_pedagogiques: Option<&'a str>,
    pub codes_modalite_pedagogique: Vec<CodeJson<'a>>,
    pub frais_restants: Option<&'a str>,
    pub code_perimetre_recrutement: Option<&'a str>,
    pub infos_perimetre_recrutement: Option<&'a str>,
    pub prix_horaire_ttc: Option<&'a str>,
    pub prix_total_ttc: Option<&'a str>,
    pub duree_indicative: Option<&'a str>,
    pub nombre_heures_centre: Option<u32>,
    pub nombre_heures_entreprise: Option<u32>,
    pub nombre_heures_total: Option<u32>,
    pub detail_conditions_prise_en_charge: Option<&'a str>,
    pub conventionnement: Option<&'a str>,
    pub duree_conventionnee: Option<u32>,
    /// The Dispositif's financeurs.
    pub financeurs: Vec<FinanceurJson<'a>>,
}

impl<'a> ActionJson<'a> {
    fn de(f: &Formation, a: &'a Action) -> Self {
        ActionJson {
            numero: &a.numero,
            datecrea: a.datecrea.as_deref(),
            datemaj: a.datemaj.as_deref(),
            rythme: &a.rythme,
            publics: codes(&a.publics),
            info_public_vise: a.info_public_vise.as_deref(),
            niveau_entree_obligatoire: &a.niveau_entree_obligatoire,
            modalites_alternance: &a.modalites_alternance,
            modalites_enseignement: &a.modalites_enseignement,
            conditions_specifiques: &a.conditions_specifiques,
            prise_en_charge_frais_possible: &a.prise_en_charge_frais_possible,
            lieux: a.lieux.iter().map(LieuJson::de).collect(),
            modalites_entrees_sorties: &a.modalites_entrees_sorties,
            url: a.url.as_ref().and_then(text_of),
            duree_cycle: a.duree_cycle.as_deref(),
            sessions: a.sessions.iter().map(|s| SessionJson::de(f, s)).collect(),
            adresse_information: a.adresse_information.as_ref().map(AdresseJson::from_bloc),
            restauration: a.restauration.as_deref(),
            hebergement: a.hebergement.as_deref(),
            transport: a.transport.as_deref(),
            acces_handicapes: a.acces_handicapes.as_deref(),
            langues: &a.langues,
            modalites_recrutement: a.modalites_recrutement.as_deref(),
            modalites_pedagogiques: a.modalites_pedagogiques.as_deref(),
            codes_modalite_pedagogique: codes(&a.codes_modalite_pedagogique),
            frais_restants: a.frais_restants.as_deref(),
            code_perimetre_recrutement: a.code_perimetre_recrutement.as_deref(),
            infos_perimetre_recrutement: a.infos_perimetre_recrutement.as_deref(),
            prix_horaire_ttc: a.prix_horaire_ttc.as_deref(),
            prix_total_ttc: a.prix_total_ttc.as_deref(),
            duree_indicative: a.duree_indicative.as_deref(),
            nombre_heures_centre: a.nombre_heures_centre,
            nombre_heures_entreprise: a.nombre_heures_entreprise,
            nombre_heures_total: a.nombre_heures_total,
            detail_conditions_prise_en_charge: a.detail_conditions_prise_en_charge.as_deref(),
            conventionnement: a.conventionnement.as_deref(),
            duree_conventionnee: a.duree_conventionnee,
            financeurs: a.financeurs.iter().map(FinanceurJson::de).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PeriodeJson<'a> {
    pub debut: &'a str,
    pub fin: &'a str,
}

#[derive(Serialize, ToSchema)]
pub struct SessionJson<'a> {
    pub numero: &'a str,
    pub datecrea: Option<&'a str>,
    pub datemaj: Option<&'a str>,
    pub periode: PeriodeJson<'a>,
    pub adresse_inscription: AdresseJson<'a>,
    pub modalites_inscription: Option<&'a str>,
    pub etat_recrutement: Option<&'a str>,
    /// How it is followed: `continue`, `scolaire`, `apprentissage`, `universitaire`.
    pub voie: &'static str,
    /// Admission (LHÉO 2.3 `recrutement`).
    pub recrutements: Vec<RecrutementJson>,
    /// Initial training's cycles (LHÉO 2.3 `cycle`).
    pub cycles: Vec<CycleJson>,
}

/// The text of the child `nom` of `n`, if any.
fn enfant(n: &Node, nom: &str) -> Option<String> {
    n.children
        .iter()
        .find(|c| c.name == nom)
        .map(|c| c.text.trim().to_string())
        .filter(|t| !t.is_empty())
}

#[derive(Serialize, ToSchema)]
pub struct RecrutementJson {
    /// `dict-modalite-recrutement` code (2 concours, 3 dossier, 8 entretien…).
    pub modalite_recrutement: Option<String>,
    pub nb_places: Option<String>,
    pub code_perimetre_recrutement: Option<String>,
    pub urlweb: Option<String>,
    pub commentaire: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CycleJson {
    /// `dict-type-cycle`: 0 formation initiale, 1 contrat d'apprentissage.
    pub type_cycle: Option<String>,
    pub annees: Vec<String>,
    pub capacite_simultanee: Option<String>,
    pub capacite_cumulee: Option<String>,
    pub effectif_minimal: Option<String>,
    pub alternance: Option<AlternanceJson>,
}

#[derive(Serialize, ToSchema)]
pub struct AlternanceJson {
    /// `dict-type-alternance`: 0 tout contrat, 1 apprentissage, 2 professionnalisation.
    pub type_alternance: Option<String>,
    /// `dict-unite-rythme` (3: semaine) and the units in company and in the centre.
    pub unite_rythme: Option<String>,
    pub unites_entreprise: Option<String>,
    pub unites_centre: Option<String>,
}

impl CycleJson {
    fn de(c: &Node) -> Self {
        let alternance = c.children.iter().find(|a| a.name == "alternance").map(|a| {
            let r = a.children.iter().find(|r| r.name == "rythme-alternance");
            AlternanceJson {
                type_alternance: enfant(a, "type-alternance"),
                unite_rythme: r.and_then(|r| enfant(r, "unite-rythme-alternance")),
                unites_entreprise: r.and_then(|r| enfant(r, "unites-entreprise")),
                unites_centre: r.and_then(|r| enfant(r, "unites-centre")),
            }
        });
        CycleJson {
            type_cycle: enfant(c, "type-cycle"),
            annees: c
                .child_texts("annee-cycle")
                .map(|t| t.trim().to_string())
                .collect(),
            capacite_simultanee: enfant(c, "capacite-simultanee"),
            capacite_cumulee: enfant(c, "capacite-cumulee"),
            effectif_minimal: enfant(c, "effectif-minimal"),
            alternance,
        }
    }
}

impl<'a> SessionJson<'a> {
    fn de(f: &Formation, s: &'a Session) -> Self {
        SessionJson {
            numero: &s.numero,
            datecrea: s.datecrea.as_deref(),
            datemaj: s.datemaj.as_deref(),
            periode: PeriodeJson {
                debut: &s.periode.debut,
                fin: &s.periode.fin,
            },
            adresse_inscription: AdresseJson::from_bloc(&s.adresse_inscription),
            modalites_inscription: s.modalites_inscription.as_deref(),
            etat_recrutement: s.etat_recrutement.as_deref(),
            voie: crate::model::Voie::de_session(f, s).code(),
            recrutements: s
                .details
                .iter()
                .filter(|d| d.name == "recrutement")
                .map(|r| RecrutementJson {
                    modalite_recrutement: enfant(r, "modalite-recrutement"),
                    nb_places: enfant(r, "nb-places"),
                    code_perimetre_recrutement: enfant(r, "code-perimetre-recrutement"),
                    urlweb: enfant(r, "urlweb"),
                    commentaire: enfant(r, "commentaire"),
                })
                .collect(),
            cycles: s
                .details
                .iter()
                .filter(|d| d.name == "cycle")
                .map(CycleJson::de)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_xml_tree_in_the_json() {
        let mut f = Formation {
            numero: "F1".into(),
            ..Default::default()
        };
        f.url = Some(Node {
            name: "url-formation".into(),
            children: vec![Node {
                name: "urlweb".into(),
                text: "https://exemple.fr".into(),
                ..Default::default()
            }],
            ..Default::default()
        });
        f.extras = vec![Node {
            name: "extra".into(),
            text: "secret".into(),
            ..Default::default()
        }];
        let v = serde_json::to_value(FormationJson::de(&f)).unwrap();
        assert_eq!(v["url"], "https://exemple.fr");
        let s = v.to_string();
        assert!(!s.contains("children") && !s.contains("secret") && !s.contains("extras"));
    }
}
