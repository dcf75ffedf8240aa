//! Partner keys in the staff space (`/gestion/partenaires`): create one (shown once),
//! revoke it, see every partner's usage by day and route; and a partner's own usage,
//! reached with its key (`GET /api/v1/partenaire/usage`).

use crate::http::forms::*;
use crate::http::identity::Qui;
use crate::http::partenaires::{Acces, Route};
use crate::http::respond::{error, json_response, Body};
use crate::http::App;
use crate::store::{ClePartenaire, CleUsage, Usage};
use axum::extract::{RawPathParams, Request, State};
use axum::routing::{get, post};
use axum::Router;
use hyper::{Response, StatusCode};
use maud::{html, Markup};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Days of usage shown.
const JOURS: u32 = 30;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/gestion/partenaires", get(page).post(creer))
        .route("/gestion/partenaires/{id}/revocation", post(revoquer))
        .route("/partenaires/usage", post(usage_page))
}

/// `POST /partenaires/usage`: a partner's own usage, on a page reached with its key (sent
/// in the form's body, never in the address).
async fn usage_page(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let corps =
        match http_body_util::BodyExt::collect(http_body_util::Limited::new(req.into_body(), 4096))
            .await
        {
            Ok(c) => c.to_bytes(),
            Err(_) => {
                return refus(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Demande trop longue",
                    "Ce formulaire ne prend qu'une clé.",
                    None,
                )
            }
        };
    let jeton = field(&corps, "cle").unwrap_or_default();
    let Some(cle) = app.partenaires.cle_active(&jeton) else {
        return refus(
            StatusCode::UNAUTHORIZED,
            "Clé inconnue",
            "Cette clé n'existe pas, a été révoquée ou a expiré.",
            None,
        );
    };
    bloquant(move || {
        let u = match usage(&app) {
            Ok(u) => u,
            Err(e) => return erreur_stockage(&e),
        };
        let debut = crate::store::jour_utc().saturating_sub(JOURS - 1);
        let mut par_jour: BTreeMap<u32, Usage> =
            (debut..=crate::store::jour_utc()).map(|j| (j, Usage::default())).collect();
        let mut par_route: BTreeMap<u8, Usage> = BTreeMap::new();
        for (k, x) in u.iter().filter(|(k, _)| k.cle == cle.id) {
            par_jour.entry(k.jour).or_default().ajouter(x);
            par_route.entry(k.route).or_default().ajouter(x);
        }
        let jours: Vec<(u32, Usage)> = par_jour.into_iter().collect();
        prive(crate::http::html::page(
            StatusCode::OK,
            cadre_prive(
                "Votre usage",
                None,
                html! {
                    h1 { "Usage de la clé de " (cle.nom) }
                    p { "Quotas : " (cle.par_minute) " requêtes par minute, " (cle.par_jour) " par jour."
                        @if !cle.departements.is_empty() { " Départements : " (cle.departements.join(", ")) "." }
                        @if !cle.formacodes.is_empty() { " Formacode : " (cle.formacodes.join(", ")) "." } }
                    (colonnes("Vos requêtes par jour", &jours))
                    table.tableau-offres {
                        thead { tr { th scope="col" { "Service" } th scope="col" { "Requêtes" } th scope="col" { "Erreurs" } th scope="col" { "Octets" } } }
                        tbody { @for (r, x) in &par_route { tr { td { (Route::libelle(*r)) } td { (x.requetes) } td { (x.erreurs) } td { (x.octets) } } } }
                    }
                },
            ),
        ))
    })
    .await
}

fn date_du_jour(j: u32) -> String {
    jiff::Timestamp::from_second(j as i64 * 86_400)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
        .unwrap_or_default()
}

fn date_ms(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::system()).date().to_string())
        .unwrap_or_default()
}

