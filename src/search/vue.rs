//! What filters, facets and grouping read, laid out per segment for one tight pass.
//!
//! A query visits every match (totals and facet counts are exact), so reading ~15 fast-field
//! columns per matching session was most of its time. Almost everything is the same for all
//! sessions of a group (an action at one place): Formacodes, publics, financeurs, organisme,
//! place, certification. So a [`Vue`] keeps those once per group, as small dense ids into a
//! per-segment dictionary, and only the dates per session. Segments are immutable, so a view
//! is built once (from the fast fields) and kept while its segment lives; deletions are read
//! from the segment's alive bitset at query time.
//!
//! At 1M sessions the per-group data is far larger than the CPU caches and a query meets
//! its matching groups in an order no prefetcher can follow. So each group is one record of
//! one cache line ([`GroupRecord`]: place, flags, two profils and up to 22 value ids of 16 bits),
//! found from a document by arithmetic and a small bitmap that stays in cache: a match costs
//! one memory fetch, which the query issues ahead for a whole batch of matches.
//!
//! The few-valued dimensions (département, niveau, certifiante, distance, voie, publics,
//! financeurs) make ~8 of a group's ~12 counted ids. Split in two halves (the first four;
//! publics and financeurs), they take few distinct combinations: 70 and 1,020 at 1M
//! sessions, where the six together took 26,717. Each combination is a *profil*: a group
//! passing every filter counts its two profils once each, and the profils' counts are spread
//! over their values at the end of the pass. Their counters fit the core's first-level cache
//! and the spreading is a few thousand additions.
//!
//! (One file past 600 lines: the record layout, its construction and its readers must agree
//! bit for bit; they change together.)

use super::index::{JOUR_INCONNU_DEBUT, JOUR_INCONNU_FIN};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use tantivy::columnar::Column;
use tantivy::fastfield::AliveBitSet;
use tantivy::index::SegmentId;
use tantivy::{DocId, Searcher, SegmentReader};

// Filter dimensions; facets are counted for each but LIEU (and CERTIFICATION, a filter
// within CERTIFIANTE). Numbered so that a group's ids, sorted, put the few-valued
// dimensions first (its two profils: those before ORGANISME, cut at PUBLIC) and
// certifications last: the hot loops stop as soon as they are past the dimension they
// want, and facet counting stops before certifications.
pub const D_DEPARTEMENT: usize = 0;
pub const D_NIVEAU: usize = 1;
pub const D_CERTIFIANTE: usize = 2;
pub const D_DISTANCE: usize = 3;
pub const D_VOIE: usize = 4;
pub const D_PUBLIC: usize = 5;
pub const D_FINANCEUR: usize = 6;
pub const D_ORGANISME: usize = 7;
pub const D_FORMACODE: usize = 8;
pub const D_CERTIFICATION: usize = 9;
pub const D_LIEU: usize = 10;
pub const D_DATES: usize = 11;
pub const NB_DIMS: usize = 12;

pub const DRAPEAU_DISTANCE: u8 = 1;
pub const DRAPEAU_PERMANENTE: u8 = 2;

/// Value ids a record holds itself; a group with more (or a segment with more than 65,536
/// values) keeps its ids in `Vue::longs`.
pub(crate) const IDS_COURTS: usize = 22;
const LONG: u32 = 1 << 16;

/// A group whose profils are not numbered (past 65,535 profils in a segment): its
/// few-valued ids are counted one by one.
pub const SANS_PROFIL: u16 = u16::MAX;

/// One group's record: commune, position, flags, and its value ids sorted (so by
/// dimension: see [`Vue::dim`]), every dimension in one list so that a query evaluates
/// filters and counts facets in one short loop.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
pub struct GroupRecord {
    /// INSEE code as a number (0: none).
    pub commune: u32,
    /// Latitude and longitude (NaN: none).
    pub pos: [f32; 2],
    /// Flags (low byte), number of ids (next byte; 0 for a `LONG` record), `LONG` (bit
    /// 16), number of ids in its profils (high byte).
    state_id: u32,
    /// The group's two profils (see [`Vue::profil`]), or `SANS_PROFIL` twice.
    pub profils: [u16; 2],
    /// The ids; for a `LONG` record, where they start in `Vue::longs` and how many there
    /// are (two 32-bit numbers in four halves).
    ids: [u16; IDS_COURTS],
}

// One record, one cache line.
const _: () = assert!(std::mem::size_of::<GroupRecord>() == 64);

impl GroupRecord {
    #[inline]
    pub fn drapeaux(&self) -> u8 {
        self.state_id as u8
    }

