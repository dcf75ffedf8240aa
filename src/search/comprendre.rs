//! Query understanding. What people type in `q` besides the subject (a town, a postal code,
//! a département, a level, "à distance", "cpf", "gratuit", "alternance") becomes the filter
//! it means; a misspelt word also searches the word it was meant to be; a job title also
//! searches its other gender's form and the ROME métiers it names. Each thing understood is
//! named in the answer (`interpretation`), with the parameters it became, and the user can
//! undo it: `litteral=<the words>` keeps those words as plain words.
//!
//! Everything here is prepared once from the référentiels ([`Lexique::new`]): a query only
//! looks words up in hash maps (a few µs).

use super::analyse::{mots, plier};
use crate::referentiel::{departements_region, Referentiels};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use std::collections::HashMap;

/// One thing understood in `q`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Compris {
    /// The words of `q` it came from, as typed (what `litteral=` takes to undo it).
    pub texte: String,
    /// `lieu`, `departement`, `niveau`, `a_distance`, `financement`, `voie` or `orthographe`.
    pub genre: &'static str,
    /// In words, for the chip the site shows ("à Nantes (30 km)").
    pub libelle: String,
    /// The search parameters it stands for.
    pub parametres: Vec<Parametre>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Parametre {
    pub nom: &'static str,
    pub valeur: String,
}

fn p(nom: &'static str, valeur: impl Into<String>) -> Parametre {
    Parametre {
        nom,
        valeur: valeur.into(),
    }
}

/// A place name as people type it and as it is looked up: folded, any punctuation a space,
/// `st`/`ste` spelt out (`St-Nazaire`, `saint nazaire` and `Saint-Nazaire` are one key).
pub fn cle_lieu(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for m in mots(s) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(match m.as_str() {
            "st" => "saint",
            "ste" => "sainte",
            m => m,
        });
    }
    out
}

/// Prepositions that belong to the place they precede ("formation à Nantes").
const PREPOSITIONS_LIEU: &[&str] = &["a", "en", "dans", "vers", "sur", "pres", "autour"];

/// Words after which a one-word commune that is also a common word is still a place
/// ("vente à Vue").
const AVANT_LIEU_SUR: &[&str] = &["a", "vers", "pres", "autour"];

/// The tables query understanding looks words up in. Built once and only read (queries
/// never insert), so a fast unseeded hasher is safe: no crafted word can slow a table down.
pub struct Lexique {
    /// Communes of the region by [`cle_lieu`] → INSEE codes, the most populated first.
    communes_region: FxHashMap<String, Vec<String>>,
    /// Every current commune of France by [`cle_lieu`] (the "where" field), region first.
    communes: FxHashMap<String, Vec<String>>,
    /// Départements of the region by name key or number → code.
    departements: FxHashMap<String, String>,
    /// Longest commune or département key, in words.
    max_mots: usize,
    /// Folded words of the référentiels' labels (Formacode, certifications, ROME, NSF): a
    /// misspelling is only corrected when the word is none of them.
    vocabulaire: FxHashSet<String>,
    /// Words of the trades (Formacode and ROME labels, not the certifications' titles,
    /// which name towns): a one-word commune that is one of them ("Vue", "Changé", "Placé")
    /// is a place only after "à".
    mots_metier: FxHashSet<String>,
    /// Job title words in one gender → the other's (`infirmiere` → `infirmier`), from the
    /// ROME appellations ("Infirmier / Infirmière").
    formes: FxHashMap<String, Vec<String>>,
    /// A job title word (either gender) → the ROME fiches whose appellations start with it,
    /// when they are few enough to mean one métier.
    metiers: FxHashMap<String, Vec<String>>,
    /// Words of at least [`MIN_CORRECTION`] − 1 letters and, sorted by key, the hash of
    /// each of them and of each of their one-letter deletions with the word it comes from
    /// (symmetric-delete spelling correction: one edit away is one shared key). Hashes keep
    /// it to one allocation of a few MB; a collision only proposes a candidate that
    /// [`une_edition`] then refuses.
    mots_corrects: Vec<String>,
    suppressions: Vec<(u64, u32)>,
}

/// Words shorter than this are never corrected (too many neighbours, too little evidence).
pub const MIN_CORRECTION: usize = 5;
/// A job title word naming more ROME fiches than this is too vague to stand for a métier
/// ("agent", "responsable").
const MAX_FICHES_METIER: usize = 4;

