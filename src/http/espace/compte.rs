//! Getting in: logging in and out, one-time links (activation, new password), the
//! référencement request of an organisation not yet known; then an organisation's users
//! (managed by its responsable) and its API tokens.

use super::etablissement::{commune, formacodes_connus};
use super::*;
use crate::accounts::{self, Compte, Role};
use crate::store::{
    ContactOrg, Demande, Etablissement, Evenement, JetonApi, SessionWeb, Site, StatutDemande,
};
use serde::Deserialize;

/// The pre-session cookie that protects the login and request forms (double submit).
fn pre_cookie(app: &App) -> &'static str {
    if app.identity.cookie_secure {
        "__Host-sofi-pre"
    } else {
        "sofi-pre"
    }
}

fn set_pre(app: &App, r: &mut Response<Body>, v: &str) {
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
fn pre_ok(app: &App, headers: &hyper::HeaderMap, corps: &[u8]) -> bool {
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

/// The référencement request form's fields.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(super) struct FormDemande {
    siret: String,
    numero_activite: String,
    raison_sociale: String,
    adresse: String,
    codepostal: String,
    ville: String,
    formacodes: String,
    contact_nom: String,
    contact_email: String,
    contact_telephone: String,
}

fn form_demande(jeton: &str, f: &FormDemande, erreurs: &[(&str, String)]) -> Markup {
    let err = |c: &str| -> Markup {
        html! {
            @for (_, m) in erreurs.iter().filter(|(k, _)| *k == c) {
                span.constat.bloquant id={ "err-" (c) } { (m) }
            }
        }
    };
    let champ = |nom: &'static str, libelle: &str, valeur: &str, aide: &str| -> Markup {
        let invalide = erreurs.iter().any(|(k, _)| *k == nom);
        html! {
            p.champ {
                label for=(nom) { (libelle) }
                @if !aide.is_empty() { span.aide id={ "aide-" (nom) } { (aide) } }
                input id=(nom) name=(nom) value=(valeur) aria-invalid=[invalide.then_some("true")]
                    aria-describedby={ "aide-" (nom) " err-" (nom) };
                (err(nom))
            }
        }
    };
    cadre_prive(
        "Demande de référencement",
        None,
        html! {
            h1 { "Demander le référencement de votre organisme" }
            p { "Votre organisme n'est pas encore connu du Carif-Oref ? Décrivez-le : le Carif-Oref vérifie la demande et vous donne un lien pour activer votre compte." }
            @if !erreurs.is_empty() {
                div.erreur role="alert" {
                    p { (erreurs.len()) " point(s) à corriger :" }
                    ul { @for (c, m) in erreurs { li { a href={ "#" (c) } { (m) } } } }
                }
            }
            form.saisie method="post" action="/espace/demande" novalidate {
                input type="hidden" name="_csrf" value=(jeton);
                fieldset {
                    legend { "L'établissement" }
                    (champ("siret", "SIRET (14 chiffres)", &f.siret, ""))
                    (champ("numero_activite", "Numéro de déclaration d'activité (11 caractères)", &f.numero_activite, ""))
                    (champ("raison_sociale", "Raison sociale", &f.raison_sociale, ""))
                }
                fieldset {
                    legend { "Site principal" }
                    (champ("adresse", "Adresse", &f.adresse, ""))
                    (champ("codepostal", "Code postal", &f.codepostal, ""))
                    (champ("ville", "Commune", &f.ville, ""))
                }
                (champ("formacodes", "Domaines de formation (codes Formacode, séparés par des espaces)", &f.formacodes, "par exemple 31734 pour la conduite d'engins"))
                fieldset {
                    legend { "La personne à contacter (elle recevra l'accès)" }
                    (champ("contact_nom", "Nom", &f.contact_nom, ""))
                    (champ("contact_email", "Adresse électronique", &f.contact_email, ""))
                    (champ("contact_telephone", "Téléphone", &f.contact_telephone, ""))
                }
                p { button type="submit" { "Envoyer la demande" } }
            }
        },
    )
}

pub(super) async fn demande_page(S(app): S<Arc<App>>) -> Response<Body> {
    let (jeton, _) = accounts::new_token();
    let mut r = ok(form_demande(&jeton, &FormDemande::default(), &[]));
    set_pre(&app, &mut r, &jeton);
    r
}

