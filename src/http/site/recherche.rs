//! Home and results pages. The results page takes the API's parameters (every state is a
//! shareable URL), plus what a form sends: empty fields, a commune typed by name.

use super::{date_fr, euros, gabarit, page_erreur};
use crate::http::params::{self, Recherche};
use crate::http::App;
use crate::referentiel::departements_region;
use crate::search::comprendre::Compris;
use crate::search::index::jour;
use crate::search::query::{Reponse, Resultat, ValeurFacette};
use crate::search::widen::Widening;
use hyper::StatusCode;
use maud::{html, Markup, PreEscaped};

type Params = Vec<(String, String)>;

fn qs(p: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(p.iter())
        .finish()
}

fn url(p: &[(String, String)]) -> String {
    format!("/recherche?{}", qs(p))
}

fn val<'a>(p: &'a [(String, String)], k: &str) -> &'a str {
    p.iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// `p` without `k`, then with `k=v` for each of `vals`; back to page 1.
fn avec(p: &[(String, String)], k: &str, vals: &[&str]) -> Params {
    let mut out: Params = p
        .iter()
        .filter(|(n, _)| n != k && n != "page")
        .cloned()
        .collect();
    out.extend(vals.iter().map(|v| (k.to_string(), v.to_string())));
    out
}

/// `p` with `k=v` added, or removed when present (a facet value's link).
fn bascule(p: &[(String, String)], k: &str, v: &str) -> Params {
    let present = p.iter().any(|(n, x)| n == k && x == v);
    let mut out: Params = p
        .iter()
        .filter(|(n, x)| !(n == k && x == v) && n != "page")
        .cloned()
        .collect();
    if !present {
        out.push((k.into(), v.into()));
    }
    out
}

/// What the "where" field's text became, when it was not simply one commune.
enum Lieu {
    /// Several communes have that name: the first was taken, the others are offered.
    Ambigu { tape: String, autres: Vec<String> },
    /// No commune has that name: the search runs without a place.
    Inconnu(String),
}

/// What a form sends, made into API parameters. A commune typed by name (with or without
/// accents, hyphens or "st", or « Nantes (44) » as suggestions show it) or by postal code
/// becomes its INSEE code: a place a person typed never makes an error page.
fn nettoyer(app: &App, query: &str) -> (Params, Option<Lieu>) {
    let mut p: Params = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .map(|(k, v)| (k, v.trim().to_string()))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let mut lieu = None;
    if let (Some(moteur), Some(i)) = (
        app.moteur.as_ref(),
        p.iter().position(|(k, _)| k == "commune"),
    ) {
        let v = p[i].1.clone();
        if !app.refs.communes.contains_key(&v) {
            let trouvees = moteur.lexique().communes_nommees(&app.refs, &v);
            match trouvees.split_first() {
                Some((premiere, autres)) => {
                    p[i].1 = premiere.clone();
                    // When the region has one, namesakes elsewhere are not worth a question.
                    let region = |c: &String| {
                        app.refs.communes.get(c).is_some_and(|c| {
                            departements_region().contains(&c.departement.as_str())
                        })
                    };
                    let autres: Vec<&String> = if region(premiere) {
                        autres.iter().filter(|c| region(c)).collect()
                    } else {
                        autres.iter().collect()
                    };
                    // A postal code shared by several communes is one place, not a choice.
                    let cp = v.len() == 5 && v.bytes().all(|b| b.is_ascii_digit());
                    if !autres.is_empty() && !cp {
                        lieu = Some(Lieu::Ambigu {
                            tape: v,
                            autres: autres.into_iter().take(8).cloned().collect(),
                        });
                    }
                }
                None => {
                    p.remove(i);
                    lieu = Some(Lieu::Inconnu(v));
                }
            }
        }
    }
    let place = p
        .iter()
        .any(|(k, _)| k == "commune" || k == "lat" || k == "lon");
    // Defaults add nothing to the URL; a radius means nothing without a place.
    let defaut = |k: &str, v: &str| (k == "tri" && v == "pertinence") || (k == "page" && v == "1");
    p.retain(|(k, v)| (k != "rayon" || place) && !defaut(k, v));
    (p, lieu)
}

