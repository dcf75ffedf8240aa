//! Queries: text → tantivy (BM25 with field boosts, typo tolerance, synonyms), then one pass
//! over the matching groups (an action at one place) that evaluates every filter from the
//! segment's `Vue` and counts disjunctive facets (a dimension's own selection does not narrow
//! its own counts). Totals and counts are exact: they come from every match, not from a top-k.

use super::analyse::mots;
use super::extraits::Surligneur;
use super::index::*;
use super::vue::*;
use crate::referentiel::digits;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, EnableScoring, Occur, Query, TermQuery,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocId, DocSet, Score, Searcher, Term};

mod geo;
mod head;
mod pass;
mod results;

use geo::*;
use head::*;
use pass::*;
pub use results::*;

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
    /// [`crate::model::Voie`] numbers.
    pub voies: Vec<u64>,
    /// ROME codes (`M1607`): an offer matches when one is its own or its certification's.
    pub romes: Vec<String>,
    /// NSF codes (`311`, or a domain `31`).
    pub nsf: Vec<String>,
    /// UAI of an establishment (`0440001M`).
    pub uais: Vec<String>,
    pub tri: Tri,
    /// What was understood in the text typed (see `search::comprendre`), already applied
    /// to the fields above.
    pub compris: Vec<super::comprendre::Compris>,
    /// Folded word of `q` → the words it was probably meant to be (searched with it).
    pub corrections: Vec<(String, Vec<String>)>,
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
            voies: vec![],
            romes: vec![],
            nsf: vec![],
            uais: vec![],
            tri: Tri::Pertinence,
            compris: vec![],
            corrections: vec![],
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
            D_VOIE => self.voies.clone(),
            _ => vec![],
        }
    }
}

/// Weight of a synonym's match against the word's own.
const POIDS_SYNONYME: f32 = 0.5;

