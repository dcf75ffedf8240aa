//! Règles de gestion: every way in (file import, API, form) runs [`verifier`] and stores the
//! [`Verdict`] with the offer. Blocking findings keep an offer out of the store; warnings do
//! not; the diffusion decision says, per action, whether it is listed and why.
//!
//! Scope rule: a publicly funded action is listed; a privately funded one only if its
//! formation leads to a certification indexed in Certif Info. Initial training (a session
//! whose 2.3 `cycle` is formation initiale or contrat d'apprentissage: schools,
//! universities, CFA) is public by nature and listed.
//!
//! (One file past 600 lines: one short function per rule, in LHÉO element order, so the
//! list of rules reads as the schema does.)

mod verdict;

pub use verdict::{Constat, DecisionAction, Gravite, Verdict};

use crate::model::*;
use crate::referentiel::Referentiels;
use std::collections::HashSet;

/// Financeurs whose money is public (LHÉO `dict-financeurs`).
pub const FINANCEURS_PUBLICS: &[&str] = &[
    "2", "3", "4", "6", "7", "8", "9", "11", "12", "13", "14", "15", "18", "19", "20",
];

/// Pre-2016 region codes, still common in feeds.
const ANCIENNES_REGIONS: &[&str] = &[
    "21", "22", "23", "25", "26", "31", "41", "42", "43", "54", "72", "73", "74", "82", "83", "91",
];

/// Version of the rules: bump it when a rule changes what it finds or decides, so that the
/// stores judged by an older version are judged again (with the référentiels' fingerprint,
/// see [`empreinte`]).
pub const VERSION: u32 = 4;

/// What the offers of a store were judged with: the rules' version and the référentiels'
/// fingerprint. When it changes, `serve` and `sofi rejuger` judge the offers again.
pub fn empreinte(r: &Referentiels) -> String {
    format!("regles-{VERSION}-ref-{}", r.empreinte)
}

/// Findings made when an offer was read or entered, which the rules cannot make again from
/// the stored offer: a judgement again keeps them.
const CONSTATS_DE_SAISIE: &[&str] = &["attribut-inconnu", "element-inconnu", "doublon"];

/// An offer judged again after the rules or the référentiels changed: the rules' findings and
/// decisions are recomputed, the findings made on reading it are kept, and a finding that
/// has not changed keeps its place in the file it came from (so that an unchanged judgement
/// compares equal, and is not rewritten).
pub fn rejuger(f: &Formation, avant: &Verdict, r: &Referentiels) -> Verdict {
    let mut v = verifier(f, r);
    for c in &mut v.constats {
        if let Some(a) = avant.constats.iter().find(|a| {
            a.code == c.code
                && a.chemin == c.chemin
                && a.message == c.message
                && a.gravite == c.gravite
        }) {
            c.ligne = a.ligne;
            c.colonne = a.colonne;
        }
    }
    let mut constats: Vec<Constat> = avant
        .constats
        .iter()
        .filter(|c| CONSTATS_DE_SAISIE.contains(&c.code.as_str()))
        .cloned()
        .collect();
    // In the order the first judgement wrote them: reading's, then the rules'.
    let lus = avant
        .constats
        .iter()
        .take_while(|c| CONSTATS_DE_SAISIE.contains(&c.code.as_str()))
        .count();
    let apres = constats.split_off(lus);
    constats.append(&mut v.constats);
    constats.extend(apres);
    v.constats = constats;
    if v.bloquant() {
        v.diffusion.clear();
    }
    v
}

/// The check letter of a UAI (code of an education establishment) from its first seven
/// characters: their value modulo 23, as a letter of `ABCDEFGHJKLMNPRSTUVWXYZ` (no I, O,
/// Q). `None` when they are not seven digits (Corsica's `02A…` has no numeric value).
pub fn cle_uai(sept: &str) -> Option<char> {
    const LETTRES: &[u8; 23] = b"ABCDEFGHJKLMNPRSTUVWXYZ";
    if sept.len() != 7 || !sept.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = sept.parse().ok()?;
    Some(LETTRES[(n % 23) as usize] as char)
}

