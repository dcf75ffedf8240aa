//! The import pipeline: LHÉO stream → rules → store, shared by `sofi import`, `sofi check`,
//! the demo loader and (later) the HTTP import route.
//!
//! Two threads parse (see [`lire_en_parallele`]), the caller's thread checks and stores, in batches of [`LOT`] offers per
//! transaction. An offer with a blocking finding is reported and skipped; the others go on.
//! A fatal XML error stops the reading: what was complete before it is stored.

use crate::lheo::reader::lire_en_parallele;
use crate::lheo::{Input, OffreLue};
use crate::model::Formation;
use crate::referentiel::Referentiels;
use crate::rules::{verifier, Constat, Verdict};
use crate::store::{Ecrit, Operation, Store, StoreError};
use serde::Serialize;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

/// Offers per store transaction.
pub const LOT: usize = 128;
/// Rejections and non-diffusions detailed in a report (the counts are always exact).
pub const DETAILS_MAX: usize = 200;

#[derive(Debug, Clone, Serialize)]
pub struct Rejet {
    pub numero: String,
    pub ligne: u32,
    pub colonne: u32,
    pub erreurs: Vec<Constat>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NonDiffusion {
    pub numero: String,
    pub motif: String,
    /// Its warnings: an offer that is stored but not diffused is fixed from them.
    pub avertissements: Vec<Constat>,
}

/// What an import did, for the CLI summary and the HTTP answer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rapport {
    pub source: String,
    pub lues: u64,
    pub stockees: u64,
    pub creees: u64,
    pub modifiees: u64,
    pub inchangees: u64,
    pub rejetees: u64,
    pub non_diffusees: u64,
    pub retirees: u64,
    /// Deleted because an incremental feed listed them as deleted.
    pub supprimees: u64,
    pub sessions_lues: u64,
    pub avertissements: u64,
    pub rejets: Vec<Rejet>,
    pub non_diffusions: Vec<NonDiffusion>,
    /// Set when the file could not be read to its end (XML error, truncation).
    pub erreur_fatale: Option<String>,
    pub octets: u64,
    /// The document was a `lheo-index`: summaries, compared with the store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<RapportIndex>,
}

/// What a `lheo-index` document lists, against what the store holds. An index carries no
/// offer: the offers it points to are imported from their own files (`sofi import` follows
/// the local `file` references).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RapportIndex {
    pub resumes: u64,
    pub organismes: u64,
    /// Summarised offers the store holds with the same or a later `datemaj`.
    pub a_jour: u64,
    /// New or changed offers, to fetch.
    pub a_recuperer: u64,
    /// The first [`DETAILS_MAX`] of them.
    pub details: Vec<crate::lheo::ResumeOffre>,
    /// The `file` references of all of them (for `sofi import` to follow the local ones).
    #[serde(skip)]
    pub fichiers: Vec<String>,
}

impl Rapport {
    pub fn succes(&self) -> bool {
        self.erreur_fatale.is_none()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Options<'a> {
    /// `None`: check only (`sofi check`).
    pub store: Option<&'a Store>,
    pub source: String,
    /// Withdraw the source's offers absent from a completely read file.
    pub remplacer: bool,
    /// An organisation's own file: its offers land as working revisions `en_attente`
    /// instead of going online, and offers of other SIRETs are rejected.
    pub depot: Option<Depot<'a>>,
}

/// Who deposits a file in the organisation space.
pub struct Depot<'a> {
    /// The SIRETs it acts for.
    pub sirets: &'a [String],
    /// Its name in the audit trail.
    pub auteur: &'a str,
}

/// What the reader thread hands over.
enum Lu {
    Offre(Box<OffreLue>),
    Fatal(String),
    /// Read to the end; the deletions listed by the feed, an index's summaries.
    Fin(crate::lheo::FinDocument),
}

/// Reads, checks and (unless checking only) stores one input.
pub fn importer(
    input: Input,
    refs: &Referentiels,
    opts: &Options,
    progression: &(dyn Fn(u64) + Sync),
) -> Result<Rapport, ImportError> {
    let t0 = std::time::Instant::now();
    let r = importer_lot(input, refs, opts, progression);
    if opts.store.is_some() {
        TOTAUX.noter(&r);
        match &r {
            Ok(r) => tracing::info!(
                target: "sofi::import",
                source = %r.source,
                lues = r.lues,
                stockees = r.stockees,
                rejetees = r.rejetees,
                retirees = r.retirees + r.supprimees,
                octets = r.octets,
                ms = t0.elapsed().as_millis() as u64,
                erreur = r.erreur_fatale.as_deref().unwrap_or(""),
                "import"
            ),
            Err(e) => tracing::warn!(
                target: "sofi::import",
                source = %opts.source,
                ms = t0.elapsed().as_millis() as u64,
                "import interrompu : {e}"
            ),
        }
    }
    r
}

/// What every import into a store did since the process started (`/metrics`).
#[derive(Debug, Default)]
pub struct Totaux {
    pub imports: AtomicU64,
    pub echecs: AtomicU64,
    pub lues: AtomicU64,
    pub stockees: AtomicU64,
    pub rejetees: AtomicU64,
}

