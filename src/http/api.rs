//! The public JSON API: `/api/v1/recherche`, `/api/v1/formations/{numero}`,
//! `/api/v1/suggestions`, `/api/v1/referentiels/{nom}`, `/api/v1/openapi.json`.
//! GET only, flat French parameters, errors naming the parameter, CORS, gzip, ETag.

use super::feeds::paires;
use super::{erreur, App, Body};
use crate::referentiel::DEPARTEMENTS_REGION;
use crate::search::index::{code_dep, code_insee, jour, CERT_RNCP, CERT_RS, FINANCEUR_CPF};
use crate::search::query::{Requete, Tri};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::json;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::sync::Arc;

type Erreur = (String, String);

fn mauvais(p: &str, m: impl Into<String>) -> Erreur {
    (p.to_string(), m.into())
}

fn date_iso(p: &str, v: &str) -> Result<i64, Erreur> {
    v.parse::<jiff::civil::Date>()
        .map(jour)
        .map_err(|_| mauvais(p, format!("« {v} » : date ISO attendue (2027-03-01)")))
}

fn booleen(p: &str, v: &str) -> Result<bool, Erreur> {
    match v {
        "1" | "true" | "oui" => Ok(true),
        "0" | "false" | "non" => Ok(false),
        _ => Err(mauvais(p, format!("« {v} » : 0 ou 1 attendu"))),
    }
}

fn nombre<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    p: &str,
    v: &str,
    min: T,
    max: T,
) -> Result<T, Erreur> {
    match v.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(mauvais(
            p,
            format!("« {v} » : nombre entre {min} et {max} attendu"),
        )),
    }
}