fn suppressions_de(mot: &str) -> impl Iterator<Item = String> + '_ {
    let idx: Vec<usize> = mot.char_indices().map(|(i, _)| i).collect();
    idx.into_iter().map(move |i| {
        let mut s = String::with_capacity(mot.len());
        s.push_str(&mot[..i]);
        let c = mot[i..].chars().next().map(char::len_utf8).unwrap_or(1);
        s.push_str(&mot[i + c..]);
        s
    })
}

fn empreinte(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    s.hash(&mut h);
    h.finish()
}

/// At most one edit apart (insertion, deletion, substitution or swap of two neighbours).
fn une_edition(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let debut = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[debut..], &b[debut..]);
    let fin = ra
        .iter()
        .rev()
        .zip(rb.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (
        &ra[..ra.len() - fin.min(ra.len())],
        &rb[..rb.len() - fin.min(rb.len())],
    );
    match (ma.len(), mb.len()) {
        (0, 0) | (1, 0) | (0, 1) | (1, 1) => true,
        (2, 2) => ma[0] == mb[1] && ma[1] == mb[0],
        _ => false,
    }
}

/// The pairs of words that differ between the two genders of an appellation
/// ("Conducteur / Conductrice d'engins" → (conducteur, conductrice)).
fn paires_genre(libelle: &str) -> Vec<(String, String)> {
    let Some((masc, reste)) = libelle.split_once(" / ") else {
        return Vec::new();
    };
    let m = mots(masc);
    let f = mots(reste);
    m.iter()
        .zip(&f)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| (a.clone(), b.clone()))
        .collect()
}

impl Lexique {
    pub fn new(refs: &Referentiels) -> Lexique {
        let mut communes_region: FxHashMap<String, Vec<String>> = FxHashMap::default();
        let mut communes: FxHashMap<String, Vec<String>> = FxHashMap::default();
        let mut triees: Vec<_> = refs.communes.values().filter(|c| c.actuelle).collect();
        triees.sort_by_key(|c| {
            (
                !departements_region().contains(&c.departement.as_str()),
                std::cmp::Reverse(c.population),
                c.code_insee.clone(),
            )
        });
        let mut max_mots = 1;
        for c in triees {
            let cle = cle_lieu(&c.nom);
            let mut cles = vec![cle.clone()];
            // "L'Île-d'Yeu" is typed "ile d yeu" too.
            if let Some(sans) = cle.strip_prefix("l ") {
                cles.push(sans.to_string());
            }
            for k in cles {
                if departements_region().contains(&c.departement.as_str()) {
                    max_mots = max_mots.max(k.split(' ').count());
                    communes_region
                        .entry(k.clone())
                        .or_default()
                        .push(c.code_insee.clone());
                }
                communes.entry(k).or_default().push(c.code_insee.clone());
            }
        }
        let mut departements = FxHashMap::default();
        for code in departements_region() {
            if let Some(d) = refs.departements.get(*code) {
                let k = cle_lieu(&d.nom);
                max_mots = max_mots.max(k.split(' ').count());
                departements.insert(k, d.code.clone());
            }
            departements.insert(code.to_string(), code.to_string());
        }

        let ajouter = |v: &mut FxHashSet<String>, texte: &str| {
            for m in mots(texte) {
                if m.len() >= 3 && !m.bytes().all(|b| b.is_ascii_digit()) {
                    v.insert(m);
                }
            }
        };
        let mut mots_metier: FxHashSet<String> = FxHashSet::default();
        for f in refs.formacodes.values() {
            ajouter(&mut mots_metier, &f.libelle);
            for s in &f.synonymes {
                ajouter(&mut mots_metier, s);
            }
        }
        for l in refs.rome.values() {
            ajouter(&mut mots_metier, l);
        }
        for (_, l) in &refs.appellations {
            ajouter(&mut mots_metier, l);
        }
        let mut vocabulaire = mots_metier.clone();
        for c in refs.certifinfo.values() {
            ajouter(&mut vocabulaire, &c.intitule);
        }
        for l in refs.nsf.values() {
            ajouter(&mut vocabulaire, l);
        }
        let mut formes: FxHashMap<String, Vec<String>> = FxHashMap::default();
        let mut metiers: FxHashMap<String, Vec<String>> = FxHashMap::default();
        for (rome, libelle) in &refs.appellations {
            for (m, f) in paires_genre(libelle) {
                for (a, b) in [(&m, &f), (&f, &m)] {
                    let v = formes.entry(a.clone()).or_default();
                    if !v.contains(b) {
                        v.push(b.clone());
                    }
                }
            }
            // The métier a title's first word names, in both genders.
            if let Some((masc, reste)) = libelle.split_once(" / ") {
                for tete in [
                    mots(masc).into_iter().next(),
                    mots(reste).into_iter().next(),
                ]
                .into_iter()
                .flatten()
                .filter(|t| t.len() >= 4)
                {
                    let v = metiers.entry(tete).or_default();
                    if !v.contains(rome) {
                        v.push(rome.clone());
                    }
                }
            }
        }
        metiers.retain(|_, v| v.len() <= MAX_FICHES_METIER);

        let mut mots_corrects: Vec<String> = vocabulaire
            .iter()
            .filter(|m| m.chars().count() >= MIN_CORRECTION - 1)
            .cloned()
            .collect();
        mots_corrects.sort_unstable();
        let mut suppressions: Vec<(u64, u32)> = Vec::new();
        for (i, m) in mots_corrects.iter().enumerate() {
            suppressions.push((empreinte(m), i as u32));
            for s in suppressions_de(m) {
                suppressions.push((empreinte(&s), i as u32));
            }
        }
        suppressions.sort_unstable();
        suppressions.dedup();
        Lexique {
            communes_region,
            communes,
            departements,
            max_mots,
            vocabulaire,
            mots_metier,
            formes,
            metiers,
            mots_corrects,
            suppressions,
        }
    }

