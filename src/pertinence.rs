//! Relevance, measured: a judged set of queries as people type them
//! (`benches/pertinence.txt`), each with what a relevant hit is and the same need typed the way the
//! engine understood before query understanding (the "clean" query). For each query:
//! precision over the first ten hits, and the share of what the clean query finds that the
//! typed one finds too. `sofi pertinence` prints it; a test holds a floor on the demo offer.

use crate::http::params::{self, Recherche};
use crate::search::analyse::plier;
use crate::search::query::Resultat;
use crate::search::Moteur;
use serde::Serialize;
use std::collections::HashSet;

/// One judged query.
#[derive(Debug, Clone, Serialize)]
pub struct Cas {
    /// Line in the set (for messages).
    pub ligne: usize,
    /// Kind of query: `feminin`, `faute`, `abreviation`, `metier-ville`, `ville`…
    pub genre: String,
    /// As typed.
    pub q: String,
    /// The same need as search parameters the engine understood before (`q=infirmier`,
    /// `q=cariste&commune=72181&rayon=30`).
    pub propre: String,
    /// Folded pieces of a relevant hit's title (one is enough); empty (`*`): any hit the
    /// clean query also finds.
    pub attendus: Vec<String>,
}

/// The judged set shipped with Sofi.
pub const JEU: &str = include_str!("../benches/pertinence.txt");

/// Reads the set: `genre | q | propre | attendu, attendu` lines, `#` comments.
pub fn lire(texte: &str) -> Result<Vec<Cas>, String> {
    let mut out = Vec::new();
    for (i, l) in texte.lines().enumerate() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let champs: Vec<&str> = l.split('|').map(str::trim).collect();
        let [genre, q, propre, attendus] = champs[..] else {
            return Err(format!(
                "ligne {} : attendu `genre | requête | requête propre | attendus`",
                i + 1
            ));
        };
        out.push(Cas {
            ligne: i + 1,
            genre: genre.to_string(),
            q: q.to_string(),
            propre: propre.to_string(),
            attendus: if attendus == "*" {
                Vec::new()
            } else {
                attendus
                    .split(',')
                    .map(|a| plier(a.trim()))
                    .filter(|a| !a.is_empty())
                    .collect()
            },
        });
    }
    Ok(out)
}

/// How the engine did on one query.
#[derive(Debug, Clone, Serialize)]
pub struct Mesure {
    pub cas: Cas,
    /// Hits of the typed query, and of the clean one.
    pub total: u64,
    pub total_propre: u64,
    /// Relevant offers the typed or the clean query finds (0: the case cannot be judged on
    /// this offer).
    pub pertinents: usize,
    /// Relevant hits among the first ten, or among the first R when only R < 10 relevant
    /// offers exist (R-precision); 0 when none.
    pub precision: f64,
    /// Share of the clean query's hits the typed query finds too (1 when the clean one finds
    /// nothing).
    pub part: f64,
    /// The first hits' titles, for reading.
    pub premiers: Vec<String>,
}

/// Every hit of a query, all pages, in ranking order.
fn tout(moteur: &Moteur, query: &str, aujourdhui: i64) -> Result<Vec<Resultat>, String> {
    let mut out = Vec::new();
    for page in 1..=50 {
        let qs = format!("{query}&par_page=100&page={page}");
        let r = params::parse::<Recherche>(&qs)
            .and_then(|p| p.requete(moteur, aujourdhui))
            .map_err(|e| format!("« {query} » : {} : {}", e.param, e.message))?;
        let rep = moteur.rechercher(&r).map_err(|e| e.to_string())?;
        let n = rep.resultats.len();
        out.extend(rep.resultats);
        if n < r.par_page || out.len() as u64 >= rep.total {
            break;
        }
    }
    Ok(out)
}

fn id(h: &Resultat) -> (String, String) {
    (
        h.action_numero.clone(),
        h.commune.clone().unwrap_or_default(),
    )
}

