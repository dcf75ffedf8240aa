//! The offer at a glance: sessions by domain, by département and by month of start, counted
//! from the search index's views (every live session of a diffusable action, a few ms at
//! 100k sessions) and drawn as SVG bar charts here, with the figures as a table for screen
//! readers.

use super::gabarit;
use crate::http::App;
use crate::search::index::jour;
use maud::{html, Markup};

struct Comptes {
    domaines: Vec<(String, u64)>,
    departements: Vec<(String, u64)>,
    mois: Vec<(String, u64)>,
    total: u64,
}

fn compter(app: &App) -> Option<Comptes> {
    let m = app.moteur.as_ref()?;
    let st = m.stats(jour(jiff::Zoned::now().date())).ok()?;
    let debut_mois = st.debut_mois;
    let (domaines, deps, mois, total) = (st.domaines, st.departements, st.mois, st.total);
    let mut domaines: Vec<(String, u64)> = domaines
        .into_iter()
        .map(|(c, n)| {
            let code = format!("{c:05}");
            let l = app
                .refs
                .formacode_libelle(&code)
                .map(str::to_string)
                .unwrap_or(code);
            (l, n)
        })
        .collect();
    domaines.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    domaines.truncate(15);
    let mut departements: Vec<(String, u64)> = deps
        .into_iter()
        .map(|(code, n)| {
            let nom = app
                .refs
                .departements
                .get(&code)
                .map(|d| format!("{} ({code})", d.nom))
                .unwrap_or(code);
            (nom, n)
        })
        .collect();
    departements.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    departements.truncate(12);
    const NOMS: [&str; 12] = [
        "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
        "déc.",
    ];
    let mois = (0..12)
        .map(|k| {
            let d = debut_mois + jiff::Span::new().months(k as i64);
            (
                format!("{} {}", NOMS[(d.month() - 1) as usize], d.year()),
                mois[k],
            )
        })
        .collect();
    Some(Comptes {
        domaines,
        departements,
        mois,
        total,
    })
}

/// `texte` cut at spaces into lines of at most `n` characters (a longer word stands alone).
fn couper(texte: &str, n: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for mot in texte.split_whitespace() {
        match out.last_mut() {
            Some(l) if l.chars().count() + 1 + mot.chars().count() <= n => {
                l.push(' ');
                l.push_str(mot);
            }
            _ => out.push(mot.to_string()),
        }
    }
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

/// A horizontal bar chart, with its figures as a table. Each label sits above its bar, so
/// that no label is clipped whatever its length and the screen's width (a narrow viewBox
/// keeps the text readable on a phone).
fn barres(id: &str, titre: &str, donnees: &[(String, u64)]) -> Markup {
    let max = donnees.iter().map(|d| d.1).max().unwrap_or(1).max(1) as f64;
    let largeur = 330.0;
    // Each row: its label's lines (15 units each), then the bar (20).
    let lignes: Vec<Vec<String>> = donnees.iter().map(|(l, _)| couper(l, 56)).collect();
    let mut y = 3.0;
    let rangs: Vec<(f64, &Vec<String>, f64, u64)> = lignes
        .iter()
        .zip(donnees)
        .map(|(ls, (_, n))| {
            let r = (y, ls, (*n as f64 / max * largeur).max(1.0), *n);
            y += 15.0 * ls.len() as f64 + 23.0;
            r
        })
        .collect();
    let hauteur = y + 3.0;
    html! {
        figure.graphique aria-labelledby=(format!("{id}-titre")) {
            figcaption #(format!("{id}-titre")) { (titre) }
            svg viewBox=(format!("0 0 400 {hauteur}")) role="img" aria-labelledby=(format!("{id}-titre")) preserveAspectRatio="xMinYMin meet" {
                @for (y, ls, w, n) in &rangs {
                    @let bas = y + 15.0 * ls.len() as f64;
                    text x="2" y=(y + 12.0) font-size="12" fill="#1b1b1b" {
                        @for (k, l) in ls.iter().enumerate() {
                            tspan x="2" dy=(if k == 0 { "0" } else { "15" }) { (l) }
                        }
                    }
                    rect x="2" y=(bas + 3.0) width=(format!("{w:.1}")) height="14" fill="#005a9c" rx="2" {}
                    text x=(w + 7.0) y=(bas + 15.0) font-size="12" fill="#1b1b1b" { (n) }
                }
            }
            details {
                summary { "Les chiffres" }
                table {
                    thead { tr { th scope="col" { "" } th scope="col" { "Sessions" } } }
                    tbody { @for (l, n) in donnees { tr { th scope="row" { (l) } td { (n) } } } }
                }
            }
        }
    }
}

pub fn page(app: &App, base: &str) -> Markup {
    let c = compter(app);
    gabarit(
        "L'offre de formation en chiffres",
        &format!("{base}/statistiques"),
        html! {
            h1 { "L'offre de formation en chiffres" }
            @match c {
                Some(c) => {
                    p.chapeau { strong { (c.total) } " sessions de formation diffusées en " (crate::referentiel::nom_region()) "." }
                    div.graphiques {
                        (barres("domaines", "Sessions par domaine (les 15 premiers)", &c.domaines))
                        (barres("departements", "Sessions par département", &c.departements))
                        (barres("mois", "Sessions par mois de début (12 prochains mois)", &c.mois))
                    }
                }
                None => { p { "Les chiffres ne sont pas disponibles : le moteur de recherche n'est pas démarré." } }
            }
        },
        None,
    )
}
