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

/// A horizontal bar chart, with its figures as a table.
fn barres(id: &str, titre: &str, donnees: &[(String, u64)]) -> Markup {
    let max = donnees.iter().map(|d| d.1).max().unwrap_or(1).max(1) as f64;
    let h_ligne = 26.0;
    let hauteur = h_ligne * donnees.len() as f64 + 10.0;
    let (x0, largeur) = (260.0, 300.0);
    html! {
        figure.graphique aria-labelledby=(format!("{id}-titre")) {
            figcaption #(format!("{id}-titre")) { (titre) }
            svg viewBox=(format!("0 0 640 {hauteur}")) role="img" aria-labelledby=(format!("{id}-titre")) preserveAspectRatio="xMinYMin meet" {
                @for (i, (l, n)) in donnees.iter().enumerate() {
                    @let y = 5.0 + i as f64 * h_ligne;
                    @let w = (*n as f64 / max * largeur).max(1.0);
                    text x=(x0 - 8.0) y=(y + 17.0) text-anchor="end" font-size="13" fill="#1b1b1b" { (l) }
                    rect x=(x0) y=(y + 3.0) width=(format!("{w:.1}")) height="18" fill="#005a9c" rx="2" {}
                    text x=(x0 + w + 6.0) y=(y + 17.0) font-size="13" fill="#1b1b1b" { (n) }
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
                    p.chapeau { strong { (c.total) } " sessions de formation diffusées en Pays de la Loire." }
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
