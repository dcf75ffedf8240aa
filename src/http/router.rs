//! The route table (axum's `Router`, on matchit) and the layers each group of routes gets:
//! CORS on what other sites read (API, feeds, widget), gzip on the JSON API, a time limit and
//! a body limit on reads. The only module that knows every route; the route modules know
//! nothing of each other.

use super::metriques::{self, Metriques};
use super::respond::{error, Body};
use super::{api, espace, feeds, gestion, health, import, sauvegardes, site, App};
use crate::limits::{MAX_READ_BODY, MAX_URI};
use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::routing::get;
use axum::Router;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Response, StatusCode};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::cors::{Any, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// A read that has not answered in this time gets a 503 (the blocking work goes on, but the
/// client is not kept waiting on it).
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The first path parameter, still percent-encoded, decoded (an offer number may hold any
/// character).
fn numero(params: &RawPathParams) -> String {
    params
        .iter()
        .next()
        .map(|(_, v)| super::params::segment(v))
        .unwrap_or_default()
}

/// Every route of the server.
pub(super) fn table(app: Arc<App>) -> Router {
    // Reads are open to every origin; writes are not (no preflight lets them through).
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
        .allow_headers([
            HeaderName::from_static("if-none-match"),
            HeaderName::from_static("accept-encoding"),
            HeaderName::from_static(super::partenaires::EN_TETE),
        ])
        .expose_headers([
            HeaderName::from_static("etag"),
            HeaderName::from_static("x-sofi-journal"),
            HeaderName::from_static("retry-after"),
        ])
        .max_age(Duration::from_secs(86400));
    // gzip (fastest level) past 1 KiB, as negotiated by Accept-Encoding and its q-values.
    let gzip = CompressionLayer::new()
        .quality(CompressionLevel::Fastest)
        .compress_when(SizeAbove::new(1024).and(NotForContentType::const_new("text/event-stream")));
    let json = Router::new()
        .route(
            "/api/v1/recherche",
            get(|State(app): State<Arc<App>>, req: Request| api::recherche(app, req)),
        )
        .route(
            "/api/v1/suggestions",
            get(|State(app): State<Arc<App>>, req: Request| api::suggestions(app, req)),
        )
        .route(
            "/api/v1/referentiels/{nom}",
            get(
                |State(app): State<Arc<App>>, p: RawPathParams, req: Request| {
                    api::referentiel(app, req, numero(&p))
                },
            ),
        )
        .route(
            "/api/v1/formations/{*numero}",
            get(
                |State(app): State<Arc<App>>, p: RawPathParams, req: Request| {
                    api::formation(app, req, numero(&p))
                },
            )
            .delete(
                |State(app): State<Arc<App>>, p: RawPathParams, req: Request| {
                    import::delete(app, req, numero(&p))
                },
            ),
        )
        .route(
            "/api/v1/openapi.json",
            get(|| async { api::openapi(openapi_json()) }),
        )
        .layer(gzip);
    let lecture = Router::new()
        .merge(json)
        .route(
            "/lheo/offres.xml",
            get(|State(app): State<Arc<App>>, req: Request| feeds::offres(app, req)),
        )
        .route("/widget.js", get(|| async { site::widget() }))
        .route(
            "/api/v1/partenaire/usage",
            get(|State(app): State<Arc<App>>, req: Request| {
                gestion::partenaires::usage_json(app, req)
            }),
        )
        // Keys, quotas and usage, inside CORS (whose preflights never count) so that a
        // refusal still reaches the calling page.
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            super::partenaires::garder,
        ))
        .layer(cors);
    Router::new()
        .merge(lecture)
        .merge(site::routes())
        .route(
            "/health",
            get(|State(app): State<Arc<App>>| async move { health::health(&app) }),
        )
        .route(
            "/metrics",
            get(|State(app): State<Arc<App>>| async move {
                tokio::task::spawn_blocking(move || metriques::metrics(&app))
                    .await
                    .unwrap_or_else(super::respond::internal)
            }),
        )
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            READ_TIMEOUT,
        ))
        // Reads take no body: one announced past a few KiB is refused before it is read.
        .layer(RequestBodyLimitLayer::new(MAX_READ_BODY))
        // The back-office: forms and the organisations' JSON, each with its own body limit
        // (a form within `MAX_FORM`, files within the import limit), checked where read.
        .merge(espace::routes())
        .merge(gestion::routes())
        .merge(
            Router::new()
                .route(
                    "/api/v1/espace/offres",
                    get(espace::api::liste).post(espace::api::creer),
                )
                .route(
                    "/api/v1/espace/offres/{numero}",
                    get(espace::api::une).put(espace::api::remplacer),
                )
                .route(
                    "/api/v1/espace/offres/{numero}/soumission",
                    axum::routing::post(espace::api::soumettre),
                )
                .route(
                    "/api/v1/espace/fichier",
                    axum::routing::post(espace::api::fichier),
                ),
        )
        .route(
            "/api/v1/admin/sauvegarde",
            axum::routing::post(|State(app): State<Arc<App>>, req: Request| {
                sauvegardes::post(app, req)
            }),
        )
        // Uploads take as long as the client sends: no time limit but the idle one.
        .route(
            "/api/v1/import",
            axum::routing::post(|State(app): State<Arc<App>>, req: Request| import::post(app, req)),
        )
        // Every route passes its pattern on to the answer, for the request's log line and
        // metrics (never the path itself, which may hold what a person typed).
        .route_layer(axum::middleware::from_fn(
            |req: Request, next: axum::middleware::Next| async move {
                let motif = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map(|m| Motif(m.as_str().into()));
                let mut r = next.run(req).await;
                if let Some(m) = motif {
                    r.extensions_mut().insert(m);
                }
                r
            },
        ))
        .fallback(|req: Request| async move {
            error(
                StatusCode::NOT_FOUND,
                "introuvable",
                &format!("aucune ressource à l'adresse {}", req.uri().path()),
                None,
            )
        })
        // While the index is rebuilt from nothing, searches say so.
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            index_pret,
        ))
        // On a read replica, writes and the back-office are the primary's.
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            vers_primaire,
        ))
        .with_state(app)
}

