//! The public site: server-rendered French pages (maud escapes every interpolated string, so
//! offer text is always shown as text), the partner widget, the sitemap. Everything works
//! without JavaScript; `site.js` only adds suggestions as you type and folds the facets and
//! dates on a phone. CSS and JS are compiled into the binary.
//!
//! - `/`: the search form; `/recherche?…`: results (every state is a URL);
//! - `/formation/{numero}`: one offer in plain French, with schema.org JSON-LD;
//! - `/statistiques`: the offer at a glance, SVG charts drawn here;
//! - `/partenaires`: how to embed the widget, with a live preview; `/widget.js`;
//! - `/sitemap.xml`, `/robots.txt`, `/static/site.css`, `/static/site.js`.

mod offre;
mod offre_details;
mod organisme;
mod recherche;
mod stats;
mod texte_riche;

use super::html::cadre;
use super::params::segment;
use super::respond::{internal, Body};
use super::App;
use axum::extract::{RawPathParams, Request, State};
use axum::routing::get;
use axum::Router;
use hyper::{Response, StatusCode};
use maud::{html, Markup, PreEscaped};
use std::sync::Arc;

pub const CSS: &str = include_str!("site.css");
pub const JS: &str = include_str!("site.js");
pub const WIDGET: &str = include_str!("widget.js");

/// The site's routes (GET and HEAD).
pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/",
            get(|State(app): State<Arc<App>>, req: Request| async move {
                page(
                    StatusCode::OK,
                    recherche::accueil(&app, &base_url(&app, &req)),
                )
            }),
        )
        .route("/recherche", get(resultats))
        .route(
            "/statistiques",
            get(|State(app): State<Arc<App>>, req: Request| async move {
                let base = base_url(&app, &req);
                bloquant(move || (StatusCode::OK, stats::page(&app, &base))).await
            }),
        )
        .route(
            "/confidentialite",
            get(|State(app): State<Arc<App>>, req: Request| async move {
                page(
                    StatusCode::OK,
                    confidentialite(&base_url(&app, &req), app.analytique.retention_jours),
                )
            }),
        )
        .route(
            "/partenaires",
            get(|State(app): State<Arc<App>>, req: Request| async move {
                page(StatusCode::OK, partenaires(&base_url(&app, &req)))
            }),
        )
        .route(
            "/sitemap.xml",
            get(|State(app): State<Arc<App>>, req: Request| async move {
                let base = base_url(&app, &req);
                let corps = tokio::task::spawn_blocking(move || sitemap(&app, &base))
                    .await
                    .unwrap_or_default();
                answer(StatusCode::OK, "application/xml; charset=utf-8", corps)
            }),
        )
        .route(
            "/robots.txt",
            get(|State(app): State<Arc<App>>, req: Request| async move {
                let base = base_url(&app, &req);
                answer(
                    StatusCode::OK,
                    "text/plain; charset=utf-8",
                    format!("User-agent: *\nAllow: /\nSitemap: {base}/sitemap.xml\n"),
                )
            }),
        )
        .route(
            "/static/site.css",
            get(|| async { statique("text/css; charset=utf-8", CSS) }),
        )
        .route(
            "/static/site.js",
            get(|| async { statique("text/javascript; charset=utf-8", JS) }),
        )
        .route(
            "/formation/{*numero}",
            get(
                |State(app): State<Arc<App>>, params: RawPathParams, req: Request| async move {
                    let numero = numero_du_chemin(&params);
                    let base = base_url(&app, &req);
                    // Reached from a results page: a click for that search.
                    if let Some(rq) = req.uri().query().and_then(|q| {
                        form_urlencoded::parse(q.as_bytes())
                            .find(|(k, _)| k == "rq")
                            .map(|(_, v)| v.into_owned())
                    }) {
                        app.analytique.clic(&rq);
                    }
                    bloquant(move || offre::page(&app, &numero, &base)).await
                },
            )
            .post(signalement),
        )
        .route(
            "/organisme/{siret}",
            get(
                |State(app): State<Arc<App>>, params: RawPathParams, req: Request| async move {
                    let siret = numero_du_chemin(&params);
                    let base = base_url(&app, &req);
                    bloquant(move || organisme::page(&app, &siret, &base)).await
                },
            ),
        )
}

