//! The audit trail: every change by a person to an offer, an organisation or an account is
//! an event (who, when, what, before → after, why), appended in the transaction that makes
//! the change, never edited or deleted.

use super::*;

/// `meta` key of the last audit sequence number.
pub(super) const CLE_AUDIT: &[u8] = b"audit_seq";

/// One audited event: who did what to which object, and what changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evenement {
    pub seq: u64,
    pub horodatage: i64,
    /// Who: `compte 3 (marie@exemple.fr)`, `sofi user add`, `import fichier.xml`.
    pub auteur: String,
    /// What: `offre ESP-12`, `compte 3`, `organisme 12345678900011`, `demande 7`.
    pub objet: String,
    /// The verb: `creation`, `enregistrement`, `soumission`, `diffusion`, `connexion`…
    pub action: String,
    pub changements: Vec<Changement>,
    pub motif: Option<String>,
}

/// One field's value before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Changement {
    pub champ: String,
    pub avant: String,
    pub apres: String,
}

impl Evenement {
    pub fn new(auteur: &str, objet: impl Into<String>, action: &str) -> Evenement {
        Evenement {
            seq: 0,
            horodatage: 0,
            auteur: auteur.to_string(),
            objet: objet.into(),
            action: action.to_string(),
            changements: Vec::new(),
            motif: None,
        }
    }

    pub fn avec(mut self, changements: Vec<Changement>) -> Self {
        self.changements = changements;
        self
    }

    pub fn motif(mut self, motif: Option<String>) -> Self {
        self.motif = motif;
        self
    }
}

/// Appends an event to the audit trail inside the caller's transaction.
/// The audit trail's trees inside a transaction: the events by sequence number, and the
/// index by object (`objet \0 seq`), so that an offer's history is read without a scan.
pub(super) type AuditTx<'a> = (&'a TransactionalTree, &'a TransactionalTree);

pub(super) fn auditer(
    meta: &TransactionalTree,
    audit: AuditTx,
    mut e: Evenement,
) -> Result<u64, Tx> {
    let (audit, par_objet) = audit;
    let seq = match meta.get(CLE_AUDIT)? {
        Some(v) => u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8])),
        None => 0,
    } + 1;
    meta.insert(CLE_AUDIT, &seq.to_be_bytes())?;
    e.seq = seq;
    e.horodatage = now_ms();
    audit.insert(&seq.to_be_bytes(), encode(&e).map_err(abort)?)?;
    let mut k = e.objet.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    par_objet.insert(k, &[])?;
    Ok(seq)
}

impl Store {
    /// Every event at or after `depuis` (Unix ms), oldest first (for `sofi audit`).
    pub fn audit_depuis(
        &self,
        depuis: i64,
    ) -> Result<impl Iterator<Item = Result<Evenement, StoreError>>, StoreError> {
        let a = self.a()?;
        Ok(a.audit
            .iter()
            .values()
            .map(|v| decode::<Evenement>(&v?))
            .filter(move |e| e.as_ref().map_or(true, |e| e.horodatage >= depuis)))
    }

    /// The audit trail, newest first; only one object's events (through the index) when given.
    pub fn audit(&self, objet: Option<&str>, max: usize) -> Result<Vec<Evenement>, StoreError> {
        let a = self.a()?;
        let Some(objet) = objet else {
            return a
                .audit
                .iter()
                .values()
                .rev()
                .take(max)
                .map(|v| decode(&v?))
                .collect();
        };
        // An object's events through the index, newest first.
        let mut p = objet.as_bytes().to_vec();
        p.push(0);
        let mut out = Vec::new();
        for k in a.audit_objet.scan_prefix(&p).keys().rev().take(max) {
            let k = k?;
            if let Some(v) = a.audit.get(&k[p.len()..])? {
                out.push(decode(&v)?);
            }
        }
        Ok(out)
    }

    /// Number of audit events.
    pub fn audit_seq(&self) -> Result<u64, StoreError> {
        Ok(match self.a()?.meta.get(CLE_AUDIT)? {
            Some(v) => u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8])),
            None => 0,
        })
    }
}

/// Field-by-field difference of two values through their JSON form (leaves only), for
/// the audit trail: `sites[1].ville: Nantes → Angers`.
pub fn diff_json<T: Serialize>(avant: &T, apres: &T) -> Vec<Changement> {
    fn leaves(p: String, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let q = if p.is_empty() {
                        k.clone()
                    } else {
                        format!("{p}.{k}")
                    };
                    leaves(q, v, out);
                }
            }
            serde_json::Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    leaves(format!("{p}[{i}]"), v, out);
                }
            }
            serde_json::Value::Null => {}
            serde_json::Value::String(s) => out.push((p, s.clone())),
            v => out.push((p, v.to_string())),
        }
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let ja = serde_json::to_value(avant).unwrap_or_default();
    let jb = serde_json::to_value(apres).unwrap_or_default();
    leaves(String::new(), &ja, &mut a);
    leaves(String::new(), &jb, &mut b);
    let ma: std::collections::BTreeMap<_, _> = a.into_iter().collect();
    let mb: std::collections::BTreeMap<_, _> = b.into_iter().collect();
    let mut out = Vec::new();
    for k in ma.keys().chain(mb.keys().filter(|k| !ma.contains_key(*k))) {
        let (x, y) = (ma.get(k), mb.get(k));
        if x != y && k != "modifie_le" {
            out.push(Changement {
                champ: k.clone(),
                avant: x.cloned().unwrap_or_default(),
                apres: y.cloned().unwrap_or_default(),
            });
        }
    }
    out
}