/// The notice about the place typed: the other communes of that name, or none found.
fn avis_lieu(app: &App, p: &[(String, String)], lieu: &Option<Lieu>) -> Markup {
    let nom = |c: &str| {
        app.refs
            .communes
            .get(c)
            .map(|c| format!("{} ({})", c.nom, c.departement))
            .unwrap_or_else(|| c.to_string())
    };
    html! {
        @match lieu {
            Some(Lieu::Ambigu { tape, autres }) => {
                p.avis-lieu role="status" {
                    "« " (tape) " » : recherche autour de " strong { (nom(val(p, "commune"))) } ". Vous pensiez à "
                    @for (i, c) in autres.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href=(url(&avec(p, "commune", &[c.as_str()]))) { (nom(c)) }
                    }
                    " ?"
                }
            }
            Some(Lieu::Inconnu(tape)) => {
                p.avis-lieu role="status" {
                    "Aucune commune ne s'appelle « " (tape) " » : la recherche porte sur toute la région. Essayez un code postal ou choisissez une commune dans la liste."
                }
            }
            None => {}
        }
    }
}

/// What the engine understood in the words typed (a town, a level, "cpf"…), each shown as a
/// chip whose ✕ keeps those words as plain words (`litteral=`).
fn puces_comprises(p: &[(String, String)], compris: &[Compris]) -> Markup {
    html! {
        @if !compris.is_empty() {
            p.compris {
                "Compris : "
                @for c in compris {
                    @let sans: Params = p
                        .iter()
                        .filter(|(k, _)| k != "page")
                        .cloned()
                        .chain(std::iter::once(("litteral".to_string(), c.texte.clone())))
                        .collect();
                    a.puce href=(url(&sans)) title={ "« " (c.texte) " » : ne pas l'interpréter" }
                        aria-label={ "Ne pas interpréter « " (c.texte) " » comme " (c.libelle) } {
                        (c.libelle) " ✕"
                    }
                    " "
                }
            }
        }
    }
}

/// The search form, filled with the current parameters.
fn formulaire(p: &[(String, String)], app: &App) -> Markup {
    let commune = val(p, "commune");
    let commune_nom = app
        .refs
        .communes
        .get(commune)
        .map(|c| format!("{} ({})", c.nom, c.departement))
        .unwrap_or_else(|| commune.to_string());
    let rayon = match val(p, "rayon") {
        "" => "30",
        r => r,
    };
    html! {
        form.recherche action="/recherche" method="get" role="search" {
            div.champ.quoi {
                label for="q" { "Quoi ? " span.aide { "métier, formation, mot-clé, code Formacode ou RNCP" } }
                input #q type="search" name="q" value=(val(p, "q")) autocomplete="off"
                    data-suggestions="q" aria-autocomplete="list" aria-controls="q-liste" aria-expanded="false";
                ul #q-liste.suggestions role="listbox" hidden {}
            }
            div.champ.ou {
                label for="commune" { "Où ? " span.aide { "commune ou code postal" } }
                input #commune type="text" name="commune" value=(commune_nom) autocomplete="off"
                    data-suggestions="commune" aria-autocomplete="list" aria-controls="commune-liste" aria-expanded="false";
                ul #commune-liste.suggestions role="listbox" hidden {}
            }
            div.champ.rayon {
                label for="rayon" { "Rayon" }
                select #rayon name="rayon" {
                    @for r in ["10", "20", "30", "50", "100"] {
                        option value=(r) selected[r == rayon] { (r) " km" }
                    }
                }
            }
            // Folded on a phone by site.js (unless a date is set): the results first.
            details.criteres open {
                summary { "Dates" }
                div.champ.quand {
                    label for="debut_min" { "Début entre le" }
                    input #debut_min type="date" name="debut_min" value=(val(p, "debut_min"));
                    label for="debut_max" { "et le" }
                    input #debut_max type="date" name="debut_max" value=(val(p, "debut_max"));
                }
            }
            @for (k, v) in p.iter().filter(|(k, _)| !["q", "commune", "rayon", "debut_min", "debut_max", "page", "litteral"].contains(&k.as_str())) {
                input type="hidden" name=(k) value=(v);
            }
            button type="submit" { "Rechercher" }
        }
    }
}

