//! People and organisations in the store: accounts (by id, and by e-mail), server-side web
//! sessions, one-time links, API tokens, référencement requests, establishments.
//!
//! Secrets are never stored: sessions, links and API tokens are keyed by the SHA-256 of the
//! token the person holds; passwords are argon2id hashes inside [`Compte`]. Every change
//! here writes its event with [`super::audit`] in the same transaction.

use super::audit::{auditer, Changement, Evenement};
use super::*;
use crate::accounts::Compte;

/// What a one-time link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ButLien {
    /// First password of a new account.
    Activation,
    /// A new password for an existing account.
    Reinitialisation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lien {
    pub compte: u64,
    pub but: ButLien,
    pub expire_le: i64,
}

/// A logged-in browser: kept server-side, found by the hash of its cookie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionWeb {
    pub compte: u64,
    /// The account's generation when it logged in (see [`Compte::generation`]).
    pub generation: u32,
    pub cree_le: i64,
    pub vue_le: i64,
    /// The SIRET it acts for now.
    pub siret: Option<String>,
    /// The token its forms carry.
    pub csrf: String,
}

/// An organisation's API token: acts for some of its SIRETs, on behalf of an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JetonApi {
    pub compte: u64,
    pub sirets: Vec<String>,
    pub libelle: String,
    pub cree_le: i64,
}

/// A place of an establishment, with its commune from the référentiel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Site {
    pub nom: String,
    pub adresse: String,
    pub codepostal: String,
    pub ville: String,
    pub code_insee: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// A person to contact at an establishment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactOrg {
    pub nom: String,
    pub email: String,
    pub telephone: String,
}

/// What an organisation declares about itself ("Mon établissement").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Etablissement {
    pub siret: String,
    pub numero_activite: String,
    pub raison_sociale: String,
    pub site_principal: Site,
    pub sites: Vec<Site>,
    pub contacts: Vec<ContactOrg>,
    pub formacodes: Vec<String>,
    pub modifie_le: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StatutDemande {
    EnAttente,
    Acceptee,
    Refusee(String),
}

/// A "demande de référencement": an organisation not yet known asks to enter its offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Demande {
    pub id: u64,
    pub etablissement: Etablissement,
    pub contact: ContactOrg,
    pub recue_le: i64,
    pub statut: StatutDemande,
}

/// A one-time link as shown to whoever issued it.
#[derive(Debug, Clone, PartialEq)]
pub struct LienEmis {
    pub compte: u64,
    pub email: String,
    pub jeton: String,
}

/// How long a one-time link stays valid.
pub const DUREE_LIEN_MS: i64 = 7 * 24 * 3600 * 1000;

fn get<T: DeserializeOwned>(t: &sled::Tree, k: &[u8]) -> Result<Option<T>, StoreError> {
    t.get(k)?.map(|b| decode(&b)).transpose()
}

fn tget<T: DeserializeOwned>(t: &TransactionalTree, k: &[u8]) -> Result<Option<T>, Tx> {
    t.get(k)?.map(|b| decode(&b).map_err(abort)).transpose()
}

fn tput<T: Serialize>(t: &TransactionalTree, k: &[u8], v: &T) -> Result<(), Tx> {
    t.insert(k, encode(v).map_err(abort)?)?;
    Ok(())
}

impl Store {
    /// Runs `f` in one transaction over people's trees, the audit trail and `meta`.
    pub(super) fn people_tx<R>(
        &self,
        f: impl Fn(&PeopleTx) -> Result<R, Tx>,
    ) -> Result<R, StoreError> {
        let a = self.a()?;
        let trees = [
            &a.comptes,
            &a.emails,
            &a.liens,
            &a.demandes,
            &a.etablissements,
            &a.audit,
            &a.meta,
            &a.audit_objet,
        ];
        // Not while a backup takes its cut (see `Store::sauvegarder`).
        let _cut = self.pause_ecritures();
        let r = trees
            .as_slice()
            .transaction(|t| {
                f(&PeopleTx {
                    comptes: &t[0],
                    emails: &t[1],
                    liens: &t[2],
                    demandes: &t[3],
                    etablissements: &t[4],
                    audit: (&t[5], &t[7]),
                    meta: &t[6],
                })
            })
            .map_err(tx_err);
        let r = self.track_failure(r);
        if r.is_ok() {
            self.make_durable()?;
        }
        r
    }

