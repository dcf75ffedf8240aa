//! Queries: text → tantivy (BM25 with field boosts, typo tolerance, synonyms), then one pass
//! over the matching groups (an action at one place) that evaluates every filter from the
//! segment's `Vue` and counts disjunctive facets (a dimension's own selection does not narrow
//! its own counts). Totals and counts are exact: they come from every match, not from a top-k.

use super::analyse::mots;
use super::extraits::Surligneur;
use super::index::*;
use super::vue::*;
use crate::referentiel::digits;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;
use tantivy::query::{BooleanQuery, BoostQuery, EnableScoring, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocId, DocSet, Score, Searcher, Term};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tri {
    Pertinence,
    Date,
    Distance,
}

/// A search, parsed and checked (see `http::api` for the parameters).
#[derive(Debug, Clone)]
pub struct Requete {
    pub q: String,
    pub formacodes: Vec<u64>,
    pub communes: Vec<u64>,
    pub departements: Vec<u64>,
    /// Centre and radius (km) of a place search.
    pub centre: Option<(f64, f64)>,
    pub rayon_km: f64,
    pub debut_min: Option<i64>,
    pub debut_max: Option<i64>,
    /// Sessions already started are kept (no date filter at all).
    pub toutes_dates: bool,
    pub publics: Vec<u64>,
    pub financeurs: Vec<u64>,
    pub certifiante: Option<bool>,
    pub certifications: Vec<u64>,
    pub niveaux: Vec<u64>,
    pub a_distance: Option<bool>,
    pub organismes: Vec<u64>,
    pub tri: Tri,
    pub page: usize,
    pub par_page: usize,
    /// Today, in days since 1970 (a parameter so that tests and benches are reproducible).
    pub aujourdhui: i64,
}

impl Requete {
    pub fn new(aujourdhui: i64, par_page: usize) -> Self {
        Requete {
            q: String::new(),
            formacodes: vec![],
            communes: vec![],
            departements: vec![],
            centre: None,
            rayon_km: crate::limits::DEFAULT_RADIUS_KM,
            debut_min: None,
            debut_max: None,
            toutes_dates: false,
            publics: vec![],
            financeurs: vec![],
            certifiante: None,
            certifications: vec![],
            niveaux: vec![],
            a_distance: None,
            organismes: vec![],
            tri: Tri::Pertinence,
            page: 1,
            par_page,
            aujourdhui,
        }
    }

    /// The values selected in filter dimension `d` (none for a dimension without a filter).
    fn selection(&self, d: usize) -> Vec<u64> {
        let booleen = |b: Option<bool>| b.map(|b| b as u64).into_iter().collect();
        match d {
            D_FORMACODE => self.formacodes.clone(),
            D_DEPARTEMENT => self.departements.clone(),
            D_PUBLIC => self.publics.clone(),
            D_FINANCEUR => self.financeurs.clone(),
            D_CERTIFIANTE => booleen(self.certifiante),
            D_CERTIFICATION => self.certifications.clone(),
            D_NIVEAU => self.niveaux.clone(),
            D_DISTANCE => booleen(self.a_distance),
            D_ORGANISME => self.organismes.clone(),
            _ => vec![],
        }
    }
}

/// The dimensions a query can filter on by value.
const DIMS_FILTRES: [usize; 9] = [
    D_DEPARTEMENT,
    D_NIVEAU,
    D_ORGANISME,
    D_CERTIFIANTE,
    D_DISTANCE,
    D_PUBLIC,
    D_FINANCEUR,
    D_FORMACODE,
    D_CERTIFICATION,
];

pub const FACETTES: &[(&str, usize)] = &[
    ("formacode", D_FORMACODE),
    ("departement", D_DEPARTEMENT),
    ("debut", D_DATES),
    ("public", D_PUBLIC),
    ("financeur", D_FINANCEUR),
    ("certifiante", D_CERTIFIANTE),
    ("niveau", D_NIVEAU),
    ("a_distance", D_DISTANCE),
    ("organisme", D_ORGANISME),
];

/// Filters prepared for evaluation on fast-field values.
struct FilterSet {
    r: Requete,
    /// Session-start window (days since 1970), applied unless `dates` is false.
    date_min: i64,
    date_max: i64,
    dates: bool,
}

impl FilterSet {
    fn dates_ok(&self, debut: i64, fin: i64, perm: bool) -> bool {
        if !self.dates {
            return true;
        }
        let dans = debut >= self.date_min && debut <= self.date_max;
        // Rolling entry: open as long as the session runs.
        let ouverte = perm && fin >= self.date_min && debut <= self.date_max;
        dans || ouverte
    }

    /// The window is the default one (from today on), which `Vue::jour` has applied already.
    fn par_defaut(&self) -> bool {
        self.dates && self.r.debut_min.is_none() && self.r.debut_max.is_none()
    }
}

fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1) = (a.0.to_radians(), a.1.to_radians());
    let (la2, lo2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionRes {
    pub debut: Option<String>,
    pub fin: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Resultat {
    pub formation_numero: String,
    pub action_numero: String,
    pub intitule: String,
    pub organisme: String,
    pub siret: String,
    pub commune: Option<String>,
    pub commune_nom: Option<String>,
    pub departement: Option<String>,
    pub prochaines_sessions: Vec<SessionRes>,
    pub autres_sessions: usize,
    pub a_distance: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
    pub extraits: Vec<String>,
    pub score: f32,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ValeurFacette {
    pub valeur: String,
    pub libelle: String,
    pub nombre: u64,
    pub selectionne: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reponse {
    pub total: u64,
    pub page: usize,
    pub par_page: usize,
    pub resultats: Vec<Resultat>,
    /// Facet values by dimension (`debut`, `departement`, `formacode`, `financeur`, …).
    #[schema(value_type = std::collections::BTreeMap<String, Vec<ValeurFacette>>)]
    pub facettes: Facettes,
}

/// Facets by dimension name, in a fixed order; serialized as a JSON object.
#[derive(Debug, Clone)]
pub struct Facettes(pub Vec<(&'static str, Vec<ValeurFacette>)>);

impl Facettes {
    pub fn get(&self, nom: &str) -> Option<&[ValeurFacette]> {
        self.0
            .iter()
            .find(|(n, _)| *n == nom)
            .map(|(_, v)| v.as_slice())
    }
}

impl Serialize for Facettes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

fn iso(j: i64) -> Option<String> {
    (j != JOUR_INCONNU_DEBUT && j != JOUR_INCONNU_FIN).then(|| date_de_jour(j).to_string())
}

/// A group (an action at one place) that passes every filter.
#[derive(Clone, Copy)]
struct Trouve {
    score: Score,
    /// Next start (the first start when all have passed), days since 1970.
    prochain: i32,
    seg: u32,
    g: u32,
    distance: bool,
    /// Kilometres from the searched place (`f32::MAX` without one).
    km: f32,
    /// Its organisme's value id in its segment's view (`u32::MAX`: none); the SIRET is
    /// looked up for the head only (see [`siret`]), not for every passing group.
    organisme: u32,
}

/// The SIRET of a group found (0: none).
fn siret(vues: &[Arc<Vue>], t: &Trouve) -> u64 {
    match t.organisme {
        u32::MAX => 0,
        i => vues[t.seg as usize].valeurs[i as usize],
    }
}

/// The best `k` groups met so far in the ranking's order, and how many passed in all.
///
/// Keeping every passing group to sort the head afterwards meant writing and partitioning
/// 15 MB for a query matching most of 1M sessions; pruning to the best `k` as the pass goes
/// rejects most groups with one comparison.
struct Head {
    k: usize,
    tri: Tri,
    /// At most `2k`, unsorted.
    groupes: Vec<Trouve>,
    /// Once pruned: the `k`-th best so far; no worse group can enter the head.
    seuil: Option<Trouve>,
    total: u64,
}

impl Head {
    fn new(k: usize, tri: Tri) -> Self {
        Head {
            k,
            tri,
            groupes: Vec::with_capacity((2 * k).min(4096)),
            seuil: None,
            total: 0,
        }
    }

    #[cfg(test)]
    fn garder(&mut self, t: Trouve) {
        self.total += 1;
        self.placer(t);
    }

    #[inline]
    fn placer(&mut self, t: Trouve) {
        if self.admet(&t) {
            self.pousser(t);
        }
    }

    /// Whether `t` would enter the head: most groups of a broad query are refused by this
    /// one comparison, before anything else is looked up for them.
    #[inline]
    fn admet(&self, t: &Trouve) -> bool {
        self.k > 0
            && self
                .seuil
                .as_ref()
                .is_none_or(|s| ordre(self.tri)(t, s) == Ordering::Less)
    }

    /// Adds an admitted group.
    #[inline]
    fn pousser(&mut self, t: Trouve) {
        self.groupes.push(t);
        if self.groupes.len() >= 2 * self.k {
            let k = self.k;
            self.groupes.select_nth_unstable_by(k - 1, ordre(self.tri));
            self.groupes.truncate(k);
            self.seuil = Some(self.groupes[k - 1]);
        }
    }

    fn fusionner(&mut self, autre: Head) {
        self.total += autre.total;
        for t in autre.groupes {
            self.placer(t);
        }
    }

    /// Whether every passing group is here (nothing was pruned).
    fn complete(&self) -> bool {
        self.groupes.len() as u64 == self.total
    }

    /// The head, best first: the `k` best (all of them when nothing was pruned; past the
    /// `k`-th, what is left after pruning is not the true order).
    fn triee(mut self) -> Vec<Trouve> {
        self.groupes.sort_unstable_by(ordre(self.tri));
        if !self.complete() {
            self.groupes.truncate(self.k);
        }
        self.groupes
    }
}

/// A pass's facet counts.
struct Comptes {
    /// By value id.
    valeurs: Vec<u32>,
    /// By profil, while passing (see [`Pass::etaler_profils`]).
    profils: Vec<u32>,
    /// Groups in each relative date bucket.
    dates: [u32; MOIS.len()],
}

/// One query's pass over one segment.
struct Pass<'a> {
    f: &'a FilterSet,
    vue: &'a Vue,
    seg: u32,
    /// Per value id: the bit of its dimension when the query selects that value, else 0.
    choisi: Vec<u16>,
    /// The dimensions the query filters on, as bits (LIEU and DATES apart).
    filtrees: u16,
    /// Counts by value id, and of the date buckets; None when only the total is wanted.
    comptes: Option<Comptes>,
    /// The default date filter's verdicts, and whether the query's window is that one.
    jour: Arc<Jour>,
    defaut: bool,
    /// Centre, radius and a lat/lon box around it that rejects most places cheaply.
    cercle: Option<((f64, f64), f64, [f32; 4])>,
    tete: Head,
}

impl<'a> Pass<'a> {
    fn new(f: &'a FilterSet, vue: &'a Vue, seg: u32, facettes: bool, k: usize) -> Self {
        let r = &f.r;
        let mut choisi = vec![0u16; vue.valeurs.len()];
        let mut filtrees = 0u16;
        for d in DIMS_FILTRES {
            let sel = r.selection(d);
            if sel.is_empty() {
                continue;
            }
            filtrees |= 1 << d;
            // A dimension's ids are consecutive and sorted by value.
            let debut = vue.premier_id[d] as usize;
            let valeurs = &vue.valeurs[debut..vue.premier_id[d + 1] as usize];
            for v in &sel {
                if let Ok(i) = valeurs.binary_search(v) {
                    choisi[debut + i] = 1 << d;
                }
            }
        }
        let cercle = r.centre.map(|c| {
            let dlat = (r.rayon_km / 111.0 + 0.01) as f32;
            let dlon = (r.rayon_km / (111.0 * c.0.to_radians().cos().max(0.05)) + 0.01) as f32;
            let (la, lo) = (c.0 as f32, c.1 as f32);
            (c, r.rayon_km, [la - dlat, la + dlat, lo - dlon, lo + dlon])
        });
        Pass {
            f,
            vue,
            seg,
            choisi,
            filtrees,
            comptes: facettes.then(|| Comptes {
                valeurs: vec![0; vue.valeurs.len()],
                profils: vec![0; vue.nb_profils()],
                dates: [0; MOIS.len()],
            }),
            jour: vue.jour(r.aujourdhui),
            defaut: f.par_defaut(),
            cercle,
            tete: Head::new(k, r.tri),
        }
    }

    /// Adds each profil's count to its values, once the pass (and those of the segment's
    /// other part) are over.
    fn etaler_profils(&mut self) {
        if let Some(c) = &mut self.comptes {
            for (p, &n) in std::mem::take(&mut c.profils).iter().enumerate() {
                if n > 0 {
                    for &i in self.vue.profil(p) {
                        c.valeurs[i as usize] += n;
                    }
                }
            }
        }
    }

    /// Takes in the counts and the head of the same segment's other part.
    fn absorber(&mut self, autre: Pass) {
        self.tete.fusionner(autre.tete);
        if let (Some(a), Some(b)) = (&mut self.comptes, autre.comptes) {
            let ajouter = |x: &mut [u32], y: &[u32]| x.iter_mut().zip(y).for_each(|(x, y)| *x += y);
            ajouter(&mut a.valeurs, &b.valeurs);
            ajouter(&mut a.profils, &b.profils);
            ajouter(&mut a.dates, &b.dates);
        }
    }

    /// Evaluates group `g` (its text matched with `score`): filters, facet counts, and the
    /// group itself when it passes. A group failing one dimension still counts in that
    /// dimension's facet (disjunctive facets); failing two, it counts nowhere.
    #[inline]
    fn groupe(&mut self, g: usize, score: Score) {
        // Under the default window, a group without an upcoming or open session is in no
        // count (its date buckets are empty too): its record need not be read.
        if self.defaut && !self.jour.passe(g) {
            return;
        }
        match self.vue.ids(g) {
            Ids::Courts(ids) => self.groupe_ids(g, ids, score),
            Ids::Longs(ids) => self.groupe_ids(g, ids, score),
        }
    }

    #[inline(always)]
    fn groupe_ids<I: Id>(&mut self, g: usize, ids: &[I], score: Score) {
        let vue = self.vue;
        let r = &self.f.r;
        let fiche = &vue.fiches[g];
        let mut manque = 0u16;
        if self.filtrees != 0 {
            // Ids are sorted by dimension: stop past the last filtered one. Only the
            // selected values have a bit in `choisi`.
            let dernier = (15 - self.filtrees.leading_zeros()) as usize;
            let fin = vue.premier_id[(dernier + 1).min(NB_DIMS)] as usize;
            let mut presents = 0u16;
            for &i in ids {
                if i.i() >= fin {
                    break;
                }
                presents |= self.choisi[i.i()];
            }
            manque = self.filtrees & !presents;
            // Certification codes are part of the CERTIFIANTE dimension.
            if manque & (1 << D_CERTIFICATION) != 0 {
                manque = (manque & !(1 << D_CERTIFICATION)) | (1 << D_CERTIFIANTE);
            }
            if manque.count_ones() > 1 {
                return;
            }
        }
        let distance = fiche.drapeaux() & DRAPEAU_DISTANCE != 0;
        let mut km = f32::MAX;
        if let Some((c, rayon, [la0, la1, lo0, lo1])) = self.cercle {
            let [la, lo] = fiche.pos;
            if !la.is_nan() {
                km = if (la0..=la1).contains(&la) && (lo0..=lo1).contains(&lo) {
                    distance_km(c, (la as f64, lo as f64)) as f32
                } else {
                    f32::INFINITY
                };
            }
            if !distance && km as f64 > rayon {
                manque |= 1 << D_LIEU;
            }
        }
        if !distance && !r.communes.is_empty() && !r.communes.contains(&(fiche.commune as u64)) {
            manque |= 1 << D_LIEU;
        }
        // The place has no facet: a group out of it counts nowhere, and its sessions need
        // not be read (most of a radius query's matches are out of the circle).
        if manque.count_ones() > 1 || manque == 1 << D_LIEU {
            return;
        }
        // Sessions: the date filter and the start the group ranks by; the date facet.
        let (rang_du_jour, periodes) = (self.jour.rang(g), self.jour.periodes(g));
        let (une, rang) = if self.defaut {
            (rang_du_jour != i32::MAX, rang_du_jour)
        } else {
            let perm = fiche.drapeaux() & DRAPEAU_PERMANENTE != 0;
            let today = r.aujourdhui;
            let mut une = false;
            let (mut prochain, mut premier) = (i32::MAX, i32::MAX);
            for doc in vue.docs_de(g) {
                let (d, e) = (vue.debut[doc as usize], vue.fin[doc as usize]);
                if self.f.dates_ok(d as i64, e as i64, perm) {
                    une = true;
                    premier = premier.min(d);
                    if d as i64 >= today {
                        prochain = prochain.min(d);
                    }
                }
            }
            (
                une,
                if prochain == i32::MAX {
                    premier
                } else {
                    prochain
                },
            )
        };
        if let Some(Comptes {
            valeurs: c,
            profils,
            dates,
        }) = &mut self.comptes
        {
            if manque == 0 {
                for (i, n) in dates.iter_mut().enumerate() {
                    *n += (periodes >> i) as u32 & 1;
                }
                if une {
                    // The few-valued dimensions once, as the two profils.
                    let debut = match fiche.profils {
                        [SANS_PROFIL, _] => 0,
                        [a, b] => {
                            profils[a as usize] += 1;
                            profils[b as usize] += 1;
                            fiche.nb_profil()
                        }
                    };
                    // Certifications (last) are a filter, not a facet.
                    let fin = vue.premier_id[D_CERTIFICATION] as usize;
                    for &i in &ids[debut..] {
                        if i.i() >= fin {
                            break;
                        }
                        c[i.i()] += 1;
                    }
                }
            } else if une {
                let d = manque.trailing_zeros() as usize;
                if d != D_LIEU {
                    let (debut, fin) = (vue.premier_id[d] as usize, vue.premier_id[d + 1] as usize);
                    for &i in ids {
                        if i.i() >= fin {
                            break;
                        }
                        if i.i() >= debut {
                            c[i.i()] += 1;
                        }
                    }
                }
            }
        }
        if manque == 0 && une {
            self.tete.total += 1;
            let mut t = Trouve {
                score,
                prochain: rang,
                seg: self.seg,
                g: g as u32,
                distance,
                km: if km.is_finite() { km } else { f32::MAX },
                organisme: u32::MAX,
            };
            if self.tete.admet(&t) {
                let o = vue.premier_id[D_ORGANISME]..vue.premier_id[D_ORGANISME + 1];
                if let Some(i) = ids.iter().find(|i| o.contains(&(i.i() as u32))) {
                    t.organisme = i.i() as u32;
                }
                self.tete.pousser(t);
            }
        }
    }
}

/// Ranking: local offers before distance learning, then the chosen order; ties in index
/// order, so that pages are stable.
fn ordre(tri: Tri) -> impl Fn(&Trouve, &Trouve) -> Ordering {
    move |a, b| {
        a.distance
            .cmp(&b.distance)
            .then_with(|| match tri {
                Tri::Pertinence => b
                    .score
                    .total_cmp(&a.score)
                    .then(a.prochain.cmp(&b.prochain)),
                Tri::Date => a
                    .prochain
                    .cmp(&b.prochain)
                    .then(b.score.total_cmp(&a.score)),
                Tri::Distance => a.km.total_cmp(&b.km).then(b.score.total_cmp(&a.score)),
            })
            .then((a.seg, a.g).cmp(&(b.seg, b.g)))
    }
}

/// Segments with at least this many groups are passed over by two threads (131,072, or
/// `SOFI_PASSE_PARALLELE_MIN`: the tests set it low so that both paths run on small data).
fn passe_parallele_min() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    super::tuning(&N, "SOFI_PASSE_PARALLELE_MIN", 131_072)
}

/// Matches evaluated together (see `collecter`).
const LOT: usize = 64;

/// Asks for the cache line holding `v[i]` (if any) without waiting for it.
#[inline(always)]
fn prefetch<T>(v: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = v.get(i) {
        // SAFETY: a prefetch is a hint; it cannot fault, and the address is in bounds.
        unsafe {
            std::arch::x86_64::_mm_prefetch(
                (x as *const T).cast::<i8>(),
                std::arch::x86_64::_MM_HINT_T0,
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (v, i);
}

/// A query without words visits the groups its filters' postings give when those hold less
/// than 1/N of the documents (N = 3, or `SOFI_CANDIDATS_PART`: the tests set 1 so that
/// every filter takes that path, text queries keeping the other).
fn candidats_part() -> u64 {
    static N: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    super::tuning(&N, "SOFI_CANDIDATS_PART", 3)
}

/// Runs `a` on this thread and `b` on the search helper thread, and waits for both. A big
/// segment's pass is cut in two this way when no other query runs; a thread started per
/// query cost more than it saved on light queries. If the helper could not be started,
/// both run here.
fn join_two<A, B: Send>(a: impl FnOnce() -> A, b: impl FnOnce() -> B + Send) -> (A, B) {
    static AIDE: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    let aide = AIDE.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "sofi-passe".into())
            .build()
            .ok()
    });
    match aide {
        Some(aide) => {
            let mut seconde = None;
            let premiere = aide.in_place_scope(|sc| {
                sc.spawn(|_| seconde = Some(b()));
                a()
            });
            (premiere, seconde.expect("the helper's half ran"))
        }
        None => (a(), b()),
    }
}

/// Counts the passes running at once (see `collecter`) while it lives.
struct EnCours<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> EnCours<'a> {
    fn new(n: &'a std::sync::atomic::AtomicUsize) -> Self {
        n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        EnCours(n)
    }
}

impl Drop for EnCours<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// What a pass over the whole index found.
struct Collecte {
    tete: Head,
    /// Per dimension, (value, count) sorted by value.
    comptes: Vec<Vec<(u64, u64)>>,
    vues: Vec<Arc<Vue>>,
}

impl Moteur {
    /// The text part of a query; `None` when there are no words (every document matches).
    fn requete_texte(&self, searcher: &Searcher, mots_q: &[String]) -> Option<Box<dyn Query>> {
        let champs = [
            (self.champs.intitule, self.config.champs.intitule),
            (self.champs.thesaurus, self.config.champs.thesaurus),
            (self.champs.objectif, self.config.champs.objectif),
            (self.champs.contenu, self.config.champs.contenu),
            (self.champs.organisme, self.config.champs.organisme),
        ];
        let mut an = self
            .index
            .tokenizers()
            .get("fr")
            .expect("fr analyzer registered");
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for mot in mots_q {
            let mut formes: Vec<(String, bool)> = Vec::new();
            // Typos are tolerated on long words, measured before and after stemming: one
            // edit on a short stem ("vente" → "vent") reaches unrelated words ("cent").
            let longue = |x: &str| x.chars().count() >= self.config.analyse.fautes_longueur_min;
            for t in super::analyse::termes(&mut an, mot) {
                let floue = longue(mot) && longue(&t) && !mot.chars().all(|c| c.is_ascii_digit());
                formes.push((t, floue));
            }
            if formes.is_empty() {
                continue; // a stop word
            }
            for alt in self.config.synonymes.get(mot).into_iter().flatten() {
                for t in super::analyse::termes(&mut an, alt) {
                    formes.push((t, false));
                }
            }
            let mut alternatives: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for (forme, floue) in &formes {
                for (champ, poids) in champs {
                    let term = Term::from_field_text(champ, forme);
                    alternatives.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(
                            Box::new(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs)),
                            poids,
                        )),
                    ));
                    // Typos are looked for in titles and Formacode labels only: an automaton
                    // per field and word is the dearest part of a query, and a fuzzy match in
                    // long descriptions is mostly noise.
                    if *floue && (champ == self.champs.intitule || champ == self.champs.thesaurus) {
                        for voisin in self.voisins.de(searcher, champ, forme) {
                            let term = Term::from_field_text(champ, &voisin);
                            alternatives.push((
                                Occur::Should,
                                Box::new(BoostQuery::new(
                                    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
                                    poids * 0.3,
                                )),
                            ));
                        }
                    }
                }
            }
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(alternatives))));
        }
        (!clauses.is_empty()).then(|| Box::new(BooleanQuery::new(clauses)) as Box<dyn Query>)
    }

    /// Moves the codes typed in `q` into exact filters; returns the remaining words.
    pub fn extraire_codes(&self, r: &mut Requete) -> Vec<String> {
        let mut restants = Vec::new();
        for brut in r.q.split_whitespace() {
            let b = brut.trim_matches(|c: char| !c.is_alphanumeric());
            let up = b.to_ascii_uppercase();
            if b.len() == 5 && b.bytes().all(|x| x.is_ascii_digit()) {
                let cp_pdl = crate::referentiel::DEPARTEMENTS_REGION.contains(&&b[..2])
                    && self.refs.communes_par_cp.contains_key(b);
                if self.refs.formacodes.contains_key(b) && !cp_pdl {
                    r.formacodes.push(b.parse().unwrap_or(0));
                    continue;
                }
                if let Some(c) = self.refs.communes_par_cp.get(b) {
                    r.communes.extend(c.iter().filter_map(|x| code_insee(x)));
                    continue;
                }
                if self.refs.communes.contains_key(b) {
                    r.communes.extend(code_insee(b));
                    continue;
                }
            }
            let certification =
                [("RNCP", CERT_RNCP), ("RS", CERT_RS)]
                    .into_iter()
                    .find_map(|(prefixe, espace)| {
                        let n = up.strip_prefix(prefixe)?;
                        (!n.is_empty() && n.bytes().all(|x| x.is_ascii_digit()))
                            .then(|| espace | digits(n).parse::<u64>().unwrap_or(0))
                    });
            if let Some(c) = certification {
                r.certifications.push(c);
                continue;
            }
            if b.len() == 14 && b.bytes().all(|x| x.is_ascii_digit()) {
                r.organismes.push(b.parse().unwrap_or(0));
                continue;
            }
            restants.extend(mots(brut));
        }
        restants
    }

    /// One pass over every match: the groups that pass every filter and, when `facettes`,
    /// the disjunctive facet counts.
    fn collecter(
        &self,
        searcher: &Searcher,
        query: Option<&dyn Query>,
        f: &FilterSet,
        facettes: bool,
        k: usize,
    ) -> tantivy::Result<Collecte> {
        let _en_cours = EnCours::new(&self.en_cours);
        let vues = self.vues.de(searcher)?;
        let weight = match query {
            Some(q) => Some(q.weight(EnableScoring::enabled_from_searcher(searcher))?),
            None => None,
        };
        let mut tete = Head::new(k, f.r.tri);
        let mut comptes: Vec<Vec<(u64, u64)>> = vec![Vec::new(); NB_DIMS];
        for (seg, (reader, vue)) in searcher.segment_readers().iter().zip(&vues).enumerate() {
            // A big segment is split in two halves of groups, one per core: a query's
            // latency is mostly this pass.
            let n = vue.nb_groupes();
            // Only when the machine is otherwise idle: under load, the other core is
            // already busy with another query and splitting only adds its overhead.
            let seul = self.en_cours.load(std::sync::atomic::Ordering::Relaxed) <= 1;
            let parts = if n >= passe_parallele_min() && seul {
                2
            } else {
                1
            };
            let bornes: Vec<(usize, usize)> = (0..parts)
                .map(|i| (n * i / parts, n * (i + 1) / parts))
                .collect();
            let alive = reader.alive_bitset();
            let passer = |(g0, g1): (usize, usize)| -> tantivy::Result<Pass> {
                let mut p = Pass::new(f, vue, seg as u32, facettes, k);
                match &weight {
                    Some(w) => {
                        let mut scorer = w.scorer(reader, 1.0)?;
                        let (debut, fin) = (vue.docs[g0], vue.docs[g1]);
                        let mut doc = scorer.doc();
                        if doc < debut {
                            doc = scorer.seek(debut);
                        }
                        // Matches are taken by batches: the records of a batch are
                        // fetched from memory together (see `prefetch`) before any is
                        // evaluated, instead of one cache miss after another.
                        let mut lot: Vec<(DocId, Score, u32)> = Vec::with_capacity(LOT);
                        let mut dernier = u32::MAX;
                        while doc < fin {
                            lot.clear();
                            while doc < fin && lot.len() < LOT {
                                let g = vue.groupe_de(doc) as u32;
                                prefetch(&vue.fiches, g as usize);
                                prefetch(&p.jour.par_groupe, g as usize);
                                if !p.defaut {
                                    // The group's sessions: where they end, then their
                                    // dates, from its matching document on.
                                    prefetch(&vue.docs, g as usize + 1);
                                    prefetch(&vue.debut, doc as usize);
                                    prefetch(&vue.fin, doc as usize);
                                }
                                lot.push((doc, scorer.score(), g));
                                doc = scorer.advance();
                            }
                            for &(doc, score, g) in &lot {
                                // Only a group's first document holds its text; should
                                // another match too, the group is not counted twice.
                                if g == dernier {
                                    continue;
                                }
                                dernier = g;
                                if alive.is_none_or(|a| a.is_alive(doc)) {
                                    p.groupe(g as usize, score);
                                }
                            }
                        }
                    }
                    None => {
                        for g in g0..g1 {
                            if alive.is_none_or(|a| a.is_alive(vue.docs[g])) {
                                p.groupe(g, 1.0);
                            }
                        }
                    }
                }
                Ok(p)
            };
            let candidats = match &weight {
                None => self.candidats(reader, vue, f, facettes)?,
                Some(_) => None,
            };
            // Candidates from a lone filter: that filter's own counts come apart (see below).
            let seule = candidats.as_ref().and_then(|(_, seule)| *seule);
            let passes: Vec<Pass> = if let Some((groupes, _)) = candidats {
                let passer_liste = |groupes: &[u32]| {
                    let mut p = Pass::new(f, vue, seg as u32, facettes, k);
                    // Scattered groups: their records are asked for well ahead.
                    const AVANCE: usize = 16;
                    for (i, &g) in groupes.iter().enumerate() {
                        if let Some(&h) = groupes.get(i + AVANCE) {
                            prefetch(&vue.fiches, h as usize);
                            prefetch(&p.jour.par_groupe, h as usize);
                            if !p.defaut {
                                prefetch(&vue.docs, h as usize);
                                prefetch(&vue.docs, h as usize + 1);
                            }
                        }
                        // Half-way, where that group's sessions start is known.
                        if let (false, Some(&h)) = (p.defaut, groupes.get(i + AVANCE / 2)) {
                            let d = vue.docs[h as usize] as usize;
                            prefetch(&vue.debut, d);
                            prefetch(&vue.fin, d);
                        }
                        if alive.is_none_or(|a| a.is_alive(vue.docs[g as usize])) {
                            p.groupe(g as usize, 1.0);
                        }
                    }
                    p
                };
                // Each candidate is a fetch from memory: 1/16 of a full pass's groups are
                // worth the helper.
                if seul && groupes.len() >= passe_parallele_min() / 16 {
                    let (a, b) = groupes.split_at(groupes.len() / 2);
                    let (a, b) = join_two(|| passer_liste(a), || passer_liste(b));
                    vec![a, b]
                } else {
                    vec![passer_liste(&groupes)]
                }
            } else if parts == 2 {
                let (a, b) = join_two(|| passer(bornes[0]), || passer(bornes[1]));
                vec![a?, b?]
            } else {
                vec![passer(bornes[0])?]
            };
            let mut passes = passes.into_iter();
            let mut p = passes.next().expect("a segment has one pass at least");
            passes.for_each(|autre| p.absorber(autre));
            p.etaler_profils();
            // The only filter's own counts: every group it would let through.
            if let (Some(d), Some(c)) = (seule, &mut p.comptes) {
                let base = vue.comptes_du_jour(f.r.aujourdhui, alive);
                let ids = vue.premier_id[d] as usize..vue.premier_id[d + 1] as usize;
                c.valeurs[ids.clone()].copy_from_slice(&base.comptes[ids]);
            }
            if let Some(Comptes {
                valeurs: c, dates, ..
            }) = &p.comptes
            {
                for (i, &n) in c.iter().enumerate() {
                    let d = vue.dim[i] as usize;
                    if n > 0 && d != D_CERTIFICATION {
                        comptes[d].push((vue.valeurs[i], n as u64));
                    }
                }
                for (i, &n) in dates.iter().enumerate() {
                    if n > 0 {
                        comptes[D_DATES].push((i as u64, n as u64));
                    }
                }
            }
            tete.fusionner(p.tete);
        }
        // Several segments: add up each value's counts.
        for c in &mut comptes {
            c.sort_unstable_by_key(|x| x.0);
            c.dedup_by(|b, a| {
                let meme = a.0 == b.0;
                if meme {
                    a.1 += b.1;
                }
                meme
            });
        }
        Ok(Collecte {
            tete,
            comptes,
            vues,
        })
    }

    /// For a query without words: the groups worth visiting, from the postings of its
    /// filters, when they are few; `None` to visit every group. A group outside them fails
    /// two filters (or, with `seule`, the only one, whose own counts then come from
    /// [`Vue::comptes_du_jour`]) and counts nowhere.
    fn candidats(
        &self,
        reader: &tantivy::SegmentReader,
        vue: &Vue,
        f: &FilterSet,
        facettes: bool,
    ) -> tantivy::Result<Option<(Vec<u32>, Option<usize>)>> {
        let r = &f.r;
        let c = &self.champs;
        // The numeric fields that are indexed (certifiante and a_distance are fast fields
        // only; certification codes are matched through CERTIFIANTE).
        let champ = |d: usize| match d {
            D_DEPARTEMENT => Some(c.departement),
            D_FORMACODE => Some(c.formacodes),
            D_PUBLIC => Some(c.publics),
            D_FINANCEUR => Some(c.financeurs),
            D_NIVEAU => Some(c.niveau),
            D_ORGANISME => Some(c.siret),
            _ => None,
        };
        let filtres: Vec<(usize, Option<tantivy::schema::Field>, Vec<u64>)> = DIMS_FILTRES
            .iter()
            .map(|&d| (d, champ(d), r.selection(d)))
            .collect();
        let actifs: Vec<_> = filtres.iter().filter(|x| !x.2.is_empty()).collect();
        // Which filters bound the visit: with facets, all of them (a group failing one
        // still counts in that one's facet), unless it is the only one and its counts can
        // come from the day's counts; without facets, any one.
        let (choisis, seule): (Vec<_>, Option<usize>) = match actifs.as_slice() {
            [] => return Ok(None),
            [x] if facettes => {
                let simple = f.par_defaut() && r.centre.is_none() && r.communes.is_empty();
                if !simple || x.1.is_none() {
                    return Ok(None);
                }
                (vec![*x], Some(x.0))
            }
            _ if facettes => (actifs.clone(), None),
            _ => match actifs.iter().find(|x| x.1.is_some()) {
                Some(x) => (vec![*x], None),
                None => return Ok(None),
            },
        };
        let mut termes = Vec::new();
        let mut docs = 0u64;
        for (_, champ, valeurs) in &choisis {
            let Some(champ) = champ else {
                return Ok(None);
            };
            let inv = reader.inverted_index(*champ)?;
            for &v in valeurs {
                let t = Term::from_field_u64(*champ, v);
                if let Some(info) = inv.get_term_info(&t)? {
                    docs += info.doc_freq as u64;
                    termes.push((inv.clone(), info));
                }
            }
        }
        // Past a third of the documents, the plain sequential pass is as fast.
        if docs * candidats_part() > reader.max_doc() as u64 {
            return Ok(None);
        }
        let mut groupes: Vec<u32> = Vec::with_capacity(docs as usize / 2);
        for (inv, info) in termes {
            let mut p = inv.read_postings_from_terminfo(&info, IndexRecordOption::Basic)?;
            let mut d = p.doc();
            while d != tantivy::TERMINATED {
                let g = vue.groupe_de(d) as u32;
                if groupes.last() != Some(&g) {
                    groupes.push(g);
                }
                d = p.advance();
            }
        }
        groupes.sort_unstable();
        groupes.dedup();
        Ok(Some((groupes, seule)))
    }

    fn filtres(&self, req: &Requete) -> (FilterSet, Vec<String>) {
        let mut r = req.clone();
        let mots_q = self.extraire_codes(&mut r);
        let f = FilterSet {
            date_min: r.debut_min.unwrap_or(r.aujourdhui),
            date_max: r.debut_max.unwrap_or(i64::MAX),
            dates: !r.toutes_dates,
            r,
        };
        (f, mots_q)
    }

    /// Runs a search: exact total, one page of grouped hits, every facet.
    pub fn rechercher(&self, req: &Requete) -> tantivy::Result<Reponse> {
        let (f, mots_q) = self.filtres(req);
        let r = &f.r;
        let searcher = self.reader.searcher();
        let query = self.requete_texte(&searcher, &mots_q);
        // Only the head of the ranking is kept: enough for the page, grown (by a second pass,
        // without facets) if the per-organisme cap pushes the page further.
        let cap = self.config.defauts.max_par_organisme;
        let mut k = r.page.saturating_mul(r.par_page).saturating_mul(2).max(64);
        let Collecte {
            tete,
            comptes,
            mut vues,
        } = self.collecter(&searcher, query.as_deref(), &f, true, k)?;
        let total = tete.total;
        let mut complete = tete.complete();
        let mut trouves = tete.triee();
        let page = loop {
            if let Some(p) = paginer(
                &trouves,
                |t| siret(&vues, t),
                r.page,
                r.par_page,
                cap,
                complete,
            ) {
                break p;
            }
            k = k.saturating_mul(4);
            let c = self.collecter(&searcher, query.as_deref(), &f, false, k)?;
            complete = c.tete.complete();
            trouves = c.tete.triee();
            vues = c.vues;
        };
        let mut surligneurs = match &query {
            Some(q) => {
                let an = || self.index.tokenizers().get("fr").expect("fr analyzer");
                let s = |champ| Surligneur::new(&searcher, q.as_ref(), champ, an());
                // The objectives' excerpt is stored apart; their terms are the field's.
                vec![
                    (s(self.champs.intitule)?, self.champs.intitule),
                    (s(self.champs.objectif)?, self.champs.objectif_debut),
                ]
            }
            None => Vec::new(),
        };
        let mut resultats = Vec::with_capacity(page.len());
        for i in page {
            let t = &trouves[i];
            let vue = &vues[t.seg as usize];
            let alive = searcher.segment_reader(t.seg).alive_bitset();
            let perm = vue.fiches[t.g as usize].drapeaux() & DRAPEAU_PERMANENTE != 0;
            // The group's sessions that pass the date filter, by start.
            let mut sessions: Vec<(i64, i64, u32)> = vue
                .vivants(t.g as usize, alive)
                .map(|d| (vue.debut[d as usize] as i64, vue.fin[d as usize] as i64, d))
                .filter(|&(d, e, _)| f.dates_ok(d, e, perm))
                .collect();
            sessions.sort_unstable();
            if sessions.is_empty() {
                continue;
            }
            // The group's text is stored on its first document.
            let premier = vue.docs[t.g as usize];
            let d: tantivy::TantivyDocument = searcher.doc(DocAddress::new(t.seg, premier))?;
            let commune = d
                .get_first(self.champs.commune)
                .and_then(|v| tantivy::schema::Value::as_u64(&v))
                .map(insee_de_code);
            let commune_ref = commune.as_ref().and_then(|c| self.refs.communes.get(c));
            // (An action without sessions has one of unknown dates: nothing to show.)
            sessions.retain(|x| x.0 != JOUR_INCONNU_DEBUT || x.1 != JOUR_INCONNU_FIN);
            let a_venir: Vec<(i64, i64)> = sessions
                .iter()
                .filter(|x| x.0 >= r.aujourdhui || x.1 >= r.aujourdhui)
                .map(|x| (x.0, x.1))
                .collect();
            let montrer: Vec<(i64, i64)> = if a_venir.is_empty() {
                sessions.iter().map(|x| (x.0, x.1)).collect()
            } else {
                a_venir
            };
            let extraits = surligneurs
                .iter_mut()
                .filter_map(|(s, champ)| s.extrait(&texte(&d, *champ)))
                .collect();
            resultats.push(Resultat {
                formation_numero: texte(&d, self.champs.formation),
                action_numero: texte(&d, self.champs.action),
                intitule: texte(&d, self.champs.intitule),
                organisme: texte(&d, self.champs.organisme_nom),
                siret: format!("{:014}", siret(&vues, t)),
                commune_nom: commune_ref.map(|c| c.nom.clone()),
                departement: commune_ref.map(|c| c.departement.clone()),
                commune,
                prochaines_sessions: montrer
                    .iter()
                    .take(3)
                    .map(|x| SessionRes {
                        debut: iso(x.0),
                        fin: iso(x.1),
                    })
                    .collect(),
                autres_sessions: montrer.len().saturating_sub(3),
                a_distance: t.distance,
                distance_km: (r.centre.is_some() && t.km < f32::MAX)
                    .then(|| (t.km as f64 * 10.0).round() / 10.0),
                extraits,
                score: t.score,
            });
        }
        Ok(Reponse {
            total,
            page: r.page,
            par_page: r.par_page,
            resultats,
            facettes: self.facettes(r, &comptes),
        })
    }

    fn facettes(&self, r: &Requete, comptes: &[Vec<(u64, u64)>]) -> Facettes {
        let mut out = Facettes(Vec::new());
        for &(nom, d) in FACETTES {
            let selection = r.selection(d);
            let mut vals: Vec<(u64, u64)> = comptes[d].clone();
            for s in &selection {
                if comptes[d].binary_search_by_key(s, |x| x.0).is_err() {
                    vals.push((*s, 0));
                }
            }
            // Formacode: the field heads and domains, plus the path to what is selected and
            // its children; other dimensions: every value.
            if d == D_FORMACODE {
                let garder: Vec<u64> = selection
                    .iter()
                    .flat_map(|s| self.refs.formacode_ancetres(&format!("{s:05}")))
                    .filter_map(|c| c.parse().ok())
                    .collect();
                vals.retain(|(v, _)| {
                    let tete = v % 100 == 54 || v / 100 == 1;
                    tete || (!garder.is_empty()
                        && (garder.contains(v)
                            || self
                                .parents_formacode
                                .get(v)
                                .is_some_and(|p| garder.contains(p))))
                });
            }
            let max = if d == D_ORGANISME { 20 } else { 200 };
            // Only the first `max` are shown (besides the selected ones): select them before
            // sorting, there can be thousands of organismes.
            let rang = |a: &(u64, u64), b: &(u64, u64)| b.1.cmp(&a.1).then(a.0.cmp(&b.0));
            if vals.len() > max {
                vals.select_nth_unstable_by(max, rang);
                let mut choisis: Vec<(u64, u64)> = vals[max..]
                    .iter()
                    .filter(|(v, _)| selection.contains(v))
                    .copied()
                    .collect();
                vals.truncate(max);
                vals.sort_unstable_by(rang);
                choisis.sort_unstable_by(rang);
                vals.extend(choisis);
            } else {
                vals.sort_unstable_by(rang);
            }
            let mut liste = Vec::new();
            for (v, n) in vals
                .into_iter()
                .enumerate()
                .filter(|(i, (v, _))| *i < max || selection.contains(v))
                .map(|(_, x)| x)
            {
                let (valeur, libelle, parent) = self.libelle(d, v);
                liste.push(ValeurFacette {
                    selectionne: selection.contains(&v),
                    valeur,
                    libelle,
                    nombre: n,
                    parent,
                });
            }
            out.0.push((nom, liste));
        }
        out
    }

    fn libelle(&self, d: usize, v: u64) -> (String, String, Option<String>) {
        let refs = &self.refs;
        match d {
            D_FORMACODE => {
                let code = format!("{v:05}");
                let f = refs.formacodes.get(&code);
                (
                    code.clone(),
                    refs.formacode_libelle(&code).unwrap_or(&code).to_string(),
                    f.and_then(|f| f.generique.clone()),
                )
            }
            D_DEPARTEMENT => {
                let c = dep_de_code(v);
                let nom = refs
                    .departements
                    .get(&c)
                    .map(|x| x.nom.clone())
                    .unwrap_or(c.clone());
                (c, nom, None)
            }
            D_DATES => {
                let m = MOIS.get(v as usize).copied().unwrap_or(0);
                (format!("{m}m"), format!("dans les {m} mois"), None)
            }
            D_PUBLIC => {
                let c = v.to_string();
                let l = refs.formacode_libelle(&c).unwrap_or(&c).to_string();
                (c, l, None)
            }
            D_FINANCEUR => {
                if v == FINANCEUR_CPF {
                    return ("cpf".into(), "Éligible au CPF".into(), None);
                }
                let c = v.to_string();
                let l = refs
                    .libelle("dict-financeurs", &c)
                    .unwrap_or(&c)
                    .to_string();
                (c, l, None)
            }
            D_CERTIFIANTE | D_DISTANCE => {
                let (c, l) = match (d, v) {
                    (D_CERTIFIANTE, 1) => ("1", "Certifiante"),
                    (D_CERTIFIANTE, _) => ("0", "Non certifiante"),
                    (_, 1) => ("1", "À distance"),
                    _ => ("0", "En présentiel"),
                };
                (c.into(), l.into(), None)
            }
            D_NIVEAU => (v.to_string(), format!("Niveau {v}"), None),
            D_ORGANISME => {
                let s = format!("{v:014}");
                (s.clone(), s, None)
            }
            _ => (v.to_string(), v.to_string(), None),
        }
    }

    /// Number of results of a search (for `widen`): the same pass, without facets or page.
    pub fn compter(&self, req: &Requete) -> tantivy::Result<u64> {
        let (f, mots_q) = self.filtres(req);
        let searcher = self.reader.searcher();
        let query = self.requete_texte(&searcher, &mots_q);
        Ok(self
            .collecter(&searcher, query.as_deref(), &f, false, 0)?
            .tete
            .total)
    }
}