/// Why `uai` is not a UAI: 8 characters, the département on three (`044`, `02A`), four
/// digits, and the check letter.
pub fn erreur_uai(uai: &str) -> Option<String> {
    let b = uai.as_bytes();
    let forme = b.len() == 8
        && b[..2].iter().all(|x| x.is_ascii_digit())
        && (b[2].is_ascii_digit() || b[2] == b'A' || b[2] == b'B')
        && b[3..7].iter().all(|x| x.is_ascii_digit())
        && b[7].is_ascii_uppercase();
    if !forme {
        return Some(format!(
            "code UAI « {uai} » : 7 chiffres et une lettre de contrôle attendus (0440001M)"
        ));
    }
    match cle_uai(&uai[..7]) {
        Some(cle) if cle != b[7] as char => Some(format!(
            "code UAI « {uai} » : la lettre de contrôle devrait être {cle}"
        )),
        _ => None,
    }
}

/// Luhn check digit test (SIREN, SIRET).
pub fn luhn(digits: &str) -> bool {
    digits.bytes().all(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| {
                let d = (b - b'0') as u32;
                match (i % 2 == 1, d * 2) {
                    (true, d2) if d2 > 9 => d2 - 9,
                    (true, d2) => d2,
                    (false, _) => d,
                }
            })
            .sum::<u32>()
            .is_multiple_of(10)
}

/// Luhn check of a SIRET (La Poste's establishments use their own rule).
pub fn siret_valide(siret: &str) -> bool {
    if siret.len() != 14 || !siret.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    if siret.starts_with("356000000") {
        return siret
            .bytes()
            .map(|b| (b - b'0') as u32)
            .sum::<u32>()
            .is_multiple_of(5);
    }
    luhn(siret)
}

struct Ctx<'a> {
    r: &'a Referentiels,
    out: Vec<Constat>,
}

