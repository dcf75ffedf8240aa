//! The configuration file (`--config`, `SOFI_CONFIG`) and `sofi config`.

use anyhow::{Context, Result};
use clap::CommandFactory;
use sofi::configuration;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::Cli;

/// The configuration file named by `--config` or `SOFI_CONFIG`, if any: its settings become
/// the environment variables not already set (options > environment > file > defaults).
pub(super) fn lire_configuration() -> Result<configuration::Fichier, String> {
    let mut args = std::env::args_os().skip(1);
    let mut chemin = None;
    while let Some(a) = args.next() {
        let a = a.to_string_lossy().into_owned();
        if a == "--" {
            break;
        } else if a == "--config" {
            chemin = args.next().map(PathBuf::from);
        } else if let Some(c) = a.strip_prefix("--config=") {
            chemin = Some(PathBuf::from(c));
        }
    }
    let Some(chemin) = chemin.or_else(|| std::env::var_os("SOFI_CONFIG").map(PathBuf::from)) else {
        return Ok(Default::default());
    };
    let mut f = configuration::lire(&Cli::command(), &["serve"], &chemin)?;
    // What the environment already sets wins: only the others are taken from the file.
    f.valeurs
        .retain(|v| std::env::var_os(&v.variable).is_none());
    for v in &f.valeurs {
        // (Before any thread is started.)
        std::env::set_var(&v.variable, &v.valeur);
    }
    Ok(f)
}

/// `sofi config`: each setting, its value and where it came from.
pub(super) fn afficher_configuration(
    matches: &clap::ArgMatches,
    fichier: &configuration::Fichier,
    json: bool,
) -> Result<i32> {
    let cmd = Cli::command();
    let sous = matches
        .subcommand_matches("config")
        .context("sous-commande config")?;
    let mut lignes = Vec::new();
    for (_, arg) in configuration::reglages(&cmd, &["config"]) {
        let id = arg.get_id().as_str();
        let variable = arg
            .get_env()
            .map(|v| v.to_string_lossy().into_owned())
            .unwrap_or_default();
        let valeur = sous.get_raw(id).map(|vs| {
            vs.map(|v| v.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(",")
        });
        let source = match sous.value_source(id) {
            Some(clap::parser::ValueSource::CommandLine) => "option".to_string(),
            Some(clap::parser::ValueSource::EnvVariable) => match fichier.cle_de(&variable) {
                Some(cle) => format!(
                    "fichier {} ({cle})",
                    fichier
                        .chemin
                        .as_deref()
                        .unwrap_or(Path::new("?"))
                        .display()
                ),
                None => format!("environnement {variable}"),
            },
            Some(clap::parser::ValueSource::DefaultValue) => "défaut".to_string(),
            _ => "non réglé".to_string(),
        };
        // Secrets are never printed, only whether they are set.
        let valeur = match valeur {
            Some(_) if arg.is_hide_env_values_set() => Some("(masqué)".to_string()),
            v => v,
        };
        lignes.push((
            arg.get_long().unwrap_or(id).replace('-', "_"),
            variable,
            valeur,
            source,
        ));
    }
    let mut out = std::io::stdout().lock();
    if json {
        let v: Vec<_> = lignes
            .iter()
            .map(|(cle, var, val, src)| {
                serde_json::json!({"cle": cle, "variable": var, "valeur": val, "source": src})
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        let large = lignes.iter().map(|l| l.0.len()).max().unwrap_or(0);
        for (cle, _, val, src) in &lignes {
            let val = val.as_deref().unwrap_or("-");
            writeln!(out, "{cle:large$}  {val:<32}  {src}")?;
        }
    }
    Ok(0)
}