    pub fn compte(&self, id: u64) -> Result<Option<Compte>, StoreError> {
        get(&self.a()?.comptes, &id.to_be_bytes())
    }

    pub fn compte_par_email(&self, email: &str) -> Result<Option<Compte>, StoreError> {
        let a = self.a()?;
        match a.emails.get(email.as_bytes())? {
            Some(id) => get(&a.comptes, &id),
            None => Ok(None),
        }
    }

    /// Every account, by id.
    pub fn comptes(&self) -> Result<Vec<Compte>, StoreError> {
        let a = self.a()?;
        a.comptes.iter().values().map(|v| decode(&v?)).collect()
    }

    pub fn nouvel_id(&self) -> Result<u64, StoreError> {
        Ok(self.a()?.db.generate_id()? + 1)
    }

    /// Creates an account and its activation link. Refused if the e-mail has an account.
    pub fn creer_compte(&self, compte: &Compte, auteur: &str) -> Result<LienEmis, StoreError> {
        let (jeton, h) = crate::accounts::new_token();
        self.people_tx(|t| {
            if t.emails.get(compte.email.as_bytes())?.is_some() {
                return Err(abort(StoreError::Conflit(format!(
                    "un compte existe déjà pour {}",
                    compte.email
                ))));
            }
            t.ajouter_compte(compte, auteur)?;
            t.emettre_lien(compte.id, ButLien::Activation, &h, auteur)?;
            Ok(())
        })?;
        Ok(LienEmis {
            compte: compte.id,
            email: compte.email.clone(),
            jeton,
        })
    }

    /// Replaces an account (role, SIRETs, password, generation), audited with what changed.
    pub fn modifier_compte(
        &self,
        compte: &Compte,
        auteur: &str,
        action: &str,
    ) -> Result<(), StoreError> {
        self.people_tx(|t| {
            let avant: Option<Compte> = tget(t.comptes, &compte.id.to_be_bytes())?;
            let changements = avant
                .as_ref()
                .map(|a| diff_compte(a, compte))
                .unwrap_or_default();
            tput(t.comptes, &compte.id.to_be_bytes(), compte)?;
            auditer(
                t.meta,
                t.audit,
                Evenement::new(auteur, format!("compte {}", compte.id), action).avec(changements),
            )?;
            Ok(())
        })
    }

    /// A new one-time link for an account (a reset, or a new activation).
    pub fn emettre_lien(
        &self,
        compte: u64,
        but: ButLien,
        auteur: &str,
    ) -> Result<String, StoreError> {
        let (jeton, h) = crate::accounts::new_token();
        self.people_tx(|t| t.emettre_lien(compte, but, &h, auteur))?;
        Ok(jeton)
    }

    /// The link behind a token, if it is still valid (it is not used up by looking).
    pub fn lien(&self, jeton: &str) -> Result<Option<Lien>, StoreError> {
        let l: Option<Lien> = get(&self.a()?.liens, &crate::accounts::token_hash(jeton))?;
        Ok(l.filter(|l| l.expire_le > now_ms()))
    }

    /// Uses a link up and sets the account's password, in one transaction: the account's
    /// other sessions die with its generation.
    pub fn utiliser_lien(&self, jeton: &str, hash: &str) -> Result<Option<Compte>, StoreError> {
        let h = crate::accounts::token_hash(jeton);
        self.people_tx(|t| {
            let Some(l) = tget::<Lien>(t.liens, &h)? else {
                return Ok(None);
            };
            t.liens.remove(&h)?;
            if l.expire_le <= now_ms() {
                return Ok(None);
            }
            let Some(mut c) = tget::<Compte>(t.comptes, &l.compte.to_be_bytes())? else {
                return Ok(None);
            };
            c.mot_de_passe = Some(hash.to_string());
            c.generation += 1;
            c.actif = true;
            tput(t.comptes, &c.id.to_be_bytes(), &c)?;
            let action = match l.but {
                ButLien::Activation => "activation",
                ButLien::Reinitialisation => "nouveau-mot-de-passe",
            };
            auditer(
                t.meta,
                t.audit,
                Evenement::new(&auteur_de(&c), format!("compte {}", c.id), action),
            )?;
            Ok(Some(c))
        })
    }

    // --- Sessions (not audited one by one: logins and logouts are) ---