pub fn accueil(app: &App, base: &str) -> Markup {
    gabarit(
        "Trouver une formation",
        &format!("{base}/"),
        html! {
            h1 { "Trouver une formation en " (crate::referentiel::nom_region()) }
            p.chapeau { "Toute l'offre de formation professionnelle de la région, financée ou certifiante, vérifiée par le Carif-Oref." }
            (formulaire(&[], app))
            h2 { "Exemples" }
            ul.exemples {
                // Typed as people type them: the results page shows what it understood.
                li { a href="/recherche?q=aide-soignante" { "aide-soignante" } }
                li { a href="/recherche?q=comptabilit%C3%A9+loire-atlantique" { "comptabilité loire-atlantique" } }
                li { a href="/recherche?q=cariste+le+mans" { "cariste le mans" } }
                li { a href="/recherche?q=anglais+%C3%A0+distance" { "anglais à distance" } }
                li { a href="/recherche?q=cpf+secr%C3%A9taire" { "cpf secrétaire" } }
            }
        },
        None,
    )
}

/// A facet value's link (the URL with that value toggled) and whether it is selected. A date
/// bucket (`1m`, `3m`, `6m`) stands for the window from today to that many months ahead.
fn bascule_valeur(
    p: &[(String, String)],
    nom: &str,
    v: &ValeurFacette,
    aujourdhui: jiff::civil::Date,
) -> (Params, bool) {
    if nom != "debut" {
        return (bascule(p, nom, &v.valeur), v.selectionne);
    }
    let m: i64 = v.valeur.trim_end_matches('m').parse().unwrap_or(1);
    let (a, b) = (
        aujourdhui.to_string(),
        (aujourdhui + jiff::Span::new().days(m * 30)).to_string(),
    );
    if val(p, "debut_max") == b {
        (avec(&avec(p, "debut_min", &[]), "debut_max", &[]), true)
    } else {
        (
            avec(&avec(p, "debut_min", &[&a]), "debut_max", &[&b]),
            false,
        )
    }
}

fn facette(p: &[(String, String)], nom: &str, titre: &str, vals: &[ValeurFacette]) -> Markup {
    if vals.is_empty() {
        return html! {};
    }
    let aujourdhui = jiff::Zoned::now().date();
    // Formacode: children right under their parent.
    let profondeur = |v: &ValeurFacette| -> usize {
        let mut d = 0;
        let mut p = v.parent.clone();
        while let Some(x) = p {
            match vals.iter().find(|w| w.valeur == x) {
                Some(w) if d < 5 => {
                    d += 1;
                    p = w.parent.clone();
                }
                _ => break,
            }
        }
        d
    };
    let mut ordre: Vec<&ValeurFacette> = Vec::new();
    if nom == "formacode" {
        fn poser<'a>(
            vals: &'a [ValeurFacette],
            parent: Option<&str>,
            out: &mut Vec<&'a ValeurFacette>,
        ) {
            for v in vals.iter().filter(|v| {
                let p = v
                    .parent
                    .as_deref()
                    .filter(|p| vals.iter().any(|w| w.valeur == *p));
                p == parent
            }) {
                if out.len() < 60 && !out.iter().any(|o| o.valeur == v.valeur) {
                    out.push(v);
                    poser(vals, Some(&v.valeur), out);
                }
            }
        }
        poser(vals, None, &mut ordre);
    } else {
        ordre = vals.iter().take(30).collect();
    }
    html! {
        details.facette open[vals.iter().any(|v| v.selectionne) || ["departement", "debut", "financeur"].contains(&nom)] {
            summary { h3 { (titre) } }
            ul {
                @for v in ordre {
                    @let (lien, choisi) = bascule_valeur(p, nom, v, aujourdhui);
                    li style=(format!("--niveau:{}", if nom == "formacode" { profondeur(v) } else { 0 })) {
                        a.valeur href=(url(&lien)) aria-pressed=(if choisi { "true" } else { "false" }) {
                            span.case aria-hidden="true" { @if choisi { "☑" } @else { "☐" } }
                            " " (v.libelle) " "
                            span.nombre { "(" (v.nombre) ")" }
                        }
                    }
                }
            }
        }
    }
}

