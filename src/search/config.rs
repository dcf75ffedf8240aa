//! `index-config/`: the search settings IT staff edit without recompiling. Read and checked at
//! start; an error names the file and the key. The copy compiled into the binary is used when
//! the folder is absent (a binary run away from its repository).

use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("{fichier} : {message}")]
pub struct ConfigError {
    pub fichier: String,
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Champs {
    pub intitule: f32,
    pub thesaurus: f32,
    pub objectif: f32,
    pub contenu: f32,
    pub organisme: f32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analyse {
    pub mots_vides: String,
    pub synonymes: String,
    pub fautes_longueur_min: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defauts {
    pub par_page: usize,
    pub par_page_max: usize,
    pub rayon_km: f64,
    pub a_venir: bool,
    pub max_par_organisme: usize,
    pub seuil_elargir: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fichier {
    champs: Champs,
    analyse: Analyse,
    defauts: Defauts,
}

/// The checked settings, word lists loaded.
#[derive(Debug, Clone)]
pub struct Config {
    pub champs: Champs,
    pub analyse: Analyse,
    pub defauts: Defauts,
    /// Folded stop words.
    pub mots_vides: Vec<String>,
    /// Folded word → folded alternatives.
    pub synonymes: HashMap<String, Vec<String>>,
    /// Words written `mot => autre` : searched as their alternatives only (an abbreviation
    /// whose stem would match unrelated words: "info" is not "information").
    pub remplaces: std::collections::HashSet<String>,
}

const EMBARQUE: &[(&str, &str)] = &[
    (
        "recherche.toml",
        include_str!("../../index-config/recherche.toml"),
    ),
    (
        "mots-vides.txt",
        include_str!("../../index-config/mots-vides.txt"),
    ),
    (
        "synonymes.txt",
        include_str!("../../index-config/synonymes.txt"),
    ),
];

fn lire(dir: Option<&Path>, nom: &str) -> Result<(String, String), ConfigError> {
    match dir {
        Some(d) => {
            let p = d.join(nom);
            std::fs::read_to_string(&p)
                .map(|t| (p.display().to_string(), t))
                .map_err(|e| ConfigError {
                    fichier: p.display().to_string(),
                    message: e.to_string(),
                })
        }
        None => EMBARQUE
            .iter()
            .find(|(n, _)| *n == nom)
            .map(|(n, t)| (format!("index-config/{n} (intégré)"), t.to_string()))
            .ok_or_else(|| ConfigError {
                fichier: format!("index-config/{nom}"),
                message: "fichier inconnu (seuls les fichiers livrés sont intégrés au binaire)"
                    .into(),
            }),
    }
}

fn lignes(t: &str) -> impl Iterator<Item = (usize, &str)> {
    t.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split('#').next().unwrap_or("").trim()))
        .filter(|(_, l)| !l.is_empty())
}

impl Config {
    /// Reads `dir` (`sofi --index-config`; default `./index-config`), or the compiled-in
    /// copy when the folder does not exist.
    pub fn charger(dir: Option<PathBuf>) -> Result<Config, ConfigError> {
        let dir = dir
            .or_else(|| Some(PathBuf::from("index-config")))
            .filter(|d| d.is_dir());
        let (nom, texte) = lire(dir.as_deref(), "recherche.toml")?;
        let f: Fichier = toml::from_str(&texte).map_err(|e| ConfigError {
            fichier: nom.clone(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        let err = |cle: &str, m: &str| ConfigError {
            fichier: nom.clone(),
            message: format!("{cle} : {m}"),
        };
        for (cle, v) in [
            ("champs.intitule", f.champs.intitule),
            ("champs.thesaurus", f.champs.thesaurus),
            ("champs.objectif", f.champs.objectif),
            ("champs.contenu", f.champs.contenu),
            ("champs.organisme", f.champs.organisme),
        ] {
            if !(v > 0.0 && v <= 100.0) {
                return Err(err(cle, "un poids entre 0 (exclu) et 100"));
            }
        }
        let d = &f.defauts;
        if d.par_page == 0 || d.par_page > d.par_page_max {
            return Err(err("defauts.par_page", "entre 1 et defauts.par_page_max"));
        }
        if d.par_page_max > 1000 {
            return Err(err("defauts.par_page_max", "1000 au plus"));
        }
        if !(d.rayon_km > 0.0 && d.rayon_km <= crate::limits::MAX_RADIUS_KM) {
            return Err(err("defauts.rayon_km", "entre 0 (exclu) et 500"));
        }
        if d.max_par_organisme == 0 {
            return Err(err("defauts.max_par_organisme", "1 au moins"));
        }
        if f.analyse.fautes_longueur_min < 3 {
            return Err(err("analyse.fautes_longueur_min", "3 au moins"));
        }
        let (_, mv) = lire(dir.as_deref(), &f.analyse.mots_vides)?;
        let mots_vides = lignes(&mv).map(|(_, l)| super::analyse::plier(l)).collect();
        let (nom_syn, syn) = lire(dir.as_deref(), &f.analyse.synonymes)?;
        let mut synonymes: HashMap<String, Vec<String>> = HashMap::new();
        let mut remplaces = std::collections::HashSet::new();
        for (n, l) in lignes(&syn) {
            let (mot, alts, remplace) = match l.split_once("=>") {
                Some((m, a)) => (m, a, true),
                None => match l.split_once('=') {
                    Some((m, a)) => (m, a, false),
                    None => {
                        return Err(ConfigError {
                            fichier: nom_syn,
                            message: format!(
                                "ligne {n} : attendu `mot = autre, autre` ou `mot => autre`"
                            ),
                        })
                    }
                },
            };
            let mot = super::analyse::plier(mot.trim());
            if mot.is_empty() || mot.contains(|c: char| !c.is_alphanumeric()) {
                return Err(ConfigError {
                    fichier: nom_syn,
                    message: format!("ligne {n} : « {mot} » doit être un seul mot"),
                });
            }
            let alts: Vec<String> = alts
                .split(',')
                .map(|a| super::analyse::plier(a.trim()))
                .filter(|a| !a.is_empty())
                .collect();
            if remplace {
                remplaces.insert(mot.clone());
            }
            synonymes.entry(mot).or_default().extend(alts);
        }
        Ok(Config {
            champs: f.champs,
            analyse: f.analyse,
            defauts: f.defauts,
            mots_vides,
            synonymes,
            remplaces,
        })
    }
}