/// Runs the set; `aujourdhui` in days since 1970 (the date the offer is searched on).
pub fn evaluer(moteur: &Moteur, jeu: &[Cas], aujourdhui: i64) -> Result<Vec<Mesure>, String> {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut out = Vec::with_capacity(jeu.len());
    for cas in jeu {
        let tape = tout(moteur, &format!("q={}", enc(&cas.q)), aujourdhui)?;
        let propre = tout(moteur, &cas.propre, aujourdhui)?;
        let ids: HashSet<_> = tape.iter().map(id).collect();
        let ids_propre: HashSet<_> = propre.iter().map(id).collect();
        // With a place, a relevant hit is given there: the clean query finds it, and around a
        // commune it is not distance learning (which every place search also finds, after
        // the local offers).
        let commune = cas.propre.contains("commune=");
        let lieu = commune || cas.propre.contains("departement=");
        let pertinent = |h: &Resultat| {
            let sur_place =
                !lieu || (ids_propre.contains(&id(h)) && (!commune || h.distance_km.is_some()));
            if cas.attendus.is_empty() {
                return ids_propre.contains(&id(h)) && sur_place;
            }
            let titre = plier(&h.intitule);
            cas.attendus.iter().any(|a| titre.contains(a.as_str())) && sur_place
        };
        // Precision over the first ten, or over the first R when only R < 10 relevant
        // offers exist at all (what the typed or the clean query finds): are the relevant
        // ones first?
        let mut pertinents: HashSet<_> = tape.iter().filter(|h| pertinent(h)).map(id).collect();
        pertinents.extend(propre.iter().filter(|h| pertinent(h)).map(id));
        let k = pertinents.len().min(10);
        // The first page as a person sees it (ten hits, at most three of one organisme).
        let r = params::parse::<Recherche>(&format!("q={}&par_page=10", enc(&cas.q)))
            .and_then(|p| p.requete(moteur, aujourdhui))
            .map_err(|e| e.message)?;
        let page = moteur.rechercher(&r).map_err(|e| e.to_string())?.resultats;
        let precision = if k == 0 {
            0.0
        } else {
            page.iter().take(k).filter(|h| pertinent(h)).count() as f64 / k as f64
        };
        let part = if ids_propre.is_empty() {
            1.0
        } else {
            ids_propre.intersection(&ids).count() as f64 / ids_propre.len() as f64
        };
        out.push(Mesure {
            cas: cas.clone(),
            total: tape.len() as u64,
            total_propre: propre.len() as u64,
            pertinents: pertinents.len(),
            precision,
            part,
            premiers: page.iter().take(3).map(|h| h.intitule.clone()).collect(),
        });
    }
    Ok(out)
}

/// Mean precision and share, overall and per kind.
#[derive(Debug, Clone, Serialize)]
pub struct Bilan {
    pub genre: String,
    pub requetes: usize,
    pub precision: f64,
    pub part: f64,
    /// Queries that find less than 80 % of what the clean query finds.
    pub sous_80: usize,
}

/// The cases no relevant offer answers (the set does not fit the offer searched).
pub fn non_jugeables(mesures: &[Mesure]) -> Vec<&Cas> {
    mesures
        .iter()
        .filter(|m| m.pertinents == 0)
        .map(|m| &m.cas)
        .collect()
}

pub fn bilans(mesures: &[Mesure]) -> Vec<Bilan> {
    let mut genres: Vec<String> = Vec::new();
    for m in mesures {
        if !genres.contains(&m.cas.genre) {
            genres.push(m.cas.genre.clone());
        }
    }
    // A query no relevant offer answers on this offer cannot be judged: left out (and
    // counted), the set is to be fixed.
    let bilan = |genre: &str, v: Vec<&Mesure>| {
        let v: Vec<&Mesure> = v.into_iter().filter(|m| m.pertinents > 0).collect();
        Bilan {
            genre: genre.to_string(),
            requetes: v.len(),
            precision: v.iter().map(|m| m.precision).sum::<f64>() / v.len().max(1) as f64,
            part: v.iter().map(|m| m.part).sum::<f64>() / v.len().max(1) as f64,
            sous_80: v.iter().filter(|m| m.part < 0.8).count(),
        }
    };
    let mut out: Vec<Bilan> = genres
        .iter()
        .map(|g| bilan(g, mesures.iter().filter(|m| m.cas.genre == *g).collect()))
        .collect();
    out.push(bilan("tout", mesures.iter().collect()));
    out
}
