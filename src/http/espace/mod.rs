//! The organisation space (`/espace/…`): training organisations present their own offer.
//! Server-rendered French pages that work without JavaScript, behind a server-side session.
//!
//! - [`compte`]: logging in and out, one-time links;
//! - [`demande`]: the référencement request of an organisation not yet known;
//! - [`organisation`]: the SIRET a user acts for, its organisation's users and API tokens;
//! - [`etablissement`]: "Mon établissement" (SIRET, NDA, sites, contacts, Formacode domains);
//! - [`offres`]: the dashboard and the F-A-S-D forms, checked by the rules on every save;
//! - [`api`]: the same operations as JSON, with a per-organisation API token.
//!
//! Every unsafe request passes the same gate (`forms::formulaire`): same-site origin, a live
//! session, the session's form token, a bounded body. Ownership is checked where data is
//! read: pages reach dossiers only through `Store::dossier_de` with the session's SIRETs.

pub mod api;
mod compte;
mod demande;
mod etablissement;
mod offres;
mod organisation;

pub(super) use super::forms::*;
pub(super) use super::html::page;
pub(super) use super::identity::{cross_site, same_token, ClientAddr, Qui};
pub(super) use super::respond::Body;
pub(super) use super::App;
pub(super) use axum::extract::{RawPathParams, Request, State as S};
use axum::routing::get;
use axum::Router;
pub(super) use bytes::Bytes;
pub(super) use hyper::{Response, StatusCode};
pub(super) use maud::{html, Markup};
pub(super) use std::sync::Arc;

/// The space's routes.
pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/espace", get(offres::tableau))
        .route(
            "/espace/connexion",
            get(compte::connexion_page).post(compte::connexion),
        )
        .route(
            "/espace/deconnexion",
            axum::routing::post(compte::deconnexion),
        )
        .route(
            "/espace/lien/{jeton}",
            get(compte::lien_page).post(compte::lien),
        )
        .route(
            "/espace/demande",
            get(demande::demande_page).post(demande::demande),
        )
        .route(
            "/espace/siret",
            axum::routing::post(organisation::choisir_siret),
        )
        .route(
            "/espace/utilisateurs",
            get(organisation::utilisateurs_page).post(organisation::utilisateurs),
        )
        .route(
            "/espace/jetons",
            get(organisation::jetons_page).post(organisation::jetons),
        )
        .route(
            "/espace/etablissement",
            get(etablissement::page_get).post(etablissement::post),
        )
        .route(
            "/espace/fichier",
            get(offres::fichier_page).post(offres::fichier),
        )
        .route(
            "/espace/formations/nouvelle",
            get(offres::nouvelle_page).post(offres::nouvelle),
        )
        .route(
            "/espace/formations/{numero}",
            get(offres::formation_page).post(offres::formation),
        )
        .route(
            "/espace/formations/{numero}/{operation}",
            axum::routing::post(offres::operation),
        )
        .route(
            "/espace/formations/{numero}/actions/{action}",
            get(offres::action_page).post(offres::action),
        )
        .route(
            "/espace/formations/{numero}/actions/{action}/{operation}",
            axum::routing::post(offres::action_operation),
        )
        .route(
            "/espace/formations/{numero}/actions/{action}/sessions/{session}",
            get(offres::session_page).post(offres::session),
        )
}
