//! The ranking: the groups a pass found, the best k kept as it goes (`Head`), their order,
//! and the page cut from the head with the per-organisme cap.

use super::*;

/// A group (an action at one place) that passes every filter.
#[derive(Clone, Copy)]
pub(super) struct Trouve {
    pub(super) score: Score,
    /// Next start (the first start when all have passed), days since 1970.
    pub(super) prochain: i32,
    pub(super) seg: u32,
    pub(super) g: u32,
    pub(super) distance: bool,
    /// Kilometres from the searched place (`f32::MAX` without one).
    pub(super) km: f32,
    /// Its organisme's value id in its segment's view (`u32::MAX`: none); the SIRET is
    /// looked up for the head only (see [`siret`]), not for every passing group.
    pub(super) organisme: u32,
}

/// The SIRET of a group found (0: none).
pub(super) fn siret(vues: &[Arc<Vue>], t: &Trouve) -> u64 {
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
pub(super) struct Head {
    pub(super) k: usize,
    pub(super) tri: Tri,
    /// At most `2k`, unsorted.
    pub(super) groupes: Vec<Trouve>,
    /// Once pruned: the `k`-th best so far; no worse group can enter the head.
    pub(super) seuil: Option<Trouve>,
    pub(super) total: u64,
}

impl Head {
    pub(super) fn new(k: usize, tri: Tri) -> Self {
        Head {
            k,
            tri,
            groupes: Vec::with_capacity((2 * k).min(4096)),
            seuil: None,
            total: 0,
        }
    }

    #[cfg(test)]
    pub(super) fn garder(&mut self, t: Trouve) {
        self.total += 1;
        self.placer(t);
    }

    #[inline]
    pub(super) fn placer(&mut self, t: Trouve) {
        if self.admet(&t) {
            self.pousser(t);
        }
    }

    /// Whether `t` would enter the head: most groups of a broad query are refused by this
    /// one comparison, before anything else is looked up for them.
    #[inline]
    pub(super) fn admet(&self, t: &Trouve) -> bool {
        self.k > 0
            && self
                .seuil
                .as_ref()
                .is_none_or(|s| ordre(self.tri)(t, s) == Ordering::Less)
    }

    /// Adds an admitted group.
    #[inline]
    pub(super) fn pousser(&mut self, t: Trouve) {
        self.groupes.push(t);
        if self.groupes.len() >= 2 * self.k {
            let k = self.k;
            self.groupes.select_nth_unstable_by(k - 1, ordre(self.tri));
            self.groupes.truncate(k);
            self.seuil = Some(self.groupes[k - 1]);
        }
    }

    pub(super) fn fusionner(&mut self, autre: Head) {
        self.total += autre.total;
        for t in autre.groupes {
            self.placer(t);
        }
    }

    /// Whether every passing group is here (nothing was pruned).
    pub(super) fn complete(&self) -> bool {
        self.groupes.len() as u64 == self.total
    }

    /// The head, best first: the `k` best (all of them when nothing was pruned; past the
    /// `k`-th, what is left after pruning is not the true order).
    pub(super) fn triee(mut self) -> Vec<Trouve> {
        self.groupes.sort_unstable_by(ordre(self.tri));
        if !self.complete() {
            self.groupes.truncate(self.k);
        }
        self.groupes
    }
}

/// Ranking: local offers before distance learning, then the chosen order; ties in index
/// order, so that pages are stable.
pub(super) fn ordre(tri: Tri) -> impl Fn(&Trouve, &Trouve) -> Ordering {
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

/// Indexes (in ranked order) of one page, with at most `cap` groups of one organisme per page:
/// the extra ones move to the following pages, in order. `groupes` is the head of the ranking
/// (the whole of it when `complet`); `None` when the page needs more of it.
pub(super) fn paginer(
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
