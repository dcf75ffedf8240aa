//! Getting in: logging in and out (everywhere at once too), one-time links (activation,
//! new password), and the pre-session token that protects the anonymous forms.

use super::*;
use crate::accounts::{self, Compte};
use crate::store::{Evenement, SessionWeb};
use serde::Deserialize;

/// The pre-session cookie that protects the login and request forms (double submit).
pub(super) fn pre_cookie(app: &App) -> &'static str {
    if app.identity.cookie_secure {
        "__Host-sofi-pre"
    } else {
        "sofi-pre"
    }
}

pub(super) fn set_pre(app: &App, r: &mut Response<Body>, v: &str) {
    let c = format!(
        "{}={v}; Path=/; HttpOnly; SameSite=Strict{}",
        pre_cookie(app),
        if app.identity.cookie_secure {
            "; Secure"
        } else {
            ""
        }
    );
    r.headers_mut()
        .append("set-cookie", c.parse().expect("hex cookie"));
}

/// Checks the double-submitted pre-session token of an anonymous form.
pub(super) fn pre_ok(app: &App, headers: &hyper::HeaderMap, corps: &[u8]) -> bool {
    let c = super::super::identity::cookie(headers, pre_cookie(app)).unwrap_or_default();
    let f = field(corps, "_csrf").unwrap_or_default();
    c.len() == 64 && same_token(&c, &f)
}

fn form_connexion(jeton: &str, email: &str, erreur: Option<&str>) -> Markup {
    cadre_prive(
        "Connexion",
        None,
        html! {
            h1 { "Espace des organismes de formation" }
            p { "Connectez-vous pour présenter votre offre de formation. Pas encore de compte ? "
                a href="/espace/demande" { "Demandez le référencement de votre organisme" } "." }
            @if let Some(e) = erreur { p.erreur role="alert" id="erreur-connexion" { (e) } }
            form.saisie method="post" action="/espace/connexion" {
                input type="hidden" name="_csrf" value=(jeton);
                p.champ {
                    label for="email" { "Adresse électronique" }
                    input id="email" name="email" type="email" autocomplete="username" required value=(email);
                }
                p.champ {
                    label for="mot_de_passe" { "Mot de passe" }
                    input id="mot_de_passe" name="mot_de_passe" type="password" autocomplete="current-password" required;
                }
                p { button type="submit" { "Se connecter" } }
            }
            p.aide { "Mot de passe oublié ? Le Carif-Oref ou le responsable de votre organisme vous donne un lien pour en choisir un nouveau." }
        },
    )
}

pub(super) async fn connexion_page(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
    if let Ok(Some(_)) = app.identity.session(&app.store, req.headers()) {
        return redirect("/espace");
    }
    let (jeton, _) = accounts::new_token();
    let mut r = ok(form_connexion(&jeton, "", None));
    set_pre(&app, &mut r, &jeton);
    r
}

#[derive(Deserialize)]
struct Connexion {
    #[serde(default)]
    email: String,
    #[serde(default)]
    mot_de_passe: String,
}

pub(super) async fn connexion(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
    if let Some(p) = cross_site(req.headers()) {
        return refus(StatusCode::FORBIDDEN, "Requête refusée", &p, None);
    }
    let addr = req.extensions().get::<ClientAddr>().map(|a| a.0);
    let headers = req.headers().clone();
    let corps = match lire_corps(req).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !pre_ok(&app, &headers, &corps) {
        return refus(
            StatusCode::FORBIDDEN,
            "Requête refusée",
            "le jeton du formulaire manque ou a expiré : rechargez la page de connexion",
            None,
        );
    }
    let f: Connexion = match lire(&corps) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let email = f.email.trim().to_lowercase();
    if let Err(attente) = app.identity.attempt(&email, addr) {
        let mut r = refus(
            StatusCode::TOO_MANY_REQUESTS,
            "Trop de tentatives",
            &format!("Trop de tentatives de connexion : réessayez dans {attente} secondes."),
            None,
        );
        r.headers_mut()
            .insert("retry-after", attente.to_string().parse().expect("digits"));
        return r;
    }
    bloquant(move || {
        let compte = match app.store.compte_par_email(&email) {
            Ok(c) => c,
            Err(e) => return erreur_stockage(&e),
        };
        // An unknown e-mail costs the same argon2 work as a wrong password.
        let hash = compte
            .as_ref()
            .filter(|c| c.actif)
            .and_then(|c| c.mot_de_passe.as_deref());
        let bon = accounts::verify_password(&f.mot_de_passe, hash) && hash.is_some();
        let Some(compte) = compte.filter(|_| bon) else {
            let (jeton, _) = accounts::new_token();
            let mut r = prive(page(
                StatusCode::UNAUTHORIZED,
                form_connexion(&jeton, &email, Some("Adresse ou mot de passe incorrect.")),
            ));
            set_pre(&app, &mut r, &jeton);
            return r;
        };
        match ouvrir_session(&app, &compte) {
            Ok(r) => r,
            Err(e) => erreur_stockage(&e),
        }
    })
    .await
}