pub(super) async fn demande(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
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
            "le jeton du formulaire manque ou a expiré : rechargez la page",
            None,
        );
    }
    if let Err(attente) = app.identity.attempt("demande-referencement", addr) {
        let mut r = refus(
            StatusCode::TOO_MANY_REQUESTS,
            "Trop de demandes",
            &format!("Trop de demandes : réessayez dans {attente} secondes."),
            None,
        );
        r.headers_mut()
            .insert("retry-after", attente.to_string().parse().expect("digits"));
        return r;
    }
    let f: FormDemande = match lire(&corps) {
        Ok(f) => f,
        Err(r) => return r,
    };
    bloquant(move || {
        let mut erreurs: Vec<(&str, String)> = Vec::new();
        let siret: String = f.siret.chars().filter(|c| !c.is_whitespace()).collect();
        if !crate::rules::siret_valide(&siret) {
            erreurs.push(("siret", "SIRET invalide : 14 chiffres dont la clé de contrôle (Luhn)".into()));
        }
        let nda = f.numero_activite.trim().to_string();
        if nda.chars().count() != 11 || !nda.chars().all(|c| c.is_ascii_alphanumeric()) {
            erreurs.push((
                "numero_activite",
                "numéro de déclaration d'activité : 11 chiffres ou lettres".into(),
            ));
        }
        let rs = f.raison_sociale.trim();
        if rs.is_empty() || rs.chars().count() > 250 {
            erreurs.push(("raison_sociale", "raison sociale : de 1 à 250 caractères".into()));
        }
        let site = match commune(&app.refs, &f.codepostal, &f.ville) {
            Ok(c) => Some(Site {
                nom: "Site principal".into(),
                adresse: f.adresse.chars().take(200).collect(),
                ..c
            }),
            Err(m) => {
                erreurs.push(("codepostal", m));
                None
            }
        };
        let formacodes = match formacodes_connus(&app.refs, &f.formacodes) {
            Ok(v) if !v.is_empty() => v,
            Ok(_) => {
                erreurs.push(("formacodes", "au moins un domaine Formacode".into()));
                vec![]
            }
            Err(m) => {
                erreurs.push(("formacodes", m));
                vec![]
            }
        };
        let email = match accounts::email(&f.contact_email) {
            Ok(e) => e,
            Err(m) => {
                erreurs.push(("contact_email", m));
                String::new()
            }
        };
        if f.contact_nom.trim().is_empty() || f.contact_nom.chars().count() > 100 {
            erreurs.push(("contact_nom", "nom de la personne : de 1 à 100 caractères".into()));
        }
        if erreurs.is_empty() {
            let connu = app.store.etablissement(&siret).ok().flatten().is_some()
                || app.store.organisme(&siret).ok().flatten().is_some()
                || app.store.demandes().unwrap_or_default().iter().any(|d| {
                    d.etablissement.siret == siret && d.statut == StatutDemande::EnAttente
                });
            if connu {
                erreurs.push((
                    "siret",
                    "cet organisme est déjà connu ou sa demande est en cours : demandez votre lien d'accès au Carif-Oref".into(),
                ));
            }
        }
        if !erreurs.is_empty() {
            let (jeton, _) = accounts::new_token();
            let mut r = prive(page(
                StatusCode::UNPROCESSABLE_ENTITY,
                form_demande(&jeton, &f, &erreurs),
            ));
            set_pre(&app, &mut r, &jeton);
            return r;
        }
        let contact = ContactOrg {
            nom: f.contact_nom.trim().to_string(),
            email,
            telephone: f.contact_telephone.chars().filter(|c| c.is_ascii_digit() || *c == '+').take(20).collect(),
        };
        let d = Demande {
            id: match app.store.nouvel_id() {
                Ok(i) => i,
                Err(e) => return erreur_stockage(&e),
            },
            etablissement: Etablissement {
                siret,
                numero_activite: nda,
                raison_sociale: rs.to_string(),
                site_principal: site.unwrap_or_default(),
                sites: vec![],
                contacts: vec![contact.clone()],
                formacodes,
                modifie_le: 0,
            },
            contact,
            recue_le: crate::store::now_ms(),
            statut: StatutDemande::EnAttente,
        };
        if let Err(e) = app.store.creer_demande(&d) {
            return erreur_stockage(&e);
        }
        ok(cadre_prive(
            "Demande envoyée",
            None,
            html! {
                h1 { "Demande envoyée" }
                p role="status" { "Le Carif-Oref a reçu la demande de référencement de " strong { (d.etablissement.raison_sociale) } " (demande n° " (d.id) "). Il la vérifie et vous transmet un lien pour activer votre compte." }
            },
        ))
    })
    .await
}

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
    let base = base_url(req.headers());
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
