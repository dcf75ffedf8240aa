//! What filters, facets and grouping read, laid out per segment for one tight pass.
//!
//! A query visits every match (totals and facet counts are exact), so reading ~15 fast-field
//! columns per matching session was most of its time. Almost everything is the same for all
//! sessions of a group (an action at one place): Formacodes, publics, financeurs, organisme,
//! place, certification. So a [`Vue`] keeps those once per group, as small dense ids into a
//! per-segment dictionary, and only the dates per session. Segments are immutable, so a view
//! is built once (from the fast fields) and kept while its segment lives; deletions are read
//! from the segment's alive bitset at query time.

use super::index::{JOUR_INCONNU_DEBUT, JOUR_INCONNU_FIN};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tantivy::columnar::Column;
use tantivy::fastfield::AliveBitSet;
use tantivy::index::SegmentId;
use tantivy::{DocId, Searcher, SegmentReader};

// Filter dimensions; facets are counted for each but LIEU (and CERTIFICATION, a filter
// within CERTIFIANTE). Numbered so that a group's ids, sorted, put the single-valued
// dimensions first: the hot loops stop as soon as they are past the dimension they want.
pub const D_DEPARTEMENT: usize = 0;
pub const D_NIVEAU: usize = 1;
pub const D_ORGANISME: usize = 2;
pub const D_CERTIFIANTE: usize = 3;
pub const D_DISTANCE: usize = 4;
pub const D_PUBLIC: usize = 5;
pub const D_FINANCEUR: usize = 6;
pub const D_CERTIFICATION: usize = 7;
pub const D_FORMACODE: usize = 8;
pub const D_LIEU: usize = 9;
pub const D_DATES: usize = 10;
pub const NB_DIMS: usize = 11;

/// A value id in a group's list carries its dimension in its high bits, so that the hot
/// loops tell dimensions apart without a memory load.
const BITS_INDEX: u32 = 24;

#[inline]
pub fn dim_de(id: u32) -> usize {
    (id >> BITS_INDEX) as usize
}

#[inline]
pub fn index_de(id: u32) -> usize {
    (id & ((1 << BITS_INDEX) - 1)) as usize
}

pub const DRAPEAU_DISTANCE: u8 = 1;
pub const DRAPEAU_PERMANENTE: u8 = 2;

/// One segment's view.
pub struct Vue {
    /// Group of each document.
    pub groupe_de: Vec<u32>,
    /// Start and end day (days since 1970) of each document's session.
    pub debut: Vec<i32>,
    pub fin: Vec<i32>,
    /// First document of each group; one more entry for the end of the last.
    pub docs: Vec<u32>,
    /// Per group: INSEE code as a number (0: none), position (NaN: none), flags.
    pub commune: Vec<u64>,
    pub pos: Vec<[f32; 2]>,
    pub drapeaux: Vec<u8>,
    /// Per group: the organisme's SIRET (0: none).
    pub siret: Vec<u64>,
    /// Each group's values, as ids into `valeurs`: group `g` has
    /// `ids[ids_debut[g]..ids_debut[g + 1]]`, every dimension in one list, so that a query
    /// evaluates filters and counts facets of a group in one short loop.
    pub ids_debut: Vec<u32>,
    pub ids: Vec<u32>,
    /// What an id stands for: its dimension and its value.
    pub dim: Vec<u8>,
    pub valeurs: Vec<u64>,
    /// What the default date filter makes of each group, for the last day asked.
    jour: Mutex<Option<Arc<Jour>>>,
}

/// The default date filter (sessions starting from today, or open rolling entries) applied
/// to every group of a view once a day, so that most queries do not visit sessions at all.
pub struct Jour {
    pub aujourdhui: i64,
    /// Per group: the start it ranks by (the next one; the first that passes when all have
    /// started), or `i32::MAX` when no session passes.
    pub rang: Vec<i32>,
    /// Per group: the relative date buckets it falls in (bit i: within `MOIS[i]` months).
    pub periodes: Vec<u8>,
}

/// Relative date facet buckets, in months.
pub const MOIS: &[u64] = &[1, 3, 6];

/// Bit i: a session from `debut` to `fin` starts, or is open, within `MOIS[i]` months of `t`.
#[inline]
pub fn periodes(t: i64, debut: i64, fin: i64, perm: bool) -> u8 {
    let mut b = 0;
    for (i, m) in MOIS.iter().enumerate() {
        let lim = t + (*m as i64) * 30;
        if (debut >= t && debut <= lim) || (perm && fin >= t && debut <= lim) {
            b |= 1 << i;
        }
    }
    b
}

