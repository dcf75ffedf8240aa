//! What the offer page shows of the parts of an offer kept as received: contacts with their
//! names and types, the organismes formateurs, the 2.3 session additions (admission,
//! cycle and apprenticeship rhythm), information dates and teachings. Codes are shown as
//! the LHÉO dictionaries' labels.

use crate::model::{lheo_date_fr, Action, Contact, Coordonnees, Node, Session};
use crate::referentiel::Referentiels;
use maud::{html, Markup};

/// The first text of the child `nom` of `n`, trimmed, if not empty.
fn texte<'a>(n: &'a Node, nom: &str) -> Option<&'a str> {
    n.children
        .iter()
        .find(|c| c.name == nom)
        .map(|c| c.text.trim())
        .filter(|t| !t.is_empty())
}

fn enfants<'a>(n: &'a Node, nom: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
    n.children.iter().filter(move |c| c.name == nom)
}

/// A code's label in LHÉO dictionary `dict`, else the code.
fn libelle<'a>(refs: &'a Referentiels, dict: &str, code: &'a str) -> &'a str {
    refs.libelle(dict, code).unwrap_or(code)
}

/// A person's name as written: civilité, first name, name.
fn nom_personne(civilite: Option<&str>, prenom: Option<&str>, nom: Option<&str>) -> String {
    [civilite, prenom, nom]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A contact of the model (`contact-formation`, `contact-organisme`): type, name, means.
pub fn contact(refs: &Referentiels, c: &Contact) -> Markup {
    let co = &c.coordonnees;
    let nom = nom_personne(
        co.civilite.as_deref(),
        co.prenom.as_deref(),
        co.nom.as_deref(),
    );
    html! {
        li.contact-personne {
            @if let Some(t) = &c.type_contact { span.type-contact { (libelle(refs, "dict-type-contact", t)) } @if !nom.is_empty() { " : " } }
            @if !nom.is_empty() { strong { (nom) } }
            (moyens(co))
        }
    }
}

/// Phone numbers, e-mail and web addresses of a `coordonnees`, each its own link.
fn moyens(co: &Coordonnees) -> Markup {
    html! {
        @if let Some(t) = &co.telfixe { " · tél. " (super::offre::telephones(t)) }
        @if let Some(t) = &co.portable { " · portable " (super::offre::telephones(t)) }
        @if let Some(m) = &co.courriel { " · " a href=(format!("mailto:{m}")) { (m) } }
        @if let Some(w) = &co.web { " · " (super::offre::liens(w)) }
    }
}

/// A `coordonnees` kept as a node (in `contact-session`, `contact-formateur`).
fn moyens_noeud(co: &Node) -> Markup {
    let nom = nom_personne(texte(co, "civilite"), texte(co, "prenom"), texte(co, "nom"));
    let adresse = enfants(co, "adresse").next();
    html! {
        @if !nom.is_empty() { strong { (nom) } }
        @if let Some(a) = adresse {
            " · " (enfants(a, "ligne").map(|l| l.text.trim()).collect::<Vec<_>>().join(", "))
            " " (texte(a, "codepostal").unwrap_or("")) " " (texte(a, "ville").unwrap_or(""))
        }
        @for t in enfants(co, "telfixe").chain(enfants(co, "portable")) { " · tél. " (super::offre::telephones(t)) }
        @if let Some(m) = texte(co, "courriel") { " · " a href=(format!("mailto:{m}")) { (m) } }
        @for w in enfants(co, "web") { " · " (super::offre::liens(w)) }
    }
}

/// A contact kept as a node: its type and its `coordonnees`.
fn contact_noeud(refs: &Referentiels, c: &Node) -> Markup {
    html! {
        li.contact-personne {
            @if let Some(t) = texte(c, "type-contact") { span.type-contact { (libelle(refs, "dict-type-contact", t)) } " : " }
            @for co in enfants(c, "coordonnees") { (moyens_noeud(co)) }
        }
    }
}

/// The UAI inside a `code-UAI-…` node.
pub fn uai(n: &Option<Node>) -> Option<&str> {
    n.as_ref().and_then(|n| texte(n, "code-UAI"))
}

/// The organismes formateurs of an action (when another organisation than the responsible
/// one teaches): name, SIRET, UAI, contacts.
pub fn formateurs(refs: &Referentiels, a: &Action) -> Markup {
    html! {
        @for o in &a.organismes_formateurs {
            dt { "Organisme formateur" }
            dd.formateur {
                strong { (texte(o, "raison-sociale-formateur").unwrap_or("non précisé")) }
                @if let Some(s) = enfants(o, "SIRET-formateur").next().and_then(|s| texte(s, "SIRET")) { " · SIRET " (s) }
                @if let Some(u) = enfants(o, "code-UAI-formateur").next().and_then(|s| texte(s, "code-UAI")) { " · UAI " (u) }
                @let contacts: Vec<&Node> = enfants(o, "contact-formateur").collect();
                @if !contacts.is_empty() { ul.contacts { @for c in contacts { (contact_noeud(refs, c)) } } }
            }
        }
    }
}

/// A `periode` node as "du … au …".
fn periode(p: &Node) -> Option<String> {
    let d = texte(p, "debut")?;
    let f = texte(p, "fin").unwrap_or("99999999");
    Some(format!("du {} au {}", lheo_date_fr(d), lheo_date_fr(f)))
}

/// The 2.3 additions of a session: admission (`recrutement`), cycle and apprenticeship
/// rhythm, session contacts.
pub fn session(refs: &Referentiels, s: &Session) -> Markup {
    html! {
        @for r in s.details.iter().filter(|d| d.name == "recrutement") {
            br;
            span.recrutement {
                "Admission : " (texte(r, "modalite-recrutement").map(|m| libelle(refs, "dict-modalite-recrutement", m)).unwrap_or("non précisée"))
                @if let Some(p) = texte(r, "code-perimetre-recrutement") { " (" (libelle(refs, "dict-perimetre-recrutement", p)) @if let Some(i) = texte(r, "infos-perimetre-recrutement") { " : " (i) } ")" }
                @if let Some(n) = texte(r, "nb-places") { " · " (n) " places" }
                @if let Some(p) = enfants(r, "periode").next().and_then(periode) { " · " (p) }
                @if let Some(h) = texte(r, "heure-debut") { " · à " (h) @if let Some(f) = texte(r, "heure-fin") { "–" (f) } }
                @if texte(r, "a-distance") == Some("1") { " · à distance" }
                @if let Some(a) = enfants(r, "adresse").next() { " · " (texte(a, "ville").unwrap_or("")) }
                @if let Some(u) = texte(r, "urlweb") { " · " (super::offre::lien(u)) }
                @if let Some(c) = texte(r, "commentaire") { " — " (c) }
            }
        }
        @for c in s.details.iter().filter(|d| d.name == "cycle") {
            br;
            span.cycle { (cycle(refs, c)) }
        }
        @let contacts: Vec<&Node> = s.details.iter().filter(|d| d.name == "contact-session").collect();
        @if !contacts.is_empty() { ul.contacts { @for c in contacts { (contact_noeud(refs, c)) } } }
    }
}

/// "Contrat d'apprentissage, 1re et 2e années, 24 places ; rythme : 2 semaines en
/// entreprise, 1 semaine en centre".
fn cycle(refs: &Referentiels, c: &Node) -> Markup {
    let annees: Vec<String> = enfants(c, "annee-cycle")
        .map(|a| match a.text.trim() {
            "1" => "1re année".to_string(),
            n => format!("{n}e année"),
        })
        .collect();
    let alternance = enfants(c, "alternance").next();
    html! {
        (texte(c, "type-cycle").map(|t| libelle(refs, "dict-type-cycle", t)).unwrap_or("Cycle"))
        @if !annees.is_empty() { ", " (annees.join(", ")) }
        @if let Some(n) = texte(c, "capacite-simultanee") { ", " (n) " places" }
        @if let Some(n) = texte(c, "capacite-cumulee") { " (" (n) " au total)" }
        @if let Some(n) = texte(c, "effectif-minimal") { ", ouvert à partir de " (n) " inscrits" }
        @if let Some(a) = alternance {
            " · " (texte(a, "type-alternance").map(|t| libelle(refs, "dict-type-alternance", t)).unwrap_or("Alternance"))
            @if let Some(r) = enfants(a, "rythme-alternance").next() {
                @let unite = texte(r, "unite-rythme-alternance").map(unite).unwrap_or(("unité", "unités"));
                " — rythme : "
                (quantite(texte(r, "unites-entreprise"), unite)) " en entreprise, "
                (quantite(texte(r, "unites-centre"), unite)) " en centre"
            }
        }
    }
}

/// Singular and plural of a `dict-unite-rythme` unit.
fn unite(code: &str) -> (&'static str, &'static str) {
    match code {
        "0" => ("heure", "heures"),
        "1" => ("demi-journée", "demi-journées"),
        "2" => ("journée", "journées"),
        "3" => ("semaine", "semaines"),
        "4" => ("mois", "mois"),
        _ => ("unité", "unités"),
    }
}

fn quantite(n: Option<&str>, (un, plusieurs): (&str, &str)) -> String {
    match n {
        Some("1") => format!("1 {un}"),
        Some(n) => format!("{n} {plusieurs}"),
        None => format!("? {plusieurs}"),
    }
}

/// Information meetings, cycle length and teachings of an action.
pub fn action(refs: &Referentiels, a: &Action) -> Markup {
    let dates: Vec<String> = a
        .dates_information
        .iter()
        .filter_map(|d| texte(d, "date"))
        .map(lheo_date_fr)
        .collect();
    html! {
        @if let Some(d) = &a.duree_cycle { dt { "Durée du cycle" } dd { (d) @if d.trim() == "1" { " an" } @else { " ans" } } }
        @if !dates.is_empty() || a.adresse_information.is_some() {
            dt { "Réunions d'information" }
            dd {
                (dates.join(", "))
                @if let Some(ad) = &a.adresse_information { @if !dates.is_empty() { " — " } (ad.adresse.lignes.join(", ")) " " (ad.adresse.codepostal) " " (ad.adresse.ville) }
            }
        }
        @if !a.enseignements.is_empty() {
            dt { "Enseignements" }
            dd {
                ul {
                    @for e in &a.enseignements {
                        li {
                            (texte(e, "libelle-enseignement").unwrap_or(""))
                            @if let Some(t) = texte(e, "type-enseignement") { " (" (libelle(refs, "dict-type-enseignement", t)) ")" }
                            @if texte(e, "obligatoire") == Some("0") { " — optionnel" }
                        }
                    }
                }
            }
        }
    }
}
