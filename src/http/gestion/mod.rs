//! The staff space (`/gestion/…`), Carif staff and admins only: what waits for a decision
//! (référencement requests, submitted offers) and the decisions themselves — accept a
//! request once, activate an organisme known from the feeds, put a revision online, send it
//! back with reasons, hand a feed's offer over to its organisation. Every decision is
//! audited in the transaction that makes it.
//!
//! - [`file`]: the queue and the acceptance of a selection;
//! - [`offres`]: one submitted offer and its decision;
//! - [`organismes`]: référencement requests, activations, suspensions, public reports;
//! - [`comptes`]: accounts and their links;
//! - [`motifs`]: the coded reasons for sending an offer back;
//! - [`historique`], [`fraicheur`]: an object's audit trail, the J+3 delays;
//! - [`partenaires`], [`recherches`]: partner keys and usage, search analytics.

mod comptes;
mod file;
mod fraicheur;
mod historique;
mod motifs;
mod offres;
mod organismes;
pub(super) mod partenaires;
mod recherches;

use crate::http::forms::*;
use crate::http::identity::Qui;
use crate::http::respond::Body;
use crate::http::App;
use axum::routing::{get, post};
use axum::Router;
use comptes::*;
use file::*;
use fraicheur::*;
use historique::*;
use hyper::Response;
use maud::html;
use motifs::*;
use offres::*;
use organismes::*;
use std::sync::Arc;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/gestion", get(file))
        .route("/gestion/demandes/{id}/{decision}", post(demande))
        .route("/gestion/organismes/activation", post(activation))
        .route("/gestion/comptes/lien", post(nouveau_lien))
        .route("/gestion/motifs", get(motifs_page).post(motif))
        .route("/gestion/selection/accepter", post(accepter_selection))
        .route("/gestion/organismes/suspension", post(suspension))
        .route("/gestion/comptes", get(comptes_page).post(compte))
        .route("/gestion/signalements/{id}", post(signalement_traite))
        .route("/gestion/fraicheur", get(fraicheur))
        .route("/gestion/historique", get(historique_page))
        .route("/gestion/offres/{numero}", get(offre))
        .route("/gestion/offres/{numero}/{decision}", post(decision))
        .merge(partenaires::routes())
        .merge(recherches::routes())
}

/// How long ago, as the queue shows it: hours for the first day, then J+n.
fn age(ms: i64) -> String {
    let h = (crate::store::now_ms() - ms).max(0) / 3_600_000;
    if h < 24 {
        format!("{h} h")
    } else {
        format!("J+{}", h / 24)
    }
}

/// Deadlines from reception: J+1 received, J+2 decided, J+3 diffused.
const JOUR_MS: i64 = 24 * 3600 * 1000;

/// A one-time link, shown once to the staff member who issued it.
fn lien_emis(q: &Qui, base: &str, titre: &str, email: &str, jeton: &str) -> Response<Body> {
    ok(cadre_prive(
        titre,
        Some(q),
        html! {
            h1 { (titre) }
            div.succes role="status" {
                p { "Transmettez ce lien à " strong { (email) } " (valable 7 jours, une seule fois ; Sofi ne le montrera plus) :" }
                p { code.lien-unique { (base) "/espace/lien/" (jeton) } }
            }
            p { a href="/gestion" { "Retour à la file" } }
        },
    ))
}
