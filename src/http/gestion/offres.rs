//! One submitted offer (`/gestion/offres/{numero}`): its revision beside what is online, the rules'
//! findings, and the decision (online, sent back with reasons, handed over).

use crate::http::forms::*;
use crate::http::respond::Body;
use crate::http::App;
use crate::rules::Gravite;
use crate::store::{Acceptation, Dossier, Etat, Evenement, StoreError};
use axum::extract::{RawPathParams, Request, State};
use hyper::{Response, StatusCode};
use maud::html;
use std::sync::Arc;

pub(super) async fn offre(
    State(app): State<Arc<App>>,
    p: RawPathParams,
    req: Request,
) -> Response<Body> {
    let q = match equipe(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    let numero = chemin(&p).pop().unwrap_or_default();
    bloquant(move || {
        let d = match app.store.dossier(&numero) {
            Ok(d) => d,
            Err(e) => return erreur_stockage(&e),
        };
        let en_ligne = app.store.offre(&numero).ok().flatten();
        if d.is_none() && en_ligne.is_none() {
            return introuvable(Some(&q));
        }
        let motifs = app.store.motifs().unwrap_or_default();
        let (f, v) = match (d.as_ref().and_then(|d| d.travail.clone()), &en_ligne) {
            (Some(r), _) => (r.formation, r.verdict),
            (None, Some(o)) => (o.formation.clone(), o.verdict.clone()),
            _ => return introuvable(Some(&q)),
        };
        ok(cadre_prive(
            &f.intitule,
            Some(&q),
            html! {
                p.fil { a href="/gestion" { "Gestion" } " › " (numero) }
                h1 { (f.intitule) }
                p { "Offre " code { (numero) } " de l'organisme " (f.organisme.raison_sociale) " (" (f.organisme.siret) ")"
                    @if let Some(d) = &d { " — état : " strong { (d.etat.libelle()) } } }
                section aria-labelledby="t-parcours" {
                    h2 id="t-parcours" { "Reçue, décidée, diffusée" }
                    (parcours(d.as_ref(), en_ligne.as_ref(), app.store.decision(&numero).ok().flatten().as_ref()))
                }
                @if let (Some(d), Some(o)) = (&d, &en_ligne) {
                    @if d.travail.is_some() {
                        @let changements = crate::politique::changements(&o.formation, &f);
                        section aria-labelledby="t-changements" {
                            h2 id="t-changements" { "Ce qui change par rapport à la version en ligne (" (changements.len()) ")" }
                            table.tableau-offres {
                                thead { tr { th scope="col" { "Champ" } th scope="col" { "En ligne" } th scope="col" { "Proposé" } th scope="col" { "Nature" } } }
                                tbody {
                                    @for c in &changements {
                                        tr {
                                            td { (crate::politique::libelle_chemin(&f, &c.chemin)) }
                                            td { (crate::politique::libelle_valeur(&c.avant)) }
                                            td { (crate::politique::libelle_valeur(&c.apres)) }
                                            td { @if app.politique.load().automatiques.contains(&c.categorie) { "acceptée d'office (" (c.categorie) ")" } @else { strong { "à vérifier" } } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                h2 { "Diffusion" }
                ul { @for a in &f.actions { @let x = crate::rules::decision(&f, a, &app.refs);
                    li { "Action " (a.numero) " : " @if x.diffusee { "diffusée" } @else { "non diffusée" } " — " (x.motif) } } }
                h2 { "Constats des règles" }
                @if v.constats.is_empty() { p { "Aucun." } }
                ul { @for c in &v.constats { li { @if c.gravite == Gravite::Bloquant { strong { "Erreur " } } @else { "Avertissement " } "[" (c.code) "] " (c.chemin) " : " (c.message) } } }
                section aria-labelledby="t-historique" {
                    h2 id="t-historique" { "Historique" }
                    (historique(&app.store.audit(Some(&format!("offre {numero}")), 100).unwrap_or_default()))
                }
                h2 { "Contenu" }
                dl {
                    dt { "Objectifs" } dd { (f.objectif) }
                    dt { "Contenu" } dd { (f.contenu) }
                    dt { "Sessions" } dd { (f.sessions().count()) }
                }
                @if let Some(d) = &d {
                    @if d.etat == Etat::EnAttente {
                        h2 { "Décision" }
                        @if !v.bloquant() {
                            form.en-ligne method="post" action={ "/gestion/offres/" (numero) "/accepter" } {
                                (csrf(&q)) input type="hidden" name="version" value=(d.modifie_le);
                                button type="submit" { "Accepter et diffuser" }
                            }
                        }
                        form.saisie method="post" action={ "/gestion/offres/" (numero) "/corriger" } {
                            (csrf(&q)) input type="hidden" name="version" value=(d.modifie_le);
                            fieldset {
                                legend { "À corriger : motifs (" a href="/gestion/motifs" { "liste des motifs" } ")" }
                                @for m in &motifs {
                                    p { input type="checkbox" id={ "m-" (m.code) } name="motif_code" value=(m.code);
                                        label for={ "m-" (m.code) } { " " (m.libelle) } " " small { "— " (m.action) } }
                                }
                            }
                            p.champ { label for="motif" { "Commentaire pour l'organisme" } textarea id="motif" name="motif" rows="3" {} }
                            p { button.secondaire type="submit" { "Renvoyer à l'organisme" } }
                        }
                        form.saisie method="post" action={ "/gestion/offres/" (numero) "/refuser" } {
                            (csrf(&q)) input type="hidden" name="version" value=(d.modifie_le);
                            p.champ { label for="motif-refus" { "Refuser cette version : pourquoi" } textarea id="motif-refus" name="motif" rows="2" required {} }
                            p { button.secondaire type="submit" { "Refuser" } }
                        }
                    }
                } @else {
                    form.en-ligne method="post" action={ "/gestion/offres/" (numero) "/confier" } {
                        (csrf(&q))
                        button type="submit" { "Confier cette offre à son organisme" }
                    }
                }
            },
        ))
    })
    .await
}

/// Staff's decision on an offer (`accepter`, `corriger` with coded reasons, `refuser` with a
/// reason, `confier` to its organisation), each audited in the transaction that makes it.
pub(super) async fn decision(
    State(app): State<Arc<App>>,
    p: RawPathParams,
    req: Request,
) -> Response<Body> {
    let mut c = chemin(&p);
    let decision = c.pop().unwrap_or_default();
    let numero = c.pop().unwrap_or_default();
    let envoi = match formulaire_equipe(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    let version: Option<i64> = field(&envoi.corps, "version").and_then(|v| v.parse().ok());
    let motif: String = field(&envoi.corps, "motif")
        .unwrap_or_default()
        .chars()
        .take(2000)
        .collect();
    let codes: Vec<String> = form_urlencoded::parse(&envoi.corps)
        .filter(|(k, _)| k == "motif_code")
        .map(|(_, v)| v.into_owned())
        .take(20)
        .collect();
    bloquant(move || {
        let objet = format!("offre {numero}");
        let etat = |a: Etat, b: Etat| crate::store::Changement {
            champ: "etat".into(),
            avant: a.code().into(),
            apres: b.code().into(),
        };
        let r: Result<Option<Dossier>, StoreError> = match decision.as_str() {
            "accepter" => app.store.diffuser_dossier(
                &numero,
                version,
                Evenement::new(&q.auteur(), objet, "diffusion")
                    .avec(vec![etat(Etat::EnAttente, Etat::Diffusee)]),
                Acceptation::Equipe,
            ),
            "vu" => match app.store.dossier(&numero) {
                Ok(Some(d)) if d.a_revoir => {
                    let n = Dossier {
                        a_revoir: false,
                        ..d.clone()
                    };
                    app.store
                        .enregistrer_dossier(
                            &n,
                            Some(d.modifie_le),
                            Evenement::new(&q.auteur(), objet, "revue-echantillon"),
                        )
                        .map(Some)
                }
                Ok(_) => Ok(None),
                Err(e) => Err(e),
            },
            "refuser" if !motif.trim().is_empty() => match app.store.dossier(&numero) {
                Ok(Some(d)) if d.etat == Etat::EnAttente => {
                    let autre = app
                        .store
                        .motifs()
                        .unwrap_or_default()
                        .into_iter()
                        .find(|m| m.code == "autre");
                    let n = Dossier {
                        etat: Etat::Refusee,
                        motifs: autre
                            .map(|m| crate::store::MotifDonne {
                                motif: m,
                                texte: motif.trim().to_string(),
                            })
                            .into_iter()
                            .collect(),
                        ..d.clone()
                    };
                    app.store
                        .enregistrer_dossier(
                            &n,
                            version.or(Some(d.modifie_le)),
                            Evenement::new(&q.auteur(), objet, "refus")
                                .avec(vec![etat(d.etat, Etat::Refusee)])
                                .motif(Some(motif.trim().to_string())),
                        )
                        .map(Some)
                }
                Ok(_) => Ok(None),
                Err(e) => Err(e),
            },
            "refuser" => {
                return refus(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Motif manquant",
                    "Un refus dit pourquoi : saisissez un motif.",
                    Some(&q),
                )
            }
            "corriger" if !motif.trim().is_empty() || !codes.is_empty() => {
                match app.store.dossier(&numero) {
                    Ok(Some(d)) if d.etat == Etat::EnAttente => {
                        let liste = match app.store.motifs() {
                            Ok(l) => l,
                            Err(e) => return erreur_stockage(&e),
                        };
                        let texte = motif.trim().to_string();
                        let mut donnes: Vec<crate::store::MotifDonne> = codes
                            .iter()
                            .filter_map(|c| liste.iter().find(|m| &m.code == c))
                            .map(|m| crate::store::MotifDonne {
                                motif: m.clone(),
                                texte: texte.clone(),
                            })
                            .collect();
                        if donnes.is_empty() {
                            if let Some(autre) = liste.iter().find(|m| m.code == "autre") {
                                donnes.push(crate::store::MotifDonne {
                                    motif: autre.clone(),
                                    texte: texte.clone(),
                                });
                            }
                        }
                        let n = Dossier {
                            etat: Etat::ACorriger,
                            motifs: donnes.clone(),
                            ..d.clone()
                        };
                        app.store
                            .enregistrer_dossier(
                                &n,
                                version.or(Some(d.modifie_le)),
                                Evenement::new(&q.auteur(), objet, "a-corriger")
                                    .avec(vec![etat(d.etat, Etat::ACorriger)])
                                    .motif(Some(motif.trim().to_string())),
                            )
                            .map(Some)
                    }
                    Ok(_) => Ok(None),
                    Err(e) => Err(e),
                }
            }
            "corriger" => {
                return refus(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Motif manquant",
                    "Dites à l'organisme ce qu'il doit corriger.",
                    Some(&q),
                )
            }
            "confier" => app.store.confier_dossier(
                &numero,
                Evenement::new(&q.auteur(), objet, "confiee-a-l-organisme"),
            ),
            _ => return introuvable(Some(&q)),
        };
        match r {
            Ok(Some(_)) => redirect(&format!("/gestion/offres/{numero}")),
            Ok(None) => introuvable(Some(&q)),
            Err(StoreError::Conflit(m)) => {
                refus(StatusCode::CONFLICT, "Décision impossible", &m, Some(&q))
            }
            Err(e) => erreur_stockage(&e),
        }
    })
    .await
}
