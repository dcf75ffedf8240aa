//! The pass: every matching group of a segment visited once, in prefetched batches, against
//! the filters (from the segment's view), counting disjunctive facets, feeding the head;
//! a big segment halved over the helper thread; candidates from filter postings for queries
//! without words.

use super::*;

/// A pass's facet counts.
pub(super) struct Comptes {
    /// By value id.
    pub(super) valeurs: Vec<u32>,
    /// By profil, while passing (see [`Pass::etaler_profils`]).
    pub(super) profils: Vec<u32>,
    /// Groups in each relative date bucket.
    pub(super) dates: [u32; MOIS.len()],
}

/// One query's pass over one segment.
pub(super) struct Pass<'a> {
    pub(super) f: &'a FilterSet,
    pub(super) vue: &'a Vue,
    pub(super) seg: u32,
    /// Per value id: the bit of its dimension when the query selects that value, else 0.
    pub(super) choisi: Vec<u16>,
    /// The dimensions the query filters on, as bits (LIEU and DATES apart).
    pub(super) filtrees: u16,
    /// Counts by value id, and of the date buckets; None when only the total is wanted.
    pub(super) comptes: Option<Comptes>,
    /// The default date filter's verdicts, and whether the query's window is that one.
    pub(super) jour: Arc<Jour>,
    pub(super) defaut: bool,
    /// Centre, radius and a lat/lon box around it that rejects most places cheaply.
    pub(super) cercle: Option<((f64, f64), f64, [f32; 4])>,
    pub(super) tete: Head,
}

impl<'a> Pass<'a> {
    pub(super) fn new(f: &'a FilterSet, vue: &'a Vue, seg: u32, facettes: bool, k: usize) -> Self {
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
    pub(super) fn etaler_profils(&mut self) {
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
    pub(super) fn absorber(&mut self, autre: Pass) {
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
    pub(super) fn groupe(&mut self, g: usize, score: Score) {
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
    pub(super) fn groupe_ids<I: Id>(&mut self, g: usize, ids: &[I], score: Score) {
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

/// Matches evaluated together (see `collecter`).
pub(super) const LOT: usize = 64;

/// Asks for the cache line holding `v[i]` (if any) without waiting for it.
#[inline(always)]
pub(super) fn prefetch<T>(v: &[T], i: usize) {
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

/// Runs `a` on this thread and `b` on the search helper thread, and waits for both. A big
/// segment's pass is cut in two this way when no other query runs; a thread started per
/// query cost more than it saved on light queries. If the helper could not be started,
/// both run here.
pub(super) fn join_two<A, B: Send>(a: impl FnOnce() -> A, b: impl FnOnce() -> B + Send) -> (A, B) {
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
pub(super) struct EnCours<'a>(pub(super) &'a std::sync::atomic::AtomicUsize);

impl<'a> EnCours<'a> {
    pub(super) fn new(n: &'a std::sync::atomic::AtomicUsize) -> Self {
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
pub(super) struct Collecte {
    pub(super) tete: Head,
    /// Per dimension, (value, count) sorted by value.
    pub(super) comptes: Vec<Vec<(u64, u64)>>,
    pub(super) vues: Vec<Arc<Vue>>,
}

impl Moteur {
    /// One pass over every match: the groups that pass every filter and, when `facettes`,
    /// the disjunctive facet counts.
    pub(super) fn collecter(
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
            let parts = if n >= crate::search::thresholds().parallel_pass_min && seul {
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
                if seul && groupes.len() >= crate::search::thresholds().parallel_pass_min / 16 {
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
}

impl Moteur {
    /// For a query without words: the groups worth visiting, from the postings of its
    /// filters, when they are few; `None` to visit every group. A group outside them fails
    /// two filters (or, with `seule`, the only one, whose own counts then come from
    /// [`Vue::comptes_du_jour`]) and counts nowhere.
    pub(super) fn candidats(
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
            D_VOIE => Some(c.voies),
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
        if docs * crate::search::thresholds().candidates_fraction > reader.max_doc() as u64 {
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
}
