//! `GET /health`: counts, journal sequence, offers waiting for diffusion, and whether the
//! server is degraded (and why).

use super::respond::{json_response, unavailable, Body};
use super::App;
use hyper::{Response, StatusCode};
use serde_json::json;

pub(super) fn health(app: &App) -> Response<Body> {
    let r = (|| {
        let c = app.store.compteurs()?;
        let (attente, plus_ancienne) = app.store.en_attente()?;
        // Degraded: up, but something it should do it cannot do now; the reasons say what.
        let mut raisons = Vec::new();
        app.store.sonder();
        if let Some(p) = app.store.panne() {
            raisons.push(format!("écritures impossibles : {p}"));
        }
        if let Some(p) = app.moteur.as_ref().and_then(|m| m.panne()) {
            raisons.push(format!("l'index ne suit plus le journal : {p}"));
        }
        let endommagees = app.store.endommagees();
        if !endommagees.is_empty() {
            raisons.push(format!(
                "{} offre(s) au corps endommagé, laissées hors des flux et de la recherche (sofi verify)",
                endommagees.len()
            ));
        }
        Ok::<_, crate::store::StoreError>(json!({
            "statut": if raisons.is_empty() { "ok" } else { "degrade" },
            "raisons": raisons,
            "offres_endommagees": endommagees.len(),
            "version": env!("CARGO_PKG_VERSION"),
            "formations": c.formations,
            "actions": c.actions,
            "sessions": c.sessions,
            "organismes": c.organismes,
            "diffusables": c.diffusables,
            "journal_seq": c.journal_seq,
            "non_diffusees": attente,
            "plus_ancienne_non_diffusee_s": plus_ancienne
                .map(|t| (crate::store::maintenant() - t).max(0) / 1000),
            "index_seq": app.moteur.as_ref().map(|m| m.seq_indexee()),
            "index_documents": app.moteur.as_ref().map(|m| m.nb_documents()),
        }))
    })();
    match r {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => unavailable("stockage-indisponible", e),
    }
}
