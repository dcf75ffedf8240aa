//! The coded reasons staff give when sending an offer back (`/gestion/motifs`).

use crate::http::forms::*;
use crate::http::identity::Qui;
use crate::http::respond::Body;
use crate::http::App;
use axum::extract::{Request, State};
use hyper::{Response, StatusCode};
use maud::html;
use std::sync::Arc;

/// The coded reasons staff give when sending an offer back, and a form to add or reword one.
pub(super) async fn motifs_page(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let q = match equipe(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    bloquant(move || page_motifs(&app, &q, StatusCode::OK, None)).await
}

/// The fields a reason can point at (shown beside them in the organisation's forms).
const CHAMPS_MOTIF: &[(&str, &str)] = &[
    ("", "aucun (en tête de l'offre)"),
    ("intitule", "intitulé"),
    ("objectif", "objectifs"),
    ("contenu", "contenu"),
    ("resultats_attendus", "résultats attendus"),
    ("certification", "certification"),
    ("formacodes", "domaines Formacode"),
    ("lieu", "lieu de l'action"),
    ("financeurs", "financeurs"),
    ("publics", "publics"),
    ("prix_total", "prix"),
    ("heures_centre", "durée"),
    ("conditions_acces", "prérequis"),
    ("debut", "dates des sessions"),
    ("etat_recrutement", "recrutement des sessions"),
];

fn page_motifs(app: &App, q: &Qui, status: StatusCode, erreur: Option<&str>) -> Response<Body> {
    let liste = match app.store.motifs() {
        Ok(l) => l,
        Err(e) => return erreur_stockage(&e),
    };
    prive(crate::http::html::page(
        status,
        cadre_prive(
            "Motifs de correction",
            Some(q),
            html! {
                p.fil { a href="/gestion" { "Gestion" } " › motifs" }
                h1 { "Motifs de correction" }
                @if let Some(e) = erreur { p.erreur role="alert" { (e) } }
                table.tableau-offres {
                    thead { tr { th scope="col" { "Code" } th scope="col" { "Libellé" } th scope="col" { "Action à mener" } th scope="col" { "Champ" } } }
                    tbody {
                        @for m in &liste {
                            tr { td { code { (m.code) } } td { (m.libelle) } td { (m.action) } td { (m.champ.as_deref().unwrap_or("")) } }
                        }
                    }
                }
                h2 { "Ajouter ou reformuler un motif" }
                form.saisie method="post" action="/gestion/motifs" {
                    (csrf(q))
                    p.champ { label for="code" { "Code (minuscules, chiffres et tirets ; un code existant est reformulé)" } input id="code" name="code" required maxlength="40"; }
                    p.champ { label for="libelle" { "Libellé" } input id="libelle" name="libelle" required maxlength="120"; }
                    p.champ { label for="action" { "Action à mener" } input id="action" name="action" required maxlength="300"; }
                    p.champ {
                        label for="champ" { "Champ concerné" }
                        select id="champ" name="champ" { @for (c, l) in CHAMPS_MOTIF { option value=(c) { (l) } } }
                    }
                    p { button type="submit" { "Enregistrer le motif" } }
                }
            },
        ),
    ))
}

pub(super) async fn motif(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let envoi = match formulaire_equipe(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    let get = |k: &str| {
        field(&envoi.corps, k)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let (code, libelle, action, champ) = (get("code"), get("libelle"), get("action"), get("champ"));
    bloquant(move || {
        let code_ok = !code.is_empty()
            && code.len() <= 40
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let probleme = if !code_ok {
            Some("code : de 1 à 40 minuscules, chiffres ou tirets")
        } else if libelle.is_empty() || libelle.chars().count() > 120 {
            Some("libellé : de 1 à 120 caractères")
        } else if action.is_empty() || action.chars().count() > 300 {
            Some("action à mener : de 1 à 300 caractères")
        } else if !CHAMPS_MOTIF.iter().any(|(c, _)| *c == champ) {
            Some("champ inconnu")
        } else {
            None
        };
        if let Some(p) = probleme {
            return page_motifs(&app, &q, StatusCode::UNPROCESSABLE_ENTITY, Some(p));
        }
        let m = crate::store::Motif {
            code,
            libelle,
            action,
            champ: Some(champ).filter(|c| !c.is_empty()),
        };
        match app.store.enregistrer_motif(&m, &q.auteur()) {
            Ok(()) => redirect("/gestion/motifs"),
            Err(e) => erreur_stockage(&e),
        }
    })
    .await
}
