//! Suspending an organisme: its offers leave `offres` (deletions in the journal, so search,
//! pages and feeds drop them, and `?depuis=` says so) and are kept aside whole; reinstating
//! it writes them back (changes in the journal). Both are audited in the transactions that
//! do them. While suspended, imports and decisions do not bring its offers back.

use super::audit::{auditer, Evenement};
use super::writes::BackofficeTx;
use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suspension {
    pub siret: String,
    pub le: i64,
    pub motif: String,
    pub par: String,
}

/// An offer kept aside while its organisme is suspended, with what it takes to write it
/// back as it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OffreSuspendue {
    pub source: String,
    pub formation: Formation,
    pub verdict: Verdict,
}

impl Store {
    pub fn suspension(&self, siret: &str) -> Result<Option<Suspension>, StoreError> {
        self.a()?
            .suspensions
            .get(siret.as_bytes())?
            .map(|b| decode(&b))
            .transpose()
    }

    pub fn suspensions(&self) -> Result<Vec<Suspension>, StoreError> {
        let a = self.a()?;
        a.suspensions.iter().values().map(|v| decode(&v?)).collect()
    }

    /// Which of these SIRETs are suspended (free while none is).
    pub fn suspendus_parmi<'a>(
        &self,
        sirets: impl Iterator<Item = &'a str>,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let a = self.a()?;
        let mut out = std::collections::HashSet::new();
        if a.suspensions.is_empty() {
            return Ok(out);
        }
        for s in sirets {
            if a.suspensions.contains_key(s.as_bytes())? {
                out.insert(s.to_string());
            }
        }
        Ok(out)
    }

    /// Suspends an organisme: its offers are deleted (journalled) and kept aside, the
    /// suspension recorded and audited, one transaction. Returns how many offers left.
    pub fn suspendre(&self, siret: &str, motif: &str, auteur: &str) -> Result<usize, StoreError> {
        if self.suspension(siret)?.is_some() {
            return Err(StoreError::Conflit(format!(
                "l'organisme {siret} est déjà suspendu"
            )));
        }
        let numeros = self.numeros_par_organisme(siret)?;
        let mut gardees = Vec::with_capacity(numeros.len());
        for n in &numeros {
            if let Some(o) = self.offre(n)? {
                gardees.push(OffreSuspendue {
                    source: o.source,
                    formation: o.formation,
                    verdict: o.verdict,
                });
            }
        }
        let s = Suspension {
            siret: siret.to_string(),
            le: now_ms(),
            motif: motif.to_string(),
            par: auteur.to_string(),
        };
        let n = gardees.len();
        let hook = |t: &BackofficeTx| -> Result<(), Tx> {
            for o in &gardees {
                t.suspendues
                    .insert(key2(siret, &o.formation.numero), encode(o).map_err(abort)?)?;
            }
            t.suspensions
                .insert(siret.as_bytes(), encode(&s).map_err(abort)?)?;
            auditer(
                t.meta,
                t.audit,
                Evenement::new(auteur, format!("organisme {siret}"), "suspension").motif(Some(
                    format!("{motif} ({n} offre(s) retirée(s) de la diffusion)"),
                )),
            )?;
            Ok(())
        };
        self.probe();
        let r = self.supprimer_lot(&numeros, Operation::Suppression, Some(&hook));
        self.track_failure(r)?;
        self.make_durable()?;
        Ok(n)
    }

    /// Reinstates an organisme: its offers kept aside are written back (journalled, one
    /// transaction per source they came from), the suspension lifted with the last one and
    /// audited. Interrupted, it resumes where it stopped.
    pub fn retablir(&self, siret: &str, auteur: &str) -> Result<usize, StoreError> {
        if self.suspension(siret)?.is_none() {
            return Err(StoreError::Conflit(format!(
                "l'organisme {siret} n'est pas suspendu"
            )));
        }
        let a = self.a()?;
        let mut p = siret.as_bytes().to_vec();
        p.push(0);
        let mut par_source: std::collections::BTreeMap<String, Vec<(Formation, Verdict)>> =
            Default::default();
        for v in a.suspendues.scan_prefix(&p).values() {
            let o: OffreSuspendue = decode(&v?)?;
            par_source
                .entry(o.source)
                .or_default()
                .push((o.formation, o.verdict));
        }
        let total: usize = par_source.values().map(Vec::len).sum();
        let sources: Vec<String> = par_source.keys().cloned().collect();
        if sources.is_empty() {
            // No offer to bring back: only the suspension to lift.
            let hook = |t: &BackofficeTx| -> Result<(), Tx> {
                t.suspensions.remove(siret.as_bytes())?;
                auditer(
                    t.meta,
                    t.audit,
                    Evenement::new(auteur, format!("organisme {siret}"), "retablissement"),
                )?;
                Ok(())
            };
            self.probe();
            let r = self.ecrire_lot(&[], SOURCE_ESPACE, Some(&hook), None);
            self.track_failure(r)?;
            self.make_durable()?;
            return Ok(0);
        }
        for (i, source) in sources.iter().enumerate() {
            let lot = &par_source[source];
            let dernier = i + 1 == sources.len();
            let hook = |t: &BackofficeTx| -> Result<(), Tx> {
                for (f, _) in lot {
                    t.suspendues.remove(key2(siret, &f.numero))?;
                }
                if dernier {
                    t.suspensions.remove(siret.as_bytes())?;
                    auditer(
                        t.meta,
                        t.audit,
                        Evenement::new(auteur, format!("organisme {siret}"), "retablissement")
                            .motif(Some(format!("{total} offre(s) rediffusée(s)"))),
                    )?;
                }
                Ok(())
            };
            self.probe();
            let r = self.ecrire_lot(lot, source, Some(&hook), None);
            self.track_failure(r)?;
        }
        self.make_durable()?;
        Ok(total)
    }
}
