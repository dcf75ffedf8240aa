//! The web layer: hyper 1 + tokio, routes in an axum `Router`.
//!
//! It flows one way. At the bottom, what every route reaches: [`app`] (the state),
//! [`respond`] (the body type, JSON answers, errors) and [`params`] (one typed struct per
//! request's query string: parser, 400 and OpenAPI at once), [`offer_json`] (the public JSON of an
//! offer, apart from the store's types), [`partenaires`] (partner keys, quotas and usage of
//! the read routes: the layer and the forced filters handlers apply), [`analytique`] (search
//! analytics counted as searches are answered). Above them, sibling route
//! modules that never import each other: [`api`] (JSON), [`feeds`] (LHÉO),
//! [`import`] (writes), [`site`] (HTML pages), [`health`]. At the top, [`router`] (the route
//! table and its layers) and [`server`] (the accept loop, with [`connection`] under it).

pub mod analytique;
pub mod api;
mod app;
mod connection;
pub mod espace;
pub mod feeds;
pub mod forms;
pub mod gestion;
mod health;
pub mod html;
pub mod identity;
pub mod import;
pub mod metriques;
pub mod offer_json;
pub mod params;
pub mod partenaires;
pub mod respond;
mod router;
mod sauvegardes;
mod server;
pub mod site;

pub use app::{App, Limits};
pub use respond::Body;
pub use server::{
    admin_token, parse_listen_address, raise_open_files_limit, serve, shutdown_signal,
};