/// The offer's numero in `/formation/{*numero}`, decoded.
fn numero_du_chemin(params: &RawPathParams) -> String {
    params
        .iter()
        .next()
        .map(|(_, v)| segment(v))
        .unwrap_or_default()
}

/// `POST /formation/{numero}`: someone reading an offer reports an error (no
/// account, no cookie): same-site only, a short text, limited per address; it becomes an
/// item of the staff queue.
async fn signalement(
    State(app): State<Arc<App>>,
    params: RawPathParams,
    req: Request,
) -> Response<Body> {
    let numero = numero_du_chemin(&params);
    let base = base_url(&app, &req);
    let canonique = format!("{base}/formation/{numero}");
    let message = |status: StatusCode, titre: &str, texte: &str| {
        page(
            status,
            page_erreur(
                titre,
                &canonique,
                html! { (texte) },
                html! { p { a href=(canonique) { "Retour à l'offre" } } },
            ),
        )
    };
    if let Some(p) = super::identity::cross_site(req.headers()) {
        return message(StatusCode::FORBIDDEN, "Signalement refusé", &p);
    }
    let addr = req
        .extensions()
        .get::<super::identity::ClientAddr>()
        .map(|a| a.0);
    if let Err(attente) = app.identity.attempt_address(addr) {
        let mut r = message(
            StatusCode::TOO_MANY_REQUESTS,
            "Trop de signalements",
            &format!("Réessayez dans {attente} secondes."),
        );
        r.headers_mut()
            .insert("retry-after", attente.to_string().parse().expect("digits"));
        return r;
    }
    let corps = match axum::body::to_bytes(req.into_body(), 8 << 10).await {
        Ok(c) => c,
        Err(_) => {
            return message(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Signalement trop long",
                "Un signalement fait au plus 1 000 caractères.",
            )
        }
    };
    let texte: String = form_urlencoded::parse(&corps)
        .find(|(k, _)| k == "texte")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    if texte.is_empty() || texte.chars().count() > 1000 {
        return message(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Signalement vide ou trop long",
            "Décrivez l'erreur en 1 000 caractères au plus.",
        );
    }
    let existe = matches!(app.store.offre(&numero), Ok(Some(ref o)) if o.verdict.diffusable());
    if !existe {
        return message(
            StatusCode::NOT_FOUND,
            "Formation introuvable",
            "Aucune formation diffusée ne porte ce numéro.",
        );
    }
    match tokio::task::spawn_blocking(move || app.store.signaler(&numero, &texte)).await {
        Ok(Ok(_)) => message(
            StatusCode::OK,
            "Merci",
            "Votre signalement est transmis au Carif-Oref, qui vérifie auprès de l'organisme.",
        ),
        _ => message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Signalement impossible",
            "Réessayez dans un instant.",
        ),
    }
}

/// The partner widget's script (loaded from other sites: CORS is the router's).
pub(super) fn widget() -> Response<Body> {
    statique("text/javascript; charset=utf-8", WIDGET)
}

/// `/recherche?…`: the results page.
async fn resultats(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let base = base_url(&app, &req);
    if app.moteur.is_none() {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            page_erreur(
                "Recherche indisponible",
                &format!("{base}/recherche"),
                html! { "Le moteur de recherche n'est pas démarré." },
                html! {},
            ),
        );
    }
    let query = req.uri().query().unwrap_or("").to_string();
    bloquant(move || recherche::resultats(&app, &query, &base)).await
}

/// Runs a page that reads the store or the index off the async workers.
async fn bloquant(f: impl FnOnce() -> (StatusCode, Markup) + Send + 'static) -> Response<Body> {
    match tokio::task::spawn_blocking(f).await {
        Ok((status, m)) => page(status, m),
        Err(e) => internal(e),
    }
}

/// The public address (canonical URLs, sitemap, JSON-LD, the widget snippet).
fn base_url(app: &App, req: &Request) -> String {
    crate::http::forms::base_url(app, req.headers())
}

use super::html::{answer, page};

fn statique(type_: &str, corps: &'static str) -> Response<Body> {
    let mut r = answer(StatusCode::OK, type_, corps);
    r.headers_mut().insert(
        "cache-control",
        "public, max-age=3600".parse().expect("static header"),
    );
    r
}