/// A search while the index is rebuilt from nothing: 503 with `Retry-After`, saying why
/// (offer pages and feeds, which read the store, answer as usual).
async fn index_pret(
    State(app): State<Arc<App>>,
    req: Request,
    next: axum::middleware::Next,
) -> Response<axum::body::Body> {
    let recherche = matches!(
        req.uri().path(),
        "/recherche" | "/api/v1/recherche" | "/api/v1/suggestions"
    );
    if !(recherche && app.moteur.as_ref().is_some_and(|m| m.en_reconstruction())) {
        return next.run(req).await;
    }
    // The site's search page says it in a page of the site; the API in its JSON error.
    let mut r = if req.uri().path() == "/recherche" {
        let ici = req
            .uri()
            .path_and_query()
            .map_or("/recherche", |p| p.as_str());
        super::html::page(
            StatusCode::SERVICE_UNAVAILABLE,
            site::page_erreur(
                "Recherche momentanément indisponible",
                "/recherche",
                maud::html! { "La recherche se remet à jour après une mise à jour du service : réessayez dans quelques secondes. Les pages des formations répondent." },
                maud::html! { p { a href=(ici) { "Réessayer" } } },
            ),
        )
    } else {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "index-en-reconstruction",
            "l'index de recherche est en reconstruction après une mise à jour : réessayez dans quelques secondes (les pages des formations et les flux répondent)",
            None,
        )
    };
    r.headers_mut()
        .insert("retry-after", HeaderValue::from_static("10"));
    r.map(axum::body::Body::new)
}

/// On a read replica: a write, or a page of the back-office, is sent to the primary (307,
/// which keeps the method and body) with an error saying why.
async fn vers_primaire(
    State(app): State<Arc<App>>,
    req: Request,
    next: axum::middleware::Next,
) -> Response<axum::body::Body> {
    let Some(primaire) = &app.primaire else {
        return next.run(req).await;
    };
    let chemin = req.uri().path();
    // A replica's own backups are its own business.
    if chemin.starts_with("/api/v1/admin/") {
        return next.run(req).await;
    }
    let lecture = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let back_office = ["/espace", "/gestion", "/api/v1/espace"]
        .iter()
        .any(|p| chemin == *p || chemin.starts_with(&format!("{p}/")));
    if lecture && !back_office {
        return next.run(req).await;
    }
    let cible = format!(
        "{primaire}{}",
        req.uri().path_and_query().map_or("/", |p| p.as_str())
    );
    let mut r = error(
        StatusCode::TEMPORARY_REDIRECT,
        "replique-en-lecture",
        &format!("ce serveur est une réplique en lecture : écritures et espaces sur le primaire, {primaire}"),
        None,
    );
    if let Ok(v) = HeaderValue::from_str(&cible) {
        r.headers_mut().insert("location", v);
    }
    r.map(axum::body::Body::new)
}

