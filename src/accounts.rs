//! People: roles, what a user account holds, and its secrets. Passwords are kept only as
//! argon2id hashes (OWASP's minimum: 19 MiB, t=2, p=1); random tokens (sessions, one-time
//! links, API tokens) only as their SHA-256, which is enough for 256 random bits and cheap
//! to check on every request.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Shortest password accepted (OWASP ASVS 2.1.1).
pub const MIN_PASSWORD: usize = 12;
/// Longest password accepted: argon2 takes any length, but a megabyte is not a password.
pub const MAX_PASSWORD: usize = 256;
/// Longest e-mail address (RFC 5321's path limit).
pub const MAX_EMAIL: usize = 254;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// Enters the offer of the organisations (SIRETs) it is attached to.
    Organisme,
    /// The same, and manages its organisation's users.
    Responsable,
    /// Carif-Oref staff: checks and decides.
    Staff,
    /// Staff who also manage staff.
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "organisme" => Some(Role::Organisme),
            "responsable" => Some(Role::Responsable),
            "staff" | "carif" => Some(Role::Staff),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Role::Organisme => "organisme",
            Role::Responsable => "responsable",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }

    pub fn libelle(self) -> &'static str {
        match self {
            Role::Organisme => "utilisateur d'organisme",
            Role::Responsable => "responsable d'organisme",
            Role::Staff => "équipe Carif-Oref",
            Role::Admin => "administrateur",
        }
    }

    /// Carif staff and admins: the staff space, every organisation.
    pub fn equipe(self) -> bool {
        matches!(self, Role::Staff | Role::Admin)
    }
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compte {
    pub id: u64,
    /// Lower-cased; the login.
    pub email: String,
    pub nom: String,
    pub role: Role,
    /// The organisations it acts for (organisation roles only).
    pub sirets: Vec<String>,
    /// argon2id PHC string; `None` until the account is activated by its one-time link.
    pub mot_de_passe: Option<String>,
    /// Bumped by "log out everywhere" and by a password change: sessions of an older
    /// generation are dead.
    pub generation: u32,
    pub actif: bool,
    pub cree_le: i64,
}

impl Compte {
    /// Whether it may act for this SIRET (staff act for every organisation).
    pub fn peut_agir_pour(&self, siret: &str) -> bool {
        self.role.equipe() || self.sirets.iter().any(|s| s == siret)
    }
}

/// A random token (64 hex characters, 256 bits) and the hash under which it is stored.
pub fn new_token() -> (String, [u8; 32]) {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    let clair: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let h = token_hash(&clair);
    (clair, h)
}

pub fn token_hash(clair: &str) -> [u8; 32] {
    Sha256::digest(clair.as_bytes()).into()
}

fn argon() -> argon2::Argon2<'static> {
    let p = argon2::Params::new(19 * 1024, 2, 1, None).expect("OWASP's argon2id parameters");
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p)
}

/// argon2id PHC string of a password (tens of milliseconds: call it off the async workers).
pub fn hash_password(mot: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let sel = SaltString::generate(&mut rand::rngs::OsRng);
    argon()
        .hash_password(mot.as_bytes(), &sel)
        .expect("argon2id with a generated salt")
        .to_string()
}

/// Checks a password against a stored hash; `None` runs the same work against a fixed
/// hash, so that an unknown e-mail takes as long as a wrong password.
pub fn verify_password(mot: &str, stocke: Option<&str>) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    static FACTICE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let factice = FACTICE.get_or_init(|| hash_password("mot de passe factice, jamais valide"));
    let (h, vrai) = match stocke {
        Some(h) => (h, true),
        None => (factice.as_str(), false),
    };
    let ok = PasswordHash::new(h)
        .map(|p| argon().verify_password(mot.as_bytes(), &p).is_ok())
        .unwrap_or(false);
    ok && vrai
}

/// Why a new password is refused, in French (`None`: accepted).
pub fn password_problem(mot: &str) -> Option<String> {
    let n = mot.chars().count();
    if n < MIN_PASSWORD {
        Some(format!(
            "le mot de passe doit compter au moins {MIN_PASSWORD} caractères ({n} saisis)"
        ))
    } else if n > MAX_PASSWORD {
        Some(format!(
            "le mot de passe compte {n} caractères, {MAX_PASSWORD} au plus"
        ))
    } else {
        None
    }
}

/// A normalised e-mail address, or why it is not one.
pub fn email(s: &str) -> Result<String, String> {
    let e = s.trim().to_lowercase();
    let ok = e.len() <= MAX_EMAIL
        && e.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        })
        && !e
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
    if ok {
        Ok(e)
    } else {
        Err(format!(
            "« {} » n'est pas une adresse électronique",
            s.chars().take(80).collect::<String>()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_with_their_hash() {
        let h = hash_password("correct horse battery");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse battery", Some(&h)));
        assert!(!verify_password("correct horse batterx", Some(&h)));
        assert!(!verify_password(
            "mot de passe factice, jamais valide",
            None
        ));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(token_hash(&a), ha);
    }

    #[test]
    fn policy() {
        assert!(password_problem("court").is_some());
        assert!(password_problem("douze caract").is_none());
        assert_eq!(email(" Marie@Exemple.FR ").unwrap(), "marie@exemple.fr");
        assert!(email("pas une adresse").is_err());
        assert!(email("a@b").is_err());
    }
}