impl Ctx<'_> {
    fn err(&mut self, code: &str, chemin: &str, msg: impl Into<String>) {
        self.out.push(Constat::bloquant(code, chemin, msg));
    }
    fn warn(&mut self, code: &str, chemin: &str, msg: impl Into<String>) {
        self.out.push(Constat::avertissement(code, chemin, msg));
    }

    /// A mandatory text: present, and within the schema's length.
    fn texte(&mut self, chemin: &str, el: &str, v: &str, max: usize) {
        if v.trim().is_empty() {
            self.err(
                "obligatoire-manquant",
                &format!("{chemin}/{el}"),
                format!("<{el}> est obligatoire"),
            );
        } else {
            self.longueur(chemin, el, v, max);
        }
    }

    fn longueur(&mut self, chemin: &str, el: &str, v: &str, max: usize) {
        let n = v.chars().count();
        if n > max {
            self.err(
                "texte-trop-long",
                &format!("{chemin}/{el}"),
                format!("{n} caractères, {max} au plus"),
            );
        }
    }

    fn opt_longueur(&mut self, chemin: &str, el: &str, v: &Option<String>, max: usize) {
        if let Some(v) = v {
            self.longueur(chemin, el, v, max);
        }
    }

    /// A code of a LHÉO dictionary: unknown codes make the offer invalid LHÉO.
    fn dict(&mut self, chemin: &str, el: &str, dict: &str, v: &str) {
        let chemin = format!("{chemin}/{el}");
        if v.is_empty() {
            self.err(
                "obligatoire-manquant",
                &chemin,
                format!("<{el}> est obligatoire"),
            );
            return;
        }
        let known = self
            .r
            .dictionnaires
            .get(dict)
            .is_some_and(|d| d.iter().any(|(c, _)| c.split(',').any(|c| c == v)));
        if !known {
            self.err(
                "code-inconnu",
                &chemin,
                format!("« {v} » n'est pas un code de {dict}"),
            );
        } else if self.r.libelle(dict, v) == Some("Code(s) obsolète(s)") {
            self.warn(
                "code-obsolete",
                &chemin,
                format!("« {v} » est un code obsolète de {dict}"),
            );
        }
    }

    fn opt_dict(&mut self, chemin: &str, el: &str, dict: &str, v: &Option<String>) {
        if let Some(v) = v {
            self.dict(chemin, el, dict, v);
        }
    }

    fn formacode(&mut self, chemin: &str, el: &str, code: &str) {
        let chemin = format!("{chemin}/{el}");
        if code.len() != 5 || !code.bytes().all(|b| b.is_ascii_digit()) {
            self.err(
                "code-mal-forme",
                &chemin,
                format!("« {code} » : un Formacode a 5 chiffres"),
            );
        } else if self.r.formacodes.contains_key(code) || self.r.annexes.contains_key(code) {
        } else if let Some(l) = self.r.formacodes_v13.get(code) {
            self.warn(
                "formacode-obsolete",
                &chemin,
                format!("Formacode {code} ({l}) n'existe plus en V14"),
            );
        } else {
            self.warn(
                "formacode-inconnu",
                &chemin,
                format!("Formacode {code} inconnu du référentiel V14"),
            );
        }
    }

    fn adresse(&mut self, chemin: &str, a: &Adresse) {
        let p = format!("{chemin}/adresse");
        if a.lignes.len() > 4 {
            self.err("trop-d-elements", &p, "4 <ligne> au plus");
        }
        for l in &a.lignes {
            self.texte(&p, "ligne", l, 50);
        }
        if a.codepostal.chars().count() != 5 {
            self.err(
                "code-mal-forme",
                &format!("{p}/codepostal"),
                format!("code postal « {} » : 5 caractères attendus", a.codepostal),
            );
        }
        self.texte(&p, "ville", &a.ville, 50);
        self.opt_longueur(&p, "denomination", &a.denomination, 255);
        if let Some(d) = &a.departement {
            if !(2..=3).contains(&d.chars().count()) {
                self.err(
                    "code-mal-forme",
                    &format!("{p}/departement"),
                    format!("département « {d} » : 2 ou 3 caractères attendus"),
                );
            }
        }
        if let Some(c) = &a.code_insee_commune {
            if c.chars().count() != 5 {
                self.err(
                    "code-mal-forme",
                    &format!("{p}/code-INSEE-commune"),
                    format!("code INSEE « {c} » : 5 caractères attendus"),
                );
            } else {
                match self.r.communes.get(c.as_str()) {
                    None => self.warn(
                        "commune-inconnue",
                        &format!("{p}/code-INSEE-commune"),
                        format!("code INSEE « {c} » inconnu du Code officiel géographique"),
                    ),
                    Some(x) if !x.actuelle => {
                        let parent = x
                            .parent
                            .as_ref()
                            .and_then(|p| self.r.communes.get(p))
                            .map(|p| format!(" : elle fait partie de {} ({})", p.nom, p.code_insee))
                            .unwrap_or_default();
                        self.warn(
                            "commune-absorbee",
                            &format!("{p}/code-INSEE-commune"),
                            format!("{} ({c}) n'est plus une commune{parent} ; indiquez le code de la commune actuelle", x.nom),
                        )
                    }
                    Some(_) => {}
                }
            }
        }
        if let Some(r) = &a.region {
            if r.chars().count() != 2 {
                self.err(
                    "code-mal-forme",
                    &format!("{p}/region"),
                    format!("région « {r} » : 2 caractères attendus"),
                );
            } else if ANCIENNES_REGIONS.contains(&r.as_str()) {
                self.warn(
                    "ancienne-region",
                    &format!("{p}/region"),
                    format!("« {r} » est un code de région antérieur à 2016"),
                );
            } else if !self.r.regions.contains_key(r.as_str()) {
                self.warn(
                    "region-inconnue",
                    &format!("{p}/region"),
                    format!("code région « {r} » inconnu"),
                );
            }
        }
        if let Some(pays) = &a.pays {
            if pays.chars().count() != 2 {
                self.err(
                    "code-mal-forme",
                    &format!("{p}/pays"),
                    format!("pays « {pays} » : code ISO à 2 lettres attendu"),
                );
            }
        }
        if let Some(g) = &a.geolocalisation {
            if g.lat_lon().is_none() {
                self.warn(
                    "geolocalisation-invalide",
                    &format!("{p}/geolocalisation"),
                    format!(
                        "« {} , {} » n'est pas une position",
                        g.latitude, g.longitude
                    ),
                );
            }
        }
    }

    fn coordonnees(&mut self, chemin: &str, c: &Coordonnees) {
        let p = format!("{chemin}/coordonnees");
        for (el, v) in [
            ("civilite", &c.civilite),
            ("nom", &c.nom),
            ("prenom", &c.prenom),
        ] {
            self.opt_longueur(&p, el, v, 50);
        }
        if c.lignes.len() > 3 {
            self.err("trop-d-elements", &p, "3 <ligne> au plus");
        }
        for l in &c.lignes {
            self.longueur(&p, "ligne", l, 50);
        }
        if let Some(a) = &c.adresse {
            self.adresse(&p, a);
        }
        if let Some(m) = &c.courriel {
            let n = m.chars().count();
            if !(3..=160).contains(&n) {
                self.err(
                    "texte-trop-long",
                    &format!("{p}/courriel"),
                    "courriel de 3 à 160 caractères",
                );
            }
        }
    }

    fn date(&mut self, chemin: &str, el: &str, v: &str) -> Option<LheoDate> {
        match LheoDate::parse(v) {
            Ok(d) => Some(d),
            Err(m) => {
                self.err("date-invalide", &format!("{chemin}/{el}"), m);
                None
            }
        }
    }
}

