//! Time from submission to diffusion (`/gestion/fraicheur`): J+1 / J+2 / J+3 kept or not, as a
//! chart and a table.

use crate::http::forms::*;
use crate::http::respond::Body;
use crate::http::App;
use axum::extract::{Request, State};
use hyper::Response;
use maud::html;
use std::sync::Arc;

use super::*;

/// Time from submission to diffusion of the offers diffused over the last 30 days, from the
/// audit trail: median, 90th percentile, how many past J+2 and J+3, and their spread as an
/// SVG bar chart with the figures as a table.
pub(super) async fn fraicheur(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let q = match equipe(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    bloquant(move || {
        let now = crate::store::now_ms();
        let debut = now - 30 * JOUR_MS;
        let mut soumis: std::collections::HashMap<String, i64> = Default::default();
        let mut delais: Vec<i64> = Vec::new();
        let evenements = match app.store.audit_depuis(debut - 30 * JOUR_MS) {
            Ok(e) => e,
            Err(e) => return erreur_stockage(&e),
        };
        for e in evenements {
            let e = match e {
                Ok(e) => e,
                Err(e) => return erreur_stockage(&e),
            };
            let Some(numero) = e.objet.strip_prefix("offre ") else { continue };
            match e.action.as_str() {
                "soumission" | "soumission-api" | "depot-fichier" => {
                    soumis.entry(numero.to_string()).or_insert(e.horodatage);
                }
                "diffusion" | "diffusion-automatique" => {
                    if let Some(t) = soumis.remove(numero) {
                        if e.horodatage >= debut {
                            delais.push(e.horodatage - t);
                        }
                    }
                }
                _ => {}
            }
        }
        delais.sort_unstable();
        let pct = |p: usize| delais.get((delais.len() * p / 100).min(delais.len().saturating_sub(1))).copied();
        let duree = |ms: Option<i64>| match ms {
            None => "—".to_string(),
            Some(ms) if ms < 3_600_000 => format!("{} min", ms / 60_000),
            Some(ms) if ms < JOUR_MS => format!("{:.1} h", ms as f64 / 3_600_000.0),
            Some(ms) => format!("{:.1} j", ms as f64 / JOUR_MS as f64),
        };
        let tranches = [
            ("moins d'un jour", 0, JOUR_MS),
            ("1 à 2 jours", JOUR_MS, 2 * JOUR_MS),
            ("2 à 3 jours", 2 * JOUR_MS, 3 * JOUR_MS),
            ("plus de 3 jours", 3 * JOUR_MS, i64::MAX),
        ];
        let comptes: Vec<(&str, usize)> = tranches
            .iter()
            .map(|(l, a, b)| (*l, delais.iter().filter(|d| **d >= *a && **d < *b).count()))
            .collect();
        let max = comptes.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
        let apres = |j: i64| delais.iter().filter(|d| **d > j * JOUR_MS).count();
        // Imported offers: received and diffused in the same write when the rules list them.
        let receptions = match app.store.receptions_depuis(debut) {
            Ok(r) => r,
            Err(e) => return erreur_stockage(&e),
        };
        let flux: Vec<_> = receptions
            .iter()
            .filter(|(s, _, _)| s != crate::store::SOURCE_ESPACE)
            .collect();
        let mut delais_flux: Vec<i64> = flux
            .iter()
            .filter_map(|(_, r, d)| Some(d.as_ref()? - r))
            .collect();
        delais_flux.sort_unstable();
        let non_diffusees = flux.len() - delais_flux.len();
        let pct_flux = |p: usize| {
            delais_flux
                .get((delais_flux.len() * p / 100).min(delais_flux.len().saturating_sub(1)))
                .copied()
        };
        ok(cadre_prive(
            "Fraîcheur de l'offre",
            Some(&q),
            html! {
                p.fil { a href="/gestion" { "Gestion" } " › fraîcheur" }
                h1 { "Délai de diffusion, 30 derniers jours" }
                p { "Offres saisies par les organismes, de leur soumission à leur diffusion (acceptation par l'équipe ou politique d'acceptation automatique)." }
                table.tableau-offres {
                    caption { "Délais" }
                    tbody {
                        tr { th scope="row" { "Offres diffusées" } td { (delais.len()) } }
                        tr { th scope="row" { "Délai médian" } td { (duree(pct(50))) } }
                        tr { th scope="row" { "90 % en moins de" } td { (duree(pct(90))) } }
                        tr { th scope="row" { "Au-delà de J+2 (décision)" } td { (apres(2)) } }
                        tr { th scope="row" { "Au-delà de J+3 (diffusion)" } td { (apres(3)) } }
                    }
                }
                svg role="img" aria-labelledby="t-graphe" width="520" height=(comptes.len() * 36 + 10) viewBox={ "0 0 520 " (comptes.len() * 36 + 10) } {
                    title id="t-graphe" { "Répartition des délais de diffusion" }
                    @for (i, (l, n)) in comptes.iter().enumerate() {
                        text x="0" y=(i * 36 + 24) font-size="14" { (l) }
                        rect x="150" y=(i * 36 + 8) height="22" width=(1 + 300 * n / max) fill=(if i >= 3 { "#b3261e" } else if i == 2 { "#e0b400" } else { "#005a9c" }) {}
                        text x=(160 + 300 * n / max) y=(i * 36 + 24) font-size="14" { (n) }
                    }
                }
                table.tableau-offres {
                    caption { "Répartition (les chiffres du graphique)" }
                    thead { tr { th scope="col" { "Délai" } th scope="col" { "Offres" } } }
                    tbody { @for (l, n) in &comptes { tr { td { (l) } td { (n) } } } }
                }
                h2 { "Offres reçues par flux, 30 derniers jours" }
                p { "Reçues d'un fichier LHÉO (import, boîte de dépôt) : les règles décident à la réception, et une offre retenue est diffusée dans la même écriture." }
                table.tableau-offres {
                    caption { "Délais des flux" }
                    tbody {
                        tr { th scope="row" { "Offres reçues" } td { (flux.len()) } }
                        tr { th scope="row" { "Diffusées" } td { (delais_flux.len()) } }
                        tr { th scope="row" { "Délai médian" } td { (duree(pct_flux(50))) } }
                        tr { th scope="row" { "90 % en moins de" } td { (duree(pct_flux(90))) } }
                        tr { th scope="row" { "Au-delà de J+3 (diffusion)" } td { (delais_flux.iter().filter(|d| **d > 3 * JOUR_MS).count()) } }
                        tr { th scope="row" { "Jamais diffusées (hors périmètre ou bloquées)" } td { (non_diffusees) } }
                    }
                }
            },
        ))
    })
    .await
}