/// Parses `/api/v1/recherche`'s query string.
pub fn requete(app: &App, query: &str) -> Result<Requete, Erreur> {
    let moteur = app.moteur.as_ref().expect("search engine present");
    let d = &moteur.config.defauts;
    let mut r = Requete::new(jour(jiff::Zoned::now().date()), d.par_page);
    r.rayon_km = d.rayon_km;
    r.toutes_dates = !d.a_venir;
    let (mut lat, mut lon, mut rayon) = (None, None, None);
    let mut commune_centre = None;
    let paires = paires(query);
    if paires.len() > 64 {
        return Err(mauvais(
            &paires[64].0,
            format!("{} paramètres : 64 au plus", paires.len()),
        ));
    }
    for (k, v) in paires {
        let v = v.trim().to_string();
        if v.len() > 500 {
            return Err(mauvais(&k, "valeur de plus de 500 caractères"));
        }
        match k.as_str() {
            "q" => r.q = v,
            "formacode" => {
                if v.len() != 5 || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(mauvais(
                        &k,
                        format!("« {v} » : Formacode à 5 chiffres attendu"),
                    ));
                }
                r.formacodes.push(v.parse().unwrap_or(0));
            }
            "commune" => {
                let refs = &moteur.refs;
                let insee: Vec<String> = if refs.communes.contains_key(&v) {
                    vec![v.clone()]
                } else if let Some(c) = refs.communes_par_cp.get(&v) {
                    c.clone()
                } else {
                    return Err(mauvais(
                        &k,
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
            "departement" => {
                match code_dep(&v).filter(|_| moteur.refs.departements.contains_key(&v)) {
                    Some(c) => r.departements.push(c),
                    None => {
                        return Err(mauvais(
                            &k,
                            format!("« {v} » : code de département inconnu"),
                        ))
                    }
                }
            }
            "lat" => lat = Some(nombre::<f64>(&k, &v, -90.0, 90.0)?),
            "lon" => lon = Some(nombre::<f64>(&k, &v, -180.0, 180.0)?),
            "rayon" => rayon = Some(nombre::<f64>(&k, &v, 0.1, 500.0)?),
            "debut_min" => r.debut_min = Some(date_iso(&k, &v)?),
            "debut_max" => r.debut_max = Some(date_iso(&k, &v)?),
            "public" => {
                if moteur.refs.formacode_libelle(&v).is_none() || v.len() != 5 {
                    return Err(mauvais(
                        &k,
                        format!("« {v} » : code public (Formacode 8xxxx) inconnu"),
                    ));
                }
                r.publics.push(v.parse().unwrap_or(0));
            }
            "financeur" => {
                if v == "cpf" {
                    r.financeurs.push(FINANCEUR_CPF);
                } else if moteur.refs.libelle("dict-financeurs", &v).is_some() {
                    r.financeurs.push(v.parse().unwrap_or(0));
                } else {
                    return Err(mauvais(
                        &k,
                        format!("« {v} » : code financeur LHÉO ou « cpf » attendu"),
                    ));
                }
            }
            "certifiante" => r.certifiante = Some(booleen(&k, &v)?),
            "certification" => {
                let up = v.to_ascii_uppercase();
                let code = if let Some(n) = up.strip_prefix("RNCP") {
                    n.parse::<u64>().ok().map(|n| CERT_RNCP | n)
                } else if let Some(n) = up.strip_prefix("RS") {
                    n.parse::<u64>().ok().map(|n| CERT_RS | n)
                } else {
                    None
                };
                match code {
                    Some(c) => r.certifications.push(c),
                    None => {
                        return Err(mauvais(
                            &k,
                            format!("« {v} » : RNCP12345 ou RS1234 attendu"),
                        ))
                    }
                }
            }
            "niveau" => r.niveaux.push(nombre::<u64>(&k, &v, 1, 8)?),
            "a_distance" => r.a_distance = Some(booleen(&k, &v)?),
            "organisme" => {
                if v.len() != 14 || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(mauvais(
                        &k,
                        format!("« {v} » : SIRET à 14 chiffres attendu"),
                    ));
                }
                r.organismes.push(v.parse().unwrap_or(0));
            }
            "tri" => {
                r.tri = match v.as_str() {
                    "pertinence" => Tri::Pertinence,
                    "date" => Tri::Date,
                    "distance" => Tri::Distance,
                    _ => return Err(mauvais(&k, "pertinence, date ou distance attendu")),
                }
            }
            "page" => r.page = nombre::<usize>(&k, &v, 1, 10_000)?,
            // Capped, not refused: a partner asking for 500 gets the maximum.
            "par_page" => r.par_page = nombre::<usize>(&k, &v, 1, 100_000)?.min(d.par_page_max),
            _ => return Err(mauvais(&k, format!("paramètre « {k} » inconnu"))),
        }
    }
    match (lat, lon) {
        (Some(a), Some(b)) => r.centre = Some((a, b)),
        (None, None) => {}
        (Some(_), None) => return Err(mauvais("lon", "lat et lon vont ensemble")),
        (None, Some(_)) => return Err(mauvais("lat", "lat et lon vont ensemble")),
    }
    if let Some(ry) = rayon {
        if r.centre.is_none() {
            match commune_centre {
                Some(c) => {
                    r.centre = Some(c);
                    r.communes.clear(); // the radius replaces the exact commune
                }
                None => return Err(mauvais("rayon", "un rayon demande commune ou lat et lon")),
            }
        }
        r.rayon_km = ry;
    }
    if r.debut_min.is_some() || r.debut_max.is_some() {
        r.toutes_dates = false;
    }
    if let (Some(a), Some(b)) = (r.debut_min, r.debut_max) {
        if a > b {
            return Err(mauvais("debut_max", "debut_max est avant debut_min"));
        }
    }
    if r.tri == Tri::Distance && r.centre.is_none() && commune_centre.is_none() {
        return Err(mauvais("tri", "tri=distance demande commune ou lat et lon"));
    }
    if r.tri == Tri::Distance && r.centre.is_none() {
        // Distance from the commune given, without narrowing to a radius.
        r.centre = commune_centre;
        r.rayon_km = 20_000.0;
    }
    Ok(r)
}

/// `elargir`: the same search in the département, the region, without dates, under the
/// parent Formacode — each with its count — when a search finds little.
pub fn elargir(app: &App, r: &Requete) -> Vec<serde_json::Value> {
    let moteur = app.moteur.as_ref().expect("search engine present");
    let mut out = Vec::new();
    let mut essai = |type_: &str, libelle: String, v: Requete| {
        if let Ok(n) = moteur.compter(&v) {
            out.push(json!({"type": type_, "libelle": libelle, "nombre": n}));
        }
    };
    let centre_dep = r
        .communes
        .first()
        .map(|c| crate::search::index::insee_de_code(*c))
        .and_then(|c| moteur.refs.communes.get(&c).map(|x| x.departement.clone()));
    if let Some(dep) = centre_dep.filter(|_| !r.communes.is_empty() || r.centre.is_some()) {
        let mut v = r.clone();
        v.communes.clear();
        v.centre = None;
        v.departements = code_dep(&dep).into_iter().collect();
        essai("departement", format!("dans le département {dep}"), v);
    }
    if !r.communes.is_empty() || r.centre.is_some() || !r.departements.is_empty() {
        let mut v = r.clone();
        v.communes.clear();
        v.centre = None;
        v.departements = DEPARTEMENTS_REGION
            .iter()
            .filter_map(|d| code_dep(d))
            .collect();
        essai("region", "dans toute la région".into(), v);
    }
    if r.debut_min.is_some() || r.debut_max.is_some() || !r.toutes_dates {
        let mut v = r.clone();
        v.debut_min = None;
        v.debut_max = None;
        v.toutes_dates = true;
        essai("sans_dates", "sans condition de date".into(), v);
    }
    if !r.formacodes.is_empty() {
        let parents: Vec<u64> = r
            .formacodes
            .iter()
            .filter_map(|c| moteur.refs.formacodes.get(&format!("{c:05}")))
            .filter_map(|f| f.generique.as_ref()?.parse().ok())
            .collect();
        if !parents.is_empty() {
            let mut v = r.clone();
            v.formacodes = parents;
            essai("formacode_parent", "dans le domaine plus large".into(), v);
        }
    }
    out
}

/// JSON with gzip when asked and a strong ETag over the content.
fn repondre(req: &Request<Incoming>, v: &serde_json::Value) -> Response<Body> {
    repondre_octets(req, v.to_string().into_bytes(), None)
}

/// `corps` is a JSON object; `duree_ms`, when given, is added to it after the ETag is taken
/// (the validator covers the content, not the time it took).
fn repondre_octets(
    req: &Request<Incoming>,
    mut corps: Vec<u8>,
    duree_ms: Option<f64>,
) -> Response<Body> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    corps.hash(&mut h);
    if let Some(ms) = duree_ms {
        if corps.last() == Some(&b'}') {
            corps.pop();
            corps.extend_from_slice(format!(",\"duree_ms\":{ms}}}").as_bytes());
        }
    }
    let etag = format!("\"{:016x}\"", h.finish());
    if req
        .headers()
        .get("if-none-match")
        .and_then(|x| x.to_str().ok())
        .is_some_and(|x| x.split(',').any(|t| t.trim() == etag))
    {
        return Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .header("etag", &etag)
            .header("access-control-allow-origin", "*")
            .body(super::full(Bytes::new()))
            .expect("valid headers");
    }
    let gzip = req
        .headers()
        .get("accept-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut b = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json; charset=utf-8")
        .header("etag", &etag)
        .header("vary", "accept-encoding")
        .header("access-control-allow-origin", "*")
        .header("cache-control", "public, max-age=60");
    let corps = if gzip && corps.len() > 1024 {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = e.write_all(&corps);
        b = b.header("content-encoding", "gzip");
        e.finish().unwrap_or_default()
    } else {
        corps
    };
    b.body(super::full(corps)).expect("valid headers")
}

pub(super) async fn recherche(app: Arc<App>, req: Request<Incoming>) -> Response<Body> {
    if app.moteur.is_none() {
        return moteur_absent();
    }
    let r = match requete(&app, req.uri().query().unwrap_or("")) {
        Ok(r) => r,
        Err((p, m)) => return erreur(StatusCode::BAD_REQUEST, "parametre-invalide", &m, Some(&p)),
    };
    let app2 = app.clone();
    let t0 = std::time::Instant::now();
    let res = tokio::task::spawn_blocking(move || {
        let moteur = app2.moteur.as_ref().expect("checked");
        let rep = moteur.rechercher(&r)?;
        let el = if rep.total < moteur.config.defauts.seuil_elargir {
            elargir(&app2, &r)
        } else {
            Vec::new()
        };
        tantivy::Result::Ok((rep, el))
    })
    .await;
    match res {
        Ok(Ok((rep, elargir))) => {
            #[derive(serde::Serialize)]
            struct Corps<'a> {
                #[serde(flatten)]
                rep: &'a crate::search::query::Reponse,
                elargir: &'a [serde_json::Value],
            }
            let corps = serde_json::to_vec(&Corps {
                rep: &rep,
                elargir: &elargir,
            })
            .unwrap_or_default();
            let ms = (t0.elapsed().as_secs_f64() * 1e4).round() / 10.0;
            repondre_octets(&req, corps, Some(ms))
        }
        Ok(Err(e)) => super::indisponible("index-indisponible", e),
        Err(e) => super::interne(e),
    }
}