/// One hit; its link says which search it came from (`rq`), so that the click is counted
/// for that query (Sofi's own link, no script).
fn resultat(r: &Resultat, cle: Option<&str>) -> Markup {
    let mut lien = format!(
        "/formation/{}",
        form_urlencoded::byte_serialize(r.formation_numero.as_bytes()).collect::<String>()
    );
    if let Some(c) = cle {
        lien.push_str("?rq=");
        lien.extend(form_urlencoded::byte_serialize(c.as_bytes()));
    }
    html! {
        li.resultat {
            article {
                h3 { a href=(lien) { (r.intitule) } }
                p.organisme { (r.organisme) }
                p.lieu {
                    @if r.a_distance { span.badge { "À distance" } " " }
                    @if let Some(c) = &r.commune_nom {
                        (c) @if let Some(d) = &r.departement { " (" (d) ")" }
                    }
                    @if let Some(km) = r.distance_km { " · à " (format!("{km:.1}").replace('.', ",")) " km" }
                }
                (decision(r))
                @if !r.prochaines_sessions.is_empty() {
                    ul.sessions aria-label="Prochaines sessions" {
                        @for s in &r.prochaines_sessions {
                            li {
                                @match (&s.debut, &s.fin) {
                                    (Some(d), Some(f)) => { "du " (date_fr(d)) " au " (date_fr(f)) }
                                    (Some(d), None) => { "à partir du " (date_fr(d)) }
                                    (None, Some(f)) => { "jusqu'au " (date_fr(f)) }
                                    (None, None) => { "dates à venir" }
                                }
                                @if let Some(e) = s.recrutement {
                                    " " span class={ "recrutement " (e.replace('é', "e")) } {
                                        (match e { "ouvert" => "inscriptions ouvertes", "fermé" => "inscriptions fermées", _ => "inscriptions suspendues" })
                                    }
                                }
                            }
                        }
                        @if r.autres_sessions > 0 {
                            li.autres { "+" (r.autres_sessions) " autre" @if r.autres_sessions > 1 { "s" } " session" @if r.autres_sessions > 1 { "s" } }
                        }
                    }
                }
                @for e in &r.extraits {
                    // highlights (search::extraits) escape the text and only add <b>.
                    p.extrait { (PreEscaped(e)) }
                }
            }
        }
    }
}

/// What a person decides on: who pays, price, length, level.
fn decision(r: &Resultat) -> Markup {
    let f = &r.financement;
    html! {
        p.decision {
            @if f.public { span.badge.finance { "Gratuit pour les demandeurs d'emploi" } " " }
            @if f.cpf { span.badge.cpf { "Éligible CPF" } " " }
            @if f.personnel && !f.public { span.badge { "Financement personnel" } " " }
            @if let Some(p) = r.prix { span.prix { (euros(p)) } " · " }
            @if let Some(h) = r.heures { span.heures { (h) "\u{a0}h" } " · " }
            @if let Some(n) = r.niveau_libelle { span.niveau { (n) } }
        }
    }
}

