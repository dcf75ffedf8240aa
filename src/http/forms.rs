//! What every server-rendered back-office route shares (the organisation space, the staff
//! space): their frame and navigation, the gate every unsafe request passes (same-site
//! origin, a live session, the session's form token, a bounded body), typed forms, redirects
//! and refusal pages. Private pages are never cached nor indexed.

use super::html::{cadre, page};
use super::identity::{cross_site, same_token, ClientAddr, Qui};
use super::respond::{internal, Body};
use super::App;
use axum::extract::{RawPathParams, Request};
use bytes::Bytes;
use hyper::{Response, StatusCode};
use maud::{html, Markup};
use std::sync::Arc;

pub use crate::limits::MAX_FORM;

/// Path parameters, percent-decoded, in order.
pub fn chemin(p: &RawPathParams) -> Vec<String> {
    p.iter().map(|(_, v)| super::params::segment(v)).collect()
}

/// The frame of the back-office's pages, with the navigation of who is logged in.
pub fn cadre_prive(titre: &str, qui: Option<&Qui>, contenu: Markup) -> Markup {
    let nav = html! {
        li { a href="/" { "Site public" } }
        @if let Some(q) = qui {
            @if q.equipe() {
                li { a href="/gestion" { "Gestion" } }
            }
            li { a href="/espace" { "Mes formations" } }
            @if q.siret().is_some() {
                li { a href="/espace/etablissement" { "Mon établissement" } }
            }
            li {
                form.en-ligne method="post" action="/espace/deconnexion" {
                    input type="hidden" name="_csrf" value=(q.session.csrf);
                    button.lien type="submit" { "Se déconnecter" }
                }
            }
        } @else {
            li { a href="/espace/connexion" { "Se connecter" } }
        }
    };
    cadre(titre, "/espace", nav, contenu, None)
}

pub fn ok(m: Markup) -> Response<Body> {
    prive(page(StatusCode::OK, m))
}

/// Pages of the space are private: never cached, never indexed.
pub fn prive(mut r: Response<Body>) -> Response<Body> {
    let h = r.headers_mut();
    h.insert("cache-control", "no-store".parse().expect("static header"));
    h.insert("x-robots-tag", "noindex".parse().expect("static header"));
    r
}

pub fn redirect(to: &str) -> Response<Body> {
    let mut r = Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header("location", to)
        .body(super::respond::full(""))
        .expect("valid redirect");
    r = prive(r);
    r
}

/// A page that says no, with its status.
pub fn refus(status: StatusCode, titre: &str, message: &str, qui: Option<&Qui>) -> Response<Body> {
    prive(page(
        status,
        cadre_prive(
            titre,
            qui,
            html! { h1 { (titre) } p.erreur role="alert" { (message) } p { a href="/espace" { "Retour à l'espace" } } },
        ),
    ))
}

pub fn introuvable(qui: Option<&Qui>) -> Response<Body> {
    refus(
        StatusCode::NOT_FOUND,
        "Page introuvable",
        "Cette page n'existe pas, ou elle ne concerne pas votre organisme.",
        qui,
    )
}

/// The logged-in person, or the login page.
pub async fn connecte(app: &Arc<App>, headers: &hyper::HeaderMap) -> Result<Qui, Response<Body>> {
    let app2 = app.clone();
    let headers = headers.clone();
    let qui = tokio::task::spawn_blocking(move || app2.identity.session(&app2.store, &headers))
        .await
        .map_err(internal)?;
    match qui {
        Ok(Some(q)) => Ok(q),
        Ok(None) => Err(redirect("/espace/connexion")),
        Err(e) => Err(erreur_stockage(&e)),
    }
}

pub fn erreur_stockage(e: &crate::store::StoreError) -> Response<Body> {
    tracing::error!("espace : {e}");
    refus(
        StatusCode::SERVICE_UNAVAILABLE,
        "Enregistrement impossible",
        &format!("{e}. Réessayez dans un instant : ce que vous avez saisi n'a pas été perdu si la page précédente est encore ouverte."),
        None,
    )
}

