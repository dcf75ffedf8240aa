//! The organisme page `/organisme/{siret}`: a training organisation or an establishment of
//! initial training (SIRET, declaration number, UAI), its sites, its Formacode domains and
//! its diffused offer. It exists as soon as the organisation is known, from what it declared
//! in its space or from an offer received, even with no offer online: any regional
//! organisation with a declaration number can be listed. Only diffused offers are listed.

use super::{gabarit, json_ld, page_erreur};
use crate::http::App;
use crate::model::{Formation, Voie};
use hyper::StatusCode;
use maud::{html, Markup};
use serde_json::json;

/// Offers read for one page at most (the largest organisations have a few hundred).
const MAX_OFFRES: usize = 1000;

/// A site as shown: its name and address, or a commune from the référentiel.
fn commune_nom(app: &App, code: &str) -> String {
    match app.refs.communes.get(code) {
        Some(c) => format!("{} ({})", c.nom, c.departement),
        None => code.to_string(),
    }
}

pub fn page(app: &App, siret: &str, base: &str) -> (StatusCode, Markup) {
    let canonique = format!("{base}/organisme/{siret}");
    let introuvable = || {
        (
            StatusCode::NOT_FOUND,
            page_erreur(
                "Organisme introuvable",
                &canonique,
                html! { "Aucun organisme connu ne porte ce SIRET (14 chiffres). " a href="/" { "Faire une recherche" } },
                html! {},
            ),
        )
    };
    if siret.len() != 14 || !siret.bytes().all(|b| b.is_ascii_digit()) {
        return introuvable();
    }
    let lu = (|| -> Result<_, crate::store::StoreError> {
        let etab = app.store.etablissement(siret)?;
        let resume = app.store.organisme(siret)?;
        let mut offres: Vec<(Formation, Vec<bool>)> = Vec::new();
        for n in app
            .store
            .numeros_par_organisme(siret)?
            .into_iter()
            .take(MAX_OFFRES)
        {
            if let Some(o) = app.store.offre(&n)? {
                if o.verdict.diffusable() {
                    let diffusees = o.verdict.diffusion.iter().map(|d| d.diffusee).collect();
                    offres.push((o.formation, diffusees));
                }
            }
        }
        Ok((etab, resume, offres))
    })();
    let (etab, resume, mut offres) = match lu {
        Ok(x) => x,
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                page_erreur("Service indisponible", &canonique, html! { (e) }, html! {}),
            )
        }
    };
    if etab.is_none() && resume.is_none() {
        return introuvable();
    }
    offres.sort_by(|a, b| a.0.intitule.cmp(&b.0.intitule));
    // What the organisation declared comes first, then what its offers say.
    let dernier = offres.first().map(|(f, _)| &f.organisme);
    let nom = etab
        .as_ref()
        .map(|e| e.raison_sociale.clone())
        .or_else(|| {
            resume.as_ref().map(|r| {
                if r.nom.is_empty() {
                    r.raison_sociale.clone()
                } else {
                    r.nom.clone()
                }
            })
        })
        .unwrap_or_default();
    let nda = etab
        .as_ref()
        .map(|e| e.numero_activite.clone())
        .or_else(|| resume.as_ref().map(|r| r.numero_activite.clone()))
        .unwrap_or_default();
    let uai = dernier.and_then(|o| super::offre_details::uai(&o.uai));
    let formacodes: Vec<String> = etab
        .as_ref()
        .map(|e| e.formacodes.clone())
        .filter(|f| !f.is_empty())
        .or_else(|| resume.as_ref().map(|r| r.formacodes.clone()))
        .unwrap_or_default();
    let mut sites: Vec<String> = Vec::new();
    if let Some(e) = &etab {
        for s in std::iter::once(&e.site_principal).chain(&e.sites) {
            if !s.ville.is_empty() {
                sites.push(
                    [
                        s.nom.as_str(),
                        s.adresse.as_str(),
                        &format!("{} {}", s.codepostal, s.ville),
                    ]
                    .into_iter()
                    .filter(|x| !x.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join(", "),
                );
            }
        }
    }
    if sites.is_empty() {
        if let Some(r) = &resume {
            if !r.ville.is_empty() {
                sites.push(format!("{} (siège)", r.ville));
            }
            sites.extend(r.sites.iter().map(|s| commune_nom(app, s)));
        }
    }
    let voies: std::collections::BTreeSet<Voie> = offres
        .iter()
        .flat_map(|(f, _)| f.sessions().map(|s| Voie::de_session(f, s)))
        .collect();
    let ld = json!({
        "@context": "https://schema.org",
        "@type": if voies.iter().any(|v| *v != Voie::Continue) { "EducationalOrganization" } else { "Organization" },
        "name": nom,
        "url": canonique,
        "identifier": siret,
    });
    let contenu = html! {
        nav.fil aria-label="Fil d'Ariane" { a href="/" { "Accueil" } " › " span { (nom) } }
        article.organisme {
            h1 { (nom) }
            p.identifiants {
                "SIRET " (siret)
                @if !nda.is_empty() { " · déclaration d'activité n° " (nda) }
                @if let Some(u) = uai { " · UAI " (u) }
            }
            @if voies.iter().any(|v| *v != Voie::Continue) {
                p.resume { @for v in &voies { span.badge { (v.libelle()) } " " } }
            }
            @if !sites.is_empty() {
                section {
                    h2 { @if sites.len() > 1 { "Sites" } @else { "Site" } }
                    ul.sites { @for s in &sites { li { (s) } } }
                }
            }
            @if !formacodes.is_empty() {
                section {
                    h2 { "Domaines de formation" }
                    ul.domaines { @for c in &formacodes { li { (app.refs.formacode_libelle(c).unwrap_or(c)) " (" (c) ")" } } }
                }
            }
            section {
                h2 { "Formations diffusées" }
                @if offres.is_empty() {
                    p.vide { "Aucune formation de cet organisme n'est diffusée en ce moment." }
                } @else {
                    p { (offres.len()) @if offres.len() > 1 { " formations" } @else { " formation" } " · " a href={ "/recherche?organisme=" (siret) } { "les chercher parmi les sessions à venir" } }
                    ul.offres {
                        @for (f, diffusees) in &offres {
                            @let villes: std::collections::BTreeSet<&str> = f.actions.iter().zip(diffusees).filter(|(_, d)| **d).filter_map(|(a, _)| a.lieux.iter().find_map(|l| l.coordonnees.adresse.as_ref()).map(|ad| ad.ville.as_str())).collect();
                            li {
                                a href={ "/formation/" (form_urlencoded::byte_serialize(f.numero.as_bytes()).collect::<String>()) } { (f.intitule) }
                                @if !villes.is_empty() { " — " (villes.into_iter().collect::<Vec<_>>().join(", ")) }
                            }
                        }
                    }
                }
            }
        }
    };
    (
        StatusCode::OK,
        gabarit(&nom, &canonique, contenu, Some(json_ld(&ld))),
    )
}