/// A new session (a new id at every login) and its cookie; the login is audited.
fn ouvrir_session(app: &App, compte: &Compte) -> Result<Response<Body>, crate::store::StoreError> {
    let (jeton, _) = accounts::new_token();
    let (csrf, _) = accounts::new_token();
    let now = crate::store::now_ms();
    app.store.enregistrer_session(
        &jeton,
        &SessionWeb {
            compte: compte.id,
            generation: compte.generation,
            cree_le: now,
            vue_le: now,
            siret: compte.sirets.first().cloned(),
            csrf,
        },
    )?;
    app.store.journaliser(Evenement::new(
        &crate::store::auteur_de(compte),
        format!("compte {}", compte.id),
        "connexion",
    ))?;
    let mut r = redirect(if compte.role.equipe() {
        "/gestion"
    } else {
        "/espace"
    });
    r.headers_mut().append(
        "set-cookie",
        app.identity.set_cookie(&jeton).parse().expect("hex cookie"),
    );
    Ok(r)
}

pub(super) async fn deconnexion(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let partout = field(&envoi.corps, "partout").is_some();
    bloquant(move || {
        let q = &envoi.qui;
        let r = if partout {
            let mut c = q.compte.clone();
            c.generation += 1;
            app.store
                .modifier_compte(&c, &q.auteur(), "deconnexion-partout")
        } else {
            app.store.supprimer_session(&q.jeton).and_then(|_| {
                app.store.journaliser(Evenement::new(
                    &q.auteur(),
                    format!("compte {}", q.compte.id),
                    "deconnexion",
                ))
            })
        };
        if let Err(e) = r {
            return erreur_stockage(&e);
        }
        let _ = app.store.supprimer_session(&q.jeton);
        let mut r = redirect("/espace/connexion");
        r.headers_mut().append(
            "set-cookie",
            app.identity.clear_cookie().parse().expect("static cookie"),
        );
        r
    })
    .await
}

fn form_lien(jeton: &str, activation: bool, erreur: Option<&str>) -> Markup {
    cadre_prive(
        if activation {
            "Activer votre compte"
        } else {
            "Choisir un nouveau mot de passe"
        },
        None,
        html! {
            h1 { @if activation { "Activer votre compte" } @else { "Choisir un nouveau mot de passe" } }
            @if let Some(e) = erreur { p.erreur role="alert" { (e) } }
            form.saisie method="post" action={ "/espace/lien/" (jeton) } {
                p.champ {
                    label for="mot_de_passe" { "Mot de passe (" (accounts::MIN_PASSWORD) " caractères au moins)" }
                    input id="mot_de_passe" name="mot_de_passe" type="password" autocomplete="new-password" required minlength=(accounts::MIN_PASSWORD);
                }
                p.champ {
                    label for="confirmation" { "Le même, une seconde fois" }
                    input id="confirmation" name="confirmation" type="password" autocomplete="new-password" required;
                }
                p { button type="submit" { "Enregistrer le mot de passe" } }
            }
        },
    )
}

fn lien_mort() -> Response<Body> {
    refus(
        StatusCode::NOT_FOUND,
        "Lien invalide",
        "Ce lien a déjà servi ou a expiré (7 jours). Demandez-en un nouveau au Carif-Oref ou au responsable de votre organisme.",
        None,
    )
}

pub(super) async fn lien_page(S(app): S<Arc<App>>, p: RawPathParams) -> Response<Body> {
    let jeton = chemin(&p).pop().unwrap_or_default();
    match app.store.lien(&jeton) {
        Ok(Some(l)) => ok(form_lien(
            &jeton,
            l.but == crate::store::ButLien::Activation,
            None,
        )),
        Ok(None) => lien_mort(),
        Err(e) => erreur_stockage(&e),
    }
}

#[derive(Deserialize)]
struct NouveauMotDePasse {
    #[serde(default)]
    mot_de_passe: String,
    #[serde(default)]
    confirmation: String,
}

pub(super) async fn lien(S(app): S<Arc<App>>, p: RawPathParams, req: Request) -> Response<Body> {
    if let Some(p) = cross_site(req.headers()) {
        return refus(StatusCode::FORBIDDEN, "Requête refusée", &p, None);
    }
    let jeton = chemin(&p).pop().unwrap_or_default();
    let corps = match lire_corps(req).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let f: NouveauMotDePasse = match lire(&corps) {
        Ok(f) => f,
        Err(r) => return r,
    };
    bloquant(move || {
        let l = match app.store.lien(&jeton) {
            Ok(Some(l)) => l,
            Ok(None) => return lien_mort(),
            Err(e) => return erreur_stockage(&e),
        };
        let activation = l.but == crate::store::ButLien::Activation;
        let probleme = accounts::password_problem(&f.mot_de_passe).or_else(|| {
            (f.mot_de_passe != f.confirmation).then(|| "les deux saisies diffèrent".to_string())
        });
        if let Some(p) = probleme {
            return prive(page(
                StatusCode::UNPROCESSABLE_ENTITY,
                form_lien(&jeton, activation, Some(&p)),
            ));
        }
        let hash = accounts::hash_password(&f.mot_de_passe);
        match app.store.utiliser_lien(&jeton, &hash) {
            Ok(Some(c)) => ouvrir_session(&app, &c).unwrap_or_else(|e| erreur_stockage(&e)),
            Ok(None) => lien_mort(),
            Err(e) => erreur_stockage(&e),
        }
    })
    .await
}
