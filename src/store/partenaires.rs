//! Partner keys and their usage. A key is shown once when created and stored only as the
//! SHA-256 of its token (as Typesense does); it is revocable and may expire. Its forced
//! filters and quotas are applied by the web layer (`http::partenaires`). Usage is kept as
//! daily aggregates per key and route — requests, errors, bytes — never per request, and
//! with no client address.

use super::audit::{auditer, Changement, Evenement};
use super::writes::{abort, tx_err, Tx};
use super::*;
use sled::transaction::TransactionalTree;

/// A partner's key, without its token.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClePartenaire {
    pub id: u64,
    pub nom: String,
    pub contact: String,
    /// Origins a browser may call with it (`https://www.exemple.fr`); empty: any (a key
    /// used from a server).
    pub origines: Vec<String>,
    /// Forced filters: département codes and Formacode domains the key only ever sees.
    pub departements: Vec<String>,
    pub formacodes: Vec<String>,
    /// Requests per minute, and per day.
    pub par_minute: u32,
    pub par_jour: u32,
    pub cree_le: i64,
    pub cree_par: String,
    pub expire_le: Option<i64>,
    pub revoquee_le: Option<i64>,
}

impl ClePartenaire {
    /// Usable now: not revoked, not expired.
    pub fn active(&self, maintenant: i64) -> bool {
        self.revoquee_le.is_none() && self.expire_le.is_none_or(|e| e > maintenant)
    }
}

/// One day's usage of one route by one key (or by anonymous clients, key 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub requetes: u64,
    pub erreurs: u64,
    pub octets: u64,
}

impl Usage {
    pub fn ajouter(&mut self, autre: &Usage) {
        self.requetes += autre.requetes;
        self.erreurs += autre.erreurs;
        self.octets += autre.octets;
    }
}

/// Key of a usage aggregate: day (days since 1970), key id (0: anonymous), route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CleUsage {
    pub jour: u32,
    pub cle: u64,
    pub route: u8,
}

impl CleUsage {
    fn octets(&self) -> [u8; 13] {
        let mut k = [0u8; 13];
        k[..4].copy_from_slice(&self.jour.to_be_bytes());
        k[4..12].copy_from_slice(&self.cle.to_be_bytes());
        k[12] = self.route;
        k
    }

    fn lire(k: &[u8]) -> Option<CleUsage> {
        Some(CleUsage {
            jour: u32::from_be_bytes(k.get(..4)?.try_into().ok()?),
            cle: u64::from_be_bytes(k.get(4..12)?.try_into().ok()?),
            route: *k.get(12)?,
        })
    }
}

/// `meta` key of the last key id given.
pub(super) const CLE_DERNIERE_CLE: &[u8] = b"derniere_cle_partenaire";

fn tput<T: Serialize>(t: &TransactionalTree, k: &[u8], v: &T) -> Result<(), Tx> {
    t.insert(k, encode(v).map_err(abort)?)?;
    Ok(())
}

impl Store {
    /// Runs `f` over the keys' trees and the audit trail, in one transaction.
    fn cles_tx<R>(
        &self,
        f: impl Fn(
            &TransactionalTree,
            &TransactionalTree,
            &TransactionalTree,
            AuditArbres,
        ) -> Result<R, Tx>,
    ) -> Result<R, StoreError> {
        let a = self.a()?;
        let trees = [&a.cles, &a.cles_jetons, &a.meta, &a.audit, &a.audit_objet];
        // Not while a backup takes its cut (see `Store::sauvegarder`).
        let _cut = self.pause_ecritures();
        let r = trees
            .as_slice()
            .transaction(|t| f(&t[0], &t[1], &t[2], (&t[3], &t[4])))
            .map_err(tx_err);
        let r = self.track_failure(r);
        if r.is_ok() {
            self.make_durable()?;
        }
        r
    }