/// The frame of every public page: header with the public navigation, skip link, main,
/// footer.
pub fn gabarit(titre: &str, canonique: &str, contenu: Markup, tete: Option<Markup>) -> Markup {
    let nav = html! {
        li { a href="/" { "Rechercher" } }
        li { a href="/statistiques" { "L'offre en chiffres" } }
        li { a href="/partenaires" { "Partenaires" } }
        li { a href="/espace" { "Espace organismes" } }
    };
    cadre(titre, canonique, nav, contenu, tete)
}

/// A page that says what went wrong (`suite`: what to offer next, e.g. the form).
pub fn page_erreur(titre: &str, canonique: &str, message: Markup, suite: Markup) -> Markup {
    gabarit(
        titre,
        canonique,
        html! { h1 { (titre) } p.erreur role="alert" { (message) } (suite) },
        None,
    )
}

/// A date in French: `2027-03-01` → `1 mars 2027`.
/// A price the French way: `1780.0` → "1 780 €", `12.5` → "12,50 €" (no-break spaces).
pub fn euros(p: f64) -> String {
    let centimes = (p * 100.0).round() as u64;
    let (entiers, cts) = (centimes / 100, centimes % 100);
    let chiffres = entiers.to_string();
    let mut out = String::new();
    for (i, c) in chiffres.chars().enumerate() {
        if i > 0 && (chiffres.len() - i) % 3 == 0 {
            out.push('\u{a0}');
        }
        out.push(c);
    }
    if cts != 0 {
        out.push_str(&format!(",{cts:02}"));
    }
    out.push_str("\u{a0}€");
    out
}

pub fn date_fr(iso: &str) -> String {
    use crate::model::MOIS;
    match iso.parse::<jiff::civil::Date>() {
        Ok(d) => format!(
            "{} {} {}",
            d.day(),
            MOIS[(d.month() - 1) as usize],
            d.year()
        ),
        Err(_) => iso.to_string(),
    }
}

/// What Sofi keeps about the people who use it, and for how long.
fn confidentialite(base: &str, retention_jours: u32) -> Markup {
    gabarit(
        "Confidentialité",
        &format!("{base}/confidentialite"),
        html! {
            h1 { "Confidentialité" }
            h2 { "Vous cherchez une formation" }
            p { "Sofi ne vous demande rien, ne dépose aucun cookie et ne charge aucun script de mesure d'audience. Votre adresse IP n'est enregistrée nulle part : elle ne sert, en mémoire et le temps d'une minute ou d'une journée, qu'à limiter le nombre de requêtes d'un même client sur l'API." }
            p {
                "Pour savoir ce que les personnes cherchent et ne trouvent pas, Sofi compte les recherches "
                strong { "par jour seulement" }
                " : les mots cherchés (ramenés à leur racine, sans majuscules ni accents), les noms des filtres utilisés, le nombre de résultats, et combien de recherches ont été suivies d'un clic vers une offre. Aucune trace n'est gardée d'une personne ni d'une visite. Une recherche de plus de 200 caractères, ou qui ressemble à une donnée personnelle (une adresse électronique, un numéro de téléphone), n'est pas enregistrée : elle est seulement comptée comme écartée."
            }
            p { "Ces comptes sont conservés " strong { (retention_jours) " jours" } ", puis effacés." }
            p { "Le signalement d'une erreur sur une offre ne garde que le texte que vous écrivez : n'y mettez pas de données personnelles." }
            h2 { "Vous êtes un partenaire" }
            p { "L'usage de votre clé est compté par jour et par service (requêtes, erreurs, volume), sans adresse ni détail des requêtes." }
            h2 { "Vous saisissez l'offre de votre organisme" }
            p { "Votre compte garde votre adresse électronique, votre nom et une empreinte de votre mot de passe (jamais le mot de passe lui-même). Chaque modification que vous faites est inscrite dans l'historique de l'offre (qui, quand, quoi), comme l'exige la vérification par le Carif-Oref." }
        },
        None,
    )
}