fn seg(name: &str, numero: &str) -> String {
    if numero.is_empty() {
        name.to_string()
    } else {
        format!("{name}[{numero}]")
    }
}

/// Checks one offer and decides its diffusion.
pub fn verifier(f: &Formation, r: &Referentiels) -> Verdict {
    let mut c = Ctx { r, out: Vec::new() };
    let p = seg("formation", &f.numero);
    if f.numero.is_empty() {
        c.err(
            "numero-manquant",
            &p,
            "attribut numero absent : c'est la clé de l'offre",
        );
    } else if f.numero.chars().count() > 100 || f.numero.chars().any(char::is_control) {
        c.err(
            "numero-invalide",
            &p,
            "numero de plus de 100 caractères ou avec des caractères de contrôle",
        );
    }
    let dp = format!("{p}/domaine-formation");
    if f.domaine.formacodes.len() > 5 {
        c.err("trop-d-elements", &dp, "5 code-FORMACODE au plus");
    }
    for fc in &f.domaine.formacodes {
        c.formacode(&dp, "code-FORMACODE", &fc.code);
    }
    for nsf in &f.domaine.nsf {
        if nsf.chars().count() != 3 {
            c.err(
                "code-mal-forme",
                &format!("{dp}/code-NSF"),
                format!("code NSF « {nsf} » : 3 caractères attendus"),
            );
        }
    }
    for rome in &f.domaine.rome {
        let ok = rome.code.len() == 5
            && rome.code.as_bytes()[0].is_ascii_uppercase()
            && rome.code[1..].bytes().all(|b| b.is_ascii_digit());
        if !ok {
            c.err(
                "code-mal-forme",
                &format!("{dp}/code-ROME"),
                format!(
                    "code ROME « {} » : une lettre et 4 chiffres attendus",
                    rome.code
                ),
            );
        }
    }
    c.texte(&p, "intitule-formation", &f.intitule, 255);
    c.texte(&p, "objectif-formation", &f.objectif, 3000);
    c.texte(&p, "resultats-attendus", &f.resultats_attendus, 3000);
    c.texte(&p, "contenu-formation", &f.contenu, 3000);
    c.dict(&p, "certifiante", "dict-boolean", &f.certifiante);
    if f.contacts.is_empty() {
        c.err(
            "obligatoire-manquant",
            &format!("{p}/contact-formation"),
            "au moins un <contact-formation> est obligatoire",
        );
    }
    for ct in &f.contacts {
        c.coordonnees(&format!("{p}/contact-formation"), &ct.coordonnees);
    }
    c.dict(
        &p,
        "parcours-de-formation",
        "dict-type-parcours",
        &f.parcours,
    );
    c.dict(
        &p,
        "code-niveau-entree",
        "dict-niveaux",
        &f.code_niveau_entree,
    );
    c.opt_dict(
        &p,
        "objectif-general-formation",
        "dict-AIS",
        &f.objectif_general,
    );
    c.opt_dict(
        &p,
        "code-niveau-sortie",
        "dict-niveaux",
        &f.code_niveau_sortie,
    );
    certifications(&mut c, &p, f);

    if f.actions.is_empty() {
        c.err(
            "obligatoire-manquant",
            &format!("{p}/action"),
            "une formation a au moins une action",
        );
    }
    let mut numeros = HashSet::new();
    for a in &f.actions {
        if !a.numero.is_empty() && !numeros.insert(a.numero.as_str()) {
            c.err(
                "numero-en-double",
                &format!("{p}/{}", seg("action", &a.numero)),
                "deux actions ont ce numero",
            );
        }
        action(&mut c, &p, a);
    }
    organisme(&mut c, &p, &f.organisme);

    let bloque = c.out.iter().any(|x| x.gravite == Gravite::Bloquant);
    let diffusion = if bloque {
        Vec::new()
    } else {
        f.actions.iter().map(|a| decision(f, a, r)).collect()
    };
    Verdict {
        constats: c.out,
        diffusion,
    }
}