fn moteur_absent() -> Response<Body> {
    erreur(
        StatusCode::SERVICE_UNAVAILABLE,
        "recherche-indisponible",
        "le moteur de recherche n'est pas démarré",
        None,
    )
}

pub(super) async fn formation(
    app: Arc<App>,
    req: Request<Incoming>,
    numero: &str,
) -> Response<Body> {
    let numero = super::feeds::segment(numero);
    match app.store.offre(&numero) {
        Ok(Some(o)) if o.verdict.diffusable() => {
            let org = app
                .store
                .organisme(&o.formation.organisme.siret)
                .ok()
                .flatten();
            let v = json!({
                "formation": o.formation,
                "organisme": org,
                "verdict": o.verdict,
                "source": o.source,
                "recue_le": o.recue_le,
                "verifiee_le": o.verifiee_le,
                "diffusee_le": o.diffusee_le,
            });
            repondre(&req, &v)
        }
        Ok(_) => erreur(
            StatusCode::NOT_FOUND,
            "introuvable",
            &format!("aucune formation diffusée de numéro « {numero} »"),
            None,
        ),
        Err(e) => super::indisponible("stockage-indisponible", e),
    }
}

pub(super) async fn suggestions(app: Arc<App>, req: Request<Incoming>) -> Response<Body> {
    let Some(moteur) = app.moteur.as_ref() else {
        return moteur_absent();
    };
    let mut q = String::new();
    for (k, v) in paires(req.uri().query().unwrap_or("")) {
        match k.as_str() {
            "q" if v.chars().count() <= 100 => q = v,
            "q" => {
                return erreur(
                    StatusCode::BAD_REQUEST,
                    "parametre-invalide",
                    "100 caractères au plus",
                    Some("q"),
                )
            }
            _ => {
                return erreur(
                    StatusCode::BAD_REQUEST,
                    "parametre-invalide",
                    &format!("paramètre « {k} » inconnu"),
                    Some(&k),
                )
            }
        }
    }
    let v = match moteur.suggerer(&q, 8) {
        Ok(s) => serde_json::to_value(s).unwrap_or_default(),
        Err(e) => return super::indisponible("index-indisponible", e),
    };
    repondre(&req, &v)
}

