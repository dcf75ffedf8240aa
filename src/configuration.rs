//! The configuration file (`sofi.toml`): every setting of the command line in one place.
//!
//! Each setting is first an option of the command line with its environment variable (clap);
//! the file only fills the environment variables that are not already set, so that the order
//! is the one administrators expect: options > environment > file > defaults. The file's keys
//! are the options' long names (`data_dir` or `data-dir`); a key that names no setting, or a
//! value its option would refuse, stops the start with the file, the key and the reason.
//!
//! This module reads no environment itself: it says which variables the file sets, and
//! `main` sets them before clap reads the command line.

use std::path::{Path, PathBuf};

/// A setting the file gives: the option's environment variable, the file's key, the value.
#[derive(Debug, Clone, PartialEq)]
pub struct Valeur {
    pub variable: String,
    pub cle: String,
    pub valeur: String,
}

/// The file read, and the settings it gives.
#[derive(Debug, Default, Clone)]
pub struct Fichier {
    pub chemin: Option<PathBuf>,
    pub valeurs: Vec<Valeur>,
}

impl Fichier {
    /// The file's key that set this environment variable, if it did.
    pub fn cle_de(&self, variable: &str) -> Option<&str> {
        self.valeurs
            .iter()
            .find(|v| v.variable == variable)
            .map(|v| v.cle.as_str())
    }
}

/// The settings a file can hold: the root's options and those of the subcommands named, each
/// with an environment variable (an option without one is an action, not a setting).
pub fn reglages<'c>(
    cmd: &'c clap::Command,
    sous: &[&str],
) -> Vec<(&'c clap::Command, &'c clap::Arg)> {
    let mut v: Vec<_> = cmd.get_arguments().map(|a| (cmd, a)).collect();
    for nom in sous {
        if let Some(s) = cmd.find_subcommand(nom) {
            v.extend(s.get_arguments().map(|a| (s, a)));
        }
    }
    v.retain(|(_, a)| a.get_env().is_some() && a.get_long().is_some());
    v
}

/// Reads the file at `chemin` against the settings of `cmd` (root and `sous` subcommands).
pub fn lire(cmd: &clap::Command, sous: &[&str], chemin: &Path) -> Result<Fichier, String> {
    let texte = std::fs::read_to_string(chemin)
        .map_err(|e| format!("fichier de configuration {} : {e}", chemin.display()))?;
    let mut f = analyser(cmd, sous, &texte).map_err(|e| format!("{} : {e}", chemin.display()))?;
    f.chemin = Some(chemin.to_path_buf());
    Ok(f)
}

/// The same, on the file's text.
pub fn analyser(cmd: &clap::Command, sous: &[&str], texte: &str) -> Result<Fichier, String> {
    let table: toml::Table = texte
        .parse()
        .map_err(|e: toml::de::Error| format!("TOML invalide : {}", e.to_string().trim_end()))?;
    let connus = reglages(cmd, sous);
    let mut valeurs = Vec::new();
    for (cle, v) in &table {
        let nom = cle.replace('_', "-");
        let Some((_, arg)) = connus
            .iter()
            .find(|(_, a)| a.get_long() == Some(nom.as_str()))
        else {
            let mut proches: Vec<String> = connus
                .iter()
                .filter_map(|(_, a)| a.get_long())
                .filter(|l| nom.len() >= 3 && (l.contains(&nom) || nom.contains(*l)))
                .map(|l| l.replace('-', "_"))
                .collect();
            proches.dedup();
            let aide = if proches.is_empty() {
                "`sofi config` liste les réglages".to_string()
            } else {
                format!("voulez-vous dire {} ?", proches.join(", "))
            };
            return Err(format!("clé « {cle} » inconnue ({aide})"));
        };
        let texte = match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(x) => x.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => {
                return Err(format!(
                    "clé « {cle} » : une chaîne, un nombre ou un booléen attendu"
                ))
            }
        };
        // The option's own parser: the file is refused for what the command line would be.
        let essai = clap::Command::new("essai").no_binary_name(true).arg(
            clap::Arg::new("v")
                .value_parser(arg.get_value_parser().clone())
                .action(clap::ArgAction::Set)
                .allow_hyphen_values(true),
        );
        if let Err(e) = essai.try_get_matches_from([texte.as_str()]) {
            let message = e.to_string();
            let premiere = message.lines().next().unwrap_or("");
            let mut raison = premiere
                .split_once("for '[v]'")
                .map_or(premiere, |(_, r)| r)
                .trim_start_matches(": ")
                .to_string();
            if let Some(possibles) = message.lines().find(|l| l.contains("possible values")) {
                raison = format!("{raison} {}", possibles.trim());
            }
            let raison = raison.trim();
            return Err(format!(
                "clé « {cle} » : valeur « {texte} » refusée ({raison})"
            ));
        }
        let variable = arg
            .get_env()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        valeurs.push(Valeur {
            variable,
            cle: cle.clone(),
            valeur: texte,
        });
    }
    Ok(Fichier {
        chemin: None,
        valeurs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd() -> clap::Command {
        clap::Command::new("t")
            .arg(
                clap::Arg::new("data_dir")
                    .long("data-dir")
                    .env("T_DATA_DIR")
                    .global(true),
            )
            .subcommand(
                clap::Command::new("serve")
                    .arg(
                        clap::Arg::new("n")
                            .long("connexions-max")
                            .env("T_N")
                            .value_parser(clap::value_parser!(usize)),
                    )
                    .arg(clap::Arg::new("demo").long("demo")),
            )
    }

    #[test]
    fn keys_are_long_names_and_values_go_through_the_options_parser() {
        let f = analyser(
            &cmd(),
            &["serve"],
            "data_dir = \"/srv\"\nconnexions-max = 12\n",
        )
        .unwrap();
        assert_eq!(f.cle_de("T_DATA_DIR"), Some("data_dir"));
        let n = f.valeurs.iter().find(|v| v.variable == "T_N").unwrap();
        assert_eq!(
            (n.cle.as_str(), n.valeur.as_str()),
            ("connexions-max", "12")
        );
        let e = analyser(&cmd(), &["serve"], "connexions_max = \"beaucoup\"").unwrap_err();
        assert!(
            e.contains("connexions_max") && e.contains("beaucoup"),
            "{e}"
        );
        assert!(!e.contains("[v]"), "{e}");
        let e = analyser(&cmd(), &["serve"], "data = \"/srv\"").unwrap_err();
        assert!(
            e.contains("« data » inconnue") && e.contains("data_dir"),
            "{e}"
        );
        // An option without environment variable is an action, not a setting.
        assert!(analyser(&cmd(), &["serve"], "demo = true").is_err());
        assert!(analyser(&cmd(), &["serve"], "data_dir = [1]").is_err());
        assert!(analyser(&cmd(), &["serve"], "data_dir = ")
            .unwrap_err()
            .contains("TOML"));
    }
}