fn certifications(c: &mut Ctx, p: &str, f: &Formation) {
    if f.certifications.len() > 5 {
        c.err("trop-d-elements", p, "5 <certification> au plus");
    }
    let cp = format!("{p}/certification");
    for cert in &f.certifications {
        if let Some(rncp) = &cert.code_rncp {
            let d = rncp.trim_start_matches("RNCP");
            if rncp.len() > 10 || d.is_empty() || !d.bytes().all(|b| b.is_ascii_digit()) {
                c.err(
                    "code-mal-forme",
                    &format!("{cp}/code-RNCP"),
                    format!("code RNCP « {rncp} » : chiffres, éventuellement précédés de RNCP"),
                );
            } else {
                let n = crate::referentiel::digits(rncp);
                match c.r.rncp.get(&n) {
                    None if !c.r.certifinfo_par_rncp.contains_key(&n) => c.warn(
                        "rncp-inconnu",
                        &format!("{cp}/code-RNCP"),
                        format!(
                            "fiche RNCP {rncp} absente des référentiels chargés ({} fiches RNCP, extrait de 2021, et Certif Info)",
                            c.r.rncp.len()
                        ),
                    ),
                    Some(f) if !f.actif => c.warn(
                        "rncp-inactive",
                        &format!("{cp}/code-RNCP"),
                        format!(
                            "fiche RNCP {rncp} « {} » inactive : la certification n'est plus enregistrée, vérifiez celle que la formation prépare",
                            f.intitule
                        ),
                    ),
                    _ => {}
                }
            }
        }
        if let Some(ci) = &cert.code_certifinfo {
            if ci.len() > 10 || !ci.bytes().all(|b| b.is_ascii_digit()) {
                c.err(
                    "code-mal-forme",
                    &format!("{cp}/code-CERTIFINFO"),
                    format!("code Certif Info « {ci} » : chiffres attendus"),
                );
            } else if !c.r.certifinfo.contains_key(ci.as_str()) {
                match c
                    .r
                    .certifinfo_remplaces
                    .get(ci.as_str())
                    .and_then(|n| c.r.certifinfo.get(n))
                {
                    Some(n) => c.warn(
                        "certifinfo-remplace",
                        &format!("{cp}/code-CERTIFINFO"),
                        format!(
                            "code Certif Info {ci} remplacé par la fiche {} « {} » : indiquez le code en vigueur",
                            n.code, n.intitule
                        ),
                    ),
                    None => c.warn(
                        "certifinfo-inconnu",
                        &format!("{cp}/code-CERTIFINFO"),
                        format!(
                            "code Certif Info {ci} absent du référentiel chargé ({} fiches, un extrait de Certif Info)",
                            c.r.certifinfo.len()
                        ),
                    ),
                }
            }
        }
        if let Some(rs) = &cert.code_rs {
            let ok = rs.len() <= 10
                && rs.starts_with("RS")
                && rs.len() > 2
                && rs[2..].bytes().all(|b| b.is_ascii_digit());
            if !ok {
                c.err(
                    "code-mal-forme",
                    &format!("{cp}/code-RS"),
                    format!("code RS « {rs} » : RS suivi de chiffres"),
                );
            }
        }
        if let Some(fc) = &cert.reference_formacode {
            c.formacode(&cp, "reference-code-FORMACODE", fc);
        }
    }
    if f.certifiante == "1" && f.certifications.is_empty() {
        c.warn(
            "certification-manquante",
            &cp,
            "formation certifiante sans <certification>",
        );
    }
}

