//! The offer at a glance, for the statistics page: live sessions by Formacode field, by
//! département and by month of start, counted from the segments' views (every live session
//! of a diffusable action, a few ms at 100k sessions).

use super::index::{date_de_jour, dep_de_code, jour, Moteur};
use super::vue::{D_DEPARTEMENT, D_FORMACODE};
use std::collections::HashMap;

/// Counts of live sessions; labels are the caller's (it has the référentiels).
pub struct OfferStats {
    /// Root Formacode (the field a code belongs to) → sessions.
    pub domaines: HashMap<u64, u64>,
    /// Département code → sessions.
    pub departements: HashMap<String, u64>,
    /// (Root Formacode, département code) → sessions: the supply set against searches.
    pub domaines_departements: HashMap<(u64, String), u64>,
    /// The first day of this month, and sessions starting in it and each of the next eleven.
    pub debut_mois: jiff::civil::Date,
    pub mois: [u64; 12],
    pub total: u64,
}

impl Moteur {
    /// Counts the live sessions; `aujourdhui` in days since 1970.
    pub fn stats(&self, aujourdhui: i64) -> tantivy::Result<OfferStats> {
        let searcher = self.reader.searcher();
        let vues = self.vues.de(&searcher)?;
        let debut_mois = date_de_jour(aujourdhui).first_of_month();
        let mut domaines: HashMap<u64, u64> = HashMap::new();
        let mut deps: HashMap<u64, u64> = HashMap::new();
        let mut croises: HashMap<(u64, u64), u64> = HashMap::new();
        let mut mois = [0u64; 12];
        let mut total = 0;
        let racine = |c: u64| self.racine_formacode(c);
        // First day of this month and of the next twelve: a session's month by binary search.
        let bornes: Vec<i64> = (0..=12)
            .map(|k| jour(debut_mois + jiff::Span::new().months(k)))
            .collect();
        for (seg, vue) in searcher.segment_readers().iter().zip(vues.iter()) {
            for g in 0..vue.nb_groupes() {
                let vivants: Vec<_> = vue.vivants(g, seg.alive_bitset()).collect();
                if vivants.is_empty() {
                    continue;
                }
                let n = vivants.len() as u64;
                total += n;
                if let Some(dep) = vue.valeur(D_DEPARTEMENT, g) {
                    *deps.entry(dep).or_default() += n;
                }
                if let Some(fc) = vue.valeur(D_FORMACODE, g) {
                    *domaines.entry(racine(fc)).or_default() += n;
                    if let Some(dep) = vue.valeur(D_DEPARTEMENT, g) {
                        *croises.entry((racine(fc), dep)).or_default() += n;
                    }
                }
                for d in vivants {
                    let j = vue.debut[d as usize] as i64;
                    if j >= bornes[0] && j < bornes[12] {
                        mois[bornes.partition_point(|&b| b <= j) - 1] += 1;
                    }
                }
            }
        }
        Ok(OfferStats {
            domaines,
            departements: deps.into_iter().map(|(c, n)| (dep_de_code(c), n)).collect(),
            domaines_departements: croises
                .into_iter()
                .map(|((f, d), n)| ((f, dep_de_code(d)), n))
                .collect(),
            debut_mois,
            mois,
            total,
        })
    }
}
