//! The organisation space as JSON (`/api/v1/espace/…`), for organisations whose software
//! manages their offer: the same pipeline as the forms (rules → store → audit), with a
//! per-organisation API token (`Authorization: Bearer …`) scoped to its SIRETs. No cookie is
//! involved, so no CSRF token either; the token is stored only as its SHA-256.

use super::offres::{autres_de, deposer, soumettre_dossier, Soumis};
use super::*;
use crate::http::respond::{error, json_response};
use crate::model::{Formation, Session};
use crate::rules::{Constat, DecisionAction};
use crate::saisie::{self, SaisieAction, SaisieFormation, SaisieSession};
use crate::store::{Dossier, Etablissement, Etat, Evenement, JetonApi, Revision, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::limits::{MAX_DEPOT, MAX_JSON};

/// An offer as typed: its formation, and its actions with their sessions.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct OffreSaisie {
    /// The SIRET it belongs to (one of the token's; its first when absent).
    pub siret: String,
    pub formation: SaisieFormation,
    pub actions: Vec<ActionSaisie>,
}

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct ActionSaisie {
    pub action: SaisieAction,
    pub sessions: Vec<SaisieSession>,
}

/// A dossier as the API answers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DossierJson {
    pub numero: String,
    pub siret: String,
    /// `brouillon`, `en_attente`, `diffusee`, `a_corriger`, `expiree`, `retiree`.
    pub etat: String,
    /// Whether a diffused version is online.
    pub en_ligne: bool,
    pub intitule: String,
    #[schema(value_type = Vec<Object>)]
    pub constats: Vec<Constat>,
    /// The scope decision per action.
    #[schema(value_type = Vec<Object>)]
    pub diffusion: Vec<DecisionAction>,
    /// Why staff sent it back: coded reason, wording, what to do, staff's text.
    #[schema(value_type = Vec<Object>)]
    pub motifs: Vec<crate::store::MotifDonne>,
}

fn vue(app: &App, d: &Dossier) -> DossierJson {
    let diffusee = app.store.offre(&d.numero).ok().flatten();
    let (f, v) = match (&d.travail, &diffusee) {
        (Some(r), _) => (r.formation.clone(), r.verdict.clone()),
        (None, Some(o)) => (o.formation.clone(), o.verdict.clone()),
        _ => (Formation::default(), Default::default()),
    };
    let diffusion = f
        .actions
        .iter()
        .map(|a| crate::rules::decision(&f, a, &app.refs))
        .collect();
    DossierJson {
        numero: d.numero.clone(),
        siret: d.siret.clone(),
        etat: d
            .etat_du_jour(diffusee.as_ref().map(|o| &o.formation), &aujourdhui())
            .code()
            .into(),
        en_ligne: d.en_ligne,
        intitule: f.intitule,
        constats: v.constats,
        diffusion,
        motifs: d.motifs.clone(),
    }
}

fn non_autorise() -> Response<Body> {
    let mut r = error(
        StatusCode::UNAUTHORIZED,
        "jeton-invalide",
        "jeton d'API absent, inconnu ou révoqué : en-tête Authorization: Bearer <jeton>",
        None,
    );
    r.headers_mut()
        .insert("www-authenticate", "Bearer".parse().expect("static header"));
    r
}

fn pas_trouve(numero: &str) -> Response<Body> {
    error(
        StatusCode::NOT_FOUND,
        "introuvable",
        &format!("aucune offre {numero} parmi celles de ce jeton"),
        None,
    )
}

fn stockage(e: StoreError) -> Response<Body> {
    match e {
        StoreError::Conflit(m) => error(StatusCode::CONFLICT, "conflit", &m, None),
        e => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "stockage",
            &e.to_string(),
            None,
        ),
    }
}

/// The token behind `Authorization: Bearer …`, if valid and its account active.
fn jeton(app: &App, headers: &hyper::HeaderMap) -> Option<(JetonApi, crate::accounts::Compte)> {
    let h = headers.get("authorization")?.to_str().ok()?;
    let t = h.strip_prefix("Bearer ")?.trim();
    if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let j = app.store.jeton_api(t).ok()??;
    let c = app.store.compte(j.compte).ok()??;
    (c.actif && j.sirets.iter().all(|s| c.peut_agir_pour(s))).then_some((j, c))
}

