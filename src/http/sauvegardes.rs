//! `POST /api/v1/admin/sauvegarde`: a consistent copy of the running server's store into a
//! directory of its machine (`sofi backup` calls it when the server holds the store).
//!
//! Admin token required. Body: `{"destination": "/absolute/empty/or/absent/dir"}`. One
//! backup at a time (409 while one runs). The answer is the backup's manifest.

use super::respond::{error, internal, json_response, Body};
use super::App;
use axum::extract::Request;
use hyper::{Response, StatusCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A backup runs.
static EN_COURS: AtomicBool = AtomicBool::new(false);

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Demande {
    destination: std::path::PathBuf,
}

pub(super) async fn post(app: Arc<App>, req: Request) -> Response<Body> {
    if let Some(r) = super::identity::refus_admin(&app, &req) {
        return r;
    }
    let corps = match axum::body::to_bytes(req.into_body(), 4096).await {
        Ok(b) => b,
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "corps-trop-grand",
                "la demande de sauvegarde tient en 4 Kio",
                None,
            )
        }
    };
    let d: Demande = match serde_json::from_slice(&corps) {
        Ok(d) => d,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "demande-invalide",
                &format!("attendu {{\"destination\": \"/chemin/absolu\"}} : {e}"),
                None,
            )
        }
    };
    if !d.destination.is_absolute() {
        return error(
            StatusCode::BAD_REQUEST,
            "destination-relative",
            "la destination est un chemin absolu sur la machine du serveur",
            Some("destination"),
        );
    }
    if EN_COURS.swap(true, Ordering::AcqRel) {
        return error(
            StatusCode::CONFLICT,
            "sauvegarde-en-cours",
            "une sauvegarde est déjà en cours",
            None,
        );
    }
    let r = tokio::task::spawn_blocking(move || app.store.sauvegarder(&d.destination)).await;
    EN_COURS.store(false, Ordering::Release);
    match r {
        Ok(Ok(m)) => {
            tracing::info!(
                target: "sofi::sauvegarde",
                formations = m.compteurs.formations,
                journal_seq = m.compteurs.journal_seq,
                pause_ms = m.pause_ms,
                ms = m.duree_ms,
                "sauvegarde"
            );
            json_response(StatusCode::OK, &m)
        }
        Ok(Err(crate::store::StoreError::Conflit(m))) => error(
            StatusCode::CONFLICT,
            "destination-refusee",
            &m,
            Some("destination"),
        ),
        Ok(Err(e)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "sauvegarde-echouee",
            &e.to_string(),
            None,
        ),
        Err(e) => internal(e),
    }
}
