//! Diffusion feeds: the diffusable offer as LHÉO 2.3, whole or incremental, with partner
//! filters. Shared by `sofi export` and `GET /lheo/offres.xml`.
//!
//! Only diffusable actions are written (the scope rule is per action); an offer with none left
//! after filtering is not written. An incremental feed (`depuis`) holds every offer changed
//! since that point that is still diffusable, and lists every other changed offer — deleted,
//! withdrawn, no longer diffusable, or now outside the partner's filters — as a deletion:
//!
//! ```xml
//! <extras info="suppressions"><extra info="formation" numero="…"/></extras>
//! ```
//!
//! after `</offres>`: `lheo/extras` is part of the schema and `extra` accepts anything, so the
//! feed stays XSD-valid, and a partner that ignores extras still gets every new version.

use crate::lheo::LheoWriter;
use crate::model::{Action, Adresse, Formation};
use crate::referentiel::Referentiels;
use crate::store::{OffreStockee, Store, StoreError};
use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};

/// Where an incremental feed starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depuis {
    /// After this journal sequence number.
    Seq(u64),
    /// At or after this instant (Unix ms).
    Instant(i64),
}

impl Depuis {
    /// A journal sequence number, an ISO date (`2027-03-01`) or an ISO timestamp.
    pub fn parse(s: &str) -> Result<Depuis, String> {
        let s = s.trim();
        if let Ok(n) = s.parse::<u64>() {
            return Ok(Depuis::Seq(n));
        }
        if let Ok(ts) = s.parse::<jiff::Timestamp>() {
            return Ok(Depuis::Instant(ts.as_millisecond()));
        }
        if let Ok(d) = s.parse::<jiff::civil::Date>() {
            if let Ok(z) = d.to_zoned(jiff::tz::TimeZone::UTC) {
                return Ok(Depuis::Instant(z.timestamp().as_millisecond()));
            }
        }
        Err(format!(
            "« {s} » : attendu un numéro de journal (ex. 1234), une date ISO (2027-03-01) ou un horodatage ISO (2027-03-01T08:00:00Z)"
        ))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Filtres {
    pub departements: Vec<String>,
    pub financeurs: Vec<String>,
    pub formacodes: Vec<String>,
    pub organismes: Vec<String>,
    /// With `financeurs`: also the actions of a formation eligible to the CPF.
    pub cpf: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Bilan {
    pub offres: u64,
    pub suppressions: u64,
    /// Offers whose body could not be read back (damaged body file): left out, and logged.
    pub endommagees: u64,
}

/// An offer read for a feed: a damaged body is left out (and counted) so that one damaged
/// offer does not cut the feed for every partner; any other error stops the feed.
fn lisible(
    r: Result<Option<OffreStockee>, StoreError>,
    bilan: &mut Bilan,
) -> Result<Option<OffreStockee>, StoreError> {
    match r {
        Err(e @ StoreError::DamagedBody { .. }) => {
            tracing::warn!("flux : {e}");
            bilan.endommagees += 1;
            Ok(None)
        }
        r => r,
    }
}

/// Département of an address: given, else from the INSEE code, else from the postal code.
pub fn departement(a: &Adresse) -> Option<String> {
    if let Some(d) = a.departement.as_ref().filter(|d| !d.is_empty()) {
        return Some(d.clone());
    }
    let code = a
        .code_insee_commune
        .as_deref()
        .filter(|c| c.len() == 5)
        .unwrap_or(&a.codepostal);
    if code.len() != 5 {
        return None;
    }
    Some(if code.starts_with("97") || code.starts_with("98") {
        code[..3].to_string()
    } else if code.starts_with("20") {
        // Corsica: INSEE 2A/2B, postal codes 200xx/201xx → 2A, 202xx/206xx → 2B.
        if code.starts_with("2A") || code.as_bytes()[2] < b'2' {
            "2A".into()
        } else {
            "2B".into()
        }
    } else {
        code[..2].to_string()
    })
}

/// Whether the formation can be paid with the CPF: it carries a CPF code, or it leads to a
/// certification registered in the RNCP or the Répertoire spécifique whose registration is
/// still running on `jour`. An RNCP fiche the référentiel marks inactive, or whose end of
/// validity has passed, does not count; a code it does not know (newer than its extract) is
/// taken as declared.
pub fn eligible_cpf_le(f: &Formation, refs: &Referentiels, jour: jiff::civil::Date) -> bool {
    let rncp_en_cours = |code: &str| {
        let n = crate::referentiel::digits(code);
        !n.is_empty()
            && refs
                .rncp
                .get(&n)
                .is_none_or(|fiche| fiche.actif && fiche.fin.is_none_or(|d| d >= jour))
    };
    f.certifications.iter().any(|c| {
        c.code_cpf.is_some()
            || c.code_rs.is_some()
            || c.code_rncp.as_deref().is_some_and(rncp_en_cours)
            || refs
                .fiches_certifinfo(c)
                .iter()
                .any(|x| x.code_rs.is_some() || x.code_rncp.as_deref().is_some_and(rncp_en_cours))
    }) || f
        .types_formation
        .iter()
        .any(|t| t.children.iter().any(|c| c.name == "code-CPF"))
}

/// [`eligible_cpf_le`] today.
pub fn eligible_cpf(f: &Formation, refs: &Referentiels) -> bool {
    eligible_cpf_le(f, refs, jiff::Zoned::now().date())
}

/// Index of the actions to write: diffusable ones that pass the filters.
pub fn actions_diffusees(o: &OffreStockee, f: &Filtres, refs: &Referentiels) -> Vec<usize> {
    if !o.verdict.diffusable() {
        return Vec::new();
    }
    let fo = &o.formation;
    if !f.organismes.is_empty() && !f.organismes.contains(&fo.organisme.siret) {
        return Vec::new();
    }
    if !f.formacodes.is_empty()
        && !fo.domaine.formacodes.iter().any(|c| {
            refs.formacode_ancetres(&c.code)
                .iter()
                .any(|anc| f.formacodes.contains(anc))
        })
    {
        return Vec::new();
    }
    let cpf = f.cpf && eligible_cpf(fo, refs);
    fo.actions
        .iter()
        .enumerate()
        .filter(|(i, a)| {
            o.verdict.diffusion.get(*i).is_some_and(|d| d.diffusee) && action_filtree(a, f, cpf)
        })
        .map(|(i, _)| i)
        .collect()
}

/// `cpf`: the filter asks for CPF-eligible formations and this one is.
fn action_filtree(a: &Action, f: &Filtres, cpf: bool) -> bool {
    let fin_ok = (f.financeurs.is_empty() && !f.cpf)
        || cpf
        || a.financeurs
            .iter()
            .any(|x| f.financeurs.contains(&x.code_financeur));
    let dep_ok = f.departements.is_empty()
        || a.lieux
            .iter()
            .filter_map(|l| l.coordonnees.adresse.as_ref())
            .chain(a.sessions.iter().map(|s| &s.adresse_inscription.adresse))
            .filter_map(departement)
            .any(|d| f.departements.contains(&d));
    fin_ok && dep_ok
}

/// Writes a feed. `progression` is called with the number of offers examined.
pub fn ecrire_flux<W: Write>(
    store: &Store,
    refs: &Referentiels,
    depuis: Option<Depuis>,
    filtres: &Filtres,
    out: W,
    progression: &mut dyn FnMut(u64),
) -> Result<(Bilan, W), FluxError> {
    // Buffered here: the writer makes many small writes, each costly on a gzip encoder.
    let mut w = LheoWriter::new(io::BufWriter::with_capacity(64 * 1024, out))?;
    let mut bilan = Bilan::default();
    let mut supprimees: Vec<String> = Vec::new();
    let mut vus = 0u64;
    // (CPF eligibility follows the certifications' registration on the day of the feed.)
    let aujourdhui = jiff::Zoned::now().date();
    match depuis {
        None => {
            for o in store.offres() {
                let Some(o) = lisible(o.map(Some), &mut bilan)? else {
                    continue;
                };
                vus += 1;
                if vus.is_multiple_of(1024) {
                    progression(vus);
                }
                let garder = actions_diffusees(&o, filtres, refs);
                if !garder.is_empty() {
                    w.eligibilite_cpf = eligible_cpf_le(&o.formation, refs, aujourdhui);
                    w.formation_filtered(&o.formation, |i, _| garder.contains(&i))?;
                    bilan.offres += 1;
                }
            }
        }
        Some(d) => {
            let seq = match d {
                Depuis::Seq(s) => s,
                Depuis::Instant(t) => store.seq_avant(t)?,
            };
            // Each changed offer once, in the order of its last change.
            let mut dernier: BTreeMap<u64, String> = BTreeMap::new();
            let mut vu: HashSet<String> = HashSet::new();
            let entrees: Vec<_> = store.journal_depuis(seq).collect::<Result<_, _>>()?;
            for e in entrees.into_iter().rev() {
                if vu.insert(e.numero.clone()) {
                    dernier.insert(e.seq, e.numero);
                }
            }
            for numero in dernier.into_values() {
                vus += 1;
                if vus.is_multiple_of(1024) {
                    progression(vus);
                }
                let garder = match lisible(store.offre(&numero), &mut bilan)? {
                    Some(o) => {
                        let g = actions_diffusees(&o, filtres, refs);
                        if !g.is_empty() {
                            w.eligibilite_cpf = eligible_cpf_le(&o.formation, refs, aujourdhui);
                            w.formation_filtered(&o.formation, |i, _| g.contains(&i))?;
                            bilan.offres += 1;
                        }
                        g
                    }
                    None => Vec::new(),
                };
                if garder.is_empty() {
                    supprimees.push(numero);
                }
            }
        }
    }
    bilan.suppressions = supprimees.len() as u64;
    let out = w
        .finish_with_suppressions(&supprimees)?
        .into_inner()
        .map_err(|e| e.into_error())?;
    progression(vus);
    Ok((bilan, out))
}

#[derive(Debug, thiserror::Error)]
pub enum FluxError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("écriture du flux : {0}")]
    Io(#[from] io::Error),
}