fn pagination(p: &[(String, String)], rep: &Reponse) -> Markup {
    let pages = (rep.total as usize).div_ceil(rep.par_page.max(1)).max(1);
    let page = rep.page;
    let lien = |n: usize| url(&avec(p, "page", &[&n.to_string()]));
    let mut numeros: Vec<usize> = (1..=pages)
        .filter(|&n| n == 1 || n == pages || n.abs_diff(page) <= 2)
        .collect();
    numeros.dedup();
    html! {
        @if pages > 1 {
            nav.pagination aria-label="Pages de résultats" {
                ul {
                    @if page > 1 { li { a href=(lien(page - 1)) rel="prev" { "‹ Précédente" } } }
                    @for (i, n) in numeros.iter().enumerate() {
                        @if i > 0 && numeros[i - 1] + 1 != *n { li.ellipse aria-hidden="true" { "…" } }
                        li {
                            @if *n == page { a aria-current="page" href=(lien(*n)) { (n) } }
                            @else { a href=(lien(*n)) aria-label=(format!("Page {n}")) { (n) } }
                        }
                    }
                    @if page < pages { li { a href=(lien(page + 1)) rel="next" { "Suivante ›" } } }
                }
            }
        }
    }
}

/// The wider searches `elargir` proposes, as links.
fn elargissements(app: &App, p: &[(String, String)], el: &[Widening]) -> Markup {
    let lien = |t: &str| -> Params {
        let sans = |p: &[(String, String)], ks: &[&str]| -> Params {
            p.iter()
                .filter(|(k, _)| !ks.contains(&k.as_str()) && k != "page")
                .cloned()
                .collect()
        };
        match t {
            "departement" => {
                let dep = app
                    .refs
                    .communes
                    .get(val(p, "commune"))
                    .map(|c| c.departement.clone())
                    .unwrap_or_default();
                let mut q = sans(p, &["commune", "rayon", "lat", "lon", "departement"]);
                q.push(("departement".into(), dep));
                q
            }
            "region" => {
                let mut q = sans(p, &["commune", "rayon", "lat", "lon", "departement"]);
                for d in departements_region() {
                    q.push(("departement".into(), d.to_string()));
                }
                q
            }
            "sans_dates" => sans(p, &["debut_min", "debut_max"]),
            _ => {
                let parents: Vec<String> = p
                    .iter()
                    .filter(|(k, _)| k == "formacode")
                    .filter_map(|(_, v)| app.refs.formacodes.get(v)?.generique.clone())
                    .collect();
                let mut q = sans(p, &["formacode"]);
                q.extend(parents.into_iter().map(|c| ("formacode".to_string(), c)));
                q
            }
        }
    };
    html! {
        @if !el.is_empty() {
            section.elargir aria-labelledby="elargir-titre" {
                h2 #elargir-titre { "Élargir la recherche" }
                ul {
                    @for e in el {
                        li { a href=(url(&lien(e.type_))) { (e.libelle) } " (" (e.nombre) ")" }
                    }
                }
            }
        }
    }
}

/// The filters that have no facet (a ROME métier, an NSF speciality, a certification), each
/// shown with its label and a link that removes it.
fn filtres_sans_facette(app: &App, p: &[(String, String)]) -> Markup {
    let actifs: Vec<(String, String)> = p
        .iter()
        .filter_map(|(k, v)| {
            let libelle = match k.as_str() {
                "rome" => {
                    let c = v.trim().to_ascii_uppercase();
                    let l = app.refs.rome.get(&c).map(String::as_str).unwrap_or("");
                    format!("Métier {c} {l}")
                }
                "nsf" => {
                    let c = v.trim().to_ascii_lowercase();
                    let l = app.refs.nsf.get(&c).map(String::as_str).unwrap_or("");
                    format!("Spécialité NSF {c} {}", l.to_lowercase())
                }
                "certification" => format!("Certification {v}"),
                _ => return None,
            };
            let reste: Vec<(String, String)> = p
                .iter()
                .filter(|x| !(x.0 == *k && x.1 == *v) && x.0 != "page")
                .cloned()
                .collect();
            Some((libelle.trim().to_string(), url(&reste)))
        })
        .collect();
    html! {
        @if !actifs.is_empty() {
            p.filtres-actifs {
                @for (libelle, sans) in &actifs {
                    a.puce href=(sans) aria-label={ "Retirer le filtre " (libelle) } { (libelle) " ✕" } " "
                }
            }
        }
    }
}