    pub fn session_web(&self, jeton: &str) -> Result<Option<SessionWeb>, StoreError> {
        get(&self.a()?.sessions, &crate::accounts::token_hash(jeton))
    }

    pub fn enregistrer_session(&self, jeton: &str, s: &SessionWeb) -> Result<(), StoreError> {
        let a = self.a()?;
        a.sessions
            .insert(crate::accounts::token_hash(jeton), encode(s)?)?;
        Ok(())
    }

    pub fn supprimer_session(&self, jeton: &str) -> Result<(), StoreError> {
        self.a()?
            .sessions
            .remove(crate::accounts::token_hash(jeton))?;
        Ok(())
    }

    /// Logs an event that changes nothing else (a login, a logout, a refused access).
    pub fn journaliser(&self, e: Evenement) -> Result<(), StoreError> {
        self.people_tx(|t| auditer(t.meta, t.audit, e.clone()).map(|_| ()))
    }

    // --- API tokens ---

    pub fn creer_jeton_api(&self, j: &JetonApi, auteur: &str) -> Result<String, StoreError> {
        let (clair, h) = crate::accounts::new_token();
        let a = self.a()?;
        let trees = [&a.jetons, &a.audit, &a.meta, &a.audit_objet];
        // Not while a backup takes its cut (see `Store::sauvegarder`).
        let _cut = self.pause_ecritures();
        let r = trees
            .as_slice()
            .transaction(|t| {
                tput(&t[0], &h, j)?;
                auditer(
                    &t[2],
                    (&t[1], &t[3]),
                    Evenement::new(auteur, format!("compte {}", j.compte), "jeton-api").avec(vec![
                        Changement {
                            champ: "jeton".into(),
                            avant: String::new(),
                            apres: format!("{} ({})", j.libelle, j.sirets.join(", ")),
                        },
                    ]),
                )?;
                Ok(())
            })
            .map_err(tx_err);
        self.track_failure(r)?;
        self.make_durable()?;
        Ok(clair)
    }

    pub fn jeton_api(&self, clair: &str) -> Result<Option<JetonApi>, StoreError> {
        get(&self.a()?.jetons, &crate::accounts::token_hash(clair))
    }

    // --- Requests and establishments ---

    pub fn creer_demande(&self, d: &Demande) -> Result<(), StoreError> {
        self.people_tx(|t| {
            tput(t.demandes, &d.id.to_be_bytes(), d)?;
            auditer(
                t.meta,
                t.audit,
                Evenement::new(
                    &format!("demandeur {}", d.contact.email),
                    format!("demande {}", d.id),
                    "demande-referencement",
                )
                .avec(vec![Changement {
                    champ: "siret".into(),
                    avant: String::new(),
                    apres: d.etablissement.siret.clone(),
                }]),
            )?;
            Ok(())
        })
    }

    pub fn demandes(&self) -> Result<Vec<Demande>, StoreError> {
        let a = self.a()?;
        a.demandes.iter().values().map(|v| decode(&v?)).collect()
    }

    pub fn demande(&self, id: u64) -> Result<Option<Demande>, StoreError> {
        get(&self.a()?.demandes, &id.to_be_bytes())
    }