async fn avec_jeton(
    app: Arc<App>,
    req: Request,
    max: usize,
    f: impl FnOnce(&App, JetonApi, String, Bytes) -> Response<Body> + Send + 'static,
) -> Response<Body> {
    let headers = req.headers().clone();
    let corps = match axum::body::to_bytes(req.into_body(), max).await {
        Ok(c) => c,
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "corps-trop-grand",
                &format!("corps de plus de {max} octets"),
                None,
            )
        }
    };
    bloquant(move || match jeton(&app, &headers) {
        Some((j, c)) => f(
            &app,
            j,
            crate::store::auteur_de(&c) + " par jeton d'API",
            corps,
        ),
        None => non_autorise(),
    })
    .await
}

/// Offres de l'organisme du jeton, saisies dans l'espace (brouillons compris).
#[utoipa::path(get, path = "/api/v1/espace/offres", security(("jeton" = [])),
    responses((status = 200, body = Vec<DossierJson>), (status = 401, description = "Jeton invalide")))]
pub(in crate::http) async fn liste(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
    avec_jeton(app, req, 0, |app, j, _, _| {
        let mut v = Vec::new();
        for s in &j.sirets {
            match app.store.dossiers_de(s) {
                Ok(ds) => v.extend(ds.iter().map(|d| vue(app, d))),
                Err(e) => return stockage(e),
            }
        }
        json_response(StatusCode::OK, &v)
    })
    .await
}

/// Une offre de l'organisme du jeton ; 404 pour toute autre.
#[utoipa::path(get, path = "/api/v1/espace/offres/{numero}", security(("jeton" = [])),
    params(("numero" = String, Path)),
    responses((status = 200, body = DossierJson), (status = 404, description = "Pas une offre de ce jeton")))]
pub(in crate::http) async fn une(
    S(app): S<Arc<App>>,
    p: RawPathParams,
    req: Request,
) -> Response<Body> {
    let numero = chemin(&p).pop().unwrap_or_default();
    avec_jeton(app, req, 0, move |app, j, _, _| {
        match app.store.dossier_de(&j.sirets, &numero) {
            Ok(Some(d)) => json_response(StatusCode::OK, &vue(app, &d)),
            Ok(None) => pas_trouve(&numero),
            Err(e) => stockage(e),
        }
    })
    .await
}

/// Builds the formation an `OffreSaisie` describes, numbering its actions and sessions.
fn construire(
    app: &App,
    numero: &str,
    o: &OffreSaisie,
    etab: &Etablissement,
) -> Result<(Formation, Vec<Constat>), Response<Body>> {
    if o.actions.len() > saisie::MAX_ACTIONS {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "trop-d-actions",
            &format!("{} actions au plus", saisie::MAX_ACTIONS),
            Some("actions"),
        ));
    }
    let mut f = Formation {
        numero: numero.to_string(),
        ..Default::default()
    };
    f.organisme = saisie::organisme_de(etab, &app.refs);
    let mut sa = saisie::Saisie::default();
    o.formation.appliquer(&mut f, &app.refs, &mut sa);
    for (i, x) in o.actions.iter().enumerate() {
        if x.sessions.len() > saisie::MAX_SESSIONS {
            return Err(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "trop-de-sessions",
                &format!("{} sessions au plus par action", saisie::MAX_SESSIONS),
                Some("actions[].sessions"),
            ));
        }
        let an = format!("{numero}_A{}", i + 1);
        let mut a = saisie::nouvelle_action(an.clone());
        x.action.appliquer(
            &mut a,
            etab,
            &app.refs,
            &format!("formation[{numero}]/action[{an}]"),
            &mut sa,
        );
        for (k, s) in x.sessions.iter().enumerate() {
            let sn = format!("{an}_S{}", k + 1);
            let mut session = Session {
                numero: sn.clone(),
                ..Default::default()
            };
            s.appliquer(
                &mut session,
                etab,
                &app.refs,
                &format!("formation[{numero}]/action[{an}]/session[{sn}]"),
                &mut sa,
            );
            a.sessions.push(session);
        }
        f.actions.push(a);
    }
    Ok((f, sa.constats))
}

fn lire_json(corps: &[u8]) -> Result<OffreSaisie, Response<Body>> {
    let de = &mut serde_json::Deserializer::from_slice(corps);
    serde_path_to_error::deserialize(de).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            "json-invalide",
            &format!("{} : {}", e.path(), e.inner()),
            Some(&e.path().to_string()),
        )
    })
}