/// A checked form submission: who sent it and its fields.
pub struct Envoi {
    pub qui: Qui,
    pub corps: Bytes,
    pub addr: Option<std::net::IpAddr>,
}

/// The gate of every unsafe request of the space: same-site, logged in, the session's form
/// token, a body within [`MAX_FORM`].
pub async fn formulaire(app: &Arc<App>, req: Request) -> Result<Envoi, Response<Body>> {
    if let Some(pourquoi) = cross_site(req.headers()) {
        return Err(refus(
            StatusCode::FORBIDDEN,
            "Requête refusée",
            &pourquoi,
            None,
        ));
    }
    let qui = connecte(app, req.headers()).await?;
    let addr = req.extensions().get::<ClientAddr>().map(|a| a.0);
    let corps = lire_corps(req).await?;
    let jeton = field(&corps, "_csrf").unwrap_or_default();
    if !same_token(&jeton, &qui.session.csrf) {
        return Err(refus(
            StatusCode::FORBIDDEN,
            "Requête refusée",
            "le jeton du formulaire manque ou a expiré : rechargez la page et recommencez",
            Some(&qui),
        ));
    }
    Ok(Envoi { qui, corps, addr })
}

pub async fn lire_corps(req: Request) -> Result<Bytes, Response<Body>> {
    axum::body::to_bytes(req.into_body(), MAX_FORM)
        .await
        .map_err(|_| {
            refus(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Formulaire trop volumineux",
                &format!("un formulaire ne dépasse pas {} Kio", MAX_FORM >> 10),
                None,
            )
        })
}

/// One field of a urlencoded body.
pub fn field(corps: &[u8], nom: &str) -> Option<String> {
    form_urlencoded::parse(corps)
        .find(|(k, _)| k == nom)
        .map(|(_, v)| v.into_owned())
}

/// A typed form; a body that does not fit is a 400 page naming the field.
pub fn lire<T: serde::de::DeserializeOwned>(corps: &[u8]) -> Result<T, Response<Body>> {
    let de = serde_html_form::Deserializer::new(form_urlencoded::parse(corps));
    serde_path_to_error::deserialize(de).map_err(|e| {
        refus(
            StatusCode::BAD_REQUEST,
            "Formulaire illisible",
            &format!("champ « {} » : {}", e.path(), e.inner()),
            None,
        )
    })
}

/// Runs a page's work off the async workers.
pub async fn bloquant(f: impl FnOnce() -> Response<Body> + Send + 'static) -> Response<Body> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(internal)
}

/// The hidden field every form carries.
pub fn csrf(q: &Qui) -> Markup {
    html! { input type="hidden" name="_csrf" value=(q.session.csrf); }
}

/// Today as LHÉO writes it.
pub fn aujourdhui() -> String {
    crate::model::lheo_date(jiff::Zoned::now().date())
}

