//! Accounts (`/gestion/comptes`): who may manage whom, creating one with its activation link,
//! changing a role or a state, a new password link.

use crate::accounts::{Compte, Role};
use crate::http::forms::*;
use crate::http::identity::Qui;
use crate::http::respond::Body;
use crate::http::App;
use crate::store::StoreError;
use axum::extract::{Request, State};
use hyper::{Response, StatusCode};
use maud::{html, Markup};
use std::sync::Arc;

use super::*;

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
    prive(crate::http::html::page(
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

pub(super) async fn comptes_page(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let q = match equipe(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    bloquant(move || page_comptes(&app, &q, StatusCode::OK, None)).await
}

/// Creates an account (with its activation link) or changes one's role and state; a
/// deactivated account's sessions end at once. Audited with before → after.
pub(super) async fn compte(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let base = base_url(&app, req.headers());
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

/// A new password link for an account (staff and admins: for anyone but admins, whose
/// links come from `sofi user reset`).
pub(super) async fn nouveau_lien(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let base = base_url(&app, req.headers());
    let envoi = match formulaire_equipe(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
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
