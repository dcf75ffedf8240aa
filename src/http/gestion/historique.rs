//! One object's audit trail, for staff (`/gestion/historique`).

use crate::http::forms::*;
use crate::http::respond::Body;
use crate::http::App;
use axum::extract::{Request, State};
use hyper::Response;
use maud::html;
use std::sync::Arc;

/// One object's history, for staff: `?objet=organisme 123…`, `compte 7`, `offre ESP…`,
/// `demande 3`, `motif code` (the audit trail's own names for what it records).
pub(super) async fn historique_page(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let q = match equipe(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Objet {
        objet: String,
    }
    let o: Objet = match lire(req.uri().query().unwrap_or("").as_bytes()) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let objet: String = o.objet.trim().chars().take(120).collect();
    bloquant(move || {
        let evenements = if objet.is_empty() {
            app.store.audit(None, 200)
        } else {
            app.store.audit(Some(&objet), 500)
        };
        let evenements = match evenements {
            Ok(e) => e,
            Err(e) => return erreur_stockage(&e),
        };
        ok(cadre_prive(
            "Historique",
            Some(&q),
            html! {
                p.fil { a href="/gestion" { "Gestion" } " › historique" }
                h1 { "Historique" @if !objet.is_empty() { " — " (objet) } }
                form.filtres method="get" action="/gestion/historique" {
                    p.champ { label for="objet" { "Objet (« organisme SIRET », « compte N », « offre NUMÉRO », « demande N »)" }
                        input id="objet" name="objet" value=(objet) size="40"; }
                    p { button type="submit" { "Afficher" } }
                }
                @if objet.is_empty() { p.aide { "Les 200 derniers événements, toutes catégories." } }
                (historique(&evenements))
            },
        ))
    })
    .await
}
