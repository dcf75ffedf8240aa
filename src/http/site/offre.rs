//! The offer page: the F-A-S-D in plain French (what you learn, certification and level,
//! where and when, who can attend, who pays for whom, the organisation and how to register),
//! with schema.org `Course` / `CourseInstance` JSON-LD.

use super::offre_details;
use super::{date_fr, euros, gabarit, json_ld, page_erreur};
use crate::http::App;
use crate::model::{lheo_date_fr, Action, Adresse, Coordonnees, Formation, LheoDate, Node, Voie};
use hyper::StatusCode;
use maud::{html, Markup};
use serde_json::json;

fn date_lheo(d: &str) -> Option<String> {
    match LheoDate::parse(d) {
        Ok(LheoDate::Date(d)) => Some(d.to_string()),
        _ => None,
    }
}

fn adresse(a: &Adresse) -> Markup {
    html! {
        @if let Some(d) = &a.denomination { (d) br; }
        @for l in &a.lignes { (l) br; }
        (a.codepostal) " " (a.ville)
    }
}

/// The texts of the descendants named `nom` (each `numtel` of a `telfixe`, each `urlweb` of
/// a `web` or `url-…`), each its own value.
fn valeurs<'a>(n: &'a Node, nom: &'a str) -> Vec<&'a str> {
    let mut out = Vec::new();
    if n.name == nom && !n.text.trim().is_empty() {
        out.push(n.text.trim());
    }
    for c in &n.children {
        out.extend(valeurs(c, nom));
    }
    out
}

/// A web address, as a link when it is an `http(s)` one.
pub(super) fn lien(u: &str) -> Markup {
    html! {
        @if u.starts_with("http://") || u.starts_with("https://") { a href=(u) rel="nofollow" { (u) } } @else { (u) }
    }
}

/// Each web address its own link.
pub(super) fn liens(n: &Node) -> Markup {
    html! {
        @for (i, u) in valeurs(n, "urlweb").into_iter().enumerate() {
            @if i > 0 { ", " }
            (lien(u))
        }
    }
}

/// Each phone number its own `tel:` link.
pub(super) fn telephones(n: &Node) -> Markup {
    html! {
        @for (i, t) in valeurs(n, "numtel").into_iter().enumerate() {
            @if i > 0 { ", " }
            a href={ "tel:" (t.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect::<String>()) } { (t) }
        }
    }
}

fn coordonnees(c: &Coordonnees) -> Markup {
    html! {
        @if let Some(a) = &c.adresse { p { (adresse(a)) } }
        ul.contact {
            @if let Some(t) = &c.telfixe { li { "Téléphone : " (telephones(t)) } }
            @if let Some(t) = &c.portable { li { "Portable : " (telephones(t)) } }
            @if let Some(m) = &c.courriel { li { "Courriel : " a href=(format!("mailto:{m}")) { (m) } } }
            @if let Some(w) = &c.web { li { "Site : " (liens(w)) } }
        }
    }
}

/// Paragraphs of a LHÉO text (line breaks kept, its allowed formatting read).
fn paragraphes(t: &str) -> Markup {
    super::texte_riche::texte_riche(t)
}