fn action(c: &mut Ctx, p: &str, a: &Action) {
    let ap = format!("{p}/{}", seg("action", &a.numero));
    if a.numero.is_empty() {
        c.err(
            "numero-manquant",
            &ap,
            "attribut numero absent sur l'action",
        );
    }
    c.texte(&ap, "rythme-formation", &a.rythme, 3000);
    if a.publics.is_empty() {
        c.err(
            "obligatoire-manquant",
            &format!("{ap}/code-public-vise"),
            "au moins un <code-public-vise> est obligatoire",
        );
    }
    if a.publics.len() > 10 {
        c.err("trop-d-elements", &ap, "10 code-public-vise au plus");
    }
    for pu in &a.publics {
        c.formacode(&ap, "code-public-vise", &pu.code);
    }
    c.opt_longueur(&ap, "info-public-vise", &a.info_public_vise, 250);
    c.dict(
        &ap,
        "niveau-entree-obligatoire",
        "dict-boolean",
        &a.niveau_entree_obligatoire,
    );
    c.texte(&ap, "modalites-alternance", &a.modalites_alternance, 3000);
    c.dict(
        &ap,
        "modalites-enseignement",
        "dict-modalites-enseignement",
        &a.modalites_enseignement,
    );
    c.texte(
        &ap,
        "conditions-specifiques",
        &a.conditions_specifiques,
        3000,
    );
    c.dict(
        &ap,
        "prise-en-charge-frais-possible",
        "dict-boolean",
        &a.prise_en_charge_frais_possible,
    );
    for l in &a.lieux {
        c.coordonnees(&format!("{ap}/lieu-de-formation"), &l.coordonnees);
    }
    // A place outside the region served (`sofi --region`) is another region's offer or a
    // mistaken address: said, for staff to look at, never blocking. Distance learning may
    // be registered anywhere.
    if !a.a_distance() {
        for l in &a.lieux {
            let Some(ad) = &l.coordonnees.adresse else {
                continue;
            };
            if let Some(d) = crate::diffusion::departement(ad) {
                if !crate::referentiel::departements_region().contains(&d.as_str()) {
                    c.warn(
                        "hors-region",
                        &format!("{ap}/lieu-de-formation"),
                        format!(
                            "lieu à {} ({d}), hors de la région servie ({})",
                            ad.ville,
                            crate::referentiel::nom_region()
                        ),
                    );
                }
            }
        }
    }
    c.dict(
        &ap,
        "modalites-entrees-sorties",
        "dict-modalites-es",
        &a.modalites_entrees_sorties,
    );
    if a.sessions.is_empty() {
        c.err(
            "obligatoire-manquant",
            &format!("{ap}/session"),
            "une action a au moins une session",
        );
    }
    let mut numeros = HashSet::new();
    for s in &a.sessions {
        if !s.numero.is_empty() && !numeros.insert(s.numero.as_str()) {
            c.err(
                "numero-en-double",
                &format!("{ap}/{}", seg("session", &s.numero)),
                "deux sessions de l'action ont ce numero",
            );
        }
        session(c, &ap, s);
    }
    if let Some(b) = &a.adresse_information {
        c.adresse(&format!("{ap}/adresse-information"), &b.adresse);
    }
    for (el, v, max) in [
        ("restauration", &a.restauration, 250),
        ("hebergement", &a.hebergement, 250),
        ("transport", &a.transport, 250),
        ("acces-handicapes", &a.acces_handicapes, 250),
        ("modalites-recrutement", &a.modalites_recrutement, 3000),
        ("modalites-pedagogiques", &a.modalites_pedagogiques, 200),
        ("frais-restants", &a.frais_restants, 200),
        (
            "infos-perimetre-recrutement",
            &a.infos_perimetre_recrutement,
            50,
        ),
        ("prix-horaire-TTC", &a.prix_horaire_ttc, 6),
        ("prix-total-TTC", &a.prix_total_ttc, 10),
        ("duree-indicative", &a.duree_indicative, 150),
        (
            "detail-conditions-prise-en-charge",
            &a.detail_conditions_prise_en_charge,
            600,
        ),
    ] {
        c.opt_longueur(&ap, el, v, max);
    }
    for (el, v) in [
        ("prix-horaire-TTC", &a.prix_horaire_ttc),
        ("prix-total-TTC", &a.prix_total_ttc),
    ] {
        if let Some(v) = v {
            if v.replace(',', ".").parse::<f64>().map_or(true, |x| x < 0.0) {
                c.warn(
                    "prix-invalide",
                    &format!("{ap}/{el}"),
                    format!("« {v} » n'est pas un prix en euros"),
                );
            }
        }
    }
    if a.langues.len() > 5 {
        c.err("trop-d-elements", &ap, "5 langue-formation au plus");
    }
    for cm in &a.codes_modalite_pedagogique {
        c.formacode(&ap, "code-modalite-pedagogique", &cm.code);
    }
    c.opt_dict(&ap, "conventionnement", "dict-boolean", &a.conventionnement);
    c.opt_dict(
        &ap,
        "code-perimetre-recrutement",
        "dict-perimetre-recrutement",
        &a.code_perimetre_recrutement,
    );
    for (el, h) in [
        ("nombre-heures-centre", a.nombre_heures_centre),
        ("nombre-heures-entreprise", a.nombre_heures_entreprise),
        ("nombre-heures-total", a.nombre_heures_total),
    ] {
        if h.is_some_and(|h| h > 99_999) {
            c.warn(
                "nombre-absurde",
                &format!("{ap}/{el}"),
                "plus de 99 999 heures",
            );
        }
    }
    if a.financeurs.len() > 8 {
        c.err("trop-d-elements", &ap, "8 organisme-financeur au plus");
    }
    for fi in &a.financeurs {
        c.dict(
            &format!("{ap}/organisme-financeur"),
            "code-financeur",
            "dict-financeurs",
            &fi.code_financeur,
        );
    }
}

