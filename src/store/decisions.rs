//! Decisions and their recomputation. Whether an offer is online comes from a decision: the
//! rules' (the scope rule and the blocking findings, for every offer), the auto-acceptance
//! policy's, or a staff member's (for an entered offer). When the rules or the référentiels
//! change, the automatic decisions are taken again over the whole store ([`Store::rejuger`]);
//! a person's stays as it was until the offer changes again.

use super::audit::{auditer, Changement, Evenement};
use super::*;
use rayon::prelude::*;
use std::ops::Bound;

/// `meta` key of what the stored offers were judged with (`rules::empreinte`).
const CLE_EMPREINTE: &[u8] = b"empreinte_regles";

/// Offers judged, then written, per transaction.
const LOT: usize = 1000;

/// Who put an entered offer's diffused revision online, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The staff member (`compte 3 (marie@…)`); `None` for the auto-acceptance policy.
    pub par: Option<String>,
    pub le: i64,
}

/// How a revision is accepted (see [`Store::diffuser_dossier`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acceptation {
    /// By a staff member: frozen until the offer changes again.
    Equipe,
    /// By the policy; `a_revoir` when drawn for a look by staff afterwards.
    Automatique { a_revoir: bool },
}

/// What a judgement again did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Rejugement {
    /// Offers read.
    pub offres: u64,
    /// Their sessions.
    pub sessions: u64,
    /// Offers whose verdict changed (rewritten, journalled: search and feeds follow).
    pub modifiees: u64,
    /// Of those, offers whose diffusion changed (an action listed or not, blocked or not):
    /// each is audited with the decisions before and after.
    pub diffusion_changee: u64,
    /// Offers left as a staff member decided.
    pub figees: u64,
    /// Offers whose body could not be read (`sofi verify` names them).
    pub illisibles: u64,
}

/// One offer judged again: its sessions, and the offer with its new verdict when it changed.
type Juge = (u64, Option<(OffreStockee, Verdict)>);

/// Who a judgement again is by, in the audit trail.
const AUTEUR: &str = "sofi (règles ou référentiels changés)";