fn action(app: &App, f: &Formation, a: &Action) -> Markup {
    let refs = &app.refs;
    let lieu = a.lieux.iter().find_map(|l| l.coordonnees.adresse.as_ref());
    let lieux: Vec<&crate::model::Lieu> = a
        .lieux
        .iter()
        .filter(|l| l.coordonnees.adresse.is_some())
        .collect();
    html! {
        section.action aria-label=(format!("Action {}", a.numero)) {
            h3 {
                @if let Some(l) = lieu { (l.ville) } @else { "Lieu à préciser" }
                @if a.a_distance() { " — à distance" }
            }
            dl {
                dt { @if lieux.len() > 1 { "Lieux" } @else { "Lieu" } }
                dd {
                    @if lieux.is_empty() { "non précisé" }
                    @for (i, l) in lieux.iter().enumerate() {
                        @if i > 0 { br; br; }
                        @if let Some(ad) = &l.coordonnees.adresse { (adresse(ad)) }
                        @if let Some(t) = &l.coordonnees.telfixe { br; "Téléphone : " (telephones(t)) }
                        @if let Some(u) = offre_details::uai(&l.uai) { br; "UAI " (u) }
                    }
                }
                @let voies: std::collections::BTreeSet<Voie> = a.sessions.iter().map(|s| Voie::de_session(f, s)).collect();
                @if voies.iter().any(|v| *v != Voie::Continue) {
                    dt { "Voie" } dd.voie { (voies.iter().map(|v| v.libelle()).collect::<Vec<_>>().join(", ")) }
                }
                dt { "Rythme" } dd { (a.rythme) }
                @if let Some(h) = a.nombre_heures_total { dt { "Durée" } dd { (h) " heures" @if let Some(c) = a.nombre_heures_centre { " dont " (c) " en centre" } @if let Some(e) = a.nombre_heures_entreprise { ", " (e) " en entreprise" } } }
                dt { "Entrées" } dd { @if a.entrees_permanentes() { "entrées et sorties permanentes" } @else { "à dates fixes" } }
                dt { "Qui peut s'inscrire ?" }
                dd {
                    ul { @for p in &a.publics { li { (refs.formacode_libelle(&p.code).unwrap_or(&p.code)) } } }
                    @if let Some(i) = &a.info_public_vise { (paragraphes(i)) }
                    @if !a.conditions_specifiques.is_empty() && a.conditions_specifiques != "-" { p { "Conditions :" } (paragraphes(&a.conditions_specifiques)) }
                }
                dt { "Qui finance ?" }
                dd {
                    ul {
                        @for f in &a.financeurs {
                            li { (refs.libelle("dict-financeurs", &f.code_financeur).unwrap_or(&f.code_financeur))
                                @if let Some(n) = f.nb_places_financees { " (" (n) " places financées)" } }
                        }
                    }
                    @if a.prise_en_charge_frais_possible == "1" { p { "Une prise en charge des frais est possible." } }
                }
                @if let Some(d) = &a.duree_indicative { dt { "Durée indicative" } dd { (d) } }
                @if let Some(p) = &a.prix_total_ttc {
                    dt { "Prix" }
                    dd { @match a.prix_euros() { Some(x) => { (euros(x)) " TTC" } None => { (p) } } }
                }
                @if let Some(u) = &a.url { dt { "En savoir plus" } dd { (liens(u)) } }
                @if let Some(p) = &a.acces_handicapes { dt { "Accessibilité" } dd { (p) } }
                (offre_details::action(refs, a))
                (offre_details::formateurs(refs, a))
            }
            h4 { "Sessions" }
            ul.sessions {
                @for s in &a.sessions {
                    li {
                        @match (date_lheo(&s.periode.debut), date_lheo(&s.periode.fin)) {
                            // Month or year precision (`AAAAMM00`) reads as such.
                            (Some(_), Some(_)) if s.periode.fin.ends_with("00") => { "Du " (lheo_date_fr(&s.periode.debut)) ", jusqu'en " (lheo_date_fr(&s.periode.fin).trim_start_matches("année ")) }
                            (Some(_), Some(_)) => { "Du " (lheo_date_fr(&s.periode.debut)) " au " (lheo_date_fr(&s.periode.fin)) }
                            (Some(_), None) => { "À partir du " (lheo_date_fr(&s.periode.debut)) }
                            _ => { "Dates à préciser" }
                        }
                        @match s.etat_recrutement.as_deref() {
                            Some("2") => { " " strong.recrutement-ferme { "— recrutement fermé" } }
                            Some("3") => { " " strong.recrutement-ferme { "— recrutement suspendu" } }
                            Some("1") => { " — recrutement ouvert" }
                            _ => {}
                        }
                        @if let Some(m) = &s.modalites_inscription { " — inscription : " (m) }
                        @for u in s.details.iter().filter(|d| d.name == "url-session") { br; "En savoir plus : " (liens(u)) }
                        (offre_details::session(refs, s))
                        br;
                        span.inscription { "S'inscrire : " (s.adresse_inscription.adresse.ville) " (" (s.adresse_inscription.adresse.codepostal) ")" }
                    }
                }
            }
        }
    }
}

