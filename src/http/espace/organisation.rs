//! An organisation's own people and keys: the SIRET a user acts for, the users its
//! responsable manages (add with a one-time link, deactivate), its API tokens.

use super::*;
use crate::accounts::{self, Compte, Role};
use crate::store::JetonApi;

pub(super) async fn choisir_siret(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let siret = field(&envoi.corps, "siret").unwrap_or_default();
    if !envoi.qui.compte.sirets.contains(&siret) {
        return introuvable(Some(&envoi.qui));
    }
    let mut s = envoi.qui.session.clone();
    s.siret = Some(siret);
    match app.store.enregistrer_session(&envoi.qui.jeton, &s) {
        Ok(()) => redirect("/espace"),
        Err(e) => erreur_stockage(&e),
    }
}

fn page_utilisateurs(
    q: &Qui,
    comptes: &[Compte],
    lien: Option<(String, String)>,
    erreur: Option<&str>,
) -> Markup {
    cadre_prive(
        "Utilisateurs de l'organisme",
        Some(q),
        html! {
            h1 { "Utilisateurs de l'organisme " (q.siret().unwrap_or("")) }
            @if let Some((email, url)) = &lien {
                div.succes role="status" {
                    p { "Compte créé pour " strong { (email) } ". Transmettez-lui ce lien d'activation (valable 7 jours, une seule fois) :" }
                    p { code.lien-unique { (url) } }
                }
            }
            @if let Some(e) = erreur { p.erreur role="alert" { (e) } }
            table {
                thead { tr { th scope="col" { "Adresse" } th scope="col" { "Nom" } th scope="col" { "Rôle" } th scope="col" { "Actif" } } }
                tbody {
                    @for c in comptes {
                        tr {
                            td { (c.email) } td { (c.nom) } td { (c.role.libelle()) }
                            td {
                                @if !c.actif { "désactivé" }
                                @else if c.mot_de_passe.is_some() { "oui" }
                                @else { "en attente d'activation" }
                                @if c.actif && c.id != q.compte.id {
                                    form.en-ligne method="post" action="/espace/utilisateurs" {
                                        (csrf(q))
                                        input type="hidden" name="desactiver" value=(c.id);
                                        button.secondaire type="submit" { "Désactiver " (c.email) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Ajouter un utilisateur" }
            form.saisie method="post" action="/espace/utilisateurs" {
                (csrf(q))
                p.champ { label for="email" { "Adresse électronique" } input id="email" name="email" type="email" required; }
                p.champ { label for="nom" { "Nom" } input id="nom" name="nom" required; }
                p.champ {
                    label for="role" { "Rôle" }
                    select id="role" name="role" {
                        option value="organisme" { "utilisateur (saisit l'offre)" }
                        option value="responsable" { "responsable (gère aussi les utilisateurs)" }
                    }
                }
                p { button type="submit" { "Créer le compte et son lien d'activation" } }
            }
        },
    )
}

fn comptes_du_siret(app: &App, siret: &str) -> Vec<Compte> {
    app.store
        .comptes()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.sirets.iter().any(|s| s == siret))
        .collect()
}

pub(super) async fn utilisateurs_page(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
    let q = match connecte(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    let Some(siret) = q.siret().map(str::to_string).filter(|_| q.responsable()) else {
        return introuvable(Some(&q));
    };
    bloquant(move || {
        ok(page_utilisateurs(
            &q,
            &comptes_du_siret(&app, &siret),
            None,
            None,
        ))
    })
    .await
}

pub(super) async fn utilisateurs(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
    let base = base_url(&app, req.headers());
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    let Some(siret) = q.siret().map(str::to_string).filter(|_| q.responsable()) else {
        return introuvable(Some(&q));
    };
    if let Some(id) = field(&envoi.corps, "desactiver").and_then(|i| i.parse::<u64>().ok()) {
        return bloquant(move || desactiver(&app, &q, &siret, id)).await;
    }
    let email = field(&envoi.corps, "email").unwrap_or_default();
    let nom: String = field(&envoi.corps, "nom")
        .unwrap_or_default()
        .chars()
        .take(100)
        .collect();
    let role = match field(&envoi.corps, "role").as_deref() {
        Some("responsable") => Role::Responsable,
        _ => Role::Organisme,
    };
    bloquant(move || {
        let email = match accounts::email(&email) {
            Ok(e) => e,
            Err(m) => {
                return prive(page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    page_utilisateurs(&q, &comptes_du_siret(&app, &siret), None, Some(&m)),
                ))
            }
        };
        let id = match app.store.nouvel_id() {
            Ok(i) => i,
            Err(e) => return erreur_stockage(&e),
        };
        let c = Compte {
            id,
            email,
            nom: nom.trim().to_string(),
            role,
            sirets: vec![siret.clone()],
            mot_de_passe: None,
            generation: 0,
            actif: true,
            cree_le: crate::store::now_ms(),
        };
        match app.store.creer_compte(&c, &q.auteur()) {
            Ok(l) => ok(page_utilisateurs(
                &q,
                &comptes_du_siret(&app, &siret),
                Some((l.email, format!("{base}/espace/lien/{}", l.jeton))),
                None,
            )),
            Err(crate::store::StoreError::Conflit(m)) => prive(page(
                StatusCode::CONFLICT,
                page_utilisateurs(&q, &comptes_du_siret(&app, &siret), None, Some(&m)),
            )),
            Err(e) => erreur_stockage(&e),
        }
    })
    .await
}

/// A responsable deactivates one of its organisation's users: its sessions end with it.
/// Only accounts attached to that SIRET alone can be (a user of several organisations is
/// the Carif's to handle).
fn desactiver(app: &App, q: &Qui, siret: &str, id: u64) -> Response<Body> {
    let c = match app.store.compte(id) {
        Ok(Some(c)) if c.sirets == [siret] && c.id != q.compte.id && !c.role.equipe() => c,
        Ok(_) => return introuvable(Some(q)),
        Err(e) => return erreur_stockage(&e),
    };
    let mut c = c;
    c.actif = false;
    c.generation += 1;
    match app.store.modifier_compte(&c, &q.auteur(), "desactivation") {
        Ok(()) => redirect("/espace/utilisateurs"),
        Err(e) => erreur_stockage(&e),
    }
}

fn page_jetons(q: &Qui, nouveau: Option<&str>) -> Markup {
    cadre_prive(
        "Jetons d'API",
        Some(q),
        html! {
            h1 { "Jetons d'API de l'organisme " (q.siret().unwrap_or("")) }
            p { "Un jeton permet à votre logiciel de gérer vos offres par l'API JSON ("
                code { "/api/v1/espace/…" } ", décrite dans " a href="/api/v1/openapi.json" { "l'OpenAPI" }
                "), pour ce SIRET seulement. Envoyez-le dans l'en-tête " code { "Authorization: Bearer …" } "." }
            @if let Some(j) = nouveau {
                div.succes role="status" {
                    p { "Votre nouveau jeton, affiché cette fois seulement (Sofi n'en garde que l'empreinte) :" }
                    p { code.lien-unique { (j) } }
                }
            }
            form.saisie method="post" action="/espace/jetons" {
                (csrf(q))
                p.champ { label for="libelle" { "À quoi sert-il ?" } input id="libelle" name="libelle" required maxlength="100" placeholder="logiciel de gestion"; }
                p { button type="submit" { "Créer un jeton" } }
            }
        },
    )
}

pub(super) async fn jetons_page(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
    match connecte(&app, req.headers()).await {
        Ok(q) if q.siret().is_some() => ok(page_jetons(&q, None)),
        Ok(q) => introuvable(Some(&q)),
        Err(r) => r,
    }
}

pub(super) async fn jetons(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    let Some(siret) = q.siret().map(str::to_string) else {
        return introuvable(Some(&q));
    };
    let libelle: String = field(&envoi.corps, "libelle")
        .unwrap_or_default()
        .chars()
        .take(100)
        .collect();
    bloquant(move || {
        let j = JetonApi {
            compte: q.compte.id,
            sirets: vec![siret],
            libelle,
            cree_le: crate::store::now_ms(),
        };
        match app.store.creer_jeton_api(&j, &q.auteur()) {
            Ok(clair) => ok(page_jetons(&q, Some(&clair))),
            Err(e) => erreur_stockage(&e),
        }
    })
    .await
}