impl Vue {
    pub fn nb_groupes(&self) -> usize {
        self.docs.len() - 1
    }

    /// Documents of group `g`.
    #[inline]
    pub fn docs_de(&self, g: usize) -> std::ops::Range<DocId> {
        self.docs[g]..self.docs[g + 1]
    }

    /// Live documents of group `g` (deletions are the segment's alive bitset's).
    #[inline]
    pub fn vivants<'a>(
        &self,
        g: usize,
        alive: Option<&'a AliveBitSet>,
    ) -> impl Iterator<Item = DocId> + 'a {
        self.docs_de(g)
            .filter(move |&d| alive.is_none_or(|a| a.is_alive(d)))
    }

    /// The value of group `g` in dimension `d` (its first, for a multi-valued one).
    pub fn valeur(&self, d: usize, g: usize) -> Option<u64> {
        self.ids(g)
            .iter()
            .find(|&&i| dim_de(i) == d)
            .map(|&i| self.valeurs[index_de(i)])
    }

    /// The default date filter's verdict on each group for day `aujourdhui` (built on the
    /// first query of the day). Deletions are not looked at: an offer's documents are
    /// deleted together (by formation number), so a group is alive or dead as a whole.
    pub fn jour(&self, aujourdhui: i64) -> Arc<Jour> {
        let mut j = self.jour.lock().expect("day summary lock");
        if let Some(x) = j.as_ref().filter(|x| x.aujourdhui == aujourdhui) {
            return x.clone();
        }
        let n = self.nb_groupes();
        let mut out = Jour {
            aujourdhui,
            rang: Vec::with_capacity(n),
            periodes: Vec::with_capacity(n),
        };
        for g in 0..n {
            let perm = self.drapeaux[g] & DRAPEAU_PERMANENTE != 0;
            let (mut prochain, mut premier, mut p) = (i32::MAX, i32::MAX, 0u8);
            for doc in self.docs_de(g) {
                let (d, e) = (self.debut[doc as usize], self.fin[doc as usize]);
                if d as i64 >= aujourdhui {
                    prochain = prochain.min(d);
                } else if perm && e as i64 >= aujourdhui {
                    premier = premier.min(d);
                }
                p |= periodes(aujourdhui, d as i64, e as i64, perm);
            }
            out.rang.push(if prochain == i32::MAX {
                premier
            } else {
                prochain
            });
            out.periodes.push(p);
        }
        let out = Arc::new(out);
        *j = Some(out.clone());
        out
    }

    /// Value ids of group `g`, all dimensions (see [`dim_de`], [`index_de`]).
    #[inline]
    pub fn ids(&self, g: usize) -> &[u32] {
        &self.ids[self.ids_debut[g] as usize..self.ids_debut[g + 1] as usize]
    }

    /// Reads the segment's fast fields once.
    fn construire(r: &SegmentReader) -> tantivy::Result<Vue> {
        let ff = r.fast_fields();
        let groupe = ff.u64("groupe")?;
        let debut = ff.i64("debut")?;
        let fin = ff.i64("fin")?;
        let lat = ff.f64("lat")?;
        let lon = ff.f64("lon")?;
        let commune = ff.u64("commune")?;
        let distance = ff.bool("a_distance")?;
        let permanente = ff.bool("permanente")?;
        let certifiante = ff.bool("certifiante")?;
        let multi: [(usize, Column<u64>); 7] = [
            (D_FORMACODE, ff.u64("formacodes")?),
            (D_DEPARTEMENT, ff.u64("departement")?),
            (D_PUBLIC, ff.u64("publics")?),
            (D_FINANCEUR, ff.u64("financeurs")?),
            (D_NIVEAU, ff.u64("niveau")?),
            (D_ORGANISME, ff.u64("siret")?),
            (D_CERTIFICATION, ff.u64("certifications")?),
        ];
        let n = r.max_doc() as usize;
        let mut v = Vue {
            groupe_de: Vec::with_capacity(n),
            debut: Vec::with_capacity(n),
            fin: Vec::with_capacity(n),
            docs: Vec::new(),
            commune: Vec::new(),
            pos: Vec::new(),
            drapeaux: Vec::new(),
            siret: Vec::new(),
            ids_debut: Vec::new(),
            ids: Vec::new(),
            dim: Vec::new(),
            valeurs: Vec::new(),
            jour: Mutex::new(None),
        };
        let mut dico: HashMap<(usize, u64), u32> = HashMap::new();
        let mut id = |v: &mut Vue, d: usize, val: u64| -> u32 {
            *dico.entry((d, val)).or_insert_with(|| {
                v.dim.push(d as u8);
                v.valeurs.push(val);
                ((d as u32) << BITS_INDEX) | (v.valeurs.len() - 1) as u32
            })
        };
        let mut courant: Option<u64> = None;
        let mut buf: Vec<u64> = Vec::new();
        for doc in 0..n as DocId {
            let g = groupe.first(doc).unwrap_or(0);
            if courant != Some(g) {
                courant = Some(g);
                v.docs.push(doc);
                v.commune.push(commune.first(doc).unwrap_or(0));
                v.pos.push(match (lat.first(doc), lon.first(doc)) {
                    (Some(a), Some(b)) => [a as f32, b as f32],
                    _ => [f32::NAN; 2],
                });
                let mut dr = 0;
                if distance.first(doc).unwrap_or(false) {
                    dr |= DRAPEAU_DISTANCE;
                }
                if permanente.first(doc).unwrap_or(false) {
                    dr |= DRAPEAU_PERMANENTE;
                }
                v.drapeaux.push(dr);
                v.siret.push(multi[5].1.first(doc).unwrap_or(0));
                v.ids_debut.push(v.ids.len() as u32);
                for (d, col) in &multi {
                    buf.clear();
                    buf.extend(col.values_for_doc(doc));
                    // Level 0 means "none": it is neither a filter value nor a facet.
                    if *d == D_NIVEAU {
                        buf.retain(|x| *x != 0);
                    }
                    buf.sort_unstable();
                    buf.dedup();
                    for &x in &buf {
                        let i = id(&mut v, *d, x);
                        v.ids.push(i);
                    }
                }
                for (d, val) in [
                    (
                        D_CERTIFIANTE,
                        certifiante.first(doc).unwrap_or(false) as u64,
                    ),
                    (D_DISTANCE, (dr & DRAPEAU_DISTANCE != 0) as u64),
                ] {
                    let i = id(&mut v, d, val);
                    v.ids.push(i);
                }
                let debut_ids = *v.ids_debut.last().expect("pushed above") as usize;
                v.ids[debut_ids..].sort_unstable();
            }
            v.groupe_de.push((v.docs.len() - 1) as u32);
            v.debut.push(
                debut
                    .first(doc)
                    .unwrap_or(JOUR_INCONNU_DEBUT)
                    .clamp(0, i32::MAX as i64) as i32,
            );
            v.fin.push(
                fin.first(doc)
                    .unwrap_or(JOUR_INCONNU_FIN)
                    .clamp(0, i32::MAX as i64) as i32,
            );
        }
        v.docs.push(n as DocId);
        v.ids_debut.push(v.ids.len() as u32);
        Ok(v)
    }
}