pub fn page(app: &App, numero: &str, base: &str) -> (StatusCode, Markup) {
    let lien = form_urlencoded::byte_serialize(numero.as_bytes()).collect::<String>();
    let canonique = format!("{base}/formation/{lien}");
    let o = match app.store.offre(numero) {
        Ok(Some(o)) if o.verdict.diffusable() => o,
        Ok(_) => {
            return (
                StatusCode::NOT_FOUND,
                page_erreur(
                    "Formation introuvable",
                    &canonique,
                    html! { "Aucune formation diffusée ne porte ce numéro. " a href="/" { "Faire une recherche" } },
                    html! {},
                ),
            )
        }
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                page_erreur("Service indisponible", &canonique, html! { (e) }, html! {}),
            )
        }
    };
    let f = &o.formation;
    let refs = &app.refs;
    let actions: Vec<&Action> = f
        .actions
        .iter()
        .enumerate()
        .filter(|(i, _)| o.verdict.diffusion.get(*i).is_some_and(|d| d.diffusee))
        .map(|(_, a)| a)
        .collect();
    let org = &f.organisme;
    let org_nom = if org.nom.is_empty() {
        &org.raison_sociale
    } else {
        &org.nom
    };
    let niveau = f.code_niveau_sortie.as_deref().and_then(|c| {
        crate::model::niveau_en_mots(crate::search::index::niveau(Some(c)))
            .or(refs.libelle("dict-niveaux", c))
    });
    let voies: std::collections::BTreeSet<Voie> = actions
        .iter()
        .flat_map(|a| a.sessions.iter().map(|s| Voie::de_session(f, s)))
        .filter(|v| *v != Voie::Continue)
        .collect();
    let instances: Vec<serde_json::Value> = actions
        .iter()
        .flat_map(|a| {
            a.sessions.iter().map(move |s| {
                let lieu = a
                    .lieux
                    .iter()
                    .find_map(|l| l.coordonnees.adresse.as_ref())
                    .unwrap_or(&s.adresse_inscription.adresse);
                json!({
                    "@type": "CourseInstance",
                    "courseMode": if a.a_distance() { "online" } else { "onsite" },
                    "startDate": date_lheo(&s.periode.debut),
                    "endDate": match LheoDate::parse_fin(&s.periode.fin) {
                        Ok(LheoDate::Date(d)) => Some(d.to_string()),
                        _ => None,
                    },
                    "location": {"@type": "Place", "address": {"@type": "PostalAddress",
                        "streetAddress": lieu.lignes.join(", "), "postalCode": lieu.codepostal,
                        "addressLocality": lieu.ville, "addressCountry": "FR"}},
                })
            })
        })
        .collect();
    let cpf = crate::diffusion::eligible_cpf(f, refs);
    let publique = actions.iter().any(|a| a.financement_public());
    let offres: Vec<serde_json::Value> = actions
        .iter()
        .filter_map(|a| a.prix_euros())
        .map(|p| json!({"@type": "Offer", "price": p, "priceCurrency": "EUR", "category": "Paid"}))
        .collect();
    let mut cours = json!({
        "@context": "https://schema.org",
        "@type": "Course",
        "name": f.intitule,
        "description": f.objectif,
        "courseCode": f.numero,
        "url": canonique,
        "inLanguage": "fr",
        "provider": {"@type": "Organization", "name": org_nom, "identifier": org.siret},
        "hasCourseInstance": instances,
    });
    if cpf {
        cours["financialAidEligible"] = json!("CPF (compte personnel de formation)");
    }
    if !offres.is_empty() {
        cours["offers"] = json!(offres);
    }
    if let Some(c) = f.certifications.first() {
        let code = c
            .code_rncp
            .clone()
            .or(c.code_rs.clone())
            .or(c.code_certifinfo.clone());
        cours["educationalCredentialAwarded"] = json!(code);
    }
    let contenu = html! {
        nav.fil aria-label="Fil d'Ariane" { a href="/" { "Accueil" } " › " a href="/recherche" { "Recherche" } " › " span { (f.intitule) } }
        article.offre {
            h1 { (f.intitule) }
            p.organisme { "Par " (org_nom) }
            p.verifiee { "Offre vérifiée par le Carif-Oref le " (date_fr(&jiff::Timestamp::from_millisecond(o.verifiee_le).map(|t| t.to_zoned(jiff::tz::TimeZone::system()).date().to_string()).unwrap_or_default())) "." }
            div.resume {
                @if publique { span.badge.finance { "Gratuit pour les demandeurs d'emploi (financement public)" } }
                @if cpf { span.badge.cpf { "Éligible CPF" } }
                @if f.certifiante == "1" { span.badge { "Certifiante" } }
                @if actions.iter().any(|a| a.a_distance()) { span.badge { "À distance" } }
                @for v in &voies { span.badge { (v.libelle()) } }
                @if let Some(n) = niveau { span.badge { "Niveau de sortie : " (n) } }
            }
            section {
                h2 { "Ce que vous apprendrez" }
                (paragraphes(&f.objectif))
                @if !f.resultats_attendus.is_empty() { h3 { "À l'issue de la formation" } (paragraphes(&f.resultats_attendus)) }
                @if !f.contenu.is_empty() { h3 { "Programme" } (paragraphes(&f.contenu)) }
                @if let Some(u) = &f.url { p { "En savoir plus : " (liens(u)) } }
            }
            @if !f.certifications.is_empty() || !f.domaine.formacodes.is_empty() {
                section {
                    h2 { "Certification et domaine" }
                    ul {
                        @for c in &f.certifications {
                            @if let Some(r) = &c.code_rncp { li { "Répertoire national des certifications professionnelles : " (r) } }
                            @if let Some(r) = &c.code_rs { li { "Répertoire spécifique : " (r) } }
                            @for fiche in refs.fiches_certifinfo(c) { li { "Certif Info " (fiche.code) " : " (fiche.intitule) } }
                        }
                        @for fc in &f.domaine.formacodes { li { "Formacode " (fc.code) " : " (refs.formacode_libelle(&fc.code).unwrap_or("")) } }
                    }
                }
            }
            section {
                h2 { "Où et quand" }
                @for a in &actions { (action(app, f, a)) }
            }
            section {
                h2 { "L'organisme de formation" }
                p { strong { (org_nom) } @if org.raison_sociale != *org_nom { " (" (org.raison_sociale) ")" } }
                p { "SIRET " (org.siret) " · déclaration d'activité n° " (org.numero_activite) @if let Some(u) = offre_details::uai(&org.uai) { " · UAI " (u) } }
                p { a href={ "/organisme/" (org.siret) } { "Toutes les formations de cet organisme" } }
                (coordonnees(&org.coordonnees))
                @if !org.contacts.is_empty() { ul.contacts { @for c in &org.contacts { (offre_details::contact(refs, c)) } } }
                @if !f.contacts.is_empty() {
                    h3 { "Contact pour cette formation" }
                    ul.contacts { @for c in &f.contacts { (offre_details::contact(refs, c)) } }
                    @for c in &f.contacts { @if let Some(a) = &c.coordonnees.adresse { p { (adresse(a)) } } }
                }
            }
            section aria-labelledby="t-signaler" {
                h2 id="t-signaler" { "Une erreur sur cette offre ?" }
                form.signaler method="post" action={ "/formation/" (lien) } {
                    label for="signalement" { "Dites-nous ce qui est faux (sans données personnelles) : le Carif-Oref vérifie auprès de l'organisme." }
                    textarea id="signalement" name="texte" rows="3" maxlength="1000" required {}
                    p { button type="submit" { "Signaler une erreur" } }
                }
            }
        }
    };
    (
        StatusCode::OK,
        gabarit(&f.intitule, &canonique, contenu, Some(json_ld(&cours))),
    )
}