fn session(c: &mut Ctx, ap: &str, s: &Session) {
    let sp = format!("{ap}/{}", seg("session", &s.numero));
    if s.numero.is_empty() {
        c.err(
            "numero-manquant",
            &sp,
            "attribut numero absent sur la session",
        );
    }
    let pp = format!("{sp}/periode");
    let debut = c.date(&pp, "debut", &s.periode.debut);
    // Month or year precision (`AAAAMM00`, `AAAA0000`): compared as its last day.
    let fin = c
        .date(&pp, "fin", &s.periode.fin)
        .and_then(|_| LheoDate::parse_fin(&s.periode.fin).ok());
    if let (Some(LheoDate::Date(d)), Some(LheoDate::Date(f))) = (debut, fin) {
        if f < d {
            c.err(
                "session-inversee",
                &pp,
                format!(
                    "la session se termine ({}) avant de commencer ({})",
                    crate::model::lheo_date_fr(&s.periode.fin),
                    crate::model::lheo_date_fr(&s.periode.debut)
                ),
            );
        } else if (f - d).get_days() > 365 * 6 {
            c.warn(
                "session-longue",
                &pp,
                "session de plus de six ans : dates à vérifier",
            );
        }
    }
    c.adresse(
        &format!("{sp}/adresse-inscription"),
        &s.adresse_inscription.adresse,
    );
    c.opt_longueur(&sp, "modalites-inscription", &s.modalites_inscription, 255);
    c.opt_dict(
        &sp,
        "etat-recrutement",
        "dict-etat-recrutement",
        &s.etat_recrutement,
    );
}

