//! People: `user` (accounts and their one-time links) and `audit` (what people changed).

use anyhow::Result;
use sofi::store::Store;
use std::path::Path;

use super::UserCmd;

/// `sofi user add|reset`: the account and its one-time link, printed for whoever runs it.
pub(super) fn user(data_dir: &Path, op: &UserCmd) -> Result<i32> {
    use sofi::accounts::{self, Compte, Role};
    let store = Store::open(data_dir)?;
    let auteur = "sofi user (ligne de commande)";
    match op {
        UserCmd::Add {
            email,
            role,
            siret,
            nom,
            url,
        } => {
            let email = accounts::email(email).map_err(anyhow::Error::msg)?;
            let role = Role::parse(role).ok_or_else(|| {
                anyhow::anyhow!("rôle « {role} » : organisme, responsable, staff ou admin")
            })?;
            for s in siret {
                anyhow::ensure!(sofi::rules::siret_valide(s), "SIRET invalide : {s}");
            }
            anyhow::ensure!(
                role.equipe() || !siret.is_empty(),
                "un compte d'organisme agit pour au moins un SIRET (--siret)"
            );
            let c = Compte {
                id: store.nouvel_id()?,
                email,
                nom: nom.clone(),
                role,
                sirets: siret.clone(),
                mot_de_passe: None,
                generation: 0,
                actif: true,
                cree_le: sofi::store::now_ms(),
            };
            let l = store.creer_compte(&c, auteur)?;
            println!(
                "Compte {} ({}) créé. Lien d'activation, valable 7 jours, une seule fois :\n{}/espace/lien/{}",
                l.email,
                role.libelle(),
                url.trim_end_matches('/'),
                l.jeton
            );
        }
        UserCmd::Reset { email, url } => {
            let email = accounts::email(email).map_err(anyhow::Error::msg)?;
            let c = store
                .compte_par_email(&email)?
                .ok_or_else(|| anyhow::anyhow!("aucun compte pour {email}"))?;
            let jeton = store.emettre_lien(c.id, sofi::store::ButLien::Reinitialisation, auteur)?;
            println!(
                "Lien pour choisir un nouveau mot de passe ({email}), valable 7 jours, une seule fois :\n{}/espace/lien/{jeton}",
                url.trim_end_matches('/')
            );
        }
    }
    Ok(0)
}

/// `sofi audit`: the trail as JSON Lines.
pub(super) fn audit(data_dir: &Path, since: Option<&str>) -> Result<i32> {
    let depuis = match since {
        None => 0,
        Some(s) => match sofi::diffusion::Depuis::parse(s) {
            Ok(sofi::diffusion::Depuis::Instant(t)) => t,
            _ => anyhow::bail!(
                "--since « {s} » : une date (2027-03-01) ou un horodatage ISO (2027-03-01T08:00:00Z)"
            ),
        },
    };
    let store = Store::open(data_dir)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for e in store.audit_depuis(depuis)? {
        serde_json::to_writer(&mut out, &e?)?;
        std::io::Write::write_all(&mut out, b"\n")?;
    }
    std::io::Write::flush(&mut out)?;
    Ok(0)
}
