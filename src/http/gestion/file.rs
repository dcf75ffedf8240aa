//! The queue (`/gestion`): submitted offers and référencement requests with their deadlines,
//! filtered and ordered by the URL, and the acceptance of a selection.

use crate::http::forms::*;
use crate::http::respond::Body;
use crate::http::App;
use crate::store::{Acceptation, Etat, Evenement, StatutDemande, StoreError};
use axum::extract::{Request, State};
use hyper::Response;
use maud::html;
use std::sync::Arc;

use super::*;

/// The queue's filters and order (`/gestion?…`): every state of the queue is a URL.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct FiltreFile {
    /// `offres`, `demandes` or empty for both.
    r#type: String,
    departement: String,
    /// SIRET.
    organisme: String,
    /// A Formacode code: the offers with it (or under it).
    formacode: String,
    /// `formulaire`, `api`, `fichier`, `flux`.
    source: String,
    /// `recent` for the newest first; oldest first otherwise.
    tri: String,
    /// Page of the submitted offers, from 1 (`PAR_PAGE` each).
    page: usize,
}

impl FiltreFile {
    /// This queue's URL at another page.
    fn url_page(&self, page: usize) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("type", &self.r#type),
            ("departement", &self.departement),
            ("organisme", &self.organisme),
            ("formacode", &self.formacode),
            ("source", &self.source),
            ("tri", &self.tri),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        q.append_pair("page", &page.to_string());
        format!("/gestion?{}", q.finish())
    }
}

/// Submitted offers per page of the queue.
const PAR_PAGE: usize = 100;