    /// How many of the group's first ids make its two profils.
    #[inline]
    pub fn nb_profil(&self) -> usize {
        (self.state_id >> 24) as usize
    }
}

/// A group's value ids, 16 or 32 bits wide.
#[derive(Clone, Copy)]
pub enum Ids<'a> {
    Courts(&'a [u16]),
    Longs(&'a [u32]),
}

impl<'a> Ids<'a> {
    /// The ids as indexes, whatever their width (for the cold paths; the hot loops are
    /// generic over [`Id`]).
    pub fn iter(self) -> impl Iterator<Item = usize> + 'a {
        let (courts, longs): (&[u16], &[u32]) = match self {
            Ids::Courts(s) => (s, &[]),
            Ids::Longs(s) => (&[], s),
        };
        courts
            .iter()
            .map(|&i| i as usize)
            .chain(longs.iter().map(|&i| i as usize))
    }
}

/// A value id, whatever its width.
pub trait Id: Copy {
    fn i(self) -> usize;
}

impl Id for u16 {
    #[inline(always)]
    fn i(self) -> usize {
        self as usize
    }
}

impl Id for u32 {
    #[inline(always)]
    fn i(self) -> usize {
        self as usize
    }
}

/// One segment's view.
pub struct Vue {
    /// Start and end day (days since 1970) of each document's session.
    pub debut: Vec<i32>,
    pub fin: Vec<i32>,
    /// First document of each group; one more entry for the end of the last.
    pub docs: Vec<u32>,
    /// Bit `d % 64` of word `d / 64`: document `d` starts a group; and the number of groups
    /// started before each word. Together they give a document's group (see `groupe_de`).
    debuts: Vec<u64>,
    avant: Vec<u32>,
    /// One record per group.
    pub fiches: Vec<GroupRecord>,
    /// The ids of `LONG` records.
    longs: Vec<u32>,
    /// The ids of profil `p` are `profil_ids[profils[p]..profils[p + 1]]` (16 bits: the
    /// few-valued dimensions have a few hundred values).
    profils: Vec<u32>,
    profil_ids: Vec<u16>,
    /// What an id stands for: its dimension and its value; sorted by dimension then value,
    /// so that sorted ids are sorted by dimension.
    pub dim: Vec<u8>,
    pub valeurs: Vec<u64>,
    /// First id of each dimension (and the end of the last).
    pub premier_id: [u32; NB_DIMS + 1],
    /// What the default date filter makes of each group, for the last day asked.
    jour: Mutex<Option<Arc<Jour>>>,
    /// Value counts over the groups that pass the default date filter (see `comptes_du_jour`).
    base: Mutex<Option<Arc<Base>>>,
}

/// How many live groups with an upcoming or open session have each value, for one day and
/// one state of the segment's deletions.
pub struct Base {
    aujourdhui: i64,
    /// Live documents of the segment when counted (`u32::MAX`: no deletion).
    vivants: u32,
    pub comptes: Vec<u32>,
}

/// The default date filter (sessions starting from today, or open rolling entries) applied
/// to every group of a view once a day, so that most queries do not visit sessions at all.
pub struct Jour {
    pub aujourdhui: i64,
    /// Per group, in 32 bits (16 groups per cache line): the start it ranks by (the next
    /// one; the first that passes when all have started) as days from `aujourdhui -
    /// DECALAGE` in the high 29 bits, `AUCUN` when no session passes; and the relative date
    /// buckets it falls in in the low 3 (bit i: within `MOIS[i]` months).
    pub par_groupe: Vec<u32>,
}

/// Relative date facet buckets, in months (at most 3: see [`Jour::par_groupe`]).
pub const MOIS: &[u64] = &[1, 3, 6];
const _: () = assert!(MOIS.len() <= 3);

const DECALAGE: i64 = 1 << 28;
const AUCUN: u32 = u32::MAX >> 3;

impl Jour {
    /// Whether group `g` has an upcoming or open session.
    #[inline]
    pub fn passe(&self, g: usize) -> bool {
        self.par_groupe[g] >> 3 != AUCUN
    }

    /// The start group `g` ranks by (`i32::MAX`: none; starts past 700,000 years from
    /// now are taken as that far).
    #[inline]
    pub fn rang(&self, g: usize) -> i32 {
        match self.par_groupe[g] >> 3 {
            AUCUN => i32::MAX,
            r => (r as i64 + self.aujourdhui - DECALAGE) as i32,
        }
    }

    /// The date buckets of group `g`.
    #[inline]
    pub fn periodes(&self, g: usize) -> u8 {
        (self.par_groupe[g] & 7) as u8
    }