/// The public address ([`App::url_publique`]), else `http://host` as the client reached us:
/// for links shown or written in pages.
pub fn base_url(app: &App, headers: &hyper::HeaderMap) -> String {
    if let Some(u) = &app.url_publique {
        return u.clone();
    }
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// An instant (Unix ms) as people read it: `30/11/2026 17:42`, in the server's time zone.
pub fn horodatage(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%d/%m/%Y %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// An object's audit trail, newest first: who, when, what, before → after, why.
pub fn historique(evenements: &[crate::store::Evenement]) -> Markup {
    html! {
        @if evenements.is_empty() {
            p { "Aucun événement." }
        } @else {
            table.tableau-offres {
                thead { tr { th scope="col" { "Quand" } th scope="col" { "Qui" } th scope="col" { "Quoi" } th scope="col" { "Avant → après" } } }
                tbody {
                    @for e in evenements {
                        tr {
                            td { (horodatage(e.horodatage)) }
                            td { (e.auteur) }
                            td { (e.action) @if let Some(m) = &e.motif { br; small { (m) } } }
                            td {
                                @for c in e.changements.iter().take(12) {
                                    (c.champ) " : " (c.avant) " → " (c.apres) br;
                                }
                                @if e.changements.len() > 12 { "… (" (e.changements.len() - 12) " de plus)" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// An offer's way through the pipeline — received, decided, diffused — with the deadline
/// of each step still to come (J+2 decided, J+3 diffused, counted from its reception).
/// For an entered offer and an imported one alike (an import is decided by the rules
/// on reception, and diffused in the same write).
pub fn parcours(
    d: Option<&crate::store::Dossier>,
    o: Option<&crate::store::OffreStockee>,
    decision: Option<&crate::store::Decision>,
) -> Markup {
    use crate::store::Etat;
    const JOUR: i64 = 86_400_000;
    let attente = d.filter(|d| d.etat == Etat::EnAttente);
    let recue = attente
        .and_then(|d| d.soumis_le)
        .or(o.map(|o| o.recue_le))
        .or(d.map(|d| d.soumis_le.unwrap_or(d.cree_le)));
    html! {
        dl.parcours {
            dt { "Reçue" }
            dd { @match recue { Some(t) => (horodatage(t)), None => "pas encore soumise" }
                @if attente.is_none() { @if let Some(d) = d.filter(|d| d.source != "flux") { " (saisie par l'organisme, " (d.source) ")" } @else if let Some(o) = o { " (flux " (o.source) ")" } } }
            dt { "Décidée" }
            dd {
                @if let (Some(_), Some(t)) = (attente, recue) {
                    "en attente — à décider avant le " (horodatage(t + 2 * JOUR)) " (J+2)"
                } @else if let Some(x) = decision {
                    (horodatage(x.le)) " — "
                    @match &x.par { Some(p) => { "acceptée par " (p) }, None => "acceptée par la politique d'acceptation automatique" }
                } @else if let Some(o) = o {
                    (horodatage(o.verifiee_le)) " — par les règles, à la réception"
                } @else { "—" }
            }
            dt { "Diffusée" }
            dd {
                @if let (Some(_), Some(t)) = (attente, recue) {
                    @if o.is_some() { "la version précédente reste en ligne ; " }
                    "à diffuser avant le " (horodatage(t + 3 * JOUR)) " (J+3)"
                } @else if let Some(o) = o {
                    @if o.verdict.diffusable() {
                        "cette version depuis le " (horodatage(o.modifiee_le))
                        @if let Some(p) = o.diffusee_le { @if p < o.modifiee_le { " (en ligne depuis le " (horodatage(p)) ")" } }
                    } @else {
                        "non diffusée (hors du périmètre ou bloquée par une erreur)"
                    }
                } @else { "non" }
            }
        }
    }
}

/// The answer to a logged-in person who is not staff: 403, saying the space is staff's.
pub fn reserve(q: &Qui) -> Response<Body> {
    refus(
        StatusCode::FORBIDDEN,
        "Réservé à l'équipe du Carif-Oref",
        "Cet espace est celui de l'équipe du Carif-Oref : votre compte n'y a pas accès.",
        Some(q),
    )
}

/// [`formulaire`] for staff only: anyone else gets the 403 of [`reserve`].
pub async fn formulaire_equipe(app: &Arc<App>, req: Request) -> Result<Envoi, Response<Body>> {
    let envoi = formulaire(app, req).await?;
    if !envoi.qui.equipe() {
        return Err(reserve(&envoi.qui));
    }
    Ok(envoi)
}

/// Staff only: someone not logged in is sent to the login page, anyone else gets a 403.
pub async fn equipe(app: &Arc<App>, headers: &hyper::HeaderMap) -> Result<Qui, Response<Body>> {
    let q = connecte(app, headers).await?;
    if q.equipe() {
        Ok(q)
    } else {
        Err(reserve(&q))
    }
}
