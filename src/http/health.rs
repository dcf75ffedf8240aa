//! `GET /health`: counts, journal sequence, offers waiting for diffusion, and whether the
//! server is degraded (and why).

use super::respond::{json_response, unavailable, Body};
use super::App;
use hyper::{Response, StatusCode};
use serde::Serialize;

/// `/health`'s answer.
#[derive(Serialize)]
struct Sante {
    /// `ok`, or `degrade` with its `raisons`.
    statut: &'static str,
    raisons: Vec<String>,
    offres_endommagees: usize,
    version: &'static str,
    formations: u64,
    actions: u64,
    sessions: u64,
    organismes: u64,
    diffusables: u64,
    journal_seq: u64,
    /// Offers received but never diffused, and the age of the oldest (s).
    non_diffusees: usize,
    plus_ancienne_non_diffusee_s: Option<i64>,
    index_seq: Option<u64>,
    index_documents: Option<u64>,
    /// On a read replica: where it stands against its primary.
    #[serde(skip_serializing_if = "Option::is_none")]
    replique: Option<Replique>,
}

#[derive(Serialize)]
struct Replique {
    primaire: String,
    /// The primary's journal sequence applied here, and the last one seen.
    applique: u64,
    primaire_seq: u64,
    retard_entrees: u64,
    /// Seconds since the replica last had all (-1: never yet).
    retard_secondes: i64,
    resyncs: u64,
}

pub(super) fn health(app: &App) -> Response<Body> {
    let r = (|| {
        let c = app.store.compteurs()?;
        let (attente, plus_ancienne) = app.store.en_attente()?;
        // Degraded: up, but something it should do it cannot do now; the reasons say what.
        let mut raisons = Vec::new();
        app.store.probe();
        if let Some(p) = app.store.failure() {
            raisons.push(format!("écritures impossibles : {p}"));
        }
        if app.moteur.as_ref().is_some_and(|m| m.en_reconstruction()) {
            raisons
                .push("index de recherche en reconstruction : les recherches répondent 503".into());
        }
        if let Some(p) = app.moteur.as_ref().and_then(|m| m.failure()) {
            raisons.push(format!("l'index ne suit plus le journal : {p}"));
        }
        let replique = match (&app.primaire, &app.suivi) {
            (Some(p), Some(e)) => {
                if let Some(err) = e.erreur() {
                    raisons.push(format!("réplique : le primaire ne répond pas ({err})"));
                }
                use std::sync::atomic::Ordering::Relaxed;
                Some(Replique {
                    primaire: p.clone(),
                    applique: e.applique.load(Relaxed),
                    primaire_seq: e.primaire_seq.load(Relaxed),
                    retard_entrees: e.retard_entrees(),
                    retard_secondes: e.retard_secondes(),
                    resyncs: e.resyncs.load(Relaxed),
                })
            }
            _ => None,
        };
        let damaged_offers = app.store.damaged_offers();
        if !damaged_offers.is_empty() {
            raisons.push(format!(
                "{} offre(s) au corps endommagé, laissées hors des flux et de la recherche (sofi verify)",
                damaged_offers.len()
            ));
        }
        Ok::<_, crate::store::StoreError>(Sante {
            statut: if raisons.is_empty() { "ok" } else { "degrade" },
            raisons,
            offres_endommagees: damaged_offers.len(),
            version: env!("CARGO_PKG_VERSION"),
            formations: c.formations,
            actions: c.actions,
            sessions: c.sessions,
            organismes: c.organismes,
            diffusables: c.diffusables,
            journal_seq: c.journal_seq,
            non_diffusees: attente,
            plus_ancienne_non_diffusee_s: plus_ancienne
                .map(|t| (crate::store::now_ms() - t).max(0) / 1000),
            index_seq: app.moteur.as_ref().map(|m| m.indexed_seq()),
            index_documents: app.moteur.as_ref().map(|m| m.doc_count()),
            replique,
        })
    })();
    match r {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => unavailable("stockage-indisponible", e),
    }
}
