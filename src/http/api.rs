//! The public JSON API: `/api/v1/recherche`, `/api/v1/formations/{numero}`,
//! `/api/v1/suggestions`, `/api/v1/referentiels/{nom}`, and `/api/v1/openapi.json`, generated
//! from the request and response types below. GET only, flat French parameters, errors naming
//! the parameter; CORS and gzip come from the router's layers.

use super::offer_json::OffreJson;
use super::params;
use super::partenaires::Acces;
use super::respond::{
    bad_param, error, etag_of, full, internal, json_with_etag, not_modified, unavailable, Body,
    Erreur,
};
use super::App;
use crate::referentiel::departements_region;
use crate::search::index::jour;
use crate::search::query::Reponse;
use crate::search::suggest::Suggestion;
use crate::search::widen::Widening;
use axum::extract::Request;
use hyper::{Response, StatusCode};
use serde::Serialize;
use std::sync::Arc;
use utoipa::{OpenApi, ToSchema};

/// `GET /api/v1/recherche`'s answer.
#[derive(Serialize, ToSchema)]
pub struct RechercheReponse {
    #[serde(flatten)]
    pub reponse: Reponse,
    /// What was understood in `q`: the words searched, and each thing that became a filter
    /// or an alternative spelling.
    pub interpretation: Interpretation,
    /// Wider searches and their counts, when this one finds little.
    pub elargir: Vec<Widening>,
    /// Time the search took in the server, in ms.
    pub duree_ms: f64,
}

/// What the engine made of `q`.
#[derive(Serialize, ToSchema)]
pub struct Interpretation {
    /// The words searched, once the understood ones were set aside.
    pub q: String,
    /// Each thing understood, with the parameters it became; `litteral=<texte>` undoes it.
    pub compris: Vec<crate::search::comprendre::Compris>,
}

/// Recherche de formations, résultats groupés par action et lieu, facettes disjonctives.
#[utoipa::path(get, path = "/api/v1/recherche", params(params::Recherche),
    responses(
        (status = 200, description = "Résultats, facettes et élargissements", body = RechercheReponse),
        (status = 304, description = "Inchangé depuis l'ETag donné"),
        (status = 400, description = "Paramètre invalide, nommé dans l'erreur", body = Erreur),
    ))]
pub(super) async fn recherche(app: Arc<App>, req: Request) -> Response<Body> {
    let Some(moteur) = app.moteur.clone() else {
        return moteur_absent();
    };
    let aujourdhui = jour(jiff::Zoned::now().date());
    let query = req.uri().query().unwrap_or("").to_string();
    let acces = req.extensions().get::<Acces>();
    let mut r = match params::parse::<params::Recherche>(&query)
        .and_then(|p| p.requete(&moteur, aujourdhui))
    {
        Ok(r) => r,
        Err(e) => return bad_param(e),
    };
    // A partner key's forced filters (asking wider never widens them).
    super::partenaires::imposer(acces, &app.refs, &mut r);
    let cle = acces.and_then(|a| a.0.as_ref()).map_or(0, |c| c.id);
    // Same query, same index state, same day → same results: a validator without hashing
    // the body (weak: `duree_ms` differs from one answer to the next).
    let etag = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&query, moteur.state_id(), aujourdhui, cle).hash(&mut h);
        format!("W/\"{:016x}\"", h.finish())
            .parse::<headers::ETag>()
            .expect("valid ETag")
    };
    // A 304 costs no search.
    if not_modified(req.headers(), &etag) {
        return json_with_etag(req.headers(), etag, Vec::new());
    }
    let t0 = std::time::Instant::now();
    let acces = acces.cloned();
    let refs = app.refs.clone();
    let res = tokio::task::spawn_blocking(move || {
        let mut reponse = moteur.rechercher(&r)?;
        app.analytique.recherche(&moteur, &r, &reponse);
        app.metriques.recherche(reponse.total == 0);
        super::partenaires::filtrer_facettes(acces.as_ref(), &refs, &mut reponse.facettes);
        // Widening would step out of a key's forced filters: not offered then.
        let force = acces
            .as_ref()
            .and_then(|a| a.0.as_ref())
            .is_some_and(|c| !c.departements.is_empty() || !c.formacodes.is_empty());
        let elargir = if force {
            Vec::new()
        } else {
            moteur.widen(&r, reponse.total)
        };
        tantivy::Result::Ok(RechercheReponse {
            reponse,
            interpretation: Interpretation {
                q: r.q.clone(),
                compris: r.compris.clone(),
            },
            elargir,
            duree_ms: (t0.elapsed().as_secs_f64() * 1e4).round() / 10.0,
        })
    })
    .await;
    match res {
        Ok(Ok(corps)) => json_with_etag(
            req.headers(),
            etag,
            serde_json::to_vec(&corps).unwrap_or_default(),
        ),
        Ok(Err(e)) => unavailable("index-indisponible", e),
        Err(e) => internal(e),
    }
}

