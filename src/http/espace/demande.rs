//! The référencement request of an organisation not yet known: SIRET and NDA checked, the
//! main site placed on its commune, Formacode domains, a contact; staff accept it once.

use super::compte::{pre_ok, set_pre};
use super::etablissement::{commune, formacodes_connus};
use super::*;
use crate::accounts;
use crate::store::{ContactOrg, Demande, Etablissement, Site, StatutDemande};
use serde::Deserialize;

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
    if let Err(attente) = app.identity.attempt_address(addr) {
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