fn siret_de(j: &JetonApi, o: &OffreSaisie) -> Result<String, Response<Body>> {
    if o.siret.is_empty() {
        return j.sirets.first().cloned().ok_or_else(non_autorise);
    }
    if j.sirets.contains(&o.siret) {
        Ok(o.siret.clone())
    } else {
        Err(error(
            StatusCode::FORBIDDEN,
            "siret-non-autorise",
            &format!("ce jeton n'agit pas pour le SIRET {}", o.siret),
            Some("siret"),
        ))
    }
}

/// Crée une offre (brouillon) ; les constats des règles sont dans la réponse.
#[utoipa::path(post, path = "/api/v1/espace/offres", security(("jeton" = [])), request_body = OffreSaisie,
    responses((status = 201, body = DossierJson), (status = 400, description = "JSON invalide"), (status = 401, description = "Jeton invalide")))]
pub(in crate::http) async fn creer(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
    avec_jeton(app, req, MAX_JSON, |app, j, auteur, corps| {
        let o = match lire_json(&corps) {
            Ok(o) => o,
            Err(r) => return r,
        };
        let siret = match siret_de(&j, &o) {
            Ok(s) => s,
            Err(r) => return r,
        };
        let etab = match app.store.etablissement(&siret) {
            Ok(e) => e.unwrap_or_default(),
            Err(e) => return stockage(e),
        };
        let numero = match app.store.nouvel_id() {
            Ok(i) => format!("ESP{i:07}"),
            Err(e) => return stockage(e),
        };
        let (f, sa) = match construire(app, &numero, &o, &etab) {
            Ok(x) => x,
            Err(r) => return r,
        };
        let verdict = saisie::juger(&f, &app.refs, sa, &autres_de(app, &siret, &numero));
        let now = crate::store::now_ms();
        let d = Dossier {
            numero: numero.clone(),
            siret,
            etat: Etat::Brouillon,
            travail: Some(Revision {
                formation: f,
                verdict,
            }),
            en_ligne: false,
            motifs: vec![],
            cree_le: now,
            modifie_le: now,
            soumis_le: None,
            a_revoir: false,
            source: "api".into(),
        };
        match app.store.enregistrer_dossier(
            &d,
            None,
            Evenement::new(&auteur, format!("offre {numero}"), "creation-api"),
        ) {
            Ok(d) => {
                let mut r = json_response(StatusCode::CREATED, &vue(app, &d));
                r.headers_mut().insert(
                    "location",
                    format!("/api/v1/espace/offres/{numero}")
                        .parse()
                        .expect("ascii"),
                );
                r
            }
            Err(e) => stockage(e),
        }
    })
    .await
}

/// Remplace la version de travail d'une offre (la version diffusée reste en ligne).
#[utoipa::path(put, path = "/api/v1/espace/offres/{numero}", security(("jeton" = [])), request_body = OffreSaisie,
    params(("numero" = String, Path)),
    responses((status = 200, body = DossierJson), (status = 404, description = "Pas une offre de ce jeton")))]
pub(in crate::http) async fn remplacer(
    S(app): S<Arc<App>>,
    p: RawPathParams,
    req: Request,
) -> Response<Body> {
    let numero = chemin(&p).pop().unwrap_or_default();
    avec_jeton(app, req, MAX_JSON, move |app, j, auteur, corps| {
        let d = match app.store.dossier_de(&j.sirets, &numero) {
            Ok(Some(d)) => d,
            Ok(None) => return pas_trouve(&numero),
            Err(e) => return stockage(e),
        };
        let o = match lire_json(&corps) {
            Ok(o) => o,
            Err(r) => return r,
        };
        let etab = match app.store.etablissement(&d.siret) {
            Ok(e) => e.unwrap_or_default(),
            Err(e) => return stockage(e),
        };
        let (f, sa) = match construire(app, &numero, &o, &etab) {
            Ok(x) => x,
            Err(r) => return r,
        };
        let avant = d
            .travail
            .as_ref()
            .map(|r| SaisieFormation::de(&r.formation))
            .unwrap_or_default();
        let ch = crate::store::diff_json(&avant, &o.formation);
        let verdict = saisie::juger(&f, &app.refs, sa, &autres_de(app, &d.siret, &numero));
        let nouveau = Dossier {
            etat: Etat::Brouillon,
            travail: Some(Revision {
                formation: f,
                verdict,
            }),
            ..d.clone()
        };
        match app.store.enregistrer_dossier(
            &nouveau,
            Some(d.modifie_le),
            Evenement::new(&auteur, format!("offre {numero}"), "enregistrement-api").avec(ch),
        ) {
            Ok(d) => json_response(StatusCode::OK, &vue(app, &d)),
            Err(e) => stockage(e),
        }
    })
    .await
}