    fn paquet(aujourdhui: i64, rang: i32, periodes: u8) -> u32 {
        let r = if rang == i32::MAX {
            AUCUN
        } else {
            (rang as i64 - aujourdhui + DECALAGE).clamp(0, AUCUN as i64 - 1) as u32
        };
        r << 3 | periodes as u32
    }
}

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
    /// Groups, values, profiles and ids per group (by dimension), for benches.
    pub fn describe(&self) -> String {
        let n = self.nb_groupes().max(1) as f64;
        let mut par_dim = [0usize; 16];
        for g in 0..self.nb_groupes() {
            for i in self.ids(g).iter() {
                par_dim[self.dim[i] as usize] += 1;
            }
        }
        format!(
            "view: {} groups, {} values, {} profils, {:.1} ids per group (by dimension: {:?})",
            self.nb_groupes(),
            self.valeurs.len(),
            self.nb_profils(),
            par_dim.iter().sum::<usize>() as f64 / n,
            par_dim
                .iter()
                .map(|&k| (k as f64 / n * 10.0).round() / 10.0)
                .collect::<Vec<_>>()
        )
    }

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

    /// The group of document `d`: ~2 bits per document, so it stays in cache.
    #[inline]
    pub fn groupe_de(&self, d: DocId) -> usize {
        let (w, b) = ((d / 64) as usize, d % 64);
        let masque = u64::MAX >> (63 - b);
        (self.avant[w] + (self.debuts[w] & masque).count_ones()) as usize - 1
    }

    pub fn nb_profils(&self) -> usize {
        self.profils.len() - 1
    }

    /// The value ids of profil `p`.
    #[inline]
    pub fn profil(&self, p: usize) -> &[u16] {
        &self.profil_ids[self.profils[p] as usize..self.profils[p + 1] as usize]
    }

    /// Value ids of group `g`.
    #[inline]
    pub fn ids(&self, g: usize) -> Ids<'_> {
        let f = &self.fiches[g];
        if f.state_id & LONG == 0 {
            Ids::Courts(&f.ids[..(f.state_id >> 8) as u8 as usize])
        } else {
            let debut = f.ids[0] as usize | (f.ids[1] as usize) << 16;
            let n = f.ids[2] as usize | (f.ids[3] as usize) << 16;
            Ids::Longs(&self.longs[debut..debut + n])
        }
    }

    /// The value of group `g` in dimension `d` (its first, for a multi-valued one).
    pub fn valeur(&self, d: usize, g: usize) -> Option<u64> {
        self.ids(g)
            .iter()
            .find(|&i| self.dim[i] as usize == d)
            .map(|i| self.valeurs[i])
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
            let perm = self.fiches[g].drapeaux() & DRAPEAU_PERMANENTE != 0;
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
            out.par_groupe.push(Jour::paquet(aujourdhui, rang, p));
        }
        grandes_pages(&out.par_groupe);
        let out = Arc::new(out);
        *j = Some(out.clone());
        out
    }

    /// Value counts over the live groups passing the default date filter: the facet counts
    /// of a dimension that is the only filter of a query without words or place, whatever
    /// its selection. Built on the first such query of the day (or after deletions).
    pub fn comptes_du_jour(&self, aujourdhui: i64, alive: Option<&AliveBitSet>) -> Arc<Base> {
        // The segment's deletions only grow: its live count tells one state from another.
        let vivants = alive.map_or(u32::MAX, |a| a.num_alive_docs() as u32);
        let mut b = self.base.lock().expect("day counts lock");
        if let Some(x) = b
            .as_ref()
            .filter(|x| x.aujourdhui == aujourdhui && x.vivants == vivants)
        {
            return x.clone();
        }
        let jour = self.jour(aujourdhui);
        let mut comptes = vec![0u32; self.valeurs.len()];
        for g in 0..self.nb_groupes() {
            if !jour.passe(g) || alive.is_some_and(|a| !a.is_alive(self.docs[g])) {
                continue;
            }
            self.ids(g).iter().for_each(|i| comptes[i] += 1);
        }
        let out = Arc::new(Base {
            aujourdhui,
            vivants,
            comptes,
        });
        *b = Some(out.clone());
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
        let multi: [(usize, Column<u64>); 8] = [
            (D_FORMACODE, ff.u64("formacodes")?),
            (D_VOIE, ff.u64("voies")?),
            (D_DEPARTEMENT, ff.u64("departement")?),
            (D_PUBLIC, ff.u64("publics")?),
            (D_FINANCEUR, ff.u64("financeurs")?),
            (D_NIVEAU, ff.u64("niveau")?),
            (D_ORGANISME, ff.u64("siret")?),
            (D_CERTIFICATION, ff.u64("certifications")?),
        ];
        let n = r.max_doc() as usize;
        let mut v = Vue {
            debut: Vec::with_capacity(n),
            fin: Vec::with_capacity(n),
            docs: Vec::new(),
            debuts: vec![0; n / 64 + 1],
            avant: vec![0; n / 64 + 1],
            fiches: Vec::new(),
            longs: Vec::new(),
            profils: vec![0],
            profil_ids: Vec::new(),
            dim: Vec::new(),
            valeurs: Vec::new(),
            premier_id: [0; NB_DIMS + 1],
            jour: Mutex::new(None),
            base: Mutex::new(None),
        };
        // First pass: each group's values under provisional ids (in order of appearance).
        let mut dico: HashMap<(usize, u64), u32> = HashMap::new();
        let mut provisoires: Vec<(usize, u64)> = Vec::new();
        let mut id = |d: usize, val: u64| -> u32 {
            *dico.entry((d, val)).or_insert_with(|| {
                provisoires.push((d, val));
                (provisoires.len() - 1) as u32
            })
        };
        let mut ids_des_groupes: Vec<u32> = Vec::new();
        let mut bornes: Vec<u32> = vec![0];
        let mut courant: Option<u64> = None;
        let mut buf: Vec<u64> = Vec::new();
        for doc in 0..n as DocId {
            let g = groupe.first(doc).unwrap_or(0);
            if courant != Some(g) {
                courant = Some(g);
                v.docs.push(doc);
                v.debuts[doc as usize / 64] |= 1 << (doc % 64);
                let mut dr = 0;
                if distance.first(doc).unwrap_or(false) {
                    dr |= DRAPEAU_DISTANCE;
                }
                if permanente.first(doc).unwrap_or(false) {
                    dr |= DRAPEAU_PERMANENTE;
                }
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
                        ids_des_groupes.push(id(*d, x));
                    }
                }
                let cert = certifiante.first(doc).unwrap_or(false) as u64;
                ids_des_groupes.push(id(D_CERTIFIANTE, cert));
                ids_des_groupes.push(id(D_DISTANCE, (dr & DRAPEAU_DISTANCE != 0) as u64));
                bornes.push(ids_des_groupes.len() as u32);
                let [la, lo] = match (lat.first(doc), lon.first(doc)) {
                    (Some(a), Some(b)) => [a as f32, b as f32],
                    _ => [f32::NAN; 2],
                };
                v.fiches.push(GroupRecord {
                    commune: u32::try_from(commune.first(doc).unwrap_or(0)).unwrap_or(0),
                    pos: [la, lo],
                    state_id: dr as u32,
                    profils: [SANS_PROFIL; 2],
                    ids: [0; IDS_COURTS],
                });
            }
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
        let mut total = 0;
        for (w, a) in v.debuts.iter().zip(v.avant.iter_mut()) {
            *a = total;
            total += w.count_ones();
        }
        // Final ids: values sorted by dimension, then value.
        let mut ordre: Vec<u32> = (0..provisoires.len() as u32).collect();
        ordre.sort_unstable_by_key(|&i| provisoires[i as usize]);
        let mut nouvel = vec![0u32; provisoires.len()];
        for (nouveau, &ancien) in ordre.iter().enumerate() {
            nouvel[ancien as usize] = nouveau as u32;
            let (d, val) = provisoires[ancien as usize];
            v.dim.push(d as u8);
            v.valeurs.push(val);
        }
        for d in 0..=NB_DIMS {
            v.premier_id[d] = v.dim.partition_point(|&x| (x as usize) < d) as u32;
        }
        let courts = v.valeurs.len() <= 1 << 16;
        let max_courts = super::thresholds().short_ids;
        let mut ids: Vec<u32> = Vec::new();
        let mut profils: HashMap<Vec<u32>, u16> = HashMap::new();
        let fin_profil = v.premier_id[D_ORGANISME];
        // Where the second half of the few-valued dimensions starts.
        let milieu = v.premier_id[D_PUBLIC];
        // (Profils only when their ids fit in 16 bits.)
        let profils_max = if fin_profil <= 1 << 16 {
            super::thresholds().profiles
        } else {
            0
        };
        for (g, f) in v.fiches.iter_mut().enumerate() {
            ids.clear();
            ids.extend(
                ids_des_groupes[bornes[g] as usize..bornes[g + 1] as usize]
                    .iter()
                    .map(|&i| nouvel[i as usize]),
            );
            ids.sort_unstable();
            let n = ids.partition_point(|&i| i < fin_profil);
            let m = ids.partition_point(|&i| i < milieu);
            if n <= u8::MAX as usize {
                let mut numero = |moitie: &[u32]| {
                    let suivant = profils.len();
                    match profils.get(moitie) {
                        Some(&p) => p,
                        None if suivant < profils_max => {
                            profils.insert(moitie.to_vec(), suivant as u16);
                            v.profil_ids.extend(moitie.iter().map(|&i| i as u16));
                            v.profils.push(v.profil_ids.len() as u32);
                            suivant as u16
                        }
                        None => SANS_PROFIL,
                    }
                };
                let paire = [numero(&ids[..m]), numero(&ids[m..n])];
                if !paire.contains(&SANS_PROFIL) {
                    f.profils = paire;
                    f.state_id |= (n as u32) << 24;
                }
            }
            if courts && ids.len() <= max_courts {
                f.state_id |= (ids.len() as u32) << 8;
                for (c, &i) in f.ids.iter_mut().zip(&ids) {
                    *c = i as u16;
                }
            } else {
                let (debut, n) = (v.longs.len(), ids.len());
                f.state_id |= LONG;
                f.ids[..4].copy_from_slice(&[
                    debut as u16,
                    (debut >> 16) as u16,
                    n as u16,
                    (n >> 16) as u16,
                ]);
                v.longs.extend_from_slice(&ids);
            }
        }
        grandes_pages(&v.fiches);
        grandes_pages(&v.debut);
        grandes_pages(&v.fin);
        grandes_pages(&v.docs);
        Ok(v)
    }
}