/// The OpenAPI document: the public API's and the organisation space's, generated once.
fn openapi_json() -> &'static str {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = api::documentation();
        doc.merge(<espace::api::Documentation as utoipa::OpenApi>::openapi());
        doc.to_json().unwrap_or_default()
    })
}

/// The pattern of the route that answered (`/api/v1/formations/{*numero}`).
#[derive(Clone)]
struct Motif(Arc<str>);

/// One request: its id, the URI's length, the route, then what every answer gets, its
/// metrics and its log line.
pub(super) async fn respond(
    table: Router,
    metriques: Arc<Metriques>,
    req: hyper::Request<Incoming>,
) -> Result<Response<axum::body::Body>, Infallible> {
    let debut = std::time::Instant::now();
    let methode = req.method().clone();
    let id = id_requete(req.headers().get("x-request-id"));
    let mut r = repondre(table, req).await;
    r.headers_mut().insert(
        "x-request-id",
        HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("-")),
    );
    static AUTRE: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
    let route = match r.extensions().get::<Motif>() {
        Some(m) => m.0.clone(),
        None => AUTRE.get_or_init(|| "(aucune)".into()).clone(),
    };
    let duree = debut.elapsed();
    let statut = r.status().as_u16();
    metriques.requete(&route, &methode, statut, duree.as_secs_f64());
    tracing::info!(
        target: "sofi::http",
        id = %id,
        methode = %methode,
        route = %route,
        statut,
        us = duree.as_micros() as u64,
        "requête"
    );
    Ok(r)
}

/// The request's id: the one a proxy gave (`X-Request-Id`, when short and plain), else a
/// new one; sent back in `X-Request-Id` and written on the request's log line.
fn id_requete(donne: Option<&HeaderValue>) -> String {
    if let Some(v) = donne.and_then(|v| v.to_str().ok()) {
        if (1..=64).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        {
            return v.to_string();
        }
    }
    format!("{:016x}", rand::random::<u64>())
}

/// The answer, before its id, metrics and log line.
async fn repondre(table: Router, req: hyper::Request<Incoming>) -> Response<axum::body::Body> {
    let longueur = req.uri().path().len() + req.uri().query().map_or(0, |q| q.len() + 1);
    let mut r = if longueur > MAX_URI {
        error(
            StatusCode::URI_TOO_LONG,
            "uri-trop-longue",
            &format!("l'adresse demandée (chemin et paramètres) dépasse {MAX_URI} octets"),
            None,
        )
        .map(axum::body::Body::new)
    } else {
        let preflight = req.method() == Method::OPTIONS;
        let r = table
            .oneshot(req.map(axum::body::Body::new))
            .await
            .unwrap_or_else(|e| match e {});
        let (mut parts, corps) = r.into_parts();
        if preflight && parts.status == StatusCode::OK {
            // A preflight has nothing to say but its headers.
            parts.status = StatusCode::NO_CONTENT;
        }
        let echec = parts.status.is_client_error() || parts.status.is_server_error();
        // Our routes answer errors in JSON; the framework's and its layers' own refusals
        // (405 with its `Allow`, the body limit's 413, the read time limit's 503) come bare
        // or as plain text, and are given the API's error shape too.
        let brut = parts
            .headers
            .get("content-type")
            .is_none_or(|t| t.as_bytes().starts_with(b"text/plain"));
        if echec && brut {
            let allow = parts.headers.get("allow").and_then(|v| v.to_str().ok());
            let mut e = bodiless_error(parts.status, allow);
            for (k, v) in &parts.headers {
                if k != "content-length" {
                    e.headers_mut().insert(k.clone(), v.clone());
                }
            }
            e.map(axum::body::Body::new)
        } else {
            Response::from_parts(parts, corps)
        }
    };
    // No answer of ours is to be sniffed into another type (an offer's text as HTML).
    r.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// The JSON error for a bodiless 4xx or 5xx.
fn bodiless_error(status: StatusCode, allow: Option<&str>) -> Response<Body> {
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "methode-non-permise",
            format!("méthodes permises ici : {}", allow.unwrap_or("?")),
        ),
        StatusCode::NOT_FOUND => ("introuvable", "aucune ressource à cette adresse".into()),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "corps-trop-grand",
            format!("cette adresse ne prend pas de corps de plus de {MAX_READ_BODY} octets"),
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            "delai-depasse",
            format!(
                "pas de réponse en {} s : réessayez plus tard",
                READ_TIMEOUT.as_secs()
            ),
        ),
        s => (
            "requete-invalide",
            s.canonical_reason()
                .unwrap_or("requête invalide")
                .to_string(),
        ),
    };
    error(status, code, &message, None)
}