/// The process's import totals.
pub static TOTAUX: Totaux = Totaux {
    imports: AtomicU64::new(0),
    echecs: AtomicU64::new(0),
    lues: AtomicU64::new(0),
    stockees: AtomicU64::new(0),
    rejetees: AtomicU64::new(0),
};

impl Totaux {
    fn noter(&self, r: &Result<Rapport, ImportError>) {
        self.imports.fetch_add(1, Ordering::Relaxed);
        match r {
            Ok(r) => {
                if !r.succes() {
                    self.echecs.fetch_add(1, Ordering::Relaxed);
                }
                self.lues.fetch_add(r.lues, Ordering::Relaxed);
                self.stockees.fetch_add(r.stockees, Ordering::Relaxed);
                self.rejetees.fetch_add(r.rejetees, Ordering::Relaxed);
            }
            Err(_) => {
                self.echecs.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn importer_lot(
    input: Input,
    refs: &Referentiels,
    opts: &Options,
    progression: &(dyn Fn(u64) + Sync),
) -> Result<Rapport, ImportError> {
    let mut rapport = Rapport {
        source: opts.source.clone(),
        ..Default::default()
    };
    let lus = input.lus.clone();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Lu>(LOT * 2);
    let mut vus: HashSet<String> = HashSet::new();
    let mut suppressions: Vec<String> = Vec::new();
    let mut index = None;
    std::thread::scope(|s| -> Result<(), ImportError> {
        let reader = input.reader;
        s.spawn(move || {
            let mut r = lire_en_parallele(reader);
            for item in r.by_ref() {
                let msg = match item {
                    Ok(o) => Lu::Offre(Box::new(o)),
                    Err(e) => Lu::Fatal(e.to_string()),
                };
                if tx.send(msg).is_err() {
                    return;
                }
            }
            let _ = tx.send(Lu::Fin(r.prendre_fin()));
        });
        let mut lot: Vec<(Formation, Verdict)> = Vec::with_capacity(LOT);
        for item in rx {
            let lue = match item {
                Lu::Offre(l) => *l,
                Lu::Fatal(e) => {
                    rapport.erreur_fatale = Some(e);
                    break;
                }
                Lu::Fin(fin) => {
                    suppressions = fin.suppressions;
                    index = fin.index;
                    break;
                }
            };
            rapport.lues += 1;
            rapport.sessions_lues += lue.formation.sessions().count() as u64;
            if opts.remplacer {
                vus.insert(lue.formation.numero.clone());
            }
            let verdict = verdict_lu(lue.constats, &lue.formation, refs, lue.ligne, lue.colonne);
            rapport.avertissements += verdict.avertissements().count() as u64;
            if verdict.bloquant() {
                rapport.rejetees += 1;
                if rapport.rejets.len() < DETAILS_MAX {
                    rapport.rejets.push(Rejet {
                        numero: lue.formation.numero.clone(),
                        ligne: lue.ligne,
                        colonne: lue.colonne,
                        erreurs: verdict.erreurs().cloned().collect(),
                    });
                }
                continue;
            }
            if let Some(motif) = verdict.motif_non_diffusion() {
                rapport.non_diffusees += 1;
                if rapport.non_diffusions.len() < DETAILS_MAX {
                    rapport.non_diffusions.push(NonDiffusion {
                        numero: lue.formation.numero.clone(),
                        motif: motif.to_string(),
                        avertissements: verdict.avertissements().cloned().collect(),
                    });
                }
            }
            lot.push((lue.formation, verdict));
            if lot.len() == LOT {
                ecrire(opts, &mut lot, &mut rapport)?;
                progression(lus.load(Ordering::Relaxed));
            }
        }
        ecrire(opts, &mut lot, &mut rapport)?;
        Ok(())
    })?;
    if let Some((resumes, organismes)) = index {
        rapport.index = Some(comparer_index(resumes, organismes, opts.store)?);
    }
    rapport.octets = lus.load(Ordering::Relaxed);
    progression(rapport.octets);
    if let (Some(store), true, None) = (opts.store, rapport.succes(), &opts.depot) {
        rapport.supprimees = store.supprimer(&suppressions, Operation::Suppression)? as u64;
    }
    if let (Some(store), true, true, None) =
        (opts.store, opts.remplacer, rapport.succes(), &opts.depot)
    {
        let absents: Vec<String> = store
            .numeros_par_source(&opts.source)?
            .into_iter()
            .filter(|n| !vus.contains(n))
            .collect();
        rapport.retirees = store.supprimer(&absents, Operation::Retrait)? as u64;
    }
    Ok(rapport)
}

/// An index's summaries against the store: an offer is up to date when the store holds it
/// with the same or a later `datemaj` (AAAAMMJJ strings compare as dates).
fn comparer_index(
    resumes: Vec<crate::lheo::ResumeOffre>,
    organismes: u64,
    store: Option<&Store>,
) -> Result<RapportIndex, ImportError> {
    let mut r = RapportIndex {
        resumes: resumes.len() as u64,
        organismes,
        ..Default::default()
    };
    for resume in resumes {
        let stockee = match store {
            Some(s) if !resume.numero.is_empty() => s.offre(&resume.numero)?,
            _ => None,
        };
        let a_jour = stockee.is_some_and(|o| match (&o.formation.datemaj, &resume.datemaj) {
            (_, None) => true,
            (Some(a), Some(b)) => a >= b,
            (None, Some(_)) => false,
        });
        if a_jour {
            r.a_jour += 1;
        } else {
            r.a_recuperer += 1;
            if let Some(f) = &resume.file {
                if !r.fichiers.contains(f) {
                    r.fichiers.push(f.clone());
                }
            }
            if r.details.len() < DETAILS_MAX {
                r.details.push(resume);
            }
        }
    }
    Ok(r)
}

/// Reader findings + rules, every finding located in the file when the reader could not.
fn verdict_lu(
    mut lus: Vec<Constat>,
    f: &Formation,
    refs: &Referentiels,
    ligne: u32,
    colonne: u32,
) -> Verdict {
    let mut v = verifier(f, refs);
    for c in &mut v.constats {
        if c.ligne.is_none() {
            c.ligne = Some(ligne);
            c.colonne = Some(colonne);
        }
    }
    lus.append(&mut v.constats);
    v.constats = lus;
    if v.bloquant() {
        v.diffusion.clear();
    }
    v
}

fn ecrire(
    opts: &Options,
    lot: &mut Vec<(Formation, Verdict)>,
    rapport: &mut Rapport,
) -> Result<(), ImportError> {
    if lot.is_empty() {
        return Ok(());
    }
    if let (Some(store), Some(depot)) = (opts.store, &opts.depot) {
        for (f, v) in lot.drain(..) {
            if !depot.sirets.contains(&f.organisme.siret) {
                rejeter(rapport, f.numero.clone(), Constat::bloquant(
                            "siret-autre-organisme",
                            format!("formation[{}]/organisme-formation-responsable/SIRET-organisme-formation", f.numero),
                            format!(
                                "l'offre appartient au SIRET {}, que ce compte ne représente pas",
                                f.organisme.siret
                            ),
                        ));
                continue;
            }
            let numero = f.numero.clone();
            match store.deposer(f, v, depot.auteur, &opts.source) {
                Ok(Ecrit::Cree) => rapport.creees += 1,
                Ok(Ecrit::Modifie) => rapport.modifiees += 1,
                Ok(Ecrit::Inchange) => rapport.inchangees += 1,
                // An offer the organisation does not manage: that one is refused, not the file.
                Err(StoreError::Conflit(message)) => {
                    rapport.rejetees += 1;
                    if rapport.rejets.len() < DETAILS_MAX {
                        rapport.rejets.push(Rejet {
                            erreurs: vec![Constat::bloquant(
                                "offre-non-geree",
                                format!("formation[{numero}]"),
                                message,
                            )],
                            numero,
                            ligne: 0,
                            colonne: 0,
                        });
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        rapport.stockees = rapport.creees + rapport.modifiees;
    } else if let Some(store) = opts.store {
        // Offers handed over to their organisation are its to change, not the feed's.
        let geres = store.geres_parmi(lot.iter().map(|(f, _)| f.numero.as_str()))?;
        if !geres.is_empty() {
            lot.retain(|(f, _)| {
                let garde = !geres.contains(&f.numero);
                if !garde {
                    rejeter(rapport, f.numero.clone(), Constat::bloquant(
                                "offre-geree-par-l-organisme",
                                format!("formation[{}]", f.numero),
                                "cette offre a été confiée à son organisme, qui la gère dans son espace : le flux ne la modifie plus",
                            ));
                }
                garde
            });
        }
        // A suspended organisme's offers stay out until it is reinstated.
        let suspendus =
            store.suspendus_parmi(lot.iter().map(|(f, _)| f.organisme.siret.as_str()))?;
        if !suspendus.is_empty() {
            lot.retain(|(f, _)| {
                let garde = !suspendus.contains(&f.organisme.siret);
                if !garde {
                    rejeter(rapport, f.numero.clone(), Constat::bloquant(
                                "organisme-suspendu",
                                format!("formation[{}]", f.numero),
                                format!("l'organisme {} est suspendu par le Carif-Oref : ses offres ne sont pas diffusées", f.organisme.siret),
                            ));
                }
                garde
            });
        }
        for e in store.ecrire(lot, &opts.source)? {
            match e {
                Ecrit::Cree => rapport.creees += 1,
                Ecrit::Modifie => rapport.modifiees += 1,
                Ecrit::Inchange => rapport.inchangees += 1,
            }
        }
        rapport.stockees = rapport.creees + rapport.modifiees;
    }
    lot.clear();
    Ok(())
}

/// Counts an offer refused after reading (not by the rules: by whom it belongs to), with
/// its reason in the report's details.
fn rejeter(rapport: &mut Rapport, numero: String, constat: Constat) {
    rapport.rejetees += 1;
    if rapport.rejets.len() < DETAILS_MAX {
        rapport.rejets.push(Rejet {
            numero,
            ligne: 0,
            colonne: 0,
            erreurs: vec![constat],
        });
    }
}