/// Asks the kernel to back the 2 MiB-aligned part of `v` with huge pages. A query reads a
/// big segment's records, sessions and day summaries at scattered places: on 4 KiB pages
/// most of those reads also miss the TLB, and in a virtual machine a page walk is several
/// more trips to memory. The arrays are already filled, so their pages are collapsed at
/// once (`MADV_COLLAPSE`, Linux 6.1+); where the kernel refuses (THP off), nothing changes.
fn grandes_pages<T>(v: &[T]) {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 2 << 20;
        /// `MADV_COLLAPSE` (asm-generic/mman-common.h; not in every libc flavour's bindings).
        const MADV_COLLAPSE: libc::c_int = 25;
        let debut = (v.as_ptr() as usize).next_multiple_of(PAGE);
        let fin = (v.as_ptr() as usize + std::mem::size_of_val(v)) / PAGE * PAGE;
        if fin > debut {
            for conseil in [libc::MADV_HUGEPAGE, MADV_COLLAPSE] {
                // SAFETY: the range lies inside `v`'s allocation, and neither advice
                // changes what the memory holds.
                unsafe { libc::madvise(debut as *mut libc::c_void, fin - debut, conseil) };
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

/// The views of the live segments, built on first use (or when the indexer warms them after
/// a commit) and dropped with their segment.
#[derive(Default)]
pub struct Vues {
    /// Read by every query, written when a segment appears or goes.
    cache: RwLock<HashMap<SegmentId, Arc<Vue>>>,
}

impl Vues {
    /// One view per segment of `searcher`, in segment order.
    pub fn de(&self, searcher: &Searcher) -> tantivy::Result<Vec<Arc<Vue>>> {
        {
            let cache = self.cache.read().expect("views lock");
            let vues: Option<Vec<Arc<Vue>>> = searcher
                .segment_readers()
                .iter()
                .map(|r| cache.get(&r.segment_id()).cloned())
                .collect();
            if let Some(v) = vues {
                return Ok(v);
            }
        }
        let mut cache = self.cache.write().expect("views lock");
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
            .write()
            .expect("views lock")
            .retain(|k, _| vivants.contains(k));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A group's packed day summary gives back its start and buckets.
    #[test]
    fn day_summary_round_trip() {
        let aujourdhui = 20_419;
        let mut j = Jour {
            aujourdhui,
            par_groupe: Vec::new(),
        };
        let cas = [
            (0, 0b000),
            (20_000, 0b111),
            (20_419, 0b101),
            (20_500, 0b010),
            (JOUR_INCONNU_FIN as i32, 0),
            (i32::MAX, 0),
        ];
        for (rang, p) in cas {
            j.par_groupe.push(Jour::paquet(aujourdhui, rang, p));
        }
        for (g, (rang, p)) in cas.into_iter().enumerate() {
            assert_eq!((j.rang(g), j.periodes(g)), (rang, p));
            assert_eq!(j.passe(g), rang != i32::MAX);
        }
    }
}