fn partenaires(base: &str) -> Markup {
    let extrait = format!(
        "<script src=\"{base}/widget.js\" async></script>\n<div data-sofi-recherche data-formacode=\"31734\" data-departement=\"44\"></div>"
    );
    gabarit(
        "Partenaires : intégrer la recherche",
        &format!("{base}/partenaires"),
        html! {
            h1 { "Intégrer la recherche de formations sur votre site" }
            p { "Le widget affiche une zone de recherche et ses résultats dans votre page, avec les filtres que vous imposez. Il s'isole dans un shadow DOM : vos styles ne le touchent pas, les siens ne débordent pas. Chaque résultat renvoie à la fiche de la formation sur ce site." }
            h2 { "Code à copier" }
            pre { code { (extrait) } }
            h2 { "Filtres imposés" }
            p { "Chaque attribut " code { "data-…" } " fixe un paramètre de l'API de recherche ; plusieurs valeurs se séparent par des virgules." }
            table {
                thead { tr { th scope="col" { "Attribut" } th scope="col" { "Effet" } } }
                tbody {
                    tr { td { code { "data-formacode" } } td { "domaines Formacode (un code générique inclut ses codes spécifiques)" } }
                    tr { td { code { "data-departement" } } td { "départements (44, 49, 53, 72, 85)" } }
                    tr { td { code { "data-commune" } " + " code { "data-rayon" } } td { "autour d'une commune (code INSEE ou postal), rayon en km" } }
                    tr { td { code { "data-financeur" } } td { "financeurs (code LHÉO ou « cpf »)" } }
                    tr { td { code { "data-public" } } td { "publics (Formacode 8xxxx)" } }
                    tr { td { code { "data-certifiante" } } td { "1 : certifiantes seulement" } }
                    tr { td { code { "data-par-page" } } td { "résultats par page (10 par défaut)" } }
                    tr { td { code { "data-q" } } td { "recherche affichée au chargement (modifiable par l'internaute)" } }
                }
            }
            p { "Les données viennent de l'API publique " code { "/api/v1/recherche" } ", ouverte à toutes les origines (CORS)." }
            h2 { "Votre clé de partenaire" }
            p { "Le Carif-Oref vous remet une clé : ses filtres s'appliquent à toutes vos recherches et à vos flux, et ses quotas sont les vôtres (sans clé, l'usage reste possible dans des quotas plus bas). Donnez-la au widget par l'attribut " code { "data-cle" } " (elle ne vaut alors que depuis les origines enregistrées pour elle), ou à l'API et aux flux par l'en-tête " code { "X-Sofi-Cle" } ". Jamais dans une adresse : elle fuirait par les journaux et l'en-tête Referer." }
            form.saisie method="post" action="/partenaires/usage" {
                p.champ { label for="cle" { "Voir l'usage de votre clé (30 derniers jours)" } input #cle name="cle" type="password" autocomplete="off" required size="66"; }
                p { button type="submit" { "Voir mon usage" } }
            }
            h2 { "Aperçu" }
            p { "Le widget ci-dessous est le vrai, réglé sur le magasinage (Formacode 31734 : magasinier, cariste, préparateur de commandes) en Loire-Atlantique." }
            div.apercu data-sofi-recherche data-formacode="31734" data-departement="44" {}
            script src="/widget.js" async {}
        },
        None,
    )
}

/// Every public page: home, statistics, partners, and each diffusable offer (from the
/// index's term dictionary: only offers with a live document).
fn sitemap(app: &App, base: &str) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for p in ["/", "/statistiques", "/partenaires"] {
        out.push_str(&format!("<url><loc>{base}{p}</loc></url>\n"));
    }
    if let Some(m) = &app.moteur {
        for n in m.numeros_formations() {
            let n: String = form_urlencoded::byte_serialize(n.as_bytes()).collect();
            out.push_str(&format!(
                "<url><loc>{base}/formation/{}</loc></url>\n",
                quick_xml::escape::escape(&n)
            ));
        }
    }
    out.push_str("</urlset>\n");
    out
}

/// JSON for a `<script type="application/ld+json">`: `<` escaped so that no text can close
/// the script element.
pub fn json_ld(v: &serde_json::Value) -> Markup {
    let s = v.to_string().replace('<', "\\u003c");
    html! { script type="application/ld+json" { (PreEscaped(s)) } }
}
