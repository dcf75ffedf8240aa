//! The public JSON of an offer, as its own types: the store keeps `model::Formation` (bincode,
//! every LHÉO element down to the verbatim `Node` trees needed to write it back), partners get
//! these views. A change to the store format does not silently change the API, and no raw XML
//! tree reaches the JSON: an element kept verbatim appears as its text, or not at all.
//!
//! Field names are the model's (LHÉO's own, in snake_case); dates stay LHÉO's `AAAAMMJJ`
//! strings, as they always were in this document.

use crate::model::{
    Action, Adresse, AdresseBloc, Certification, Code, Contact, Coordonnees, Financeur,
    Formation, Lieu, Node, Session,
};
use crate::rules::{Constat, DecisionAction};
use crate::store::{OffreStockee, OrganismeResume};
use serde::Serialize;
use utoipa::ToSchema;

/// The text of a verbatim element: its own text, else its children's, joined.
fn texte(n: &Node) -> Option<String> {
    let t = n.text.trim();
    if !t.is_empty() {
        return Some(t.to_string());
    }
    let enfants: Vec<String> = n.children.iter().filter_map(texte).collect();
    (!enfants.is_empty()).then(|| enfants.join(" "))
}

fn codes(c: &[Code]) -> Vec<&str> {
    c.iter().map(|c| c.code.as_str()).collect()
}

/// `GET /api/v1/formations/{numero}`.
#[derive(Serialize, ToSchema)]
pub struct FicheFormation<'a> {
    pub formation: FormationVue<'a>,
    /// The organisme as the store sums it up (secondary sites, Formacode domains).
    #[schema(value_type = Option<Object>)]
    pub organisme: Option<&'a OrganismeResume>,
    pub verdict: VerdictVue<'a>,
    /// The import source it came from.
    pub source: &'a str,
    /// First received, checked, diffused (ms since 1970).
    pub recue_le: i64,
    pub verifiee_le: i64,
    pub diffusee_le: Option<i64>,
}

