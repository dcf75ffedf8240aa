//! What every server-rendered page shares (the public site, the organisation space, the
//! staff space): the frame with its skip link, and the headers an HTML answer gets.

use super::respond::{full, Body};
use bytes::Bytes;
use hyper::{Response, StatusCode};
use maud::{html, Markup, DOCTYPE};

pub fn answer(status: StatusCode, type_: &str, corps: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", type_)
        .body(full(corps))
        .expect("valid headers")
}

/// An HTML page, with a content security policy that allows only our own scripts.
pub fn page(status: StatusCode, m: Markup) -> Response<Body> {
    let mut r = answer(status, "text/html; charset=utf-8", m.into_string());
    r.headers_mut().insert(
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'self'"
            .parse()
            .expect("static header"),
    );
    // Links out to partners' sites say where the visitor came from, not which search.
    r.headers_mut().insert(
        "referrer-policy",
        "strict-origin-when-cross-origin"
            .parse()
            .expect("static header"),
    );
    r
}

/// The frame of every page: header (`nav`: the list items of its navigation), skip link,
/// main, footer.
pub fn cadre(
    titre: &str,
    canonique: &str,
    nav: Markup,
    contenu: Markup,
    tete: Option<Markup>,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="fr" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (titre) " — Sofi, formations en " (crate::referentiel::nom_region()) }
                link rel="canonical" href=(canonique);
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/static/site.css";
                script src="/static/site.js" defer {}
                @if let Some(t) = tete { (t) }
            }
            body {
                a.evitement href="#contenu" { "Aller au contenu" }
                header.bandeau {
                    a.logo href="/" { "Sofi" }
                    nav aria-label="Navigation principale" {
                        ul { (nav) }
                    }
                }
                main id="contenu" tabindex="-1" { (contenu) }
                footer.pied {
                    p { "L'offre de formation professionnelle en " (crate::referentiel::nom_region()) ", recueillie et vérifiée par le Carif-Oref. Données diffusées au format LHÉO : "
                        a href="/lheo/offres.xml" { "flux LHÉO" } ", " a href="/api/v1/openapi.json" { "API" } ". "
                        a href="/confidentialite" { "Confidentialité" } }
                }
            }
        }
    }
}