fn moteur_absent() -> Response<Body> {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "recherche-indisponible",
        "le moteur de recherche n'est pas démarré",
        None,
    )
}

/// Une formation diffusée : formation, actions, sessions, organisme, verdict.
#[utoipa::path(get, path = "/api/v1/formations/{numero}",
    params(("numero" = String, Path, description = "Numéro de la formation")),
    responses(
        (status = 200, description = "La formation et son organisme", body = OffreJson),
        (status = 404, description = "Aucune formation diffusée de ce numéro", body = Erreur),
    ))]
pub(super) async fn formation(app: Arc<App>, req: Request, numero: String) -> Response<Body> {
    let acces = req.extensions().get::<Acces>();
    match app.store.offre(&numero) {
        Ok(Some(o))
            if o.verdict.diffusable() && super::partenaires::admet_offre(acces, &app.refs, &o) =>
        {
            let org = app
                .store
                .organisme(&o.formation.organisme.siret)
                .ok()
                .flatten();
            let corps = serde_json::to_vec(&OffreJson::de(&o, org.as_ref())).unwrap_or_default();
            json_with_etag(req.headers(), etag_of(&corps), corps)
        }
        Ok(_) => error(
            StatusCode::NOT_FOUND,
            "introuvable",
            &format!("aucune formation diffusée de numéro « {numero} »"),
            None,
        ),
        Err(e) => unavailable("stockage-indisponible", e),
    }
}

/// Suggestions par préfixe : libellés Formacode, intitulés, communes.
#[utoipa::path(get, path = "/api/v1/suggestions", params(params::Suggestions),
    responses(
        (status = 200, description = "Au plus 8 suggestions", body = Vec<Suggestion>),
        (status = 400, description = "Paramètre invalide", body = Erreur),
    ))]
pub(super) async fn suggestions(app: Arc<App>, req: Request) -> Response<Body> {
    let Some(moteur) = app.moteur.as_ref() else {
        return moteur_absent();
    };
    let q = match params::parse::<params::Suggestions>(req.uri().query().unwrap_or(""))
        .and_then(|p| p.text_of())
    {
        Ok(q) => q,
        Err(e) => return bad_param(e),
    };
    match moteur.suggest(&q, 8) {
        Ok(s) => {
            let corps = serde_json::to_vec(&s).unwrap_or_default();
            json_with_etag(req.headers(), etag_of(&corps), corps)
        }
        Err(e) => unavailable("index-indisponible", e),
    }
}

/// One entry of a référentiel.
#[derive(Serialize, ToSchema)]
pub struct EntreeReferentiel {
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub libelle: Option<String>,
    /// Formacode: the more generic code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<Option<String>>,
    /// Communes: name, postal codes, département, coordinates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nom: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codes_postaux: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub departement: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lon: Option<Option<f64>>,
}