impl<'a> FicheFormation<'a> {
    pub fn de(o: &'a OffreStockee, organisme: Option<&'a OrganismeResume>) -> Self {
        FicheFormation {
            formation: FormationVue::de(&o.formation),
            organisme,
            verdict: VerdictVue {
                constats: &o.verdict.constats,
                diffusion: &o.verdict.diffusion,
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
pub struct VerdictVue<'a> {
    #[schema(value_type = Vec<Object>)]
    pub constats: &'a [Constat],
    #[schema(value_type = Vec<Object>)]
    pub diffusion: &'a [DecisionAction],
}

#[derive(Serialize, ToSchema)]
pub struct FormationVue<'a> {
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
    pub formacodes: Vec<&'a str>,
    pub nsf: &'a [String],
    pub rome: Vec<&'a str>,
    pub certifications: Vec<CertificationVue<'a>>,
    pub contacts: Vec<ContactVue<'a>>,
    pub url: Option<String>,
    pub actions: Vec<ActionVue<'a>>,
    pub organisme: OrganismeVue<'a>,
}

impl<'a> FormationVue<'a> {
    pub fn de(f: &'a Formation) -> Self {
        FormationVue {
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
            formacodes: codes(&f.domaine.formacodes),
            nsf: &f.domaine.nsf,
            rome: codes(&f.domaine.rome),
            certifications: f.certifications.iter().map(CertificationVue::de).collect(),
            contacts: f.contacts.iter().map(ContactVue::de).collect(),
            url: f.url.as_ref().and_then(texte),
            actions: f.actions.iter().map(ActionVue::de).collect(),
            organisme: OrganismeVue {
                numero_activite: &f.organisme.numero_activite,
                siret: &f.organisme.siret,
                nom: &f.organisme.nom,
                raison_sociale: &f.organisme.raison_sociale,
                coordonnees: CoordonneesVue::de(&f.organisme.coordonnees),
                contacts: f.organisme.contacts.iter().map(ContactVue::de).collect(),
                renseignements_specifiques: f.organisme.renseignements_specifiques.as_deref(),
                formacodes: f.organisme.formacodes(),
            },
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CertificationVue<'a> {
    pub code_rncp: Option<&'a str>,
    pub code_certifinfo: Option<&'a str>,
    pub code_rs: Option<&'a str>,
    pub code_cpf: Option<&'a str>,
}

impl<'a> CertificationVue<'a> {
    fn de(c: &'a Certification) -> Self {
        CertificationVue {
            code_rncp: c.code_rncp.as_deref(),
            code_certifinfo: c.code_certifinfo.as_deref(),
            code_rs: c.code_rs.as_deref(),
            code_cpf: c.code_cpf.as_deref(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ContactVue<'a> {
    pub type_contact: Option<&'a str>,
    pub coordonnees: CoordonneesVue<'a>,
}

impl<'a> ContactVue<'a> {
    fn de(c: &'a Contact) -> Self {
        ContactVue {
            type_contact: c.type_contact.as_deref(),
            coordonnees: CoordonneesVue::de(&c.coordonnees),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CoordonneesVue<'a> {
    pub civilite: Option<&'a str>,
    pub nom: Option<&'a str>,
    pub prenom: Option<&'a str>,
    pub lignes: &'a [String],
    pub adresse: Option<AdresseVue<'a>>,
    pub telfixe: Option<String>,
    pub portable: Option<String>,
    pub fax: Option<String>,
    pub courriel: Option<&'a str>,
    pub web: Option<String>,
}

impl<'a> CoordonneesVue<'a> {
    fn de(c: &'a Coordonnees) -> Self {
        CoordonneesVue {
            civilite: c.civilite.as_deref(),
            nom: c.nom.as_deref(),
            prenom: c.prenom.as_deref(),
            lignes: &c.lignes,
            adresse: c.adresse.as_ref().map(AdresseVue::de),
            telfixe: c.telfixe.as_ref().and_then(texte),
            portable: c.portable.as_ref().and_then(texte),
            fax: c.fax.as_ref().and_then(texte),
            courriel: c.courriel.as_deref(),
            web: c.web.as_ref().and_then(texte),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AdresseVue<'a> {
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

impl<'a> AdresseVue<'a> {
    fn de(a: &'a Adresse) -> Self {
        let geo = a.geolocalisation.as_ref().and_then(|g| g.lat_lon());
        AdresseVue {
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

    fn de_bloc(b: &'a AdresseBloc) -> Self {
        Self::de(&b.adresse)
    }
}

#[derive(Serialize, ToSchema)]
pub struct OrganismeVue<'a> {
    pub numero_activite: &'a str,
    pub siret: &'a str,
    pub nom: &'a str,
    pub raison_sociale: &'a str,
    pub coordonnees: CoordonneesVue<'a>,
    pub contacts: Vec<ContactVue<'a>>,
    pub renseignements_specifiques: Option<&'a str>,
    pub formacodes: Vec<&'a str>,
}

#[derive(Serialize, ToSchema)]
pub struct LieuVue<'a> {
    pub siret: Option<String>,
    pub uai: Option<String>,
    pub coordonnees: CoordonneesVue<'a>,
}

impl<'a> LieuVue<'a> {
    fn de(l: &'a Lieu) -> Self {
        LieuVue {
            siret: l.siret.as_ref().and_then(texte),
            uai: l.uai.as_ref().and_then(texte),
            coordonnees: CoordonneesVue::de(&l.coordonnees),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct FinanceurVue<'a> {
    pub code_financeur: &'a str,
    pub nb_places_financees: Option<u32>,
}

impl<'a> FinanceurVue<'a> {
    fn de(f: &'a Financeur) -> Self {
        FinanceurVue {
            code_financeur: &f.code_financeur,
            nb_places_financees: f.nb_places_financees,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ActionVue<'a> {
    pub numero: &'a str,
    pub datecrea: Option<&'a str>,
    pub datemaj: Option<&'a str>,
    pub rythme: &'a str,
    pub publics: Vec<&'a str>,
    pub info_public_vise: Option<&'a str>,
    pub niveau_entree_obligatoire: &'a str,
    pub modalites_alternance: &'a str,
    pub modalites_enseignement: &'a str,
    pub conditions_specifiques: &'a str,
    pub prise_en_charge_frais_possible: &'a str,
    pub lieux: Vec<LieuVue<'a>>,
    pub modalites_entrees_sorties: &'a str,
    pub url: Option<String>,
    pub duree_cycle: Option<&'a str>,
    pub sessions: Vec<SessionVue<'a>>,
    pub adresse_information: Option<AdresseVue<'a>>,
    pub restauration: Option<&'a str>,
    pub hebergement: Option<&'a str>,
    pub transport: Option<&'a str>,
    pub acces_handicapes: Option<&'a str>,
    pub langues: &'a [String],
    pub modalites_recrutement: Option<&'a str>,
    pub modalites_pedagogiques: Option<&'a str>,
    pub codes_modalite_pedagogique: Vec<&'a str>,
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
    pub financeurs: Vec<FinanceurVue<'a>>,
}

impl<'a> ActionVue<'a> {
    fn de(a: &'a Action) -> Self {
        ActionVue {
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
            lieux: a.lieux.iter().map(LieuVue::de).collect(),
            modalites_entrees_sorties: &a.modalites_entrees_sorties,
            url: a.url.as_ref().and_then(texte),
            duree_cycle: a.duree_cycle.as_deref(),
            sessions: a.sessions.iter().map(SessionVue::de).collect(),
            adresse_information: a.adresse_information.as_ref().map(AdresseVue::de_bloc),
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
            financeurs: a.financeurs.iter().map(FinanceurVue::de).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PeriodeVue<'a> {
    pub debut: &'a str,
    pub fin: &'a str,
}

#[derive(Serialize, ToSchema)]
pub struct SessionVue<'a> {
    pub numero: &'a str,
    pub datecrea: Option<&'a str>,
    pub datemaj: Option<&'a str>,
    pub periode: PeriodeVue<'a>,
    pub adresse_inscription: AdresseVue<'a>,
    pub modalites_inscription: Option<&'a str>,
    pub etat_recrutement: Option<&'a str>,
}

impl<'a> SessionVue<'a> {
    fn de(s: &'a Session) -> Self {
        SessionVue {
            numero: &s.numero,
            datecrea: s.datecrea.as_deref(),
            datemaj: s.datemaj.as_deref(),
            periode: PeriodeVue {
                debut: &s.periode.debut,
                fin: &s.periode.fin,
            },
            adresse_inscription: AdresseVue::de_bloc(&s.adresse_inscription),
            modalites_inscription: s.modalites_inscription.as_deref(),
            etat_recrutement: s.etat_recrutement.as_deref(),
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
        let v = serde_json::to_value(FormationVue::de(&f)).unwrap();
        assert_eq!(v["url"], "https://exemple.fr");
        let s = v.to_string();
        assert!(!s.contains("children") && !s.contains("secret") && !s.contains("extras"));
    }
}
