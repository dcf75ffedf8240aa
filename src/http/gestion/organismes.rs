//! Organisations: a référencement request decided once, an organisme known from the feeds given
//! access, a suspension, a public report handled.

use crate::accounts::{Compte, Role};
use crate::http::forms::*;
use crate::http::respond::Body;
use crate::http::App;
use crate::store::{Etablissement, Site, StoreError};
use axum::extract::{RawPathParams, Request, State};
use hyper::{Response, StatusCode};
use std::sync::Arc;

use super::*;

pub(super) async fn demande(
    State(app): State<Arc<App>>,
    p: RawPathParams,
    req: Request,
) -> Response<Body> {
    let mut c = chemin(&p);
    let decision = c.pop().unwrap_or_default();
    let id: u64 = c.pop().and_then(|i| i.parse().ok()).unwrap_or(0);
    let base = base_url(&app, req.headers());
    let envoi = match formulaire_equipe(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    let motif: String = field(&envoi.corps, "motif")
        .unwrap_or_default()
        .chars()
        .take(500)
        .collect();
    bloquant(move || match decision.as_str() {
        "accepter" => {
            let nouveau = match app.store.nouvel_id() {
                Ok(i) => i,
                Err(e) => return erreur_stockage(&e),
            };
            match app.store.accepter_demande(id, nouveau, &q.auteur()) {
                Ok(Some(l)) => lien_emis(&q, &base, "Demande acceptée", &l.email, &l.jeton),
                Ok(None) => refus(
                    StatusCode::CONFLICT,
                    "Demande déjà traitée",
                    "Cette demande a déjà été acceptée ou refusée.",
                    Some(&q),
                ),
                Err(e) => erreur_stockage(&e),
            }
        }
        "refuser" if !motif.trim().is_empty() => {
            match app.store.refuser_demande(id, motif.trim(), &q.auteur()) {
                Ok(true) => redirect("/gestion"),
                Ok(false) => refus(
                    StatusCode::CONFLICT,
                    "Demande déjà traitée",
                    "Cette demande a déjà été acceptée ou refusée.",
                    Some(&q),
                ),
                Err(e) => erreur_stockage(&e),
            }
        }
        "refuser" => refus(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Motif manquant",
            "Un refus dit pourquoi : saisissez un motif.",
            Some(&q),
        ),
        _ => introuvable(Some(&q)),
    })
    .await
}

/// Access for an organisme already known from imported feeds: its establishment is
/// recorded from what the feeds say, a responsable account is created, and its link shown.
pub(super) async fn activation(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let base = base_url(&app, req.headers());
    let envoi = match formulaire_equipe(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    let siret: String = field(&envoi.corps, "siret")
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect();
    let email = field(&envoi.corps, "email").unwrap_or_default();
    let nom: String = field(&envoi.corps, "nom")
        .unwrap_or_default()
        .chars()
        .take(100)
        .collect();
    bloquant(move || {
        let email = match crate::accounts::email(&email) {
            Ok(e) => e,
            Err(m) => {
                return refus(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Adresse invalide",
                    &m,
                    Some(&q),
                )
            }
        };
        let connu = match app.store.organisme(&siret) {
            Ok(o) => o,
            Err(e) => return erreur_stockage(&e),
        };
        let Some(o) = connu else {
            return refus(
                StatusCode::NOT_FOUND,
                "Organisme inconnu",
                &format!("aucune offre reçue par flux pour le SIRET {siret}"),
                Some(&q),
            );
        };
        if matches!(app.store.etablissement(&siret), Ok(None)) {
            let commune = app
                .refs
                .communes
                .values()
                .find(|c| c.nom == o.ville && c.actuelle);
            let e = Etablissement {
                siret: siret.clone(),
                numero_activite: o.numero_activite.clone(),
                raison_sociale: o.raison_sociale.clone(),
                site_principal: Site {
                    nom: "Site principal".into(),
                    ville: o.ville.clone(),
                    codepostal: commune
                        .and_then(|c| c.codes_postaux.first().cloned())
                        .unwrap_or_default(),
                    code_insee: commune.map(|c| c.code_insee.clone()).unwrap_or_default(),
                    lat: commune.and_then(|c| c.lat),
                    lon: commune.and_then(|c| c.lon),
                    ..Default::default()
                },
                formacodes: o.formacodes.clone(),
                ..Default::default()
            };
            if let Err(e) = app.store.enregistrer_etablissement(&e, &q.auteur()) {
                return erreur_stockage(&e);
            }
        }
        let id = match app.store.nouvel_id() {
            Ok(i) => i,
            Err(e) => return erreur_stockage(&e),
        };
        let c = Compte {
            id,
            email,
            nom,
            role: Role::Responsable,
            sirets: vec![siret],
            mot_de_passe: None,
            generation: 0,
            actif: true,
            cree_le: crate::store::now_ms(),
        };
        match app.store.creer_compte(&c, &q.auteur()) {
            Ok(l) => lien_emis(&q, &base, "Accès créé", &l.email, &l.jeton),
            Err(StoreError::Conflit(m)) => {
                refus(StatusCode::CONFLICT, "Compte existant", &m, Some(&q))
            }
            Err(e) => erreur_stockage(&e),
        }
    })
    .await
}

/// Suspends an organisme (its offers leave the diffusion, kept aside) or reinstates it.
pub(super) async fn suspension(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let envoi = match formulaire_equipe(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    let siret: String = field(&envoi.corps, "siret")
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect();
    let motif: String = field(&envoi.corps, "motif")
        .unwrap_or_default()
        .trim()
        .chars()
        .take(500)
        .collect();
    let operation = field(&envoi.corps, "operation").unwrap_or_default();
    bloquant(move || {
        let r = match operation.as_str() {
            "suspendre" if motif.is_empty() => {
                return refus(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Motif manquant",
                    "Une suspension dit pourquoi : saisissez un motif.",
                    Some(&q),
                )
            }
            "suspendre" if !crate::rules::siret_valide(&siret) => {
                return refus(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "SIRET invalide",
                    &format!("« {siret} » n'est pas un SIRET valide"),
                    Some(&q),
                )
            }
            "suspendre" => app.store.suspendre(&siret, &motif, &q.auteur()),
            "retablir" => app.store.retablir(&siret, &q.auteur()),
            _ => return introuvable(Some(&q)),
        };
        match r {
            Ok(_) => redirect("/gestion#t-suspensions"),
            Err(StoreError::Conflit(m)) => refus(StatusCode::CONFLICT, "Impossible", &m, Some(&q)),
            Err(e) => erreur_stockage(&e),
        }
    })
    .await
}

/// Marks a public report handled (audited on its offer).
pub(super) async fn signalement_traite(
    State(app): State<Arc<App>>,
    p: RawPathParams,
    req: Request,
) -> Response<Body> {
    let id: u64 = chemin(&p).pop().and_then(|i| i.parse().ok()).unwrap_or(0);
    let envoi = match formulaire_equipe(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    bloquant(
        move || match app.store.traiter_signalement(id, &q.auteur()) {
            Ok(true) => redirect("/gestion#t-signalements"),
            Ok(false) => refus(
                StatusCode::CONFLICT,
                "Déjà traité",
                "Ce signalement a déjà été traité.",
                Some(&q),
            ),
            Err(e) => erreur_stockage(&e),
        },
    )
    .await
}
