//! The staff space (`/gestion/…`), Carif staff and admins only: what waits for a decision
//! (référencement requests, submitted offers) and the decisions themselves — accept a
//! request once, activate an organisme known from the feeds, put a revision online, send it
//! back with reasons, hand a feed's offer over to its organisation. Every decision is
//! audited in the transaction that makes it.

use super::forms::*;
use super::identity::Qui;
use super::respond::Body;
use super::App;
use crate::accounts::{Compte, Role};
use crate::rules::Gravite;
use crate::store::{
    Acceptation, Dossier, Etablissement, Etat, Evenement, Site, StatutDemande, StoreError,
};
use axum::extract::{RawPathParams, Request, State};
use axum::routing::{get, post};
use axum::Router;
use hyper::{Response, StatusCode};
use maud::{html, Markup};
use std::sync::Arc;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/gestion", get(file))
        .route("/gestion/demandes/{id}/{decision}", post(demande))
        .route("/gestion/organismes/activation", post(activation))
        .route("/gestion/comptes/lien", post(nouveau_lien))
        .route("/gestion/motifs", get(motifs_page).post(motif))
        .route("/gestion/selection/accepter", post(accepter_selection))
        .route("/gestion/organismes/suspension", post(suspension))
        .route("/gestion/comptes", get(comptes_page).post(compte))
        .route("/gestion/signalements/{id}", post(signalement_traite))
        .route("/gestion/fraicheur", get(fraicheur))
        .route("/gestion/historique", get(historique_page))
        .route("/gestion/offres/{numero}", get(offre))
        .route("/gestion/offres/{numero}/{decision}", post(decision))
}

fn age(ms: i64) -> String {
    let h = (crate::store::now_ms() - ms).max(0) / 3_600_000;
    if h < 24 {
        format!("{h} h")
    } else {
        format!("J+{}", h / 24)
    }
}

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

/// Submitted offers per page of the queue.
const PAR_PAGE: usize = 100;

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

/// Deadlines from reception: J+1 received, J+2 decided, J+3 diffused.
const JOUR_MS: i64 = 24 * 3600 * 1000;

