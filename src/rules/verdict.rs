//! What the rules say about one offer: findings, and the diffusion decision with its reason.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gravite {
    /// The offer cannot be stored.
    Bloquant,
    /// Stored, but someone should look.
    Avertissement,
}

/// One finding, located in the offer (element path) and, when read from a file, in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constat {
    pub gravite: Gravite,
    /// Stable machine code, e.g. `siret-invalide`.
    pub code: String,
    pub message: String,
    /// Element path, e.g. `formation[07_10]/action[15_927411]/session[927411]/periode`.
    pub chemin: String,
    pub ligne: Option<u32>,
    pub colonne: Option<u32>,
}

impl Constat {
    pub fn bloquant(code: &str, chemin: impl Into<String>, message: impl Into<String>) -> Self {
        Constat {
            gravite: Gravite::Bloquant,
            code: code.into(),
            message: message.into(),
            chemin: chemin.into(),
            ligne: None,
            colonne: None,
        }
    }

    pub fn avertissement(
        code: &str,
        chemin: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Constat {
            gravite: Gravite::Avertissement,
            ..Constat::bloquant(code, chemin, message)
        }
    }

    pub fn at_pos(self, (ligne, colonne): (u32, u32)) -> Self {
        self.at(ligne, colonne)
    }

    pub fn at(mut self, ligne: u32, colonne: u32) -> Self {
        self.ligne = Some(ligne);
        self.colonne = Some(colonne);
        self
    }
}

impl fmt::Display for Constat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = match self.gravite {
            Gravite::Bloquant => "erreur",
            Gravite::Avertissement => "avertissement",
        };
        if let (Some(l), Some(c)) = (self.ligne, self.colonne) {
            write!(f, "{l}:{c}: ")?;
        }
        write!(f, "{g} [{}] {} : {}", self.code, self.chemin, self.message)
    }
}

/// Whether one action is listed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionAction {
    pub action: String,
    pub diffusee: bool,
    pub motif: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Verdict {
    pub constats: Vec<Constat>,
    /// One decision per action, in the offer's order.
    pub diffusion: Vec<DecisionAction>,
}

impl Verdict {
    pub fn bloquant(&self) -> bool {
        self.constats.iter().any(|c| c.gravite == Gravite::Bloquant)
    }

    /// An offer is diffusable when at least one of its actions is.
    pub fn diffusable(&self) -> bool {
        !self.bloquant() && self.diffusion.iter().any(|d| d.diffusee)
    }

    pub fn erreurs(&self) -> impl Iterator<Item = &Constat> {
        self.constats
            .iter()
            .filter(|c| c.gravite == Gravite::Bloquant)
    }

    pub fn avertissements(&self) -> impl Iterator<Item = &Constat> {
        self.constats
            .iter()
            .filter(|c| c.gravite == Gravite::Avertissement)
    }

    /// The reason an offer is not diffused (first action's motive), for summaries.
    pub fn motif_non_diffusion(&self) -> Option<&str> {
        (!self.diffusable()).then(|| {
            self.diffusion
                .first()
                .map(|d| d.motif.as_str())
                .unwrap_or("aucune action")
        })
    }
}