    /// Accepts a request once: its establishment is recorded, its contact gets a
    /// responsable account (or the SIRET is added to its existing account) and an
    /// activation link, all in one transaction.
    pub fn accepter_demande(
        &self,
        id: u64,
        nouveau_compte: u64,
        auteur: &str,
    ) -> Result<Option<LienEmis>, StoreError> {
        let (jeton, h) = crate::accounts::new_token();
        let r = self.people_tx(|t| {
            let Some(mut d) = tget::<Demande>(t.demandes, &id.to_be_bytes())? else {
                return Ok(None);
            };
            if d.statut != StatutDemande::EnAttente {
                return Ok(None);
            }
            d.statut = StatutDemande::Acceptee;
            tput(t.demandes, &id.to_be_bytes(), &d)?;
            let siret = d.etablissement.siret.clone();
            if tget::<Etablissement>(t.etablissements, siret.as_bytes())?.is_none() {
                let mut e = d.etablissement.clone();
                e.modifie_le = now_ms();
                tput(t.etablissements, siret.as_bytes(), &e)?;
            }
            auditer(
                t.meta,
                t.audit,
                Evenement::new(auteur, format!("demande {id}"), "acceptation"),
            )?;
            let compte = match t.emails.get(d.contact.email.as_bytes())? {
                Some(idb) => {
                    let mut c: Compte = tget(t.comptes, &idb)?
                        .ok_or_else(|| abort(StoreError::Conflit("compte introuvable".into())))?;
                    if !c.sirets.contains(&siret) {
                        let avant = c.sirets.join(", ");
                        c.sirets.push(siret.clone());
                        tput(t.comptes, &idb, &c)?;
                        auditer(
                            t.meta,
                            t.audit,
                            Evenement::new(auteur, format!("compte {}", c.id), "rattachement")
                                .avec(vec![Changement {
                                    champ: "sirets".into(),
                                    avant,
                                    apres: c.sirets.join(", "),
                                }]),
                        )?;
                    }
                    c
                }
                None => {
                    let c = Compte {
                        id: nouveau_compte,
                        email: d.contact.email.clone(),
                        nom: d.contact.nom.clone(),
                        role: crate::accounts::Role::Responsable,
                        sirets: vec![siret.clone()],
                        mot_de_passe: None,
                        generation: 0,
                        actif: true,
                        cree_le: now_ms(),
                    };
                    t.ajouter_compte(&c, auteur)?;
                    c
                }
            };
            let but = if compte.mot_de_passe.is_some() {
                ButLien::Reinitialisation
            } else {
                ButLien::Activation
            };
            t.emettre_lien(compte.id, but, &h, auteur)?;
            Ok(Some(LienEmis {
                compte: compte.id,
                email: compte.email,
                jeton: String::new(),
            }))
        })?;
        Ok(r.map(|l| LienEmis { jeton, ..l }))
    }

    pub fn refuser_demande(&self, id: u64, motif: &str, auteur: &str) -> Result<bool, StoreError> {
        self.people_tx(|t| {
            let Some(mut d) = tget::<Demande>(t.demandes, &id.to_be_bytes())? else {
                return Ok(false);
            };
            if d.statut != StatutDemande::EnAttente {
                return Ok(false);
            }
            d.statut = StatutDemande::Refusee(motif.to_string());
            tput(t.demandes, &id.to_be_bytes(), &d)?;
            auditer(
                t.meta,
                t.audit,
                Evenement::new(auteur, format!("demande {id}"), "refus")
                    .motif(Some(motif.to_string())),
            )?;
            Ok(true)
        })
    }

    pub fn etablissement(&self, siret: &str) -> Result<Option<Etablissement>, StoreError> {
        get(&self.a()?.etablissements, siret.as_bytes())
    }

    /// Records what an organisation declares about itself, audited field by field.
    pub fn enregistrer_etablissement(
        &self,
        e: &Etablissement,
        auteur: &str,
    ) -> Result<(), StoreError> {
        self.people_tx(|t| {
            let avant: Etablissement =
                tget(t.etablissements, e.siret.as_bytes())?.unwrap_or_default();
            let changements = diff_json(&avant, e);
            if changements.is_empty() {
                return Ok(());
            }
            let mut e = e.clone();
            e.modifie_le = now_ms();
            tput(t.etablissements, e.siret.as_bytes(), &e)?;
            auditer(
                t.meta,
                t.audit,
                Evenement::new(auteur, format!("organisme {}", e.siret), "etablissement")
                    .avec(changements),
            )?;
            Ok(())
        })
    }
}

/// The trees of a people transaction.
pub(super) struct PeopleTx<'a> {
    pub(super) comptes: &'a TransactionalTree,
    pub(super) emails: &'a TransactionalTree,
    pub(super) liens: &'a TransactionalTree,
    pub(super) demandes: &'a TransactionalTree,
    pub(super) etablissements: &'a TransactionalTree,
    pub(super) audit: super::audit::AuditTx<'a>,
    pub(super) meta: &'a TransactionalTree,
}