async fn file(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
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

/// A one-time link, shown once to the staff member who issued it.
fn lien_emis(q: &Qui, base: &str, titre: &str, email: &str, jeton: &str) -> Response<Body> {
    ok(cadre_prive(
        titre,
        Some(q),
        html! {
            h1 { (titre) }
            div.succes role="status" {
                p { "Transmettez ce lien à " strong { (email) } " (valable 7 jours, une seule fois ; Sofi ne le montrera plus) :" }
                p { code.lien-unique { (base) "/espace/lien/" (jeton) } }
            }
            p { a href="/gestion" { "Retour à la file" } }
        },
    ))
}

async fn demande(State(app): State<Arc<App>>, p: RawPathParams, req: Request) -> Response<Body> {
    let mut c = chemin(&p);
    let decision = c.pop().unwrap_or_default();
    let id: u64 = c.pop().and_then(|i| i.parse().ok()).unwrap_or(0);
    let base = base_url(&app, req.headers());
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    if !q.equipe() {
        return reserve(&q);
    }
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
async fn activation(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let base = base_url(&app, req.headers());
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    if !q.equipe() {
        return reserve(&q);
    }
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

/// Accepts the offers ticked in the queue, each in its own transaction, audited; one that
/// someone else decided meanwhile, or that has blocking errors, is named, not forced.
async fn accepter_selection(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    if !q.equipe() {
        return reserve(&q);
    }
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

/// Whether this person may manage that account or give that role: staff manage
/// organisations' accounts; only admins manage staff and admins.
fn peut_gerer(q: &Qui, role: Role) -> bool {
    q.compte.role == Role::Admin || !role.equipe()
}

fn page_comptes(app: &App, q: &Qui, status: StatusCode, message: Option<Markup>) -> Response<Body> {
    let comptes = match app.store.comptes() {
        Ok(c) => c,
        Err(e) => return erreur_stockage(&e),
    };
    let roles = [Role::Organisme, Role::Responsable, Role::Staff, Role::Admin];
    prive(super::html::page(
        status,
        cadre_prive(
            "Comptes",
            Some(q),
            html! {
                p.fil { a href="/gestion" { "Gestion" } " › comptes" }
                h1 { "Comptes" }
                @if let Some(m) = message { (m) }
                table.tableau-offres {
                    thead { tr { th scope="col" { "Adresse" } th scope="col" { "Nom" } th scope="col" { "Rôle" } th scope="col" { "SIRET" } th scope="col" { "État" } th scope="col" { "Changer" } } }
                    tbody {
                        @for c in &comptes {
                            tr {
                                td { a href={ "/gestion/historique?objet=compte+" (c.id) } { (c.email) } } td { (c.nom) } td { (c.role.libelle()) }
                                td { @for s in &c.sirets { a href={ "/gestion/historique?objet=organisme+" (s) } { (s) } " " } }
                                td { @if !c.actif { "désactivé" } @else if c.mot_de_passe.is_none() { "en attente d'activation" } @else { "actif" } }
                                td {
                                    @if peut_gerer(q, c.role) && c.id != q.compte.id {
                                        form.en-ligne method="post" action="/gestion/comptes" {
                                            (csrf(q)) input type="hidden" name="id" value=(c.id);
                                            label for={ "role-" (c.id) } { span.visuellement-cache { "Rôle de " (c.email) } }
                                            select id={ "role-" (c.id) } name="role" {
                                                @for r in roles.iter().filter(|r| peut_gerer(q, **r)) {
                                                    option value=(r.code()) selected[*r == c.role] { (r.libelle()) }
                                                }
                                            }
                                            select name="actif" aria-label={ "État de " (c.email) } {
                                                option value="1" selected[c.actif] { "actif" }
                                                option value="0" selected[!c.actif] { "désactivé" }
                                            }
                                            button.secondaire type="submit" { "Enregistrer " (c.email) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                h2 { "Créer un compte" }
                form.saisie method="post" action="/gestion/comptes" {
                    (csrf(q))
                    p.champ { label for="n-email" { "Adresse électronique" } input id="n-email" name="email" type="email" required; }
                    p.champ { label for="n-nom" { "Nom" } input id="n-nom" name="nom" required maxlength="100"; }
                    p.champ {
                        label for="n-role" { "Rôle" }
                        select id="n-role" name="role" { @for r in roles.iter().filter(|r| peut_gerer(q, **r)) { option value=(r.code()) { (r.libelle()) } } }
                    }
                    p.champ { label for="n-sirets" { "SIRET (rôles d'organisme ; séparés par des espaces)" } input id="n-sirets" name="sirets"; }
                    p { button type="submit" { "Créer le compte et son lien d'activation" } }
                }
            },
        ),
    ))
}

async fn comptes_page(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let q = match equipe(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    bloquant(move || page_comptes(&app, &q, StatusCode::OK, None)).await
}

/// Creates an account (with its activation link) or changes one's role and state; a
/// deactivated account's sessions end at once. Audited with before → after.
async fn compte(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let base = base_url(&app, req.headers());
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    if !q.equipe() {
        return reserve(&q);
    }
    let get = |k: &str| {
        field(&envoi.corps, k)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let (id, role, actif, email, nom, sirets) = (
        get("id"),
        get("role"),
        get("actif"),
        get("email"),
        get("nom"),
        get("sirets"),
    );
    bloquant(move || {
        let erreur = |m: &str| {
            page_comptes(
                &app,
                &q,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(html! { p.erreur role="alert" { (m) } }),
            )
        };
        let Some(role) = Role::parse(&role) else {
            return erreur("rôle inconnu");
        };
        if !peut_gerer(&q, role) {
            return refus(
                StatusCode::FORBIDDEN,
                "Réservé aux administrateurs",
                "Seuls les administrateurs gèrent les comptes de l'équipe.",
                Some(&q),
            );
        }
        if let Ok(id) = id.parse::<u64>() {
            let c = match app.store.compte(id) {
                Ok(Some(c)) if peut_gerer(&q, c.role) && c.id != q.compte.id => c,
                Ok(_) => return introuvable(Some(&q)),
                Err(e) => return erreur_stockage(&e),
            };
            let mut n = c.clone();
            n.role = role;
            n.actif = actif != "0";
            if n.actif != c.actif || n.role != c.role {
                // A changed role or a deactivation ends the account's sessions.
                n.generation += 1;
            }
            return match app.store.modifier_compte(&n, &q.auteur(), "gestion-compte") {
                Ok(()) => redirect("/gestion/comptes"),
                Err(e) => erreur_stockage(&e),
            };
        }
        let email = match crate::accounts::email(&email) {
            Ok(e) => e,
            Err(m) => return erreur(&m),
        };
        let sirets: Vec<String> = sirets.split_whitespace().map(str::to_string).collect();
        if let Some(s) = sirets.iter().find(|s| !crate::rules::siret_valide(s)) {
            return erreur(&format!("« {s} » n'est pas un SIRET valide"));
        }
        if !role.equipe() && sirets.is_empty() {
            return erreur("un compte d'organisme agit pour au moins un SIRET");
        }
        let id = match app.store.nouvel_id() {
            Ok(i) => i,
            Err(e) => return erreur_stockage(&e),
        };
        let c = Compte {
            id,
            email,
            nom: nom.chars().take(100).collect(),
            role,
            sirets: if role.equipe() { vec![] } else { sirets },
            mot_de_passe: None,
            generation: 0,
            actif: true,
            cree_le: crate::store::now_ms(),
        };
        match app.store.creer_compte(&c, &q.auteur()) {
            Ok(l) => lien_emis(&q, &base, "Compte créé", &l.email, &l.jeton),
            Err(StoreError::Conflit(m)) => erreur(&m),
            Err(e) => erreur_stockage(&e),
        }
    })
    .await
}

/// One object's history, for staff: `?objet=organisme 123…`, `compte 7`, `offre ESP…`,
/// `demande 3`, `motif code` (the audit trail's own names for what it records).
async fn historique_page(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let q = match equipe(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Objet {
        objet: String,
    }
    let o: Objet = match lire(req.uri().query().unwrap_or("").as_bytes()) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let objet: String = o.objet.trim().chars().take(120).collect();
    bloquant(move || {
        let evenements = if objet.is_empty() {
            app.store.audit(None, 200)
        } else {
            app.store.audit(Some(&objet), 500)
        };
        let evenements = match evenements {
            Ok(e) => e,
            Err(e) => return erreur_stockage(&e),
        };
        ok(cadre_prive(
            "Historique",
            Some(&q),
            html! {
                p.fil { a href="/gestion" { "Gestion" } " › historique" }
                h1 { "Historique" @if !objet.is_empty() { " — " (objet) } }
                form.filtres method="get" action="/gestion/historique" {
                    p.champ { label for="objet" { "Objet (« organisme SIRET », « compte N », « offre NUMÉRO », « demande N »)" }
                        input id="objet" name="objet" value=(objet) size="40"; }
                    p { button type="submit" { "Afficher" } }
                }
                @if objet.is_empty() { p.aide { "Les 200 derniers événements, toutes catégories." } }
                (historique(&evenements))
            },
        ))
    })
    .await
}

/// Time from submission to diffusion of the offers diffused over the last 30 days, from the
/// audit trail: median, 90th percentile, how many past J+2 and J+3, and their spread as an
/// SVG bar chart with the figures as a table.
async fn fraicheur(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
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

/// Marks a public report handled (audited on its offer).
async fn signalement_traite(
    State(app): State<Arc<App>>,
    p: RawPathParams,
    req: Request,
) -> Response<Body> {
    let id: u64 = chemin(&p).pop().and_then(|i| i.parse().ok()).unwrap_or(0);
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    if !q.equipe() {
        return reserve(&q);
    }
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

/// Suspends an organisme (its offers leave the diffusion, kept aside) or reinstates it.
async fn suspension(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    if !q.equipe() {
        return reserve(&q);
    }
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

/// The coded reasons staff give when sending an offer back, and a form to add or reword one.
async fn motifs_page(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
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
    prive(super::html::page(
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

async fn motif(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    if !q.equipe() {
        return reserve(&q);
    }
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

/// A new password link for an account (staff and admins: for anyone but admins, whose
/// links come from `sofi user reset`).
async fn nouveau_lien(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let base = base_url(&app, req.headers());
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    if !q.equipe() {
        return reserve(&q);
    }
    let email = field(&envoi.corps, "email").unwrap_or_default();
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
        let c = match app.store.compte_par_email(&email) {
            Ok(Some(c)) if c.role != Role::Admin || q.compte.role == Role::Admin => c,
            Ok(_) => {
                return refus(
                    StatusCode::NOT_FOUND,
                    "Compte inconnu",
                    &format!("aucun compte pour {email} que vous puissiez gérer"),
                    Some(&q),
                )
            }
            Err(e) => return erreur_stockage(&e),
        };
        match app
            .store
            .emettre_lien(c.id, crate::store::ButLien::Reinitialisation, &q.auteur())
        {
            Ok(jeton) => lien_emis(&q, &base, "Nouveau lien", &c.email, &jeton),
            Err(e) => erreur_stockage(&e),
        }
    })
    .await
}

async fn offre(State(app): State<Arc<App>>, p: RawPathParams, req: Request) -> Response<Body> {
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

async fn decision(State(app): State<Arc<App>>, p: RawPathParams, req: Request) -> Response<Body> {
    let mut c = chemin(&p);
    let decision = c.pop().unwrap_or_default();
    let numero = c.pop().unwrap_or_default();
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    if !q.equipe() {
        return reserve(&q);
    }
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