pub fn resultats(app: &App, query: &str, base: &str) -> (StatusCode, Markup) {
    let (p, lieu_tape) = nettoyer(app, query);
    let canonique = format!("{base}{}", url(&p));
    let titre_q = match val(&p, "q") {
        "" => "Formations".to_string(),
        q => format!("Formations « {q} »"),
    };
    let moteur = app.moteur.as_ref().expect("search engine present");
    let r = match params::parse::<Recherche>(&qs(&p))
        .and_then(|x| x.requete(moteur, jour(jiff::Zoned::now().date())))
    {
        Ok(r) => r,
        Err(params::ParamError { param, message }) => {
            return (
                StatusCode::BAD_REQUEST,
                page_erreur(
                    "Recherche impossible",
                    &canonique,
                    html! { "Le paramètre « " (param) " » ne va pas : " (message) },
                    formulaire(&p, app),
                ),
            )
        }
    };
    let rep = match moteur.rechercher(&r) {
        Ok(rep) => rep,
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                page_erreur(
                    "Recherche indisponible",
                    &canonique,
                    html! { (e) },
                    html! {},
                ),
            )
        }
    };
    let el = moteur.widen(&r, rep.total);
    let cle = app.analytique.recherche(moteur, &r, &rep);
    app.metriques.recherche(rep.total == 0);
    let tri = match val(&p, "tri") {
        "" => "pertinence",
        t => t,
    };
    let lieu = !val(&p, "commune").is_empty() || !val(&p, "lat").is_empty();
    let contenu = html! {
        h1 { (titre_q) }
        (formulaire(&p, app))
        div.mise-en-page {
            section.resultats aria-labelledby="nb-resultats" {
                div.entete-resultats {
                    h2 #nb-resultats aria-live="polite" {
                        @match rep.total { 0 => { "Aucune formation" } 1 => { "1 formation" } n => { (n) " formations" } }
                    }
                    form.tri action="/recherche" method="get" {
                        @for (k, v) in p.iter().filter(|(k, _)| k != "tri" && k != "page") {
                            input type="hidden" name=(k) value=(v);
                        }
                        label for="tri" { "Trier par " }
                        select #tri name="tri" {
                            option value="pertinence" selected[tri == "pertinence"] { "pertinence" }
                            option value="date" selected[tri == "date"] { "date de début" }
                            @if lieu { option value="distance" selected[tri == "distance"] { "distance" } }
                        }
                        button type="submit" { "Trier" }
                    }
                }
                (avis_lieu(app, &p, &lieu_tape))
                (puces_comprises(&p, &r.compris))
                (filtres_sans_facette(app, &p))
                @if rep.total == 0 {
                    div.vide {
                        p { "Aucune formation ne correspond à cette recherche." }
                        p { "Essayez un autre mot, un rayon plus large ou d'autres dates, ou " a href="/" { "recommencez" } "." }
                    }
                }
                ol.liste-resultats start=(((rep.page - 1) * rep.par_page + 1).to_string()) {
                    @for r in &rep.resultats { (resultat(r, cle.as_deref())) }
                }
                (elargissements(app, &p, &el))
                (pagination(&p, &rep))
            }
            // After the results in the page (first on a phone); beside them on a wide screen.
            // Collapsed on a phone by site.js.
            aside.facettes aria-label="Affiner" {
                details.panneau open {
                summary { h2 { "Affiner" } }
                @for (nom, titre) in [("debut", "Début"), ("departement", "Département"), ("formacode", "Domaine"), ("financeur", "Financement"), ("public", "Public"), ("certifiante", "Certification"), ("niveau", "Niveau de sortie"), ("voie", "Voie"), ("a_distance", "À distance")] {
                    @if let Some(v) = rep.facettes.get(nom) { (facette(&p, nom, titre, v)) }
                }
                }
            }
        }
    };
    (StatusCode::OK, gabarit(&titre_q, &canonique, contenu, None))
}