pub(super) async fn referentiel(
    app: Arc<App>,
    req: Request<Incoming>,
    nom: &str,
) -> Response<Body> {
    let refs = &app.refs;
    let mut liste: Vec<serde_json::Value> = match nom {
        "formacode" => refs
            .formacodes
            .values()
            .map(|f| json!({"code": f.code, "libelle": f.libelle, "parent": f.generique}))
            .collect(),
        "communes" => refs
            .communes
            .values()
            .filter(|c| {
                c.actuelle && DEPARTEMENTS_REGION.contains(&c.departement.as_str())
            })
            .map(|c| json!({"code": c.code_insee, "nom": c.nom, "codes_postaux": c.codes_postaux, "departement": c.departement, "lat": c.lat, "lon": c.lon}))
            .collect(),
        "financeurs" => {
            let mut v: Vec<serde_json::Value> = refs
                .dictionnaires
                .get("dict-financeurs")
                .into_iter()
                .flatten()
                .map(|(c, l)| json!({"code": c, "libelle": l}))
                .collect();
            v.push(json!({"code": "cpf", "libelle": "Éligible au CPF"}));
            v
        }
        "publics" => refs
            .annexes
            .iter()
            .filter(|(_, (a, _))| a == "public")
            .map(|(c, (_, l))| json!({"code": c, "libelle": l}))
            .collect(),
        _ => {
            return erreur(
                StatusCode::NOT_FOUND,
                "introuvable",
                "référentiels : formacode, communes, financeurs ou publics",
                None,
            )
        }
    };
    liste.sort_by(|a, b| a["code"].to_string().cmp(&b["code"].to_string()));
    repondre(&req, &json!(liste))
}

pub(super) fn openapi() -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json; charset=utf-8")
        .header("access-control-allow-origin", "*")
        .body(super::full(include_str!("openapi.json")))
        .expect("valid headers")
}
