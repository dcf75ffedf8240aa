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
    /// The hits of those searches, added up (their mean is this over `recherches`).
    pub resultats: u64,
}

impl CompteRecherche {
    pub fn ajouter(&mut self, o: &CompteRecherche) {
        self.recherches += o.recherches;
        self.sans_resultat += o.sans_resultat;
        self.clics += o.clics;
        self.resultats += o.resultats;
    }
}

/// What the aggregates are kept under: a query, or a place of demand.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CleAnalytique {
    /// Day, normalised query (`mot mot|departement,financeur`).
    Requete(u32, String),
    /// Day, Formacode field (5 digits, `--` when unknown), département (`--`: anywhere).
    Demande(u32, String, String),
}

impl CleAnalytique {
    pub fn jour(&self) -> u32 {
        match self {
            CleAnalytique::Requete(j, _) | CleAnalytique::Demande(j, _, _) => *j,
        }
    }
}

/// A day's aggregates, stored as one value (`j` ++ day); past [`JOURS_DETAILLES`] days,
/// a month's as one value (`m` ++ its first day), its entries dated on that day. A year is
/// then 12 months and two months of days to read, not hundreds of thousands of entries.
type Journee = Vec<(CleAnalytique, CompteRecherche)>;

/// Days kept one by one (the staff page's 7- and 30-day periods are exact; longer ones count
/// whole months before these).
pub const JOURS_DETAILLES: u32 = 62;

fn cle_jour(jour: u32) -> [u8; 5] {
    let mut k = [b'j', 0, 0, 0, 0];
    k[1..].copy_from_slice(&jour.to_be_bytes());
    k
}

fn cle_mois(premier_jour: u32) -> [u8; 5] {
    let mut k = [b'm', 0, 0, 0, 0];
    k[1..].copy_from_slice(&premier_jour.to_be_bytes());
    k
}

/// The first day of the month of `jour` (days since 1970).
fn premier_du_mois(jour: u32) -> u32 {
    let d = jiff::civil::date(1970, 1, 1) + jiff::Span::new().days(jour as i64);
    let premier = d.first_of_month();
    premier
        .since(jiff::civil::date(1970, 1, 1))
        .map(|s| s.get_days().max(0) as u32)
        .unwrap_or(jour)
}

fn fusionner(dans: &mut std::collections::HashMap<CleAnalytique, CompteRecherche>, j: Journee) {
    for (k, c) in j {
        dans.entry(k).or_default().ajouter(&c);
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
        let mut par_jour: std::collections::BTreeMap<u32, Vec<&(CleAnalytique, CompteRecherche)>> =
            Default::default();
        for x in lot {
            par_jour.entry(x.0.jour()).or_default().push(x);
        }
        let a = self.a()?;
        let r = a.recherches.transaction(|t| {
            for (jour, ajouts) in &par_jour {
                let k = cle_jour(*jour);
                let mut journee: std::collections::HashMap<CleAnalytique, CompteRecherche> =
                    match t.get(k)? {
                        Some(b) => decode::<Journee>(&b).map_err(abort)?.into_iter().collect(),
                        None => Default::default(),
                    };
                for (c, n) in ajouts {
                    journee.entry(c.clone()).or_default().ajouter(n);
                }
                let journee: Journee = journee.into_iter().collect();
                t.insert(&k, encode(&journee).map_err(abort)?)?;
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
        let mois = premier_du_mois(depuis);
        for v in a
            .recherches
            .range(cle_mois(mois).as_slice()..[b'n'].as_slice())
            .values()
        {
            out.extend(decode::<Journee>(&v?)?);
        }
        for v in a
            .recherches
            .range(cle_jour(depuis).as_slice()..[b'k'].as_slice())
            .values()
        {
            out.extend(decode::<Journee>(&v?)?);
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

    /// Drops the aggregates of days before `avant` (the retention; a month goes once all of
    /// it is past), and folds the days older than [`JOURS_DETAILLES`] before `aujourdhui`
    /// into their month; returns how many values went.
    pub fn purger_analytique(&self, avant: u32, aujourdhui: u32) -> Result<usize, StoreError> {
        let a = self.a()?;
        let mut n = 0;
        for k in a
            .recherches
            .range([b'j'].as_slice()..cle_jour(avant).as_slice())
            .keys()
        {
            a.recherches.remove(k?)?;
            n += 1;
        }
        for k in a
            .recherches
            .range([b'm'].as_slice()..cle_mois(premier_du_mois(avant)).as_slice())
            .keys()
        {
            a.recherches.remove(k?)?;
            n += 1;
        }
        let limite = aujourdhui.saturating_sub(JOURS_DETAILLES);
        let anciens: Vec<sled::IVec> = a
            .recherches
            .range([b'j'].as_slice()..cle_jour(limite).as_slice())
            .keys()
            .collect::<Result<_, _>>()?;
        for k in anciens {
            let Some(jour) = k
                .get(1..5)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
            else {
                continue;
            };
            let mois = premier_du_mois(jour);
            let r = a.recherches.transaction(|t| {
                let Some(b) = t.get(&k)? else {
                    return Ok(());
                };
                let journee: Journee = decode(&b).map_err(abort)?;
                let mut total: std::collections::HashMap<CleAnalytique, CompteRecherche> =
                    match t.get(cle_mois(mois))? {
                        Some(m) => decode::<Journee>(&m).map_err(abort)?.into_iter().collect(),
                        None => Default::default(),
                    };
                let redatee = journee.into_iter().map(|(c, n)| {
                    let c = match c {
                        CleAnalytique::Requete(_, q) => CleAnalytique::Requete(mois, q),
                        CleAnalytique::Demande(_, f, d) => CleAnalytique::Demande(mois, f, d),
                    };
                    (c, n)
                });
                fusionner(&mut total, redatee.collect());
                let total: Journee = total.into_iter().collect();
                t.insert(&cle_mois(mois), encode(&total).map_err(abort)?)?;
                t.remove(&k)?;
                Ok(())
            });
            self.track_failure(r.map_err(tx_err))?;
            n += 1;
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
            resultats: 0,
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
                clics: 2,
                resultats: 0
            }
        )));
        assert_eq!(store.analytique_depuis(20_001).unwrap().len(), 1);
        assert_eq!(store.purger_analytique(20_001, 20_001).unwrap(), 1);
        assert_eq!(store.analytique_depuis(0).unwrap(), vec![(d.clone(), un)]);
        // Past two months, days fold into their month, dated on its first day.
        let autre = CleAnalytique::Demande(20_003, "32".into(), "44".into());
        store.ajouter_analytique(&[(autre, un)]).unwrap();
        assert_eq!(store.purger_analytique(0, 20_200).unwrap(), 2);
        let mois = premier_du_mois(20_001);
        assert_eq!(
            store.analytique_depuis(20_002).unwrap(),
            vec![(
                CleAnalytique::Demande(mois, "32".into(), "44".into()),
                CompteRecherche {
                    recherches: 4,
                    sans_resultat: 2,
                    clics: 2,
                    resultats: 0
                }
            )]
        );
        assert!(store.analytique_depuis(mois + 40).unwrap().is_empty());
    }
}