fn organisme(c: &mut Ctx, p: &str, o: &Organisme) {
    let op = format!("{p}/organisme-formation-responsable");
    if o.siret.is_empty() {
        c.err(
            "obligatoire-manquant",
            &format!("{op}/SIRET-organisme-formation"),
            "SIRET de l'organisme obligatoire",
        );
    } else if !siret_valide(&o.siret) {
        c.err(
            "siret-invalide",
            &format!("{op}/SIRET-organisme-formation/SIRET"),
            format!(
                "SIRET « {} » invalide (14 chiffres et clé de contrôle)",
                o.siret
            ),
        );
    }
    let nda = &o.numero_activite;
    if nda.chars().count() != 11 || !nda.chars().all(|ch| ch.is_ascii_alphanumeric()) {
        c.err(
            "nda-invalide",
            &format!("{op}/numero-activite"),
            format!("numéro de déclaration d'activité « {nda} » : 11 caractères attendus"),
        );
    }
    c.texte(&op, "nom-organisme", &o.nom, 250);
    c.texte(&op, "raison-sociale", &o.raison_sociale, 250);
    c.coordonnees(&format!("{op}/coordonnees-organisme"), &o.coordonnees);
    if o.contacts.is_empty() {
        c.err(
            "obligatoire-manquant",
            &format!("{op}/contact-organisme"),
            "au moins un <contact-organisme> est obligatoire",
        );
    }
    for ct in &o.contacts {
        c.coordonnees(&format!("{op}/contact-organisme"), &ct.coordonnees);
    }
    c.opt_longueur(
        &op,
        "renseignements-specifiques",
        &o.renseignements_specifiques,
        3000,
    );
}

/// The scope rule for one action, with a reason a person can read.
pub fn decision(f: &Formation, a: &Action, r: &Referentiels) -> DecisionAction {
    let libelle = |code: &str| {
        r.libelle("dict-financeurs", code)
            .map(|l| format!("{l} ({code})"))
            .unwrap_or_else(|| format!("code {code}"))
    };
    let publics: Vec<String> = a
        .financeurs
        .iter()
        .filter(|fi| FINANCEURS_PUBLICS.contains(&fi.code_financeur.as_str()))
        .map(|fi| libelle(&fi.code_financeur))
        .collect();
    if !publics.is_empty() {
        return DecisionAction {
            action: a.numero.clone(),
            diffusee: true,
            motif: format!("financement public : {}", publics.join(", ")),
        };
    }
    if let Some(voie) = a
        .sessions
        .iter()
        .map(|s| Voie::de_session(f, s))
        .find(|v| *v != Voie::Continue)
    {
        return DecisionAction {
            action: a.numero.clone(),
            diffusee: true,
            motif: format!(
                "formation initiale ({}) : publique par nature",
                voie.libelle().to_lowercase()
            ),
        };
    }
    let prives = if a.financeurs.is_empty() {
        "aucun financeur déclaré".to_string()
    } else {
        a.financeurs
            .iter()
            .map(|fi| libelle(&fi.code_financeur))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let fiche = f
        .certifications
        .iter()
        .flat_map(|c| r.fiches_certifinfo(c))
        .find(|fiche| fiche.certifiante());
    match fiche {
        Some(fiche) => DecisionAction {
            action: a.numero.clone(),
            diffusee: true,
            motif: format!(
                "financement privé ({prives}) ; certification indexée dans Certif Info : fiche {} « {} »",
                fiche.code, fiche.intitule
            ),
        },
        None => DecisionAction {
            action: a.numero.clone(),
            diffusee: false,
            motif: format!(
                "financement privé ({prives}) sans certification indexée dans Certif Info"
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uai_check_letter() {
        assert_eq!(erreur_uai("0681761V"), None);
        assert_eq!(erreur_uai("0440001M"), None);
        assert!(erreur_uai("0440001A").unwrap().contains("devrait être M"));
        assert!(erreur_uai("044123").is_some());
        assert!(erreur_uai("02A0001X").is_none());
    }
}