/// The views of the live segments, built on first use (or when the indexer warms them after
/// a commit) and dropped with their segment.
#[derive(Default)]
pub struct Vues {
    cache: Mutex<HashMap<SegmentId, Arc<Vue>>>,
}

impl Vues {
    /// One view per segment of `searcher`, in segment order.
    pub fn de(&self, searcher: &Searcher) -> tantivy::Result<Vec<Arc<Vue>>> {
        let mut cache = self.cache.lock().expect("views lock");
        let mut out = Vec::with_capacity(searcher.segment_readers().len());
        for r in searcher.segment_readers() {
            let v = match cache.get(&r.segment_id()) {
                Some(v) => v.clone(),
                None => {
                    let v = Arc::new(Vue::construire(r)?);
                    cache.insert(r.segment_id(), v.clone());
                    v
                }
            };
            out.push(v);
        }
        Ok(out)
    }

    /// Builds the views of `searcher`'s new segments and forgets those of merged-away ones.
    pub fn rafraichir(&self, searcher: &Searcher) -> tantivy::Result<()> {
        self.de(searcher)?;
        let vivants: std::collections::HashSet<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(|r| r.segment_id())
            .collect();
        self.cache
            .lock()
            .expect("views lock")
            .retain(|k, _| vivants.contains(k));
        Ok(())
    }
}