impl PeopleTx<'_> {
    fn ajouter_compte(&self, c: &Compte, auteur: &str) -> Result<(), Tx> {
        tput(self.comptes, &c.id.to_be_bytes(), c)?;
        self.emails
            .insert(c.email.as_bytes(), &c.id.to_be_bytes())?;
        auditer(
            self.meta,
            self.audit,
            Evenement::new(auteur, format!("compte {}", c.id), "creation").avec(vec![
                Changement {
                    champ: "email".into(),
                    avant: String::new(),
                    apres: c.email.clone(),
                },
                Changement {
                    champ: "role".into(),
                    avant: String::new(),
                    apres: c.role.code().into(),
                },
                Changement {
                    champ: "sirets".into(),
                    avant: String::new(),
                    apres: c.sirets.join(", "),
                },
            ]),
        )?;
        Ok(())
    }

    fn emettre_lien(
        &self,
        compte: u64,
        but: ButLien,
        h: &[u8; 32],
        auteur: &str,
    ) -> Result<(), Tx> {
        let l = Lien {
            compte,
            but,
            expire_le: now_ms() + DUREE_LIEN_MS,
        };
        tput(self.liens, h, &l)?;
        let action = match but {
            ButLien::Activation => "lien-activation",
            ButLien::Reinitialisation => "lien-reinitialisation",
        };
        auditer(
            self.meta,
            self.audit,
            Evenement::new(auteur, format!("compte {compte}"), action),
        )?;
        Ok(())
    }
}

/// How an account is named in the audit trail.
pub fn auteur_de(c: &Compte) -> String {
    format!("compte {} ({})", c.id, c.email)
}

fn diff_compte(a: &Compte, b: &Compte) -> Vec<Changement> {
    let mut out = Vec::new();
    let mut champ = |n: &str, x: String, y: String| {
        if x != y {
            out.push(Changement {
                champ: n.into(),
                avant: x,
                apres: y,
            })
        }
    };
    champ("role", a.role.code().into(), b.role.code().into());
    champ("sirets", a.sirets.join(", "), b.sirets.join(", "));
    champ("nom", a.nom.clone(), b.nom.clone());
    champ("actif", a.actif.to_string(), b.actif.to_string());
    champ(
        "mot_de_passe",
        if a.mot_de_passe.is_some() {
            "défini"
        } else {
            ""
        }
        .into(),
        if b.mot_de_passe != a.mot_de_passe {
            "changé"
        } else {
            "défini"
        }
        .into(),
    );
    champ(
        "sessions",
        a.generation.to_string(),
        b.generation.to_string(),
    );
    out
}

/// An error reported by someone reading an offer on the public site (no account): a queue
/// item for staff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signalement {
    pub id: u64,
    pub numero: String,
    pub texte: String,
    pub le: i64,
    pub traite: bool,
}

impl Store {
    /// Records a report (not a person's write: the public has no account; the report is its
    /// own record, and its handling by staff is audited).
    pub fn signaler(&self, numero: &str, texte: &str) -> Result<u64, StoreError> {
        let a = self.a()?;
        let id = a.db.generate_id()? + 1;
        let s = Signalement {
            id,
            numero: numero.to_string(),
            texte: texte.to_string(),
            le: now_ms(),
            traite: false,
        };
        // (A tree transactions also write: not during a backup's cut.)
        let _cut = self.pause_ecritures();
        a.signalements.insert(id.to_be_bytes(), encode(&s)?)?;
        self.make_durable()?;
        Ok(id)
    }

    /// Reports not handled yet, oldest first.
    pub fn signalements(&self) -> Result<Vec<Signalement>, StoreError> {
        let a = self.a()?;
        let mut v = Vec::new();
        for x in a.signalements.iter().values() {
            let s: Signalement = decode(&x?)?;
            if !s.traite {
                v.push(s);
            }
        }
        Ok(v)
    }

    /// Staff mark a report handled, audited on the offer.
    pub fn traiter_signalement(&self, id: u64, auteur: &str) -> Result<bool, StoreError> {
        let a = self.a()?;
        let trees = [&a.signalements, &a.audit, &a.meta, &a.audit_objet];
        // Not while a backup takes its cut (see `Store::sauvegarder`).
        let _cut = self.pause_ecritures();
        let r = trees
            .as_slice()
            .transaction(|t| {
                let Some(mut s) = tget::<Signalement>(&t[0], &id.to_be_bytes())? else {
                    return Ok(false);
                };
                if s.traite {
                    return Ok(false);
                }
                s.traite = true;
                tput(&t[0], &id.to_be_bytes(), &s)?;
                auditer(
                    &t[2],
                    (&t[1], &t[3]),
                    Evenement::new(auteur, format!("offre {}", s.numero), "signalement-traite")
                        .motif(Some(s.texte.clone())),
                )?;
                Ok(true)
            })
            .map_err(tx_err);
        let r = self.track_failure(r)?;
        self.make_durable()?;
        Ok(r)
    }
}