/// Indexes (in ranked order) of one page, with at most `cap` groups of one organisme per page:
/// the extra ones move to the following pages, in order. `groupes` is the head of the ranking
/// (the whole of it when `complet`); `None` when the page needs more of it.
fn paginer(
    groupes: &[Trouve],
    organisme: impl Fn(&Trouve) -> u64,
    page: usize,
    par_page: usize,
    cap: usize,
    complet: bool,
) -> Option<Vec<usize>> {
    if par_page == 0 {
        return Some(Vec::new());
    }
    let mut reporte: std::collections::VecDeque<usize> = Default::default();
    let mut suivant = 0;
    let mut p = 1;
    loop {
        let mut cette: Vec<usize> = Vec::with_capacity(par_page);
        let mut par_org: HashMap<u64, usize> = HashMap::new();
        let mut encore: std::collections::VecDeque<usize> = Default::default();
        while let Some(g) = reporte.pop_front() {
            if cette.len() == par_page {
                encore.push_back(g);
                continue;
            }
            let n = par_org.entry(organisme(&groupes[g])).or_default();
            if *n < cap {
                *n += 1;
                cette.push(g);
            } else {
                encore.push_back(g);
            }
        }
        while cette.len() < par_page {
            if suivant >= groupes.len() {
                if !complet {
                    return None;
                }
                break;
            }
            let g = suivant;
            suivant += 1;
            let n = par_org.entry(organisme(&groupes[g])).or_default();
            if *n < cap {
                *n += 1;
                cette.push(g);
            } else {
                encore.push_back(g);
            }
        }
        // Nothing else left: the cap cannot be kept, fill with what remains.
        if cette.len() < par_page {
            while cette.len() < par_page {
                match encore.pop_front() {
                    Some(g) => cette.push(g),
                    None => break,
                }
            }
        }
        reporte = encore;
        if p == page || cette.is_empty() {
            return Some(if p == page { cette } else { Vec::new() });
        }
        p += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn trouves(n: usize, graine: u64) -> Vec<Trouve> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(graine);
        (0..n)
            .map(|i| Trouve {
                // Few distinct scores and dates, so that ties are decided further down.
                score: rng.gen_range(0..20) as f32,
                prochain: rng.gen_range(20_000..20_050),
                seg: rng.gen_range(0..3),
                g: i as u32,
                distance: rng.gen_bool(0.1),
                km: rng.gen_range(0..100) as f32,
                organisme: rng.gen_range(0..8),
            })
            .collect()
    }

    fn cles(v: &[Trouve]) -> Vec<(u32, u32)> {
        v.iter().map(|t| (t.seg, t.g)).collect()
    }

    /// The pruned head is the true head, whatever the order of arrival and the split.
    #[test]
    fn the_pruned_head_is_the_head_of_the_full_ranking() {
        for (n, k) in [(10, 64), (200, 64), (5_000, 64), (5_000, 256), (1_000, 1)] {
            for tri in [Tri::Pertinence, Tri::Date, Tri::Distance] {
                let tous = trouves(n, n as u64 + k as u64);
                let mut attendu = tous.clone();
                attendu.sort_unstable_by(ordre(tri));
                let (mut a, mut b) = (Head::new(k, tri), Head::new(k, tri));
                for (i, t) in tous.iter().enumerate() {
                    if i % 3 == 0 {
                        a.garder(*t)
                    } else {
                        b.garder(*t)
                    }
                }
                a.fusionner(b);
                assert_eq!(a.total, n as u64);
                let complete = a.complete();
                let tete = a.triee();
                assert_eq!(complete, n <= 2 * k, "n={n} k={k}");
                let m = if complete { n } else { k };
                assert_eq!(cles(&tete), cles(&attendu[..m]), "n={n} k={k} {tri:?}");
            }
        }
    }

    /// Pages computed from a pruned head equal pages computed from the whole ranking, or
    /// ask for a longer head.
    #[test]
    fn pages_from_the_head_match_pages_from_everything() {
        let tous = trouves(3_000, 7);
        let mut attendu = tous.clone();
        attendu.sort_unstable_by(ordre(Tri::Pertinence));
        let org = |t: &Trouve| t.organisme as u64;
        for page in 1..=6 {
            let complet = paginer(&attendu, org, page, 20, 2, true).unwrap();
            let mut k = (page * 20 * 2).max(64);
            let obtenu = loop {
                let mut t = Head::new(k, Tri::Pertinence);
                tous.iter().for_each(|x| t.garder(*x));
                let c = t.complete();
                let tete = t.triee();
                if let Some(p) = paginer(&tete, org, page, 20, 2, c) {
                    break p
                        .iter()
                        .map(|&i| (tete[i].seg, tete[i].g))
                        .collect::<Vec<_>>();
                }
                k *= 4;
            };
            let attendu_p: Vec<_> = complet
                .iter()
                .map(|&i| (attendu[i].seg, attendu[i].g))
                .collect();
            assert_eq!(obtenu, attendu_p, "page {page}");
        }
    }
}