/// Soumet la version de travail au Carif-Oref (refusé tant qu'une erreur bloque) ; une offre
/// en ligne dont les changements sont couverts par la politique d'acceptation automatique
/// (dates, recrutement, nouvelles sessions, contacts) est diffusée aussitôt.
#[utoipa::path(post, path = "/api/v1/espace/offres/{numero}/soumission", security(("jeton" = [])),
    params(("numero" = String, Path)),
    responses((status = 200, body = DossierJson), (status = 422, description = "Erreurs bloquantes"), (status = 404, description = "Pas une offre de ce jeton")))]
pub(in crate::http) async fn soumettre(
    S(app): S<Arc<App>>,
    p: RawPathParams,
    req: Request,
) -> Response<Body> {
    let numero = chemin(&p).pop().unwrap_or_default();
    avec_jeton(app, req, 0, move |app, j, auteur, _| {
        let d = match app.store.dossier_de(&j.sirets, &numero) {
            Ok(Some(d)) => d,
            Ok(None) => return pas_trouve(&numero),
            Err(e) => return stockage(e),
        };
        if d.travail.is_none() {
            return error(
                StatusCode::CONFLICT,
                "rien-a-soumettre",
                "la version en ligne est à jour",
                None,
            );
        }
        match soumettre_dossier(app, &d, d.modifie_le, &auteur) {
            Ok(Soumis::Bloquee(verdict)) => {
                let premier = verdict
                    .erreurs()
                    .next()
                    .map(|c| c.to_string())
                    .unwrap_or_default();
                error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "erreurs-bloquantes",
                    &format!(
                        "{} erreur(s) bloquante(s), dont : {premier}",
                        verdict.erreurs().count()
                    ),
                    None,
                )
            }
            Ok(Soumis::EnAttente(d) | Soumis::EnLigne(d)) => {
                json_response(StatusCode::OK, &vue(app, &d))
            }
            Err(e) => stockage(e),
        }
    })
    .await
}

/// Dépose un fichier LHÉO (corps XML) : ses offres sont soumises au Carif-Oref ; celles d'un
/// autre SIRET sont refusées avec leur motif.
#[utoipa::path(post, path = "/api/v1/espace/fichier", security(("jeton" = [])),
    request_body(content = String, content_type = "application/xml"),
    responses((status = 200, description = "Rapport d'import"), (status = 401, description = "Jeton invalide")))]
pub(in crate::http) async fn fichier(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
    let max = MAX_DEPOT.min(app.upload_limit as usize);
    // Deposits hold a blocking thread and their bytes: they take the uploads' places.
    let place = app.upload_slots.clone().acquire_owned();
    let Ok(Ok(_place)) = tokio::time::timeout(crate::limits::UPLOAD_WAIT, place).await else {
        return crate::http::respond::busy(
            "depots-occupes",
            "trop de dépôts en cours : réessayez dans un instant",
        );
    };
    avec_jeton(app, req, max, |app, j, auteur, corps| {
        match deposer(app, &auteur, &j.sirets, "api.xml", corps.to_vec()) {
            Ok(r) => json_response(StatusCode::OK, &r),
            Err(e) => stockage(e),
        }
    })
    .await
}

struct Securite;

impl utoipa::Modify for Securite {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "jeton",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
    }
}

/// The organisation space's JSON routes, merged into the API's document by the router.
#[derive(OpenApi)]
#[openapi(
    paths(liste, une, creer, remplacer, soumettre, fichier),
    components(schemas(OffreSaisie, ActionSaisie, SaisieFormation, SaisieAction, SaisieSession, DossierJson)),
    modifiers(&Securite)
)]
pub(in crate::http) struct Documentation;
