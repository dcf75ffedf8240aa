//! Response helpers shared by every route module: the body type, JSON answers, the API's
//! error shape, and the 4xx/5xx answers every route gives alike.

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::{Response, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

/// Every answer's body: whole (`full`) or streamed (a feed).
pub type Body = BoxBody<Bytes, std::io::Error>;

/// 503 with `Retry-After`: a cap is reached, the same request will do later.
pub fn busy(code: &str, message: &str) -> Response<Body> {
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, code, message, None);
    r.headers_mut()
        .insert("retry-after", "5".parse().expect("static header"));
    r
}

pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|e| match e {}).boxed()
}

pub fn json_response(status: StatusCode, v: &impl Serialize) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .header("access-control-allow-origin", "*")
        .body(full(serde_json::to_vec(v).unwrap_or_default()))
        .expect("static headers are valid")
}

/// The API's error shape.
#[derive(Serialize, ToSchema)]
pub struct Erreur<'a> {
    pub erreur: DetailErreur<'a>,
}

#[derive(Serialize, ToSchema)]
pub struct DetailErreur<'a> {
    /// Stable code: `parametre-invalide`, `introuvable`, `recherche-indisponible`, …
    pub code: &'a str,
    /// What went wrong, in French.
    pub message: &'a str,
    /// The query parameter at fault, if one is.
    pub parametre: Option<&'a str>,
}

/// The API's error answer: `{"erreur": {"code", "message", "parametre"}}`.
pub fn error(status: StatusCode, code: &str, message: &str, param: Option<&str>) -> Response<Body> {
    json_response(
        status,
        &Erreur {
            erreur: DetailErreur {
                code,
                message,
                parametre: param,
            },
        },
    )
}

/// 503: the store or the index failed; the request may succeed later.
pub fn unavailable(code: &str, e: impl std::fmt::Display) -> Response<Body> {
    error(StatusCode::SERVICE_UNAVAILABLE, code, &e.to_string(), None)
}

/// 500: a worker task died (a bug, never bad input).
pub fn internal(e: tokio::task::JoinError) -> Response<Body> {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "erreur-interne",
        &e.to_string(),
        None,
    )
}

/// Whether the client's `If-None-Match` already holds `etag` (weak comparison, as GET wants).
pub fn not_modified(entetes: &hyper::HeaderMap, etag: &headers::ETag) -> bool {
    use headers::HeaderMapExt;
    entetes
        .typed_get::<headers::IfNoneMatch>()
        .is_some_and(|inm| !inm.precondition_passes(etag))
}

/// A JSON answer with its validator: 304 (no body) when the client's `If-None-Match` holds
/// it, else 200. Cacheable a minute; compressed by the router's layer when asked.
pub fn json_with_etag(
    entetes: &hyper::HeaderMap,
    etag: headers::ETag,
    corps: impl Into<Bytes>,
) -> Response<Body> {
    use headers::HeaderMapExt;
    let mut r = if not_modified(entetes, &etag) {
        Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .body(full(Bytes::new()))
            .expect("valid headers")
    } else {
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json; charset=utf-8")
            .header("cache-control", "public, max-age=60")
            .body(full(corps))
            .expect("valid headers")
    };
    r.headers_mut().typed_insert(etag);
    r
}

/// A strong validator over a body's bytes.
pub fn etag_of(corps: &[u8]) -> headers::ETag {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    corps.hash(&mut h);
    format!("\"{:016x}\"", h.finish())
        .parse()
        .expect("a quoted hex string is a valid ETag")
}

/// The 400 of a bad query parameter, naming it.
pub fn bad_param(e: super::params::ParamError) -> Response<Body> {
    error(
        StatusCode::BAD_REQUEST,
        "parametre-invalide",
        &e.message,
        Some(&e.param),
    )
}