impl Store {
    /// What the stored offers were judged with (`None`: a store from before it was noted).
    pub fn empreinte_regles(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .a()?
            .meta
            .get(CLE_EMPREINTE)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Notes what the offers are judged with, when there is nothing to judge again: a new
    /// store (no offer yet) takes the current rules' fingerprint as it is.
    pub fn noter_empreinte_si_vide(&self, empreinte: &str) -> Result<(), StoreError> {
        let a = self.a()?;
        if a.meta.get(CLE_EMPREINTE)?.is_none() && a.offres.is_empty() {
            let _cut = self.pause_ecritures();
            a.meta.insert(CLE_EMPREINTE, empreinte.as_bytes())?;
        }
        Ok(())
    }

    pub fn decision(&self, numero: &str) -> Result<Option<Decision>, StoreError> {
        self.a()?
            .decisions
            .get(numero.as_bytes())?
            .map(|b| decode(&b))
            .transpose()
    }

    /// Judges every stored offer again with `juger` (the rules and référentiels in force),
    /// except the ones a staff member put online, and rewrites those whose verdict changed:
    /// each rewrite is a journalled write (search and `?depuis=` follow), and a changed
    /// diffusion is audited. Then notes `empreinte`. Safe to interrupt: a run that did not
    /// finish leaves the old fingerprint, and the next run skips what is already judged.
    /// Writes that arrive meanwhile win (they are judged with the same rules).
    pub fn rejuger(
        &self,
        empreinte: &str,
        juger: &(dyn Fn(&Formation, &Verdict) -> Verdict + Sync),
    ) -> Result<Rejugement, StoreError> {
        let a = self.a()?;
        let figees: std::collections::HashSet<Vec<u8>> = a
            .decisions
            .iter()
            .filter_map(|kv| {
                let (k, v) = kv.ok()?;
                decode::<Decision>(&v).ok()?.par.map(|_| k.to_vec())
            })
            .collect();
        let mut bilan = Rejugement::default();
        let mut apres: Bound<Vec<u8>> = Bound::Unbounded;
        loop {
            // A chunk of fiches, read from after the last one (the tree changes as we write).
            let fiches: Vec<(sled::IVec, sled::IVec)> = a
                .offres
                .range::<Vec<u8>, _>((apres.clone(), Bound::Unbounded))
                .take(LOT)
                .collect::<Result<_, _>>()?;
            let Some((dernier, _)) = fiches.last() else {
                break;
            };
            apres = Bound::Excluded(dernier.to_vec());
            let (a_juger, gelees): (Vec<_>, Vec<_>) = fiches
                .iter()
                .partition(|(k, _)| !figees.contains(k.as_ref()));
            bilan.figees += gelees.len() as u64;
            // Judged on both cores; only the changed ones come back, with each one's sessions.
            let juges: Vec<Result<Juge, StoreError>> = a_juger
                .par_iter()
                .map(|(k, v)| {
                    let o = self.lire(k, v)?;
                    let sessions = o.formation.sessions().count() as u64;
                    let verdict = juger(&o.formation, &o.verdict);
                    Ok((sessions, (verdict != o.verdict).then_some((o, verdict))))
                })
                .collect();
            let mut changees = Vec::new();
            for j in juges {
                bilan.offres += 1;
                match j {
                    Ok((sessions, changee)) => {
                        bilan.sessions += sessions;
                        changees.extend(changee);
                    }
                    Err(StoreError::DamagedBody { .. }) => bilan.illisibles += 1,
                    Err(e) => return Err(e),
                }
            }
            // One transaction per source (a fiche keeps its source).
            changees.sort_by(|(x, _), (y, _)| x.source.cmp(&y.source));
            for groupe in changees.chunk_by(|(x, _), (y, _)| x.source == y.source) {
                self.reecrire(groupe, &mut bilan)?;
            }
        }
        self.make_durable()?;
        {
            let _cut = self.pause_ecritures();
            a.meta.insert(CLE_EMPREINTE, empreinte.as_bytes())?;
        }
        a.meta.flush()?;
        Ok(bilan)
    }

    /// Rewrites offers of one source with their new verdicts, auditing changed diffusions;
    /// an offer changed meanwhile is left to its newer version.
    fn reecrire(
        &self,
        groupe: &[(OffreStockee, Verdict)],
        bilan: &mut Rejugement,
    ) -> Result<(), StoreError> {
        let evenements: Vec<Evenement> =
            groupe.iter().filter_map(|(o, v)| evenement(o, v)).collect();
        let lot: Vec<(Formation, Verdict)> = groupe
            .iter()
            .map(|(o, v)| (o.formation.clone(), v.clone()))
            .collect();
        let attendus: Vec<u64> = groupe.iter().map(|(o, _)| o.seq).collect();
        let hook = |t: &BackofficeTx| -> Result<(), Tx> {
            for e in &evenements {
                auditer(t.meta, t.audit, e.clone())?;
            }
            Ok(())
        };
        self.probe();
        let r = self.ecrire_lot(&lot, &groupe[0].0.source, Some(&hook), Some(&attendus));
        match self.track_failure(r) {
            Ok(_) => {
                bilan.modifiees += lot.len() as u64;
                bilan.diffusion_changee += evenements.len() as u64;
                Ok(())
            }
            // Someone wrote one of them meanwhile: one at a time, re-read.
            Err(StoreError::Conflit(_)) if groupe.len() > 1 => {
                for i in 0..groupe.len() {
                    self.reecrire(&groupe[i..=i], bilan)?;
                }
                Ok(())
            }
            Err(StoreError::Conflit(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The audit event of a judgement again that changes what is online, or `None`.
fn evenement(o: &OffreStockee, apres: &Verdict) -> Option<Evenement> {
    let avant = &o.verdict;
    let etat = |v: &Verdict| {
        if v.bloquant() {
            "bloquée par une erreur".to_string()
        } else if v.diffusable() {
            "diffusée".to_string()
        } else {
            "hors du périmètre de diffusion".to_string()
        }
    };
    let mut changements = Vec::new();
    if etat(avant) != etat(apres) {
        changements.push(Changement {
            champ: "diffusion".into(),
            avant: etat(avant),
            apres: etat(apres),
        });
    }
    for a in &o.formation.actions {
        let decision = |v: &Verdict| {
            v.diffusion
                .iter()
                .find(|d| d.action == a.numero)
                .map(|d| d.motif.clone())
                .unwrap_or_else(|| "aucune décision (offre bloquée)".into())
        };
        let listee = |v: &Verdict| {
            v.diffusion
                .iter()
                .any(|d| d.action == a.numero && d.diffusee)
        };
        if listee(avant) != listee(apres) {
            changements.push(Changement {
                champ: format!("action {}", a.numero),
                avant: decision(avant),
                apres: decision(apres),
            });
        }
    }
    if changements.is_empty() {
        return None;
    }
    let motif = apres
        .erreurs()
        .next()
        .map(|c| format!("{} : {}", c.chemin, c.message));
    Some(
        Evenement::new(
            AUTEUR,
            format!("offre {}", o.formation.numero),
            "decision-recalculee",
        )
        .avec(changements)
        .motif(motif),
    )
}