    /// Communes a person typed in a "where" field: by name (with or without accents,
    /// hyphens, "st") or postal code; the region's first, then the most populated.
    pub fn communes_nommees(&self, refs: &Referentiels, texte: &str) -> Vec<String> {
        let t = texte.trim();
        // « Nantes (44) » or « Nantes (44000) », as suggestions show them.
        let (nom, precision) = match t.split_once(" (") {
            Some((n, reste)) => (n, reste.trim_end_matches(')').trim()),
            None => (t, ""),
        };
        let nom = nom.trim();
        if nom.len() == 5 && nom.bytes().all(|b| b.is_ascii_digit()) {
            return refs.communes_par_cp.get(nom).cloned().unwrap_or_default();
        }
        let mut v = self
            .communes
            .get(&cle_lieu(nom))
            .cloned()
            .unwrap_or_default();
        if !precision.is_empty() {
            let garder: Vec<String> = v
                .iter()
                .filter(|c| {
                    refs.communes.get(*c).is_some_and(|c| {
                        c.departement == precision || c.codes_postaux.iter().any(|p| p == precision)
                    })
                })
                .cloned()
                .collect();
            if !garder.is_empty() {
                v = garder;
            }
        }
        v
    }

    /// Other gender forms of a folded job title word.
    pub fn formes(&self, mot: &str) -> &[String] {
        self.formes.get(mot).map(Vec::as_slice).unwrap_or(&[])
    }