pub(super) async fn file(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let q = match equipe(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    let filtre: FiltreFile = match lire(req.uri().query().unwrap_or("").as_bytes()) {
        Ok(f) => f,
        Err(r) => return r,
    };
    bloquant(move || {
        let demandes: Vec<_> = match app.store.demandes() {
            Ok(d) => d.into_iter().filter(|d| d.statut == StatutDemande::EnAttente).collect(),
            Err(e) => return erreur_stockage(&e),
        };
        let file = match app.store.file() {
            Ok(d) => d,
            Err(e) => return erreur_stockage(&e),
        };
        let f = &filtre;
        let mut attente: Vec<&crate::store::ElementFile> = file.iter().filter(|x| {
            (f.departement.is_empty() || x.departements.contains(&f.departement))
                && (f.organisme.is_empty() || x.siret == f.organisme)
                && (f.formacode.is_empty()
                    || x.formacodes.iter().any(|c| {
                        c == &f.formacode
                            || app.refs.formacode_ancetres(c).contains(&f.formacode)
                    }))
                && (f.source.is_empty() || x.source == f.source)
        }).collect();
        let demandes: Vec<_> = if f.r#type == "offres" || !f.organisme.is_empty() || !f.formacode.is_empty() || !f.source.is_empty() {
            vec![]
        } else {
            demandes
        };
        if f.r#type == "demandes" {
            attente.clear();
        }
        if f.tri == "recent" {
            attente.reverse();
        }
        let now = crate::store::now_ms();
        let retard = |recu: i64, jours: i64| now > recu + jours * JOUR_MS;
        let signalements = match app.store.signalements() {
            Ok(s) => s,
            Err(e) => return erreur_stockage(&e),
        };
        let suspendus = match app.store.suspensions() {
            Ok(s) => s,
            Err(e) => return erreur_stockage(&e),
        };
        let a_revoir = match app.store.a_revoir() {
            Ok(d) => d,
            Err(e) => return erreur_stockage(&e),
        };
        let pages = attente.len().div_ceil(PAR_PAGE).max(1);
        let page = f.page.clamp(1, pages);
        let total = attente.len();
        let attente = &attente[((page - 1) * PAR_PAGE).min(total)..(page * PAR_PAGE).min(total)];
        ok(cadre_prive(
            "Gestion de l'offre",
            Some(&q),
            html! {
                h1 { "Ce qui attend une décision" }
                p { a href="/gestion/comptes" { "Comptes" } " · " a href="/gestion/motifs" { "Motifs de correction" } " · " a href="/gestion/fraicheur" { "Fraîcheur de l'offre" } " · " a href="/gestion/partenaires" { "Partenaires et clés" } " · " a href="/gestion/recherches" { "Recherches" } " · " a href="/gestion/historique" { "Historique" } }
                section aria-labelledby="t-demandes" {
                    h2 id="t-demandes" { "Demandes de référencement (" (demandes.len()) ")" }
                    @if demandes.is_empty() { p { "Aucune." } }
                    @for d in &demandes {
                        article.demande {
                            h3 { (d.etablissement.raison_sociale) " — SIRET " (d.etablissement.siret) }
                            p { "NDA " (d.etablissement.numero_activite) " ; " (d.etablissement.site_principal.codepostal) " " (d.etablissement.site_principal.ville)
                                " ; contact " (d.contact.nom) " <" (d.contact.email) "> ; reçue il y a " (age(d.recue_le)) }
                            form.en-ligne method="post" action={ "/gestion/demandes/" (d.id) "/accepter" } {
                                (csrf(&q)) button type="submit" { "Accepter la demande de " (d.etablissement.raison_sociale) }
                            }
                            form.en-ligne method="post" action={ "/gestion/demandes/" (d.id) "/refuser" } {
                                (csrf(&q))
                                label for={ "motif-" (d.id) } { "Motif du refus " }
                                input id={ "motif-" (d.id) } name="motif" required;
                                button.secondaire type="submit" { "Refuser" }
                            }
                        }
                    }
                }
                form.filtres method="get" action="/gestion" {
                    p.champ { label for="f-type" { "Type" }
                        select id="f-type" name="type" {
                            option value="" { "tout" }
                            option value="offres" selected[f.r#type == "offres"] { "offres" }
                            option value="demandes" selected[f.r#type == "demandes"] { "demandes de référencement" }
                        } }
                    p.champ { label for="f-dep" { "Département" } input id="f-dep" name="departement" value=(f.departement) size="3"; }
                    p.champ { label for="f-org" { "Organisme (SIRET)" } input id="f-org" name="organisme" value=(f.organisme); }
                    p.champ { label for="f-fc" { "Domaine Formacode" } input id="f-fc" name="formacode" value=(f.formacode) size="6"; }
                    p.champ { label for="f-src" { "Source" }
                        select id="f-src" name="source" {
                            option value="" { "toutes" }
                            @for s in ["formulaire", "api", "fichier", "flux"] { option value=(s) selected[f.source == s] { (s) } }
                        } }
                    p.champ { label for="f-tri" { "Ordre" }
                        select id="f-tri" name="tri" {
                            option value="" { "les plus anciennes d'abord" }
                            option value="recent" selected[f.tri == "recent"] { "les plus récentes d'abord" }
                        } }
                    p { button type="submit" { "Filtrer" } }
                }
                section aria-labelledby="t-offres" {
                    h2 id="t-offres" { "Offres soumises (" (total) ")" }
                    p.aide { "Échéances depuis la réception : J+1 reçue, J+2 décidée, J+3 diffusée ; en rouge, une échéance dépassée." }
                    @if attente.is_empty() { p { "Aucune." } }
                    @else {
                        form method="post" action="/gestion/selection/accepter" {
                            (csrf(&q))
                            table.tableau-offres {
                                thead { tr {
                                    th scope="col" { span.visuellement-cache { "Sélection" } }
                                    th scope="col" { "Offre" } th scope="col" { "Organisme" } th scope="col" { "Nature" }
                                    th scope="col" { "Âge" } th scope="col" { "Décider avant" } th scope="col" { "Diffuser avant" }
                                } }
                                tbody {
                                    @for x in attente {
                                        tr {
                                            td { @if !x.bloquant {
                                                input type="checkbox" name="sel" value=(x.numero) id={ "sel-" (x.numero) } aria-label={ "sélectionner " (x.numero) };
                                            } }
                                            td { a href={ "/gestion/offres/" (x.numero) } { (if x.intitule.is_empty() { "(sans intitulé)" } else { x.intitule.as_str() }) } " " small { (x.numero) }
                                                @if x.bloquant { br; span.constat.bloquant { "erreurs bloquantes" } } }
                                            td { (x.raison_sociale) br; small { (x.siret) " · " (x.departements.join(", ")) " · " (x.source) } }
                                            td { @if x.en_ligne { "modification" } @else { "nouvelle offre" } }
                                            td { (age(x.soumis_le)) }
                                            td .en-retard[retard(x.soumis_le, 2)] { (horodatage(x.soumis_le + 2 * JOUR_MS)) }
                                            td .en-retard[retard(x.soumis_le, 3)] { (horodatage(x.soumis_le + 3 * JOUR_MS)) }
                                        }
                                    }
                                }
                            }
                            p { button type="submit" { "Accepter la sélection" } }
                        }
                        @if pages > 1 {
                            nav.pagination aria-label="Pages de la file" {
                                @if page > 1 { a href=(f.url_page(page - 1)) rel="prev" { "‹ précédentes" } " " }
                                "page " (page) " sur " (pages) " (" (PAR_PAGE) " par page)"
                                @if page < pages { " " a href=(f.url_page(page + 1)) rel="next" { "suivantes ›" } }
                            }
                        }
                    }
                }
                section aria-labelledby="t-signalements" {
                    h2 id="t-signalements" { "Erreurs signalées par le public (" (signalements.len()) ")" }
                    @if signalements.is_empty() { p { "Aucune." } }
                    ul {
                        @for x in &signalements {
                            li {
                                a href={ "/gestion/offres/" (x.numero) } { (x.numero) } " — il y a " (age(x.le)) " : « " (x.texte) " » "
                                form.en-ligne method="post" action={ "/gestion/signalements/" (x.id) } {
                                    (csrf(&q)) button.secondaire type="submit" { "Traité" }
                                }
                            }
                        }
                    }
                }
                section aria-labelledby="t-revoir" {
                    h2 id="t-revoir" { "Acceptées automatiquement, tirées pour un coup d'œil (" (a_revoir.len()) ")" }
                    @if a_revoir.is_empty() { p { "Aucune." } }
                    ul {
                        @for d in &a_revoir {
                            li {
                                a href={ "/gestion/offres/" (d.numero) } { (d.numero) }
                                " — " (d.siret) ", il y a " (age(d.soumis_le)) " "
                                form.en-ligne method="post" action={ "/gestion/offres/" (d.numero) "/vu" } {
                                    (csrf(&q)) button.secondaire type="submit" { "Vu" }
                                }
                            }
                        }
                    }
                }
                section aria-labelledby="t-suspensions" {
                    h2 id="t-suspensions" { "Organismes suspendus (" (suspendus.len()) ")" }
                    p.aide { "Suspendre un organisme retire toutes ses offres de la recherche, des pages et des flux (des suppressions dans ?depuis=) ; le rétablir les rediffuse." }
                    ul {
                        @for x in &suspendus {
                            li {
                                (x.siret) " — depuis le " (horodatage(x.le)) " : " (x.motif) " "
                                form.en-ligne method="post" action="/gestion/organismes/suspension" {
                                    (csrf(&q)) input type="hidden" name="siret" value=(x.siret);
                                    input type="hidden" name="operation" value="retablir";
                                    button.secondaire type="submit" { "Rétablir " (x.siret) }
                                }
                            }
                        }
                    }
                    form.saisie method="post" action="/gestion/organismes/suspension" {
                        (csrf(&q))
                        input type="hidden" name="operation" value="suspendre";
                        p.champ { label for="s-siret" { "SIRET à suspendre" } input id="s-siret" name="siret" required; }
                        p.champ { label for="s-motif" { "Motif" } input id="s-motif" name="motif" required maxlength="500"; }
                        p { button.secondaire type="submit" { "Suspendre l'organisme" } }
                    }
                }
                section aria-labelledby="t-activation" {
                    h2 id="t-activation" { "Donner accès à un organisme connu des flux" }
                    form.saisie method="post" action="/gestion/organismes/activation" {
                        (csrf(&q))
                        p.champ { label for="siret" { "SIRET" } input id="siret" name="siret" required; }
                        p.champ { label for="email" { "Adresse de la personne" } input id="email" name="email" type="email" required; }
                        p.champ { label for="nom" { "Son nom" } input id="nom" name="nom" required; }
                        p { button type="submit" { "Créer l'accès et le lien d'activation" } }
                    }
                }
                section aria-labelledby="t-lien" {
                    h2 id="t-lien" { "Mot de passe oublié : un nouveau lien pour un compte" }
                    form.saisie method="post" action="/gestion/comptes/lien" {
                        (csrf(&q))
                        p.champ { label for="email-lien" { "Adresse du compte" } input id="email-lien" name="email" type="email" required; }
                        p { button type="submit" { "Créer le lien" } }
                    }
                }
            },
        ))
    })
    .await
}

/// Accepts the offers ticked in the queue, each in its own transaction, audited; one that
/// someone else decided meanwhile, or that has blocking errors, is named, not forced.
pub(super) async fn accepter_selection(
    State(app): State<Arc<App>>,
    req: Request,
) -> Response<Body> {
    let envoi = match formulaire_equipe(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    let numeros: Vec<String> = form_urlencoded::parse(&envoi.corps)
        .filter(|(k, _)| k == "sel")
        .map(|(_, v)| v.into_owned())
        .take(500)
        .collect();
    bloquant(move || {
        let (mut faits, mut refus) = (Vec::new(), Vec::new());
        for n in &numeros {
            let en_attente = matches!(app.store.dossier(n), Ok(Some(ref d)) if d.etat == Etat::EnAttente);
            if !en_attente {
                refus.push(format!("{n} : plus en attente (décidée entre-temps)"));
                continue;
            }
            let e = Evenement::new(&q.auteur(), format!("offre {n}"), "diffusion")
                .motif(Some("acceptation groupée".into()));
            match app.store.diffuser_dossier(n, None, e, Acceptation::Equipe) {
                Ok(Some(_)) => faits.push(n.clone()),
                Ok(None) => refus.push(format!("{n} : rien à diffuser")),
                Err(StoreError::Conflit(m)) => refus.push(format!("{n} : {m}")),
                Err(e) => return erreur_stockage(&e),
            }
        }
        ok(cadre_prive(
            "Acceptation groupée",
            Some(&q),
            html! {
                h1 { "Acceptation groupée" }
                p.succes role="status" { (faits.len()) " offre(s) acceptée(s) et diffusée(s)." }
                @if !refus.is_empty() { div.erreur role="alert" { ul { @for r in &refus { li { (r) } } } } }
                p { a href="/gestion" { "Retour à la file" } }
            },
        ))
    })
    .await
}