/// Requests per day, as SVG columns (with the figures in a table).
fn colonnes(titre: &str, jours: &[(u32, Usage)]) -> Markup {
    let max = jours.iter().map(|d| d.1.requetes).max().unwrap_or(1).max(1) as f64;
    let (largeur, hauteur) = (640.0, 160.0);
    let pas = largeur / jours.len().max(1) as f64;
    html! {
        figure.graphique aria-labelledby="usage-titre" {
            figcaption #usage-titre { (titre) }
            svg viewBox=(format!("0 0 {largeur} {}", hauteur + 20.0)) role="img" aria-labelledby="usage-titre" preserveAspectRatio="xMinYMin meet" {
                @for (i, (j, u)) in jours.iter().enumerate() {
                    @let h = (u.requetes as f64 / max * hauteur).max(if u.requetes > 0 { 1.0 } else { 0.0 });
                    rect x=(format!("{:.1}", i as f64 * pas + 1.0)) y=(format!("{:.1}", hauteur - h)) width=(format!("{:.1}", (pas - 2.0).max(1.0))) height=(format!("{h:.1}")) fill="#005a9c" {
                        title { (date_du_jour(*j)) " : " (u.requetes) " requêtes" }
                    }
                }
                text x="0" y=(hauteur + 16.0) font-size="12" fill="#1b1b1b" { (jours.first().map(|j| date_du_jour(j.0)).unwrap_or_default()) }
                text x=(largeur) y=(hauteur + 16.0) font-size="12" text-anchor="end" fill="#1b1b1b" { (jours.last().map(|j| date_du_jour(j.0)).unwrap_or_default()) }
            }
            details {
                summary { "Les chiffres" }
                table {
                    thead { tr { th scope="col" { "Jour" } th scope="col" { "Requêtes" } th scope="col" { "Erreurs" } th scope="col" { "Octets" } } }
                    tbody { @for (j, u) in jours { tr { th scope="row" { (date_du_jour(*j)) } td { (u.requetes) } td { (u.erreurs) } td { (u.octets) } } } }
                }
            }
        }
    }
}

/// The usage of the last [`JOURS`] days, stored and not yet flushed.
fn usage(app: &App) -> Result<Vec<(CleUsage, Usage)>, crate::store::StoreError> {
    app.partenaires.vider(&app.store)?;
    app.store
        .usage_depuis(crate::store::jour_utc().saturating_sub(JOURS - 1))
}

