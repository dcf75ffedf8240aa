//! Queries: text → tantivy (BM25 with field boosts, typo tolerance, synonyms), then one pass
//! over the matches that evaluates every filter from fast fields, groups sessions by action and
//! place, and counts disjunctive facets (a dimension's own selection does not narrow its own
//! counts). Totals and counts are exact: they come from every match, not from a top-k.

use super::analyse::mots;
use super::index::*;
use crate::referentiel::digits;
use serde::Serialize;
use std::collections::HashMap;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader, Term};

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
            rayon_km: 30.0,
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
}

// Filter dimensions; facets are counted for each but LIEU.
const D_FORMACODE: usize = 0;
const D_DEPARTEMENT: usize = 1;
const D_LIEU: usize = 2;
const D_DATES: usize = 3;
const D_PUBLIC: usize = 4;
const D_FINANCEUR: usize = 5;
const D_CERTIFIANTE: usize = 6;
const D_NIVEAU: usize = 7;
const D_DISTANCE: usize = 8;
const D_ORGANISME: usize = 9;
const NB_DIMS: usize = 10;
const TOUS: u16 = (1 << NB_DIMS) - 1;

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

/// Relative date facet buckets, in months.
pub const MOIS: &[u64] = &[1, 3, 6];

/// One matching session, with what ranking and display need.
#[derive(Clone, Copy)]
struct Hit {
    seg: u32,
    doc: DocId,
    score: Score,
    debut: i64,
    fin: i64,
    bits: u16,
    distance: bool,
    siret: u64,
    pos: Option<(f64, f64)>,
}

/// What one segment found: its result groups and its facet counts.
struct Collecte {
    groupes: Vec<Groupe>,
    comptes: Vec<HashMap<u64, u64>>,
}

struct Colonnes {
    groupe: Column<u64>,
    formacodes: Column<u64>,
    commune: Column<u64>,
    departement: Column<u64>,
    lat: Column<f64>,
    lon: Column<f64>,
    debut: Column<i64>,
    fin: Column<i64>,
    permanente: Column<bool>,
    a_distance: Column<bool>,
    publics: Column<u64>,
    financeurs: Column<u64>,
    certifiante: Column<bool>,
    certifications: Column<u64>,
    niveau: Column<u64>,
    siret: Column<u64>,
}

/// Filters prepared for evaluation on fast-field values.
struct Filtres {
    r: Requete,
    /// Session-start window (days since 1970), applied unless `dates` is false.
    date_min: i64,
    date_max: i64,
    dates: bool,
}

impl Filtres {
    fn dates_ok(&self, debut: i64, fin: i64, perm: bool) -> bool {
        if !self.dates {
            return true;
        }
        let dans = debut >= self.date_min && debut <= self.date_max;
        // Rolling entry: open as long as the session runs.
        let ouverte = perm && fin >= self.date_min && debut <= self.date_max;
        dans || ouverte
    }
}

fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1) = (a.0.to_radians(), a.1.to_radians());
    let (la2, lo2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

struct Collecteur {
    f: std::sync::Arc<Filtres>,
}

/// Groups are found on the fly: the sessions of one action are indexed together, so they are
/// consecutive documents of one segment, and matches arrive in document order.
struct CollecteurSegment {
    f: std::sync::Arc<Filtres>,
    seg: u32,
    c: Colonnes,
    out: Collecte,
    buf: Vec<u64>,
    /// The group being gathered: its key, sessions, and facet values with the bits of the
    /// session that carries them.
    courant: Option<u64>,
    g_hits: Vec<Hit>,
    g_vals: Vec<(u8, u64, u16)>,
    vus: Vec<(u8, u64)>,
}

impl CollecteurSegment {
    /// Closes the current group: counts its facet values (once per value, for each dimension
    /// whose other filters one of its sessions passes) and keeps it if a session passes all.
    fn fin_groupe(&mut self) {
        if self.courant.take().is_none() {
            return;
        }
        self.vus.clear();
        for &(d, v, bits) in &self.g_vals {
            if (bits | (1 << d)) == TOUS {
                self.vus.push((d, v));
            }
        }
        self.vus.sort_unstable();
        self.vus.dedup();
        for &(d, v) in &self.vus {
            *self.out.comptes[d as usize].entry(v).or_default() += 1;
        }
        let mut passe: Vec<Hit> = self
            .g_hits
            .iter()
            .filter(|h| h.bits == TOUS)
            .copied()
            .collect();
        if !passe.is_empty() {
            passe.sort_by_key(|h| h.debut);
            let today = self.f.r.aujourdhui;
            let h0 = passe[0];
            self.out.groupes.push(Groupe {
                score: passe.iter().map(|h| h.score).fold(0.0, f32::max),
                distance: h0.distance,
                siret: h0.siret,
                pos: h0.pos,
                prochain: passe
                    .iter()
                    .map(|h| h.debut)
                    .find(|&d| d >= today)
                    .unwrap_or(h0.debut),
                passe,
            });
        }
        self.g_hits.clear();
        self.g_vals.clear();
    }
}

impl Collector for Collecteur {
    type Fruit = Vec<Collecte>;
    type Child = CollecteurSegment;

    fn for_segment(&self, seg: SegmentOrdinal, r: &SegmentReader) -> tantivy::Result<Self::Child> {
        let ff = r.fast_fields();
        Ok(CollecteurSegment {
            f: self.f.clone(),
            seg,
            c: Colonnes {
                groupe: ff.u64("groupe")?,
                formacodes: ff.u64("formacodes")?,
                commune: ff.u64("commune")?,
                departement: ff.u64("departement")?,
                lat: ff.f64("lat")?,
                lon: ff.f64("lon")?,
                debut: ff.i64("debut")?,
                fin: ff.i64("fin")?,
                permanente: ff.bool("permanente")?,
                a_distance: ff.bool("a_distance")?,
                publics: ff.u64("publics")?,
                financeurs: ff.u64("financeurs")?,
                certifiante: ff.bool("certifiante")?,
                certifications: ff.u64("certifications")?,
                niveau: ff.u64("niveau")?,
                siret: ff.u64("siret")?,
            },
            out: Collecte {
                groupes: Vec::new(),
                comptes: vec![HashMap::new(); NB_DIMS],
            },
            buf: Vec::new(),
            courant: None,
            g_hits: Vec::new(),
            g_vals: Vec::new(),
            vus: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Collecte>) -> tantivy::Result<Vec<Collecte>> {
        Ok(fruits)
    }
}

fn any_in(vals: &[u64], sel: &[u64]) -> bool {
    sel.is_empty() || vals.iter().any(|v| sel.contains(v))
}

impl SegmentCollector for CollecteurSegment {
    type Fruit = Collecte;

    fn collect(&mut self, doc: DocId, score: Score) {
        let groupe = self.c.groupe.first(doc).unwrap_or(0);
        if self.courant != Some(groupe) {
            self.fin_groupe();
            self.courant = Some(groupe);
        }
        let f = self.f.clone();
        let r = &f.r;
        let c = &self.c;
        let v0 = self.g_vals.len();
        let mut bits = 0u16;
        let distance = c.a_distance.first(doc).unwrap_or(false);

        self.buf.clear();
        self.buf.extend(c.formacodes.values_for_doc(doc));
        if any_in(&self.buf, &r.formacodes) {
            bits |= 1 << D_FORMACODE;
        }
        for i in 0..self.buf.len() {
            self.g_vals.push((D_FORMACODE as u8, self.buf[i], 0));
        }

        let dep = c.departement.first(doc);
        // Distance learning skips the commune/radius filter but not the département one, so
        // that a département's facet count is the total of selecting it.
        if r.departements.is_empty() || dep.is_some_and(|d| r.departements.contains(&d)) {
            bits |= 1 << D_DEPARTEMENT;
        }
        if let Some(d) = dep {
            self.g_vals.push((D_DEPARTEMENT as u8, d, 0));
        }

        let pos = match (c.lat.first(doc), c.lon.first(doc)) {
            (Some(a), Some(b)) => Some((a, b)),
            _ => None,
        };
        let commune = c.commune.first(doc);
        let lieu_ok = distance
            || ((r.communes.is_empty() || commune.is_some_and(|x| r.communes.contains(&x)))
                && match (r.centre, pos) {
                    (None, _) => true,
                    (Some(ctr), Some(p)) => distance_km(ctr, p) <= r.rayon_km,
                    (Some(_), None) => false,
                });
        if lieu_ok {
            bits |= 1 << D_LIEU;
        }

        let debut = c.debut.first(doc).unwrap_or(JOUR_INCONNU_DEBUT);
        let fin = c.fin.first(doc).unwrap_or(JOUR_INCONNU_FIN);
        let perm = c.permanente.first(doc).unwrap_or(false);
        if f.dates_ok(debut, fin, perm) {
            bits |= 1 << D_DATES;
        }
        // Date buckets: starts (or is open) within 1, 3, 6 months of today.
        for (i, m) in MOIS.iter().enumerate() {
            let lim = r.aujourdhui + (*m as i64) * 30;
            let ok = (debut >= r.aujourdhui && debut <= lim)
                || (perm && fin >= r.aujourdhui && debut <= lim);
            if ok {
                self.g_vals.push((D_DATES as u8, i as u64, 0));
            }
        }

        self.buf.clear();
        self.buf.extend(c.publics.values_for_doc(doc));
        if any_in(&self.buf, &r.publics) {
            bits |= 1 << D_PUBLIC;
        }
        for i in 0..self.buf.len() {
            self.g_vals.push((D_PUBLIC as u8, self.buf[i], 0));
        }

        self.buf.clear();
        self.buf.extend(c.financeurs.values_for_doc(doc));
        if any_in(&self.buf, &r.financeurs) {
            bits |= 1 << D_FINANCEUR;
        }
        for i in 0..self.buf.len() {
            self.g_vals.push((D_FINANCEUR as u8, self.buf[i], 0));
        }

        let cert = c.certifiante.first(doc).unwrap_or(false);
        self.buf.clear();
        self.buf.extend(c.certifications.values_for_doc(doc));
        if r.certifiante.is_none_or(|x| x == cert) && any_in(&self.buf, &r.certifications) {
            bits |= 1 << D_CERTIFIANTE;
        }
        self.g_vals.push((D_CERTIFIANTE as u8, cert as u64, 0));

        let niv = c.niveau.first(doc).unwrap_or(0);
        if r.niveaux.is_empty() || r.niveaux.contains(&niv) {
            bits |= 1 << D_NIVEAU;
        }
        if niv > 0 {
            self.g_vals.push((D_NIVEAU as u8, niv, 0));
        }

        if r.a_distance.is_none_or(|x| x == distance) {
            bits |= 1 << D_DISTANCE;
        }
        self.g_vals.push((D_DISTANCE as u8, distance as u64, 0));

        let siret = c.siret.first(doc).unwrap_or(0);
        if r.organismes.is_empty() || r.organismes.contains(&siret) {
            bits |= 1 << D_ORGANISME;
        }
        self.g_vals.push((D_ORGANISME as u8, siret, 0));

        // A hit that fails two dimensions counts nowhere: drop it early.
        if (TOUS & !bits).count_ones() > 1 {
            self.g_vals.truncate(v0);
            return;
        }
        for x in &mut self.g_vals[v0..] {
            x.2 = bits;
        }
        self.g_hits.push(Hit {
            seg: self.seg,
            doc,
            score,
            debut,
            fin,
            bits,
            distance,
            siret,
            pos,
        });
    }

    fn harvest(mut self) -> Collecte {
        self.fin_groupe();
        self.out
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionRes {
    pub debut: Option<String>,
    pub fin: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
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

#[derive(Debug, Clone, Serialize)]
pub struct ValeurFacette {
    pub valeur: String,
    pub libelle: String,
    pub nombre: u64,
    pub selectionne: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Reponse {
    pub total: u64,
    pub page: usize,
    pub par_page: usize,
    pub resultats: Vec<Resultat>,
    pub facettes: serde_json::Map<String, serde_json::Value>,
}

fn iso(j: i64) -> Option<String> {
    (j != JOUR_INCONNU_DEBUT && j != JOUR_INCONNU_FIN).then(|| date_de_jour(j).to_string())
}

struct Groupe {
    /// Sessions passing every filter, by start date, and the best of their scores.
    passe: Vec<Hit>,
    score: Score,
    distance: bool,
    siret: u64,
    pos: Option<(f64, f64)>,
    prochain: i64,
}

impl Moteur {
    /// The text part of a query; `None` when there are no words (every document matches).
    fn requete_texte(&self, mots_q: &[String]) -> Option<Box<dyn Query>> {
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
            for t in super::analyse::termes(&mut an, mot) {
                formes.push((
                    t,
                    mot.chars().count() >= self.config.analyse.fautes_longueur_min
                        && !mot.chars().all(|c| c.is_ascii_digit()),
                ));
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
                    if *floue {
                        alternatives.push((
                            Occur::Should,
                            Box::new(BoostQuery::new(
                                Box::new(FuzzyTermQuery::new(term, 1, true)),
                                poids * 0.3,
                            )),
                        ));
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
                let cp_pdl = ["44", "49", "53", "72", "85"].contains(&&b[..2])
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
            if let Some(n) = up
                .strip_prefix("RNCP")
                .filter(|n| !n.is_empty() && n.bytes().all(|x| x.is_ascii_digit()))
            {
                r.certifications
                    .push(CERT_RNCP | digits(n).parse::<u64>().unwrap_or(0));
                continue;
            }
            if let Some(n) = up
                .strip_prefix("RS")
                .filter(|n| !n.is_empty() && n.bytes().all(|x| x.is_ascii_digit()))
            {
                r.certifications
                    .push(CERT_RS | digits(n).parse::<u64>().unwrap_or(0));
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

    /// Runs a search: exact total, one page of grouped hits, every facet.
    pub fn rechercher(&self, req: &Requete) -> tantivy::Result<Reponse> {
        let mut r = req.clone();
        let mots_q = self.extraire_codes(&mut r);
        let searcher = self.reader.searcher();
        let query = self.requete_texte(&mots_q);
        let dates = !r.toutes_dates;
        let filtres = Filtres {
            r: r.clone(),
            date_min: r.debut_min.unwrap_or(r.aujourdhui),
            date_max: r.debut_max.unwrap_or(i64::MAX),
            dates,
        };
        let coll = Collecteur {
            f: std::sync::Arc::new(filtres),
        };
        let all = AllQuery;
        let fruits = searcher.search(query.as_deref().unwrap_or(&all), &coll)?;
        let mut groupes: Vec<Groupe> = Vec::new();
        let mut comptes: Vec<HashMap<u64, u64>> = vec![HashMap::new(); NB_DIMS];
        for c in fruits {
            groupes.extend(c.groupes);
            for (total, seg) in comptes.iter_mut().zip(c.comptes) {
                for (k, v) in seg {
                    *total.entry(k).or_default() += v;
                }
            }
        }
        let total = groupes.len() as u64;
        // Ranking: local offers before distance learning, then the chosen order.
        let dist = |g: &Groupe| match (r.centre, g.pos) {
            (Some(c), Some(p)) => distance_km(c, p),
            _ => f64::MAX,
        };
        groupes.sort_by(|a, b| {
            a.distance.cmp(&b.distance).then_with(|| match r.tri {
                Tri::Pertinence => b
                    .score
                    .total_cmp(&a.score)
                    .then(a.prochain.cmp(&b.prochain)),
                Tri::Date => a
                    .prochain
                    .cmp(&b.prochain)
                    .then(b.score.total_cmp(&a.score)),
                Tri::Distance => dist(a)
                    .total_cmp(&dist(b))
                    .then(b.score.total_cmp(&a.score)),
            })
        });
        let page = paginer(
            &groupes,
            r.page,
            r.par_page,
            self.config.defauts.max_par_organisme,
        );
        let mut resultats = Vec::with_capacity(page.len());
        let snippets = match &query {
            Some(q) => Some((
                tantivy::snippet::SnippetGenerator::create(
                    &searcher,
                    q.as_ref(),
                    self.champs.intitule,
                )?,
                tantivy::snippet::SnippetGenerator::create(
                    &searcher,
                    q.as_ref(),
                    self.champs.objectif,
                )?,
            )),
            None => None,
        };
        for gi in page {
            let g = &groupes[gi];
            let h = &g.passe[0];
            let d: tantivy::TantivyDocument = searcher.doc(DocAddress::new(h.seg, h.doc))?;
            let commune = d
                .get_first(self.champs.commune)
                .and_then(|v| tantivy::schema::Value::as_u64(&v))
                .map(insee_de_code);
            let commune_ref = commune.as_ref().and_then(|c| self.refs.communes.get(c));
            let a_venir: Vec<&Hit> = g
                .passe
                .iter()
                .filter(|x| x.debut >= r.aujourdhui || x.fin >= r.aujourdhui)
                .collect();
            let montrer: Vec<&Hit> = if a_venir.is_empty() {
                g.passe.iter().collect()
            } else {
                a_venir
            };
            let mut extraits = Vec::new();
            if let Some((si, so)) = &snippets {
                for (gen, champ) in [(si, self.champs.intitule), (so, self.champs.objectif)] {
                    let s = gen.snippet(&texte(&d, champ));
                    if !s.highlighted().is_empty() {
                        extraits.push(s.to_html());
                    }
                }
            }
            let siret = format!("{:014}", g.siret);
            resultats.push(Resultat {
                formation_numero: texte(&d, self.champs.formation),
                action_numero: texte(&d, self.champs.action),
                intitule: texte(&d, self.champs.intitule),
                organisme: texte(&d, self.champs.organisme_nom),
                siret,
                commune_nom: commune_ref.map(|c| c.nom.clone()),
                departement: commune_ref.map(|c| c.departement.clone()),
                commune,
                prochaines_sessions: montrer
                    .iter()
                    .take(3)
                    .map(|x| SessionRes {
                        debut: iso(x.debut),
                        fin: iso(x.fin),
                    })
                    .collect(),
                autres_sessions: montrer.len().saturating_sub(3),
                a_distance: g.distance,
                distance_km: r.centre.and(g.pos).map(|_| (dist(g) * 10.0).round() / 10.0),
                extraits,
                score: g.score,
            });
        }
        Ok(Reponse {
            total,
            page: r.page,
            par_page: r.par_page,
            resultats,
            facettes: self.facettes(&r, &comptes),
        })
    }

    fn facettes(
        &self,
        r: &Requete,
        comptes: &[HashMap<u64, u64>],
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut out = serde_json::Map::new();
        for &(nom, d) in FACETTES {
            let selection: Vec<u64> = match d {
                D_FORMACODE => r.formacodes.clone(),
                D_DEPARTEMENT => r.departements.clone(),
                D_PUBLIC => r.publics.clone(),
                D_FINANCEUR => r.financeurs.clone(),
                D_CERTIFIANTE => r.certifiante.map(|b| b as u64).into_iter().collect(),
                D_NIVEAU => r.niveaux.clone(),
                D_DISTANCE => r.a_distance.map(|b| b as u64).into_iter().collect(),
                D_ORGANISME => r.organismes.clone(),
                _ => vec![],
            };
            let mut vals: Vec<(u64, u64)> = comptes[d].iter().map(|(k, v)| (*k, *v)).collect();
            for s in &selection {
                if !comptes[d].contains_key(s) {
                    vals.push((*s, 0));
                }
            }
            // Formacode: the field heads and domains, plus the path to what is selected and
            // its children; other dimensions: every value.
            if d == D_FORMACODE {
                let garder: Vec<String> = selection
                    .iter()
                    .flat_map(|s| self.refs.formacode_ancetres(&format!("{s:05}")))
                    .collect();
                vals.retain(|(v, _)| {
                    let code = format!("{v:05}");
                    let parent = self
                        .refs
                        .formacodes
                        .get(&code)
                        .and_then(|f| f.generique.clone());
                    let tete = code.ends_with("54") || code.starts_with("001");
                    tete || garder.contains(&code)
                        || parent.is_some_and(|p| garder.contains(&p))
                        || selection.contains(v)
                });
            }
            vals.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let max = if d == D_ORGANISME { 20 } else { 200 };
            let mut liste = Vec::new();
            for (v, n) in vals
                .into_iter()
                .enumerate()
                .filter(|(i, (v, _))| *i < max || selection.contains(v))
                .map(|(_, x)| x)
            {
                let (valeur, libelle, parent) = self.libelle(d, v);
                liste.push(
                    serde_json::to_value(ValeurFacette {
                        selectionne: selection.contains(&v),
                        valeur,
                        libelle,
                        nombre: n,
                        parent,
                    })
                    .unwrap_or_default(),
                );
            }
            out.insert(nom.into(), serde_json::Value::Array(liste));
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

    /// Number of results of a search (for `elargir`).
    pub fn compter(&self, r: &Requete) -> tantivy::Result<u64> {
        let mut r = r.clone();
        r.page = 1;
        r.par_page = 0;
        Ok(self.rechercher(&r)?.total)
    }
}

/// Indexes (in ranked order) of one page, with at most `cap` groups of one organisme per page:
/// the extra ones move to the following pages, in order.
fn paginer(groupes: &[Groupe], page: usize, par_page: usize, cap: usize) -> Vec<usize> {
    if par_page == 0 {
        return Vec::new();
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
            let n = par_org.entry(groupes[g].siret).or_default();
            if *n < cap {
                *n += 1;
                cette.push(g);
            } else {
                encore.push_back(g);
            }
        }
        while cette.len() < par_page && suivant < groupes.len() {
            let g = suivant;
            suivant += 1;
            let n = par_org.entry(groupes[g].siret).or_default();
            if *n < cap {
                *n += 1;
                cette.push(g);
            } else {
                encore.push_back(g);
            }
        }
        // Nothing else left: the cap cannot be kept, fill with what remains.
        if cette.len() < par_page && suivant >= groupes.len() {
            while cette.len() < par_page {
                match encore.pop_front() {
                    Some(g) => cette.push(g),
                    None => break,
                }
            }
        }
        reporte = encore;
        if p == page || cette.is_empty() {
            return if p == page { cette } else { Vec::new() };
        }
        p += 1;
    }
}
