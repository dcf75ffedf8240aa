//! "Mon établissement": what an organisation declares about itself — SIRET (fixed), NDA,
//! raison sociale, main and secondary sites placed on the référentiel's communes (INSEE
//! code, coordinates), a contact, its Formacode domains with suggestions from the thesaurus.

use super::*;
use crate::referentiel::Referentiels;
use crate::search::analyse::plier;
use crate::store::{ContactOrg, Etablissement, Site};
use std::collections::BTreeMap;

/// Most secondary sites an establishment declares.
pub const MAX_SITES: usize = 50;

/// The commune of a postal code and a town name, from the référentiel: its INSEE code and
/// coordinates. An ambiguous or unknown pair says which communes the code has.
pub(super) fn commune(refs: &Referentiels, cp: &str, ville: &str) -> Result<Site, String> {
    let cp = cp.trim();
    if cp.len() != 5 || !cp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "code postal « {} » : 5 chiffres attendus",
            cp.chars().take(20).collect::<String>()
        ));
    }
    let communes: Vec<_> = refs
        .communes_par_cp
        .get(cp)
        .into_iter()
        .flatten()
        .filter_map(|insee| refs.communes.get(insee))
        .filter(|c| c.actuelle)
        .collect();
    if communes.is_empty() {
        return Err(format!("aucune commune n'a le code postal {cp}"));
    }
    let v = plier(ville.trim()).replace(['-', '\''], " ");
    let v = v
        .strip_prefix("st ")
        .map(|r| format!("saint {r}"))
        .unwrap_or(v);
    let choisie = if communes.len() == 1 && v.is_empty() {
        Some(communes[0])
    } else {
        communes
            .iter()
            .find(|c| plier(&c.nom).replace(['-', '\''], " ") == v)
            .copied()
            .or_else(|| (communes.len() == 1).then(|| communes[0]))
    };
    match choisie {
        Some(c) => Ok(Site {
            codepostal: cp.to_string(),
            ville: c.nom.clone(),
            code_insee: c.code_insee.clone(),
            lat: c.lat,
            lon: c.lon,
            ..Default::default()
        }),
        None => Err(format!(
            "« {} » n'est pas une commune du code postal {cp} : {}",
            ville.chars().take(60).collect::<String>(),
            communes
                .iter()
                .map(|c| c.nom.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Formacode codes typed with spaces or commas, each checked in the thesaurus.
pub(super) fn formacodes_connus(refs: &Referentiels, s: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for c in s
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|c| !c.is_empty())
    {
        if !refs.formacodes.contains_key(c) {
            return Err(format!(
                "« {} » n'est pas un code Formacode",
                c.chars().take(20).collect::<String>()
            ));
        }
        if !out.iter().any(|x| x == c) {
            out.push(c.to_string());
        }
    }
    if out.len() > 25 {
        return Err(format!("{} domaines : 25 au plus", out.len()));
    }
    Ok(out)
}

/// Thesaurus entries whose label or synonyms contain every word typed.
pub(super) fn suggestions(refs: &Referentiels, q: &str, max: usize) -> Vec<(String, String)> {
    let mots: Vec<String> = plier(q).split_whitespace().map(str::to_string).collect();
    if mots.is_empty() {
        return vec![];
    }
    let mut v: Vec<(String, String)> = refs
        .formacodes
        .values()
        .filter(|f| {
            let texte = plier(&format!("{} {}", f.libelle, f.synonymes.join(" ")));
            mots.iter().all(|m| texte.contains(m.as_str()))
        })
        .map(|f| (f.code.clone(), f.libelle.clone()))
        .collect();
    v.sort_by(|a, b| a.1.len().cmp(&b.1.len()).then(a.0.cmp(&b.0)));
    v.truncate(max);
    v
}

fn erreur(erreurs: &[(String, String)], champ: &str) -> Markup {
    html! {
        @for (_, m) in erreurs.iter().filter(|(k, _)| k == champ) {
            span.constat.bloquant id={ "err-" (champ) } { (m) }
        }
    }
}

fn entree(nom: &str, libelle: &str, valeur: &str, erreurs: &[(String, String)]) -> Markup {
    let invalide = erreurs.iter().any(|(k, _)| k == nom);
    html! {
        p.champ {
            label for=(nom) { (libelle) }
            input id=(nom) name=(nom) value=(valeur) aria-invalid=[invalide.then_some("true")] aria-describedby={ "err-" (nom) };
            (erreur(erreurs, nom))
        }
    }
}

fn bloc_site(
    prefixe: &str,
    titre: &str,
    s: &Site,
    erreurs: &[(String, String)],
    supprimable: bool,
) -> Markup {
    html! {
        fieldset.site {
            legend { (titre) }
            (entree(&format!("{prefixe}_nom"), "Nom du site", &s.nom, erreurs))
            (entree(&format!("{prefixe}_adresse"), "Adresse", &s.adresse, erreurs))
            (entree(&format!("{prefixe}_codepostal"), "Code postal", &s.codepostal, erreurs))
            (entree(&format!("{prefixe}_ville"), "Commune", &s.ville, erreurs))
            @if !s.code_insee.is_empty() {
                p.aide { "Commune INSEE " (s.code_insee)
                    @if let (Some(la), Some(lo)) = (s.lat, s.lon) { " — coordonnées " (format!("{la:.4}, {lo:.4}")) } }
            }
            @if supprimable {
                p { input type="checkbox" id={ (prefixe) "_supprimer" } name={ (prefixe) "_supprimer" } value="1";
                    label for={ (prefixe) "_supprimer" } { " Supprimer ce site" } }
            }
        }
    }
}

fn vue(
    q: &Qui,
    e: &Etablissement,
    erreurs: &[(String, String)],
    recherche: &str,
    trouves: &[(String, String)],
    refs: &Referentiels,
    enregistre: bool,
) -> Markup {
    let contact = e.contacts.first().cloned().unwrap_or_default();
    cadre_prive(
        "Mon établissement",
        Some(q),
        html! {
            h1 { "Mon établissement" }
            @if enregistre && erreurs.is_empty() { p.succes role="status" { "Établissement enregistré." } }
            @if !erreurs.is_empty() {
                div.erreur role="alert" {
                    p { (erreurs.len()) " point(s) à corriger (le reste est enregistré) :" }
                    ul { @for (c, m) in erreurs { li { a href={ "#" (c) } { (m) } } } }
                }
            }
            form.saisie method="post" action="/espace/etablissement" {
                (csrf(q))
                fieldset {
                    legend { "L'entité juridique" }
                    p.champ { label for="siret" { "SIRET" } input id="siret" value=(e.siret) readonly; }
                    (entree("numero_activite", "Numéro de déclaration d'activité", &e.numero_activite, erreurs))
                    (entree("raison_sociale", "Raison sociale", &e.raison_sociale, erreurs))
                }
                (bloc_site("sp", "Site principal", &e.site_principal, erreurs, false))
                @for (i, s) in e.sites.iter().enumerate() {
                    (bloc_site(&format!("s{}", i + 1), &format!("Site secondaire {}", i + 1), s, erreurs, true))
                }
                @if e.sites.len() < MAX_SITES {
                    (bloc_site(&format!("s{}", e.sites.len() + 1), "Ajouter un site secondaire", &Site::default(), erreurs, false))
                }
                fieldset {
                    legend { "Contact de l'organisme" }
                    (entree("c_nom", "Nom", &contact.nom, erreurs))
                    (entree("c_email", "Adresse électronique", &contact.email, erreurs))
                    (entree("c_telephone", "Téléphone", &contact.telephone, erreurs))
                }
                fieldset {
                    legend { "Domaines de formation (Formacode)" }
                    ul.formacodes {
                        @for c in &e.formacodes {
                            li { (c) " — " (refs.formacode_libelle(c).unwrap_or("?")) }
                        }
                    }
                    (entree("formacodes", "Codes (séparés par des espaces ; retirez un code pour l'enlever)", &e.formacodes.join(" "), erreurs))
                    p.champ {
                        label for="formacode_q" { "Chercher un domaine dans le thésaurus" }
                        input id="formacode_q" name="formacode_q" type="search" value=(recherche);
                        button type="submit" name="chercher" value="1" { "Chercher" }
                    }
                    @if !trouves.is_empty() {
                        fieldset.propositions {
                            legend { "Suggestions : cochez pour ajouter" }
                            @for (code, libelle) in trouves {
                                p { input type="checkbox" id={ "fc-" (code) } name="ajout_formacode" value=(code);
                                    label for={ "fc-" (code) } { " " (libelle) " (" (code) ")" } }
                            }
                        }
                    } @else if !recherche.is_empty() {
                        p.aide role="status" { "Aucun domaine ne contient « " (recherche) " »." }
                    }
                }
                p { button type="submit" { "Enregistrer" } }
            }
        },
    )
}

pub(super) async fn page_get(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
    let q = match connecte(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    let Some(siret) = q.siret().map(str::to_string) else {
        return introuvable(Some(&q));
    };
    bloquant(move || match app.store.etablissement(&siret) {
        Ok(e) => {
            let e = e.unwrap_or(Etablissement {
                siret,
                ..Default::default()
            });
            ok(vue(&q, &e, &[], "", &[], &app.refs, false))
        }
        Err(e) => erreur_stockage(&e),
    })
    .await
}

pub(super) async fn post(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    let Some(siret) = q.siret().map(str::to_string) else {
        return introuvable(Some(&q));
    };
    bloquant(move || {
        let avant = match app.store.etablissement(&siret) {
            Ok(e) => e.unwrap_or(Etablissement {
                siret: siret.clone(),
                ..Default::default()
            }),
            Err(e) => return erreur_stockage(&e),
        };
        let mut champs: BTreeMap<String, String> = BTreeMap::new();
        let mut ajouts: Vec<String> = Vec::new();
        for (k, v) in form_urlencoded::parse(&envoi.corps).take(1000) {
            if k == "ajout_formacode" {
                ajouts.push(v.into_owned());
            } else {
                champs.insert(k.into_owned(), v.chars().take(300).collect());
            }
        }
        let get = |k: &str| champs.get(k).cloned().unwrap_or_default();
        let mut erreurs: Vec<(String, String)> = Vec::new();
        let mut e = avant.clone();
        let nda = get("numero_activite").trim().to_string();
        if nda.chars().count() != 11 || !nda.chars().all(|c| c.is_ascii_alphanumeric()) {
            erreurs.push((
                "numero_activite".into(),
                "numéro de déclaration d'activité : 11 chiffres ou lettres".into(),
            ));
        } else {
            e.numero_activite = nda;
        }
        let rs = get("raison_sociale").trim().to_string();
        if rs.is_empty() || rs.chars().count() > 250 {
            erreurs.push((
                "raison_sociale".into(),
                "raison sociale : de 1 à 250 caractères".into(),
            ));
        } else {
            e.raison_sociale = rs;
        }
        let lire_site =
            |p: &str, ancien: &Site, erreurs: &mut Vec<(String, String)>| -> Option<Site> {
                let (cp, ville) = (get(&format!("{p}_codepostal")), get(&format!("{p}_ville")));
                let nom = get(&format!("{p}_nom")).trim().to_string();
                let adresse = get(&format!("{p}_adresse")).trim().to_string();
                if cp.trim().is_empty()
                    && ville.trim().is_empty()
                    && nom.is_empty()
                    && adresse.is_empty()
                {
                    return None;
                }
                match commune(&app.refs, &cp, &ville) {
                    Ok(c) => Some(Site { nom, adresse, ..c }),
                    Err(m) => {
                        erreurs.push((format!("{p}_codepostal"), m));
                        // Kept as typed, so that nothing is lost; placed once corrected.
                        Some(Site {
                            nom,
                            adresse,
                            codepostal: cp,
                            ville,
                            ..ancien.clone()
                        })
                    }
                }
            };
        if let Some(s) = lire_site("sp", &avant.site_principal, &mut erreurs) {
            e.site_principal = s;
        } else {
            erreurs.push((
                "sp_codepostal".into(),
                "le site principal est obligatoire".into(),
            ));
        }
        let mut sites = Vec::new();
        for i in 1..=(avant.sites.len() + 1).min(MAX_SITES) {
            let p = format!("s{i}");
            if champs.contains_key(&format!("{p}_supprimer")) {
                continue;
            }
            let ancien = avant.sites.get(i - 1).cloned().unwrap_or_default();
            if let Some(s) = lire_site(&p, &ancien, &mut erreurs) {
                sites.push(s);
            }
        }
        e.sites = sites;
        let contact = ContactOrg {
            nom: get("c_nom").trim().chars().take(100).collect(),
            email: get("c_email").trim().to_string(),
            telephone: get("c_telephone")
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '+')
                .take(20)
                .collect(),
        };
        if !contact.email.is_empty() {
            if let Err(m) = crate::accounts::email(&contact.email) {
                erreurs.push(("c_email".into(), m));
            }
        }
        e.contacts = vec![contact];
        let mut codes = get("formacodes");
        for a in &ajouts {
            codes.push(' ');
            codes.push_str(a);
        }
        match formacodes_connus(&app.refs, &codes) {
            Ok(v) => e.formacodes = v,
            Err(m) => erreurs.push(("formacodes".into(), m)),
        }
        if let Err(err) = app.store.enregistrer_etablissement(&e, &q.auteur()) {
            return erreur_stockage(&err);
        }
        let recherche = get("formacode_q");
        let trouves = if champs.contains_key("chercher") {
            suggestions(&app.refs, &recherche, 15)
        } else {
            vec![]
        };
        let status = if erreurs.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        prive(page(
            status,
            vue(&q, &e, &erreurs, &recherche, &trouves, &app.refs, true),
        ))
    })
    .await
}