impl EntreeReferentiel {
    fn code_libelle(code: &str, libelle: &str) -> Self {
        EntreeReferentiel {
            code: code.to_string(),
            libelle: Some(libelle.to_string()),
            parent: None,
            nom: None,
            codes_postaux: None,
            departement: None,
            lat: None,
            lon: None,
        }
    }
}

/// Référentiels : formacode, communes, financeurs, publics.
#[utoipa::path(get, path = "/api/v1/referentiels/{nom}",
    params(("nom" = String, Path, description = "formacode, communes, financeurs ou publics")),
    responses(
        (status = 200, description = "Les entrées, par code", body = Vec<EntreeReferentiel>),
        (status = 404, description = "Référentiel inconnu", body = Erreur),
    ))]
pub(super) async fn referentiel(app: Arc<App>, req: Request, nom: String) -> Response<Body> {
    let refs = &app.refs;
    let mut liste: Vec<EntreeReferentiel> = match nom.as_str() {
        "formacode" => refs
            .formacodes
            .values()
            .map(|f| EntreeReferentiel {
                parent: Some(f.generique.clone()),
                ..EntreeReferentiel::code_libelle(&f.code, &f.libelle)
            })
            .collect(),
        "communes" => refs
            .communes
            .values()
            .filter(|c| c.actuelle && departements_region().contains(&c.departement.as_str()))
            .map(|c| EntreeReferentiel {
                code: c.code_insee.clone(),
                libelle: None,
                parent: None,
                nom: Some(c.nom.clone()),
                codes_postaux: Some(c.codes_postaux.clone()),
                departement: Some(c.departement.clone()),
                lat: Some(c.lat),
                lon: Some(c.lon),
            })
            .collect(),
        "financeurs" => {
            let mut v: Vec<EntreeReferentiel> = refs
                .dictionnaires
                .get("dict-financeurs")
                .into_iter()
                .flatten()
                .map(|(c, l)| EntreeReferentiel::code_libelle(c, l))
                .collect();
            v.push(EntreeReferentiel::code_libelle("cpf", "Éligible au CPF"));
            v
        }
        "publics" => refs
            .annexes
            .iter()
            .filter(|(_, (a, _))| a == "public")
            .map(|(c, (_, l))| EntreeReferentiel::code_libelle(c, l))
            .collect(),
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                "introuvable",
                "référentiels : formacode, communes, financeurs ou publics",
                None,
            )
        }
    };
    liste.sort_by(|a, b| a.code.cmp(&b.code));
    let corps = serde_json::to_vec(&liste).unwrap_or_default();
    json_with_etag(req.headers(), etag_of(&corps), corps)
}

/// Flux LHÉO 2.3 de l'offre diffusable (complet, ou depuis un numéro de journal).
#[utoipa::path(get, path = "/lheo/offres.xml", params(super::params::Flux),
    responses(
        (status = 200, description = "Flux LHÉO 2.3 (application/xml), en-tête X-Sofi-Journal"),
        (status = 304, description = "Inchangé depuis l'ETag ou la date donnés"),
        (status = 400, description = "Paramètre invalide", body = Erreur),
    ))]
// Documentation only: the feed is served by `feeds::offres`, which this module may not import
// (route modules know nothing of each other); its OpenAPI entry lives here with the others.
#[allow(dead_code)]
fn flux_lheo() {}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sofi — offre de formation des Pays de la Loire",
        version = "1",
        description = "Recherche dans l'offre de formation diffusée (LHÉO). Paramètres plats, noms français ; erreurs {\"erreur\": {\"code\", \"message\", \"parametre\"}} avec un statut 4xx."
    ),
    paths(recherche, formation, suggestions, referentiel, flux_lheo)
)]
struct Documentation;

/// The public API's OpenAPI document (the router adds the organisation space's).
pub(super) fn documentation() -> utoipa::openapi::OpenApi {
    Documentation::openapi()
}

pub(super) fn openapi(doc: &'static str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json; charset=utf-8")
        .body(full(doc))
        .expect("valid headers")
}