fn page_cles(app: &App, q: &Qui, status: StatusCode, message: Option<Markup>) -> Response<Body> {
    let (cles, usage) = match app.store.cles().and_then(|c| Ok((c, usage(app)?))) {
        Ok(x) => x,
        Err(e) => return erreur_stockage(&e),
    };
    let debut = crate::store::jour_utc().saturating_sub(JOURS - 1);
    let mut par_jour: BTreeMap<u32, Usage> = (debut..=crate::store::jour_utc())
        .map(|j| (j, Usage::default()))
        .collect();
    let mut par_cle: BTreeMap<(u64, u8), Usage> = BTreeMap::new();
    for (k, u) in &usage {
        par_jour.entry(k.jour).or_default().ajouter(u);
        par_cle.entry((k.cle, k.route)).or_default().ajouter(u);
    }
    let nom = |id: u64| -> String {
        if id == 0 {
            return "sans clé".into();
        }
        cles.iter()
            .find(|(_, c)| c.id == id)
            .map(|(_, c)| c.nom.clone())
            .unwrap_or_else(|| format!("clé {id}"))
    };
    let maintenant = crate::store::now_ms();
    let jours: Vec<(u32, Usage)> = par_jour.into_iter().collect();
    prive(crate::http::html::page(
        status,
        cadre_prive(
            "Partenaires",
            Some(q),
            html! {
                p.fil { a href="/gestion" { "Gestion" } " › partenaires" }
                h1 { "Partenaires et clés" }
                @if let Some(m) = message { (m) }
                p { "Une clé identifie un partenaire (site, portail, système national) sur l'API, le widget et les flux. Ses filtres imposés s'appliquent quoi qu'il demande ; au-delà de ses quotas il reçoit 429 avec Retry-After. La clé n'est montrée qu'à sa création : seule son empreinte est conservée." }
                table.tableau-offres {
                    thead { tr { th scope="col" { "Partenaire" } th scope="col" { "Origines" } th scope="col" { "Filtres imposés" } th scope="col" { "Quotas" } th scope="col" { "État" } th scope="col" { "" } } }
                    tbody {
                        @for (_, c) in &cles {
                            tr {
                                td { a href={ "/gestion/historique?objet=cle-partenaire+" (c.id) } { (c.nom) } br; small { (c.contact) } }
                                td { @if c.origines.is_empty() { "toutes" } @else { (c.origines.join(", ")) } }
                                td {
                                    @if !c.departements.is_empty() { "départements " (c.departements.join(", ")) br; }
                                    @if !c.formacodes.is_empty() { "Formacode " (c.formacodes.join(", ")) }
                                    @if c.departements.is_empty() && c.formacodes.is_empty() { "aucun" }
                                }
                                td { (c.par_minute) " / min, " (c.par_jour) " / jour" }
                                td {
                                    @if let Some(r) = c.revoquee_le { "révoquée le " (date_ms(r)) }
                                    @else if !c.active(maintenant) { "expirée" }
                                    @else { "active" @if let Some(e) = c.expire_le { " jusqu'au " (date_ms(e)) } }
                                }
                                td {
                                    @if c.revoquee_le.is_none() {
                                        form.en-ligne method="post" action={ "/gestion/partenaires/" (c.id) "/revocation" } {
                                            (csrf(q))
                                            button.secondaire type="submit" { "Révoquer la clé de " (c.nom) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                h2 { "Usage des " (JOURS) " derniers jours" }
                (colonnes("Requêtes par jour, tous partenaires", &jours))
                table.tableau-offres {
                    thead { tr { th scope="col" { "Partenaire" } th scope="col" { "Route" } th scope="col" { "Requêtes" } th scope="col" { "Erreurs" } th scope="col" { "Octets" } } }
                    tbody {
                        @for ((id, route), u) in &par_cle {
                            tr { td { (nom(*id)) } td { (Route::libelle(*route)) } td { (u.requetes) } td { (u.erreurs) } td { (u.octets) } }
                        }
                    }
                }
                h2 { "Créer une clé" }
                form.saisie method="post" action="/gestion/partenaires" {
                    (csrf(q))
                    p.champ { label for="p-nom" { "Partenaire" } input id="p-nom" name="nom" required maxlength="120"; }
                    p.champ { label for="p-contact" { "Contact (nom, adresse électronique)" } input id="p-contact" name="contact" maxlength="200"; }
                    p.champ { label for="p-origines" { "Origines autorisées pour le widget (une par ligne, https://www.exemple.fr ; vide : usage depuis un serveur)" } textarea id="p-origines" name="origines" rows="2" {} }
                    p.champ { label for="p-dep" { "Départements imposés (44 49 …)" } input id="p-dep" name="departements"; }
                    p.champ { label for="p-fc" { "Domaines Formacode imposés (5 chiffres)" } input id="p-fc" name="formacodes"; }
                    p.champ { label for="p-min" { "Requêtes par minute" } input id="p-min" name="par_minute" type="number" min="1" max="100000" value="600"; }
                    p.champ { label for="p-jour" { "Requêtes par jour" } input id="p-jour" name="par_jour" type="number" min="1" max="100000000" value="100000"; }
                    p.champ { label for="p-exp" { "Expire le (facultatif)" } input id="p-exp" name="expire_le" type="date"; }
                    p { button type="submit" { "Créer la clé" } }
                }
            },
        ),
    ))
}

async fn page(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let q = match equipe(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    bloquant(move || page_cles(&app, &q, StatusCode::OK, None)).await
}

/// What a creation form asks for, checked; the reason otherwise.
fn lire_cle(app: &App, corps: &[u8]) -> Result<ClePartenaire, String> {
    let get = |k: &str| field(corps, k).unwrap_or_default().trim().to_string();
    let nom: String = get("nom").chars().take(120).collect();
    if nom.is_empty() {
        return Err("le nom du partenaire est obligatoire".into());
    }
    let mots = |k: &str| -> Vec<String> {
        get(k)
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let origines = mots("origines");
    for o in &origines {
        let ok = (o.starts_with("https://") || o.starts_with("http://"))
            && !o.trim_end_matches('/').contains(['?', '#'])
            && o.len() <= 200;
        if !ok {
            return Err(format!("origine « {o} » : https://hôte attendu"));
        }
    }
    let departements = mots("departements");
    for d in &departements {
        if !app.refs.departements.contains_key(d) {
            return Err(format!("département « {d} » inconnu"));
        }
    }
    let formacodes = mots("formacodes");
    for f in &formacodes {
        if !app.refs.formacodes.contains_key(f) {
            return Err(format!("Formacode « {f} » inconnu"));
        }
    }
    let nombre = |k: &str, max: u32| -> Result<u32, String> {
        get(k)
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| format!("{k} : un nombre de 1 à {max} attendu"))
    };
    let expire_le = match get("expire_le").as_str() {
        "" => None,
        d => Some(
            d.parse::<jiff::civil::Date>()
                .ok()
                .and_then(|d| d.to_zoned(jiff::tz::TimeZone::system()).ok())
                .map(|z| z.timestamp().as_millisecond() + 86_400_000)
                .ok_or_else(|| format!("date d'expiration « {d} » : AAAA-MM-JJ attendue"))?,
        ),
    };
    Ok(ClePartenaire {
        nom,
        contact: get("contact").chars().take(200).collect(),
        origines: origines
            .into_iter()
            .map(|o| o.trim_end_matches('/').to_string())
            .collect(),
        departements,
        formacodes,
        par_minute: nombre("par_minute", 100_000)?,
        par_jour: nombre("par_jour", 100_000_000)?,
        expire_le,
        ..Default::default()
    })
}

async fn creer(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    if !q.equipe() {
        return introuvable(Some(&q));
    }
    bloquant(move || {
        let cle = match lire_cle(&app, &envoi.corps) {
            Ok(c) => c,
            Err(m) => {
                return page_cles(
                    &app,
                    &q,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(html! { p.erreur role="alert" { (m) } }),
                )
            }
        };
        let (jeton, hash) = crate::accounts::new_token();
        let cle = match app.store.creer_cle(&cle, hash, &q.auteur()) {
            Ok(c) => c,
            Err(e) => return erreur_stockage(&e),
        };
        if let Err(e) = app.partenaires.recharger(&app.store) {
            return erreur_stockage(&e);
        }
        page_cles(
            &app,
            &q,
            StatusCode::OK,
            Some(html! {
                div.succes role="status" {
                    p { "Clé créée pour " strong { (cle.nom) } ". Copiez-la maintenant : elle ne sera plus jamais montrée." }
                    p { code.cle-creee { (jeton) } }
                    p { "Le partenaire l'envoie dans l'en-tête " code { "X-Sofi-Cle" } " (ou l'attribut " code { "data-cle" } " du widget), jamais dans une adresse." }
                }
            }),
        )
    })
    .await
}

async fn revoquer(
    State(app): State<Arc<App>>,
    params: RawPathParams,
    req: Request,
) -> Response<Body> {
    let id: Option<u64> = params.iter().next().and_then(|(_, v)| v.parse().ok());
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    if !q.equipe() {
        return introuvable(Some(&q));
    }
    let Some(id) = id else {
        return introuvable(Some(&q));
    };
    bloquant(move || match app.store.revoquer_cle(id, &q.auteur()) {
        Ok(true) => match app.partenaires.recharger(&app.store) {
            Ok(()) => redirect("/gestion/partenaires"),
            Err(e) => erreur_stockage(&e),
        },
        Ok(false) => introuvable(Some(&q)),
        Err(e) => erreur_stockage(&e),
    })
    .await
}

/// One day of a partner's usage, for its own page.
#[derive(serde::Serialize)]
struct JourUsage {
    jour: String,
    route: &'static str,
    requetes: u64,
    erreurs: u64,
    octets: u64,
}

/// `GET /api/v1/partenaire/usage`, with its key: its own usage of the last days, by day
/// and route (never anyone else's).
pub(in crate::http) async fn usage_json(app: Arc<App>, req: Request) -> Response<Body> {
    let Some(cle) = req.extensions().get::<Acces>().and_then(|a| a.0.clone()) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "cle-requise",
            "l'usage d'un partenaire se lit avec sa clé (en-tête X-Sofi-Cle)",
            None,
        );
    };
    let r = tokio::task::spawn_blocking(move || {
        let u = usage(&app)?;
        Ok::<_, crate::store::StoreError>(
            u.into_iter()
                .filter(|(k, _)| k.cle == cle.id)
                .map(|(k, u)| JourUsage {
                    jour: date_du_jour(k.jour),
                    route: Route::libelle(k.route),
                    requetes: u.requetes,
                    erreurs: u.erreurs,
                    octets: u.octets,
                })
                .collect::<Vec<_>>(),
        )
    })
    .await;
    match r {
        Ok(Ok(jours)) => json_response(StatusCode::OK, &serde_json::json!({ "usage": jours })),
        _ => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "stockage-indisponible",
            "l'usage ne peut être lu pour l'instant",
            None,
        ),
    }
}