    /// ROME fiches a folded job title word names.
    pub fn metiers(&self, mot: &str) -> &[String] {
        self.metiers.get(mot).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether the référentiels' labels use this folded word.
    pub fn connu(&self, mot: &str) -> bool {
        self.vocabulaire.contains(mot)
    }

    /// The known words one edit away from a folded word that is not itself known (nor a
    /// job title form).
    pub fn corrections(&self, mot: &str) -> Vec<String> {
        if mot.chars().count() < MIN_CORRECTION
            || self.vocabulaire.contains(mot)
            || self.formes.contains_key(mot)
            || mot.bytes().any(|b| b.is_ascii_digit())
        {
            return Vec::new();
        }
        let mut idx: Vec<u32> = Vec::new();
        for cle in std::iter::once(mot.to_string()).chain(suppressions_de(mot)) {
            let h = empreinte(&cle);
            let debut = self.suppressions.partition_point(|(x, _)| *x < h);
            idx.extend(
                self.suppressions[debut..]
                    .iter()
                    .take_while(|(x, _)| *x == h)
                    .map(|(_, i)| *i),
            );
        }
        idx.sort_unstable();
        idx.dedup();
        let mut out: Vec<String> = idx
            .into_iter()
            .map(|i| &self.mots_corrects[i as usize])
            .filter(|c| une_edition(mot, c))
            .cloned()
            .collect();
        out.truncate(3);
        out
    }
}

/// A word of `q`: where it is in the text, and folded.
struct Mot {
    debut: usize,
    fin: usize,
    pli: String,
}

/// Words of `q` with their byte offsets; a `+` is a word of its own ("bac+2").
fn decouper(q: &str) -> Vec<Mot> {
    let mut out: Vec<Mot> = Vec::new();
    let mut courant: Option<Mot> = None;
    for (i, c) in q.char_indices() {
        if c.is_alphanumeric() {
            match &mut courant {
                Some(m) => m.fin = i + c.len_utf8(),
                None => {
                    courant = Some(Mot {
                        debut: i,
                        fin: i + c.len_utf8(),
                        pli: String::new(),
                    })
                }
            }
        } else {
            if let Some(mut m) = courant.take() {
                m.pli = plier(&q[m.debut..m.fin]);
                out.push(m);
            }
            if c == '+' {
                out.push(Mot {
                    debut: i,
                    fin: i + 1,
                    pli: "+".into(),
                });
            }
        }
    }
    if let Some(mut m) = courant.take() {
        m.pli = plier(&q[m.debut..m.fin]);
        out.push(m);
    }
    out
}

/// What a query already says, so that understanding never overrides an explicit parameter.
#[derive(Debug, Default, Clone, Copy)]
pub struct DejaDit {
    pub lieu: bool,
    pub niveau: bool,
    pub a_distance: bool,
    pub financeur: bool,
    pub voie: bool,
}

/// The outcome of understanding a query.
#[derive(Debug, Default)]
pub struct Comprehension {
    /// `q` without the words that became filters.
    pub reste: String,
    pub compris: Vec<Compris>,
    /// A place: its INSEE code and centre.
    pub lieu: Option<(String, (f64, f64))>,
    pub departement: Option<String>,
    pub niveau: Option<u64>,
    pub a_distance: bool,
    pub cpf: bool,
    pub gratuit: bool,
    pub apprentissage: bool,
    /// Folded word → the words it was probably meant to be.
    pub corrections: Vec<(String, Vec<String>)>,
    /// Byte ranges of `q` consumed by a filter.
    pris: Vec<(usize, usize)>,
}

impl Comprehension {
    /// Records words `ms[i..i + n]` of `q` as understood: named in `compris`, and cut out of
    /// what is searched from byte `debut` (which may take in a preposition before them).
    fn retenir(
        &mut self,
        q: &str,
        ms: &[Mot],
        (i, n, debut): (usize, usize, usize),
        genre: &'static str,
        libelle: impl Into<String>,
        parametres: Vec<Parametre>,
    ) {
        let fin = ms[i + n - 1].fin;
        self.compris.push(Compris {
            texte: q[ms[i].debut..fin].to_string(),
            genre,
            libelle: libelle.into(),
            parametres,
        });
        self.pris.push((debut, fin));
    }
}

impl Lexique {
    /// Understands `q`. `litteraux` are phrases the user asked to keep as words;
    /// `deja` what the query's parameters already set; `rayon` the default radius (for the
    /// chip's words); `synonymes` index-config's (a word that has some is never corrected:
    /// "compta" is not "compte").
    pub fn comprendre(
        &self,
        refs: &Referentiels,
        q: &str,
        litteraux: &[String],
        deja: DejaDit,
        rayon: f64,
        synonymes: &HashMap<String, Vec<String>>,
    ) -> Comprehension {
        let mut c = Comprehension::default();
        let ms = decouper(q);
        let litteraux: Vec<String> = litteraux
            .iter()
            .map(|l| cle_lieu(l))
            .filter(|l| !l.is_empty())
            .collect();
        let garde = |i: usize, n: usize| -> bool {
            // Inside a phrase the user asked to keep literally?
            let texte = cle_lieu(&q[ms[i].debut..ms[i + n - 1].fin]);
            litteraux.iter().any(|l| {
                texte == *l || l.split(' ').any(|w| w == texte) || texte.contains(l.as_str())
            })
        };
        let mut i = 0;
        while i < ms.len() {
            let w = ms[i].pli.as_str();
            let suivant = |k: usize| ms.get(i + k).map(|m| m.pli.as_str()).unwrap_or("");
            // Absorbs a preposition right before what was understood ("à Nantes").
            let debut_avec_prep = |i: usize| -> usize {
                if i > 0 && PREPOSITIONS_LIEU.contains(&ms[i - 1].pli.as_str()) {
                    ms[i - 1].debut
                } else {
                    ms[i].debut
                }
            };
            // Level: "bac+2", "bac +3", "niveau 4", "niv 5", "niveau bac".
            if !deja.niveau && c.niveau.is_none() {
                let niveau = match (w, suivant(1), suivant(2)) {
                    ("bac", "+", n) => match n {
                        "1" | "2" => Some((5, 3)),
                        "3" | "4" => Some((6, 3)),
                        "5" => Some((7, 3)),
                        "8" => Some((8, 3)),
                        _ => None,
                    },
                    ("niveau" | "niv", n, _) if n.len() == 1 && ("1"..="8").contains(&n) => {
                        Some((n.parse().unwrap_or(0), 2))
                    }
                    ("niveau" | "niv", "bac", _) => Some((4, 2)),
                    _ => None,
                };
                if let Some((n, longueur)) = niveau {
                    if !garde(i, longueur) {
                        c.niveau = Some(n);
                        let libelle = crate::model::niveau_en_mots(n).unwrap_or("");
                        let parametres = vec![p("niveau", n.to_string())];
                        c.retenir(
                            q,
                            &ms,
                            (i, longueur, ms[i].debut),
                            "niveau",
                            libelle,
                            parametres,
                        );
                        i += longueur;
                        continue;
                    }
                }
            }
            // At a distance.
            if !deja.a_distance && !c.a_distance {
                let n = match (w, suivant(1)) {
                    ("a", "distance") | ("en", "ligne") | ("e", "learning") => 2,
                    ("distanciel" | "elearning" | "foad", _) => 1,
                    _ => 0,
                };
                if n > 0 && !garde(i, n) {
                    c.a_distance = true;
                    let parametres = vec![p("a_distance", "1")];
                    c.retenir(
                        q,
                        &ms,
                        (i, n, ms[i].debut),
                        "a_distance",
                        "à distance",
                        parametres,
                    );
                    i += n;
                    continue;
                }
            }
            if !deja.financeur && w == "cpf" && !c.cpf && !garde(i, 1) {
                c.cpf = true;
                let parametres = vec![p("financeur", "cpf")];
                c.retenir(
                    q,
                    &ms,
                    (i, 1, ms[i].debut),
                    "financement",
                    "éligible au CPF",
                    parametres,
                );
                i += 1;
                continue;
            }
            if !deja.financeur
                && matches!(w, "gratuit" | "gratuite" | "gratuits" | "gratuites")
                && !c.gratuit
                && !garde(i, 1)
            {
                c.gratuit = true;
                let parametres = crate::rules::FINANCEURS_PUBLICS
                    .iter()
                    .map(|f| p("financeur", *f))
                    .collect();
                let libelle = "financement public (gratuite pour les demandeurs d'emploi)";
                c.retenir(
                    q,
                    &ms,
                    (i, 1, ms[i].debut),
                    "financement",
                    libelle,
                    parametres,
                );
                i += 1;
                continue;
            }
            if !deja.voie && !c.apprentissage {
                let n = match (w, suivant(1)) {
                    ("en", "alternance" | "apprentissage") => 2,
                    ("alternance", _) => 1,
                    _ => 0,
                };
                if n > 0 && !garde(i, n) {
                    c.apprentissage = true;
                    let libelle = "en alternance (apprentissage)";
                    let parametres = vec![p("voie", "apprentissage")];
                    c.retenir(q, &ms, (i, n, ms[i].debut), "voie", libelle, parametres);
                    i += n;
                    continue;
                }
            }
            // A place: the longest département or commune name starting here, or a postal
            // code of the region.
            if !deja.lieu && c.lieu.is_none() && c.departement.is_none() {
                let mut trouve = None;
                let apres_prep = i > 0 && AVANT_LIEU_SUR.contains(&ms[i - 1].pli.as_str());
                for n in (1..=self.max_mots.min(ms.len() - i)).rev() {
                    if ms[i..i + n].iter().any(|m| m.pli == "+") || garde(i, n) {
                        continue;
                    }
                    let cle = cle_lieu(&q[ms[i].debut..ms[i + n - 1].fin]);
                    if let Some(d) = self.departements.get(&cle) {
                        trouve = Some((n, None, Some(d.clone())));
                        break;
                    }
                    if let Some(codes) = self.communes_region.get(&cle) {
                        // A one-word commune that is also a word of the trade ("Vue") is a
                        // place only after "à".
                        if n == 1 && self.mots_metier.contains(&cle) && !apres_prep {
                            continue;
                        }
                        trouve = Some((n, codes.first().cloned(), None));
                        break;
                    }
                }
                if trouve.is_none()
                    && w.len() == 5
                    && w.bytes().all(|b| b.is_ascii_digit())
                    && departements_region().contains(&&w[..2])
                    && !garde(i, 1)
                {
                    if let Some(codes) = refs.communes_par_cp.get(w) {
                        // The postal code's most populated commune is its centre.
                        let meilleure = codes
                            .iter()
                            .filter_map(|x| refs.communes.get(x))
                            .max_by_key(|x| x.population)
                            .map(|x| x.code_insee.clone());
                        trouve = Some((1, meilleure, None));
                    }
                }
                match trouve {
                    Some((n, Some(insee), _)) => {
                        let commune = refs.communes.get(&insee);
                        if let Some(pos) = commune.and_then(|x| Some((x.lat?, x.lon?))) {
                            let nom = commune.map(|x| x.nom.as_str()).unwrap_or("");
                            let libelle = format!("à {nom} ({} km)", rayon_fr(rayon));
                            let parametres =
                                vec![p("commune", insee.clone()), p("rayon", rayon_fr(rayon))];
                            c.retenir(
                                q,
                                &ms,
                                (i, n, debut_avec_prep(i)),
                                "lieu",
                                libelle,
                                parametres,
                            );
                            c.lieu = Some((insee, pos));
                            i += n;
                            continue;
                        }
                    }
                    Some((n, None, Some(dep))) => {
                        let nom = refs
                            .departements
                            .get(&dep)
                            .map(|d| d.nom.clone())
                            .unwrap_or_default();
                        let libelle = format!("{nom} ({dep})");
                        let parametres = vec![p("departement", dep.clone())];
                        let place = (i, n, debut_avec_prep(i));
                        c.retenir(q, &ms, place, "departement", libelle, parametres);
                        c.departement = Some(dep);
                        i += n;
                        continue;
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        // What is left, with the consumed spans cut out.
        let mut reste = String::with_capacity(q.len());
        let mut pos = 0;
        let mut pris = std::mem::take(&mut c.pris);
        pris.sort_unstable();
        for (a, b) in pris {
            if a >= pos {
                reste.push_str(&q[pos..a]);
                reste.push(' ');
                pos = b;
            }
        }
        reste.push_str(&q[pos..]);
        c.reste = reste.split_whitespace().collect::<Vec<_>>().join(" ");
        // Misspellings among the words left.
        for m in decouper(&c.reste) {
            if c.corrections.iter().any(|(x, _)| *x == m.pli)
                || garde_mot(&litteraux, &m.pli)
                || synonymes.contains_key(&m.pli)
            {
                continue;
            }
            let v = self.corrections(&m.pli);
            if !v.is_empty() {
                c.compris.push(Compris {
                    texte: c.reste[m.debut..m.fin].to_string(),
                    genre: "orthographe",
                    libelle: format!(
                        "« {} » cherche aussi « {} »",
                        &c.reste[m.debut..m.fin],
                        v.join(" », « ")
                    ),
                    parametres: Vec::new(),
                });
                c.corrections.push((m.pli, v));
            }
        }
        c
    }
}

fn garde_mot(litteraux: &[String], mot: &str) -> bool {
    litteraux.iter().any(|l| l.split(' ').any(|w| w == mot))
}

/// A radius in km, French style ("30", "12,5").
fn rayon_fr(r: f64) -> String {
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}").replace('.', ",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_edit() {
        assert!(une_edition("managment", "management"));
        assert!(une_edition("comptabilte", "comptabilite"));
        assert!(une_edition("developeur", "developpeur"));
        assert!(une_edition("mecanicein", "mecanicien"));
        assert!(!une_edition("vente", "vendre"));
        assert!(!une_edition("abc", "cba"));
    }

    #[test]
    fn gender_pairs_of_an_appellation() {
        assert_eq!(
            paires_genre("Conducteur / Conductrice d'engins agricoles"),
            [("conducteur".to_string(), "conductrice".to_string())]
        );
        assert_eq!(
            paires_genre("Coiffeur créateur / Coiffeuse créatrice"),
            [
                ("coiffeur".to_string(), "coiffeuse".to_string()),
                ("createur".to_string(), "creatrice".to_string())
            ]
        );
        assert!(paires_genre("Agent / Agent de quai")[..].is_empty());
    }

    #[test]
    fn place_keys() {
        assert_eq!(cle_lieu("St-Nazaire"), "saint nazaire");
        assert_eq!(cle_lieu("saint  nazaire"), "saint nazaire");
        assert_eq!(cle_lieu("Les Sables-d'Olonne"), "les sables d olonne");
    }
}