/// The dimensions a query can filter on by value.
const DIMS_FILTRES: [usize; 10] = [
    D_DEPARTEMENT,
    D_VOIE,
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
    ("voie", D_VOIE),
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

impl Moteur {
    /// The text part of a query, with its ROME and NSF filters (exact terms of the group's
    /// first document, which add nothing to the score); `None` when there are neither
    /// (every document matches).
    fn requete_texte(
        &self,
        searcher: &Searcher,
        mots_q: &[String],
        r: &Requete,
    ) -> Option<Box<dyn Query>> {
        let config = self.config();
        let champs = [
            (self.champs.intitule, config.champs.intitule),
            (self.champs.thesaurus, config.champs.thesaurus),
            (self.champs.objectif, config.champs.objectif),
            (self.champs.contenu, config.champs.contenu),
            (self.champs.organisme, config.champs.organisme),
        ];
        let mut an = self
            .index
            .tokenizers()
            .get("fr")
            .expect("fr analyzer registered");
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for mot in mots_q {
            // Typos are tolerated on long words, measured before and after stemming: one
            // edit on a short stem ("vente" → "vent") reaches unrelated words ("cent").
            let longue = |x: &str| x.chars().count() >= config.analyse.fautes_longueur_min;
            let floue =
                |m: &str, t: &str| longue(m) && longue(t) && !m.chars().all(|c| c.is_ascii_digit());
            let mut propres = Some(super::analyse::termes(&mut an, mot));
            if propres.as_ref().is_some_and(Vec::is_empty) {
                continue; // a stop word
            }
            // The word as typed, the job title's other gender ("infirmière" → "infirmier")
            // and what a misspelt word was probably meant to be: each searched as the word
            // itself would be, with its synonyms ("cuisinière" is "cuisinier", which is also
            // "cuisine"). A word written `mot => autre` is searched as its alternatives only.
            let corrige = r.corrections.iter().find(|(m, _)| m == mot).map(|(_, v)| v);
            let bases: Vec<&str> = std::iter::once(mot.as_str())
                .chain(self.lexique().formes(mot).iter().map(String::as_str))
                .chain(corrige.into_iter().flatten().map(String::as_str))
                .collect();
            // (term, typo-tolerant, weight): a synonym weighs half the word, so that what
            // says the word itself comes first; an abbreviation's replacements weigh it all.
            let mut formes: Vec<(String, bool, f32)> = Vec::new();
            for (i, base) in bases.iter().enumerate() {
                let remplace = config.remplaces.contains(*base);
                if i > 0 || !remplace {
                    let ts = match propres.take().filter(|_| i == 0) {
                        Some(ts) => ts,
                        None => super::analyse::termes(&mut an, base),
                    };
                    for t in ts {
                        if !formes.iter().any(|(f, _, _)| *f == t) {
                            let fl = floue(base, &t);
                            formes.push((t, fl, 1.0));
                        }
                    }
                }
                let poids = if remplace { 1.0 } else { POIDS_SYNONYME };
                for alt in config.synonymes.get(*base).into_iter().flatten() {
                    for t in super::analyse::termes(&mut an, alt) {
                        if !formes.iter().any(|(f, _, _)| *f == t) {
                            formes.push((t, false, poids));
                        }
                    }
                }
            }
            let mut alternatives: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for (forme, floue, poids_forme) in &formes {
                for (champ, poids) in champs {
                    let poids = poids * poids_forme;
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
            // The ROME métiers a job title names: trainings leading to them are found even
            // when their title says it otherwise (a small constant score: the words first).
            let metiers: Vec<(Occur, Box<dyn Query>)> = bases
                .iter()
                .flat_map(|m| self.lexique().metiers(m))
                .map(|rome| {
                    let t = Term::from_field_text(self.champs.codes, &format!("rome:{rome}"));
                    let q: Box<dyn Query> = Box::new(TermQuery::new(t, IndexRecordOption::Basic));
                    (Occur::Should, q)
                })
                .collect();
            if !metiers.is_empty() {
                alternatives.push((
                    Occur::Should,
                    Box::new(ConstScoreQuery::new(
                        Box::new(BooleanQuery::new(metiers)),
                        config.champs.contenu,
                    )),
                ));
            }
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(alternatives))));
        }
        let codes = |prefixe: &str, valeurs: &[String]| -> Option<(Occur, Box<dyn Query>)> {
            let termes: Vec<(Occur, Box<dyn Query>)> = valeurs
                .iter()
                .map(|v| {
                    let t = Term::from_field_text(self.champs.codes, &format!("{prefixe}:{v}"));
                    let q: Box<dyn Query> = Box::new(TermQuery::new(t, IndexRecordOption::Basic));
                    (Occur::Should, q)
                })
                .collect();
            (!termes.is_empty()).then(|| {
                let q: Box<dyn Query> = Box::new(ConstScoreQuery::new(
                    Box::new(BooleanQuery::new(termes)),
                    0.0,
                ));
                (Occur::Must, q)
            })
        };
        clauses.extend(codes("rome", &r.romes));
        clauses.extend(codes("nsf", &r.nsf));
        clauses.extend(codes("uai", &r.uais));
        (!clauses.is_empty()).then(|| Box::new(BooleanQuery::new(clauses)) as Box<dyn Query>)
    }

    /// Moves the codes typed in `q` into exact filters; returns the remaining words.
    pub fn extraire_codes(&self, r: &mut Requete) -> Vec<String> {
        let mut restants = Vec::new();
        for brut in r.q.split_whitespace() {
            let b = brut.trim_matches(|c: char| !c.is_alphanumeric());
            let up = b.to_ascii_uppercase();
            if b.len() == 5 && b.bytes().all(|x| x.is_ascii_digit()) {
                let cp_pdl = crate::referentiel::departements_region().contains(&&b[..2])
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
            if let Some(code) = code_rome(b).filter(|c| self.refs.rome.contains_key(c)) {
                r.romes.push(code);
                continue;
            }
            if b.len() == 8 && crate::rules::erreur_uai(&up).is_none() {
                r.uais.push(up);
                continue;
            }
            if let Some(code) = up
                .strip_prefix("NSF")
                .map(|n| n.trim_start_matches(':').to_ascii_lowercase())
                .filter(|n| self.refs.nsf.contains_key(n))
            {
                r.nsf.push(code);
                continue;
            }
            restants.extend(mots(brut));
        }
        restants
    }
}

impl Moteur {
    /// A query's words as the index sees them (folded, stemmed, stop words and codes out),
    /// in order: what search analytics count queries by, so that "Infirmière" and
    /// "infirmieres" are one query.
    pub fn normaliser(&self, q: &str) -> String {
        let mut r = Requete::new(0, 1);
        r.q = q.to_string();
        let mut an = self
            .index
            .tokenizers()
            .get("fr")
            .expect("fr analyzer registered");
        let mut out: Vec<String> = Vec::new();
        for mot in self.extraire_codes(&mut r) {
            out.extend(super::analyse::termes(&mut an, &mot));
        }
        out.join(" ")
    }

    /// The root of a Formacode (its semantic field's head), as the statistics count it.
    pub fn racine_formacode(&self, mut c: u64) -> u64 {
        for _ in 0..8 {
            match self.parents_formacode.get(&c) {
                Some(p) => c = *p,
                None => break,
            }
        }
        c
    }
}

/// A ROME code (`M1607`, any case): a letter A to N and four digits.
pub fn code_rome(s: &str) -> Option<String> {
    let b = s.as_bytes();
    (b.len() == 5
        && (b'A'..=b'N').contains(&b[0].to_ascii_uppercase())
        && b[1..].iter().all(|x| x.is_ascii_digit()))
    .then(|| s.to_ascii_uppercase())
}

impl Moteur {
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
        let query = self.requete_texte(&searcher, &mots_q, &f.r);
        // Only the head of the ranking is kept: enough for the page, grown (by a second pass,
        // without facets) if the per-organisme cap pushes the page further.
        let cap = self.config().defauts.max_par_organisme;
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
            let carte = d
                .get_first(self.champs.carte)
                .and_then(|v| tantivy::schema::Value::as_bytes(&v))
                .map(Carte::decoder)
                .unwrap_or_default();
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
                        recrutement: carte.recrutement(x.0),
                    })
                    .collect(),
                autres_sessions: montrer.len().saturating_sub(3),
                a_distance: t.distance,
                distance_km: (r.centre.is_some() && t.km < f32::MAX)
                    .then(|| (t.km as f64 * 10.0).round() / 10.0),
                niveau_libelle: carte
                    .niveau
                    .and_then(|n| crate::model::niveau_en_mots(n as u64)),
                niveau: carte.niveau,
                prix: carte.prix,
                heures: carte.heures,
                financement: carte.financement,
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

    /// Number of results of a search (for `Moteur::widen`): the same pass, without facets or page.
    pub fn compter(&self, req: &Requete) -> tantivy::Result<u64> {
        let (f, mots_q) = self.filtres(req);
        let searcher = self.reader.searcher();
        let query = self.requete_texte(&searcher, &mots_q, &f.r);
        Ok(self
            .collecter(&searcher, query.as_deref(), &f, false, 0)?
            .tete
            .total)
    }
}