    /// Records a new key under the hash of its token, audited; returns it with its id.
    pub fn creer_cle(
        &self,
        cle: &ClePartenaire,
        hash: [u8; 32],
        auteur: &str,
    ) -> Result<ClePartenaire, StoreError> {
        self.cles_tx(|cles, jetons, meta, audit| {
            let id = match meta.get(CLE_DERNIERE_CLE)? {
                Some(v) => u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8])),
                None => 0,
            } + 1;
            meta.insert(CLE_DERNIERE_CLE, &id.to_be_bytes())?;
            let mut c = cle.clone();
            c.id = id;
            c.cree_le = now_ms();
            c.cree_par = auteur.to_string();
            tput(cles, &id.to_be_bytes(), &c)?;
            jetons.insert(&hash, &id.to_be_bytes())?;
            let champs = [
                ("nom", c.nom.clone()),
                ("contact", c.contact.clone()),
                ("origines", c.origines.join(" ")),
                ("departements", c.departements.join(" ")),
                ("formacodes", c.formacodes.join(" ")),
                ("par_minute", c.par_minute.to_string()),
                ("par_jour", c.par_jour.to_string()),
            ];
            let changements = champs
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| Changement {
                    champ: k.into(),
                    avant: String::new(),
                    apres: v,
                })
                .collect();
            auditer(
                meta,
                audit,
                Evenement::new(auteur, format!("cle-partenaire {id}"), "creation")
                    .avec(changements),
            )?;
            Ok(c)
        })
    }

    /// Revokes a key, audited; `false` when there is no such key or it was revoked already.
    pub fn revoquer_cle(&self, id: u64, auteur: &str) -> Result<bool, StoreError> {
        self.cles_tx(|cles, _, meta, audit| {
            let Some(b) = cles.get(id.to_be_bytes())? else {
                return Ok(false);
            };
            let mut c: ClePartenaire = decode(&b).map_err(abort)?;
            if c.revoquee_le.is_some() {
                return Ok(false);
            }
            c.revoquee_le = Some(now_ms());
            tput(cles, &id.to_be_bytes(), &c)?;
            auditer(
                meta,
                audit,
                Evenement::new(auteur, format!("cle-partenaire {id}"), "revocation"),
            )?;
            Ok(true)
        })
    }

    /// Every key, with the hash of its token, oldest first.
    pub fn cles(&self) -> Result<Vec<([u8; 32], ClePartenaire)>, StoreError> {
        let a = self.a()?;
        let mut par_id: std::collections::HashMap<u64, [u8; 32]> = Default::default();
        for kv in a.cles_jetons.iter() {
            let (h, id) = kv?;
            if let (Ok(h), Ok(id)) = (
                <[u8; 32]>::try_from(h.as_ref()),
                <[u8; 8]>::try_from(id.as_ref()),
            ) {
                par_id.insert(u64::from_be_bytes(id), h);
            }
        }
        let mut out = Vec::new();
        for v in a.cles.iter().values() {
            let c: ClePartenaire = decode(&v?)?;
            if let Some(h) = par_id.get(&c.id) {
                out.push((*h, c));
            }
        }
        Ok(out)
    }

    /// Adds usage counted in memory to the daily aggregates (one batch).
    pub fn ajouter_usage(&self, lot: &[(CleUsage, Usage)]) -> Result<(), StoreError> {
        if lot.is_empty() {
            return Ok(());
        }
        let a = self.a()?;
        let r = a.usage.transaction(|t| {
            for (k, u) in lot {
                let k = k.octets();
                let mut total: Usage = match t.get(k)? {
                    Some(b) => decode(&b).map_err(abort)?,
                    None => Usage::default(),
                };
                total.ajouter(u);
                tput(t, &k, &total)?;
            }
            Ok(())
        });
        self.track_failure(r.map_err(tx_err))
    }

    /// Daily usage from day `depuis` on (days since 1970), by day, key and route.
    pub fn usage_depuis(&self, depuis: u32) -> Result<Vec<(CleUsage, Usage)>, StoreError> {
        let a = self.a()?;
        let mut out = Vec::new();
        for kv in a.usage.range(depuis.to_be_bytes()..) {
            let (k, v) = kv?;
            if let Some(k) = CleUsage::lire(&k) {
                out.push((k, decode(&v)?));
            }
        }
        Ok(out)
    }

    /// Drops the aggregates of days before `avant`; returns how many went.
    pub fn purger_usage(&self, avant: u32) -> Result<usize, StoreError> {
        let a = self.a()?;
        let mut n = 0;
        for k in a.usage.range(..avant.to_be_bytes().to_vec()).keys() {
            a.usage.remove(k?)?;
            n += 1;
        }
        Ok(n)
    }
}

type AuditArbres<'a> = super::audit::AuditTx<'a>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_created_revoked_and_audited_usage_adds_up() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let c = ClePartenaire {
            nom: "Mission locale".into(),
            departements: vec!["44".into()],
            par_minute: 60,
            par_jour: 1000,
            ..Default::default()
        };
        let (_, h) = crate::accounts::new_token();
        let c = store.creer_cle(&c, h, "compte 1").unwrap();
        assert_eq!(c.id, 1);
        let cles = store.cles().unwrap();
        assert_eq!(cles.len(), 1);
        assert_eq!(cles[0].0, h);
        assert!(cles[0].1.active(now_ms()));
        assert!(store.revoquer_cle(1, "compte 1").unwrap());
        assert!(!store.revoquer_cle(1, "compte 1").unwrap());
        assert!(!store.cles().unwrap()[0].1.active(now_ms()));
        let k = CleUsage {
            jour: 20_000,
            cle: 1,
            route: 2,
        };
        let u = Usage {
            requetes: 3,
            erreurs: 1,
            octets: 100,
        };
        store.ajouter_usage(&[(k, u)]).unwrap();
        store.ajouter_usage(&[(k, u)]).unwrap();
        let lu = store.usage_depuis(19_999).unwrap();
        assert_eq!(
            lu,
            vec![(
                k,
                Usage {
                    requetes: 6,
                    erreurs: 2,
                    octets: 200
                }
            )]
        );
        assert_eq!(store.purger_usage(20_001).unwrap(), 1);
        assert!(store.usage_depuis(0).unwrap().is_empty());
    }
}
