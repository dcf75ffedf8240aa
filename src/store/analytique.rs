//! Search analytics, private by design: daily aggregates only. For each day and normalised
//! query (folded, stemmed words, then the names of the filters used): how many searches,
//! how many found nothing, how many were followed by a click on a result; and for each day,
//! Formacode field and département, how many searches looked there (demand, set against
//! the open sessions by the staff page). No address, no cookie, no per-person trail.

use super::audit::Evenement;
use super::writes::{abort, tx_err};
use super::*;

/// One day's counts for one normalised query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompteRecherche {
    pub recherches: u64,
    pub sans_resultat: u64,
    pub clics: u64,
}

impl CompteRecherche {
    pub fn ajouter(&mut self, o: &CompteRecherche) {
        self.recherches += o.recherches;
        self.sans_resultat += o.sans_resultat;
        self.clics += o.clics;
    }
}

/// What the aggregates are kept under: a query, or a place of demand.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CleAnalytique {
    /// Day, normalised query (`mot mot|departement,financeur`).
    Requete(u32, String),
    /// Day, Formacode field (2 digits, `--` when unknown), département (`--`: anywhere).
    Demande(u32, String, String),
}

impl CleAnalytique {
    fn octets(&self) -> Vec<u8> {
        let mut k = Vec::new();
        match self {
            CleAnalytique::Requete(j, q) => {
                k.push(b'q');
                k.extend_from_slice(&j.to_be_bytes());
                k.extend_from_slice(q.as_bytes());
            }
            CleAnalytique::Demande(j, champ, dep) => {
                k.push(b'd');
                k.extend_from_slice(&j.to_be_bytes());
                k.extend_from_slice(format!("{champ}\0{dep}").as_bytes());
            }
        }
        k
    }

    fn lire(k: &[u8]) -> Option<CleAnalytique> {
        let j = u32::from_be_bytes(k.get(1..5)?.try_into().ok()?);
        let reste = std::str::from_utf8(k.get(5..)?).ok()?;
        match k.first()? {
            b'q' => Some(CleAnalytique::Requete(j, reste.to_string())),
            b'd' => {
                let (c, d) = reste.split_once('\0')?;
                Some(CleAnalytique::Demande(j, c.to_string(), d.to_string()))
            }
            _ => None,
        }
    }

    pub fn jour(&self) -> u32 {
        match self {
            CleAnalytique::Requete(j, _) | CleAnalytique::Demande(j, _, _) => *j,
        }
    }
}

impl Store {
    /// Adds counts made in memory to the daily aggregates (one batch).
    pub fn ajouter_analytique(
        &self,
        lot: &[(CleAnalytique, CompteRecherche)],
    ) -> Result<(), StoreError> {
        if lot.is_empty() {
            return Ok(());
        }
        let a = self.a()?;
        let r = a.recherches.transaction(|t| {
            for (k, c) in lot {
                let k = k.octets();
                let mut total: CompteRecherche = match t.get(&k)? {
                    Some(b) => decode(&b).map_err(abort)?,
                    None => CompteRecherche::default(),
                };
                total.ajouter(c);
                t.insert(k, encode(&total).map_err(abort)?)?;
            }
            Ok(())
        });
        self.track_failure(r.map_err(tx_err))
    }

    /// Every aggregate from day `depuis` on.
    pub fn analytique_depuis(
        &self,
        depuis: u32,
    ) -> Result<Vec<(CleAnalytique, CompteRecherche)>, StoreError> {
        let a = self.a()?;
        let mut out = Vec::new();
        for prefixe in [b'q', b'd'] {
            let mut debut = vec![prefixe];
            debut.extend_from_slice(&depuis.to_be_bytes());
            for kv in a.recherches.range(debut..vec![prefixe + 1]) {
                let (k, v) = kv?;
                if let Some(k) = CleAnalytique::lire(&k) {
                    out.push((k, decode(&v)?));
                }
            }
        }
        Ok(out)
    }

    /// Marks a query found without results as seen by staff (hidden from their list).
    pub fn marquer_recherche_vue(&self, cle: &str, auteur: &str) -> Result<(), StoreError> {
        let a = self.a()?;
        let mut k = vec![b'v'];
        k.extend_from_slice(cle.as_bytes());
        a.recherches.insert(k, &now_ms().to_be_bytes())?;
        self.journaliser(Evenement::new(
            auteur,
            format!("recherche {cle}"),
            "marquee-vue",
        ))
    }

    /// The queries staff marked as seen.
    pub fn recherches_vues(&self) -> Result<std::collections::HashSet<String>, StoreError> {
        let a = self.a()?;
        let mut out = std::collections::HashSet::new();
        for k in a.recherches.scan_prefix([b'v']).keys() {
            let k = k?;
            out.insert(String::from_utf8_lossy(&k[1..]).into_owned());
        }
        Ok(out)
    }

    /// Drops the aggregates of days before `avant` (the retention); returns how many went.
    pub fn purger_analytique(&self, avant: u32) -> Result<usize, StoreError> {
        let a = self.a()?;
        let mut n = 0;
        for prefixe in [b'q', b'd'] {
            let mut fin = vec![prefixe];
            fin.extend_from_slice(&avant.to_be_bytes());
            for k in a.recherches.range(vec![prefixe]..fin).keys() {
                a.recherches.remove(k?)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_add_up_and_go_after_the_retention() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let q = CleAnalytique::Requete(20_000, "comptabl|departement".into());
        let d = CleAnalytique::Demande(20_001, "32".into(), "44".into());
        let un = CompteRecherche {
            recherches: 2,
            sans_resultat: 1,
            clics: 1,
        };
        store
            .ajouter_analytique(&[(q.clone(), un), (d.clone(), un)])
            .unwrap();
        store.ajouter_analytique(&[(q.clone(), un)]).unwrap();
        let tout = store.analytique_depuis(0).unwrap();
        assert_eq!(tout.len(), 2);
        assert!(tout.contains(&(
            q,
            CompteRecherche {
                recherches: 4,
                sans_resultat: 2,
                clics: 2
            }
        )));
        assert_eq!(store.analytique_depuis(20_001).unwrap().len(), 1);
        assert_eq!(store.purger_analytique(20_001).unwrap(), 1);
        assert_eq!(store.analytique_depuis(0).unwrap(), vec![(d, un)]);
    }
}
