//! A year of search analytics: fills a store with 365 days of daily aggregates (N distinct
//! queries a day, default 1,500, and demand for 50 Formacode fields × 6 places), then times
//! what `/gestion/recherches?jours=365` reads and adds up.
//!
//! `cargo run --release --example analytique_an -- [N] [uniques]` (`uniques`: no query
//! comes back from one day to the next, the worst case for the monthly fold).

use sofi::store::{CleAnalytique, CompteRecherche, Store};
use std::collections::HashMap;
use std::time::Instant;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1500);
    let uniques = std::env::args().nth(2).is_some_and(|a| a == "uniques");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let t = Instant::now();
    for jour in 20_000..20_365u32 {
        let mut lot = Vec::new();
        for q in 0..n {
            lot.push((
                CleAnalytique::Requete(
                    jour,
                    format!(
                        "mot{} autre{}|departement",
                        q % 700,
                        if uniques { q + jour * n } else { q }
                    ),
                ),
                CompteRecherche {
                    recherches: 3,
                    sans_resultat: (q % 7 == 0) as u64,
                    clics: 1,
                    resultats: 30,
                },
            ));
        }
        for champ in 0..50 {
            for dep in ["44", "49", "53", "72", "85", "--"] {
                lot.push((
                    CleAnalytique::Demande(jour, format!("{:05}", 11054 + champ), dep.into()),
                    CompteRecherche {
                        recherches: 10,
                        ..Default::default()
                    },
                ));
            }
        }
        store.ajouter_analytique(&lot).unwrap();
    }
    println!("rempli : {} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let n = store.purger_analytique(0, 20_365).unwrap();
    println!(
        "{n} jours regroupés par mois en {:.2} s",
        t.elapsed().as_secs_f64()
    );
    for _ in 0..3 {
        let t = Instant::now();
        let a = store.analytique_depuis(20_000).unwrap();
        let lu = t.elapsed();
        let mut par_requete: HashMap<String, CompteRecherche> = HashMap::new();
        let mut demande: HashMap<(String, String), u64> = HashMap::new();
        for (k, c) in &a {
            match k {
                CleAnalytique::Requete(_, r) => {
                    par_requete.entry(r.clone()).or_default().ajouter(c)
                }
                CleAnalytique::Demande(_, f, d) => {
                    *demande.entry((f.clone(), d.clone())).or_default() += c.recherches
                }
            }
        }
        let mut tops: Vec<_> = par_requete.iter().collect();
        tops.sort_by_key(|x| std::cmp::Reverse(x.1.recherches));
        println!(
            "{} agrégats lus en {:.1} ms, additionnés en {:.1} ms ({} requêtes distinctes)",
            a.len(),
            lu.as_secs_f64() * 1e3,
            (t.elapsed() - lu).as_secs_f64() * 1e3,
            par_requete.len()
        );
    }
}
