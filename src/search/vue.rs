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
///
/// At 1M sessions the per-group data is far larger than the CPU caches and a query touches
/// its matching groups in no order a prefetcher can follow, so each group is one record in
/// `fiches` (a header, then its value ids): one or two cache lines per group instead of a
/// miss in each of seven arrays.
pub struct Vue {
    /// Per document: the offset of its group's record in `fiches`.
    pub fiche_de: Vec<u32>,
    /// Start and end day (days since 1970) of each document's session.
    pub debut: Vec<i32>,
    pub fin: Vec<i32>,
    /// First document of each group; one more entry for the end of the last.
    pub docs: Vec<u32>,
    /// Per group: the offset of its record.
    pub fiche_debut: Vec<u32>,
    /// The records, in group order (see [`Fiche`]).
    pub fiches: Vec<u32>,
    /// What an id stands for: its dimension and its value.
    pub dim: Vec<u8>,
    pub valeurs: Vec<u64>,
    /// What the default date filter makes of each group, for the last day asked.
    jour: Mutex<Option<Arc<Jour>>>,
}

/// Words of a record's header: group, end of its documents, commune, SIRET (two words),
/// latitude, longitude, flags and number of ids.
const ENTETE: usize = 8;

/// One group's record: what filters, facets and ranking read of it.
#[derive(Clone, Copy)]
pub struct Fiche<'a>(&'a [u32]);

impl<'a> Fiche<'a> {
    #[inline]
    pub fn groupe(self) -> usize {
        self.0[0] as usize
    }

    /// The first document after the group's.
    #[inline]
    pub fn fin_docs(self) -> DocId {
        self.0[1]
    }

    /// INSEE code as a number (0: none).
    #[inline]
    pub fn commune(self) -> u64 {
        self.0[2] as u64
    }

    /// The organisme's SIRET (0: none).
    #[inline]
    pub fn siret(self) -> u64 {
        self.0[3] as u64 | (self.0[4] as u64) << 32
    }

    /// Latitude and longitude (NaN: none).
    #[inline]
    pub fn pos(self) -> [f32; 2] {
        [f32::from_bits(self.0[5]), f32::from_bits(self.0[6])]
    }

    #[inline]
    pub fn drapeaux(self) -> u8 {
        self.0[7] as u8
    }

    /// Value ids, every dimension in one list sorted by dimension (see [`dim_de`],
    /// [`index_de`]), so that a query evaluates filters and counts facets in one short loop.
    #[inline]
    pub fn ids(self) -> &'a [u32] {
        &self.0[ENTETE..]
    }
}

/// The default date filter (sessions starting from today, or open rolling entries) applied
/// to every group of a view once a day, so that most queries do not visit sessions at all.
pub struct Jour {
    pub aujourdhui: i64,
    /// Per group, side by side (one cache miss): the start it ranks by (the next one; the
    /// first that passes when all have started), or `i32::MAX` when no session passes; and
    /// the relative date buckets it falls in (bit i: within `MOIS[i]` months).
    pub par_groupe: Vec<(i32, u8)>,
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

    /// The record at offset `o` of `fiches`.
    #[inline]
    pub fn fiche(&self, o: u32) -> Fiche<'_> {
        let o = o as usize;
        let n = (self.fiches[o + 7] >> 8) as usize;
        Fiche(&self.fiches[o..o + ENTETE + n])
    }

    /// The record of group `g`.
    #[inline]
    pub fn fiche_du_groupe(&self, g: usize) -> Fiche<'_> {
        self.fiche(self.fiche_debut[g])
    }

    /// The value of group `g` in dimension `d` (its first, for a multi-valued one).
    pub fn valeur(&self, d: usize, g: usize) -> Option<u64> {
        self.fiche_du_groupe(g)
            .ids()
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
            par_groupe: Vec::with_capacity(n),
        };
        for g in 0..n {
            let perm = self.fiche_du_groupe(g).drapeaux() & DRAPEAU_PERMANENTE != 0;
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
            let rang = if prochain == i32::MAX {
                premier
            } else {
                prochain
            };
            out.par_groupe.push((rang, p));
        }
        let out = Arc::new(out);
        *j = Some(out.clone());
        out
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
            fiche_de: Vec::with_capacity(n),
            debut: Vec::with_capacity(n),
            fin: Vec::with_capacity(n),
            docs: Vec::new(),
            fiche_debut: Vec::new(),
            fiches: Vec::new(),
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
        let mut ids: Vec<u32> = Vec::new();
        for doc in 0..n as DocId {
            let g = groupe.first(doc).unwrap_or(0);
            if courant != Some(g) {
                courant = Some(g);
                if let Some(&o) = v.fiche_debut.last() {
                    v.fiches[o as usize + 1] = doc;
                }
                let mut dr = 0;
                if distance.first(doc).unwrap_or(false) {
                    dr |= DRAPEAU_DISTANCE;
                }
                if permanente.first(doc).unwrap_or(false) {
                    dr |= DRAPEAU_PERMANENTE;
                }
                ids.clear();
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
                        ids.push(id(&mut v, *d, x));
                    }
                }
                for (d, val) in [
                    (
                        D_CERTIFIANTE,
                        certifiante.first(doc).unwrap_or(false) as u64,
                    ),
                    (D_DISTANCE, (dr & DRAPEAU_DISTANCE != 0) as u64),
                ] {
                    ids.push(id(&mut v, d, val));
                }
                ids.sort_unstable();
                ids.truncate(0xFF_FFFF);
                let siret = multi[5].1.first(doc).unwrap_or(0);
                let [la, lo] = match (lat.first(doc), lon.first(doc)) {
                    (Some(a), Some(b)) => [a as f32, b as f32],
                    _ => [f32::NAN; 2],
                };
                v.fiche_debut.push(v.fiches.len() as u32);
                v.fiches.extend_from_slice(&[
                    v.docs.len() as u32,
                    0, // the end of its documents, set when the next group starts
                    u32::try_from(commune.first(doc).unwrap_or(0)).unwrap_or(0),
                    siret as u32,
                    (siret >> 32) as u32,
                    la.to_bits(),
                    lo.to_bits(),
                    dr as u32 | (ids.len() as u32) << 8,
                ]);
                v.fiches.extend_from_slice(&ids);
                v.docs.push(doc);
            }
            v.fiche_de
                .push(*v.fiche_debut.last().expect("a group has started"));
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
        if let Some(&o) = v.fiche_debut.last() {
            v.fiches[o as usize + 1] = n as DocId;
        }
        v.docs.push(n as DocId);
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
