//! A realistic, deterministic LHÉO 2.3 offer of Pays de la Loire, for demos, tests and benches.
//!
//! Same seed and base date → same bytes. Real référentiels feed it: Certif Info certifications
//! (titles, levels, RNCP codes), Formacode labels, communes of the five départements with their
//! coordinates. Sessions are dated relative to the base date so a demo always has upcoming ones.
//!
//! (One file past 600 lines: a single deterministic walk, whose order of random draws is the
//! output's contract; split, it would be easy to reorder them by accident.)

use crate::lheo::LheoWriter;
use crate::model::*;
use crate::referentiel::{CertifInfo, Commune, Referentiels};
use jiff::civil::Date;
use jiff::ToSpan;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::{self, Write};

mod initiale;

pub use crate::referentiel::DEPARTEMENTS_PDL;

pub struct Parametres {
    pub sessions: u64,
    pub seed: u64,
    pub date_base: Date,
}

struct OrgGen {
    siret: String,
    nda: String,
    nom: String,
    raison_sociale: String,
    sites: Vec<usize>,
    formacodes: Vec<String>,
    web: String,
    tel: String,
    numero: String,
    /// Establishments of initial training (see `initiale`): their UAI and voie.
    uai: Option<String>,
    voie: Option<Voie>,
}

/// A theme for non-certifying training: a Formacode and how to name it.
struct Theme {
    formacode: String,
    libelle: String,
}

const PREFIXES_ORG: &[&str] = &[
    "Institut",
    "Centre de formation",
    "École",
    "Atelier",
    "Académie",
    "Campus",
    "Maison de la formation",
];
const NOMS_ORG: &[&str] = &[
    "Atlantique",
    "Loire",
    "Maine",
    "Vendée Océan",
    "Anjou",
    "Erdre",
    "Sarthe",
    "Mayenne",
    "Estuaire",
    "Bocage",
    "Val de Loire",
    "Côte de Lumière",
    "Pays nantais",
    "Saumurois",
    "Perche",
    "Marais",
];
const FORMES: &[&str] = &["SAS", "SARL", "Association", "SCOP", "GIP", "EURL"];
/// First names and the civility that goes with them (`None`: either).
const PRENOMS: &[(&str, Option<&str>)] = &[
    ("Camille", None),
    ("Nathalie", Some("Madame")),
    ("Julien", Some("Monsieur")),
    ("Sophie", Some("Madame")),
    ("Thomas", Some("Monsieur")),
    ("Élodie", Some("Madame")),
    ("Nicolas", Some("Monsieur")),
    ("Aurélie", Some("Madame")),
    ("Mathieu", Some("Monsieur")),
    ("Claire", Some("Madame")),
    ("Yann", Some("Monsieur")),
    ("Gwenaëlle", Some("Madame")),
    ("François", Some("Monsieur")),
    ("Inès", Some("Madame")),
    ("Karim", Some("Monsieur")),
    ("Léa", Some("Madame")),
];

/// What a region's offer is mostly made of: the trainings job-seekers and employees ask for
/// most. Certifying ones by their Certif Info title (looked up, so the codes are real);
/// the others by title and Formacode.
const POPULAIRES_CERTIFIANTES: &[&str] = &[
    "Diplôme d'État d'infirmier(ière)",
    "Diplôme d'État d'aide-soignant",
    "Diplôme d'État d'auxiliaire de puériculture",
    "Diplôme d'État d'accompagnant éducatif et social",
    "Diplôme d'État de moniteur éducateur",
    "Diplôme d'État d'éducateur spécialisé",
    "Diplôme d'État d'ambulancier",
    "Titre professionnel comptable assistant",
    "Titre professionnel gestionnaire de paie",
    "Titre professionnel secrétaire assistant",
    "Titre professionnel secrétaire assistant médico-social",
    "Titre professionnel assistant de direction",
    "Titre professionnel cuisinier",
    "Bac pro cuisine",
    "Titre professionnel serveur en restauration",
    "Titre professionnel réceptionniste en hôtellerie",
    "CAP pâtissier",
    "CAP boucher",
    "BP coiffure",
    "BP maçon",
    "CAP électricien",
    "Titre professionnel électricien d'équipement du bâtiment",
    "Titre professionnel plaquiste",
    "CAP couvreur",
    "BP menuisier",
    "Titre professionnel peintre en bâtiment",
    "Titre professionnel soudeur assembleur industriel",
    "Titre professionnel cariste d'entrepôt",
    "Titre professionnel préparateur de commandes en entrepôt",
    "Titre professionnel agent magasinier",
    "Titre professionnel agent de propreté et d'hygiène",
    "Titre professionnel assistant de vie aux familles",
    "CAP accompagnant éducatif petite enfance",
    "Titre professionnel employé commercial",
    "Titre professionnel manager d'unité marchande",
    "Titre professionnel négociateur technico-commercial",
    "Titre professionnel développeur web et web mobile",
    "Titre professionnel technicien d'assistance en informatique",
    "Titre professionnel carrossier réparateur",
    "CAP agricole jardinier paysagiste",
    "CAP agent de sécurité",
    "Titre professionnel conseiller en insertion professionnelle",
    "Titre professionnel formateur professionnel d'adultes",
    "Titre professionnel conducteur de transport en commun sur route",
];
const POPULAIRES_AUTRES: &[(&str, &str)] = &[
    ("CACES R489 : conduite de chariots automoteurs", "31768"),
    ("Sauveteur secouriste du travail (SST)", "42829"),
    ("Bureautique : Word, Excel, Outlook", "15052"),
    ("Anglais professionnel", "15214"),
    ("Français langue étrangère (FLE)", "15235"),
    ("Habilitation électrique B1V BR BC", "24049"),
    ("SSIAP 1 : agent de service de sécurité incendie", "42872"),
    ("Accompagnement à la VAE", "15064"),
    ("Créer ou reprendre une entreprise", "32047"),
    ("Comptabilité générale", "32667"),
    ("Langue des signes française", "15250"),
];
/// Share of continuing-training formations drawn from the lists above.
const PART_POPULAIRES: f64 = 0.45;

const NOMS: &[&str] = &[
    "Martin",
    "Bernard",
    "Guérin",
    "Moreau",
    "Le Goff",
    "Hervé",
    "Rousseau",
    "Bouchet",
    "Pineau",
    "Chevalier",
    "Lemoine",
    "Tessier",
    "Bodin",
    "Gaudin",
    "Marchand",
    "Renaud",
];
const VOIES: &[&str] = &[
    "rue de la Loire",
    "boulevard des Anglais",
    "avenue de la Libération",
    "rue Jean Jaurès",
    "rue du Port",
    "place de la République",
    "rue des Tanneurs",
    "allée des Tilleuls",
    "rue Pasteur",
    "chemin de la Métairie",
    "quai de la Fosse",
    "rue Victor Hugo",
];
const THEMES_NON_CERTIFIANTS: &[&str] = &[
    "15234", "70322", "35054", "42854", "31854", "15043", "13250", "44054", "32154", "42056",
];
/// (code, public funding?) — LHÉO dict-financeurs.
const FINANCEURS: &[(&str, bool)] = &[
    ("2", true),
    ("4", true),
    ("11", true),
    ("7", true),
    ("3", true),
    ("5", false),
    ("10", false),
    ("16", false),
];
const PUBLICS_DE: &[&str] = &["80006", "80009", "80007", "80005", "81020"];
const PUBLICS_SAL: &[&str] = &["82044", "82045", "82058", "82055"];

/// Appends the check digit that makes the number pass Luhn (SIREN and SIRET).
fn luhn_complete(prefix: &str) -> String {
    (0..10)
        .map(|d| format!("{prefix}{d}"))
        .find(|s| crate::rules::luhn(s))
        .expect("one digit always completes a Luhn number")
}

fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

pub struct Generateur<'a> {
    refs: &'a Referentiels,
    rng: ChaCha8Rng,
    p: Parametres,
    communes: Vec<&'a Commune>,
    certifs: Vec<&'a CertifInfo>,
    themes: Vec<Theme>,
    /// Training organisations, then (from `n_orgs`) establishments of initial training.
    orgs: Vec<OrgGen>,
    n_orgs: usize,
    /// Initial training draws from its own stream, so that the continuing-training offer
    /// is the same with or without it.
    rng_init: ChaCha8Rng,
    /// The popular trainings (`POPULAIRES_*`), and the stream that picks them: drawn on top
    /// of the other choices, which stay as they were.
    populaires: Vec<Populaire<'a>>,
    rng_pop: ChaCha8Rng,
}

enum Populaire<'a> {
    Certifiante(&'a CertifInfo),
    Autre(&'static str, &'static str),
}

impl<'a> Generateur<'a> {
    pub fn new(refs: &'a Referentiels, p: Parametres) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
        // Sorted, so the output does not depend on hash order.
        let mut communes: Vec<&Commune> = refs
            .communes
            .values()
            .filter(|c| {
                c.actuelle
                    && DEPARTEMENTS_PDL.contains(&c.departement.as_str())
                    && c.lat.is_some()
                    && !c.codes_postaux.is_empty()
            })
            .collect();
        communes.sort_by(|a, b| a.code_insee.cmp(&b.code_insee));
        let mut certifs: Vec<&CertifInfo> = refs
            .certifinfo
            .values()
            .filter(|c| {
                c.etat_code == "0"
                    && c.code_rncp.is_some()
                    && c.niveau.is_some()
                    && refs.formacodes.contains_key(&c.formacode)
            })
            .collect();
        certifs.sort_by(|a, b| a.code.cmp(&b.code));
        let themes = THEMES_NON_CERTIFIANTS
            .iter()
            .filter_map(|c| refs.formacodes.get(*c))
            .flat_map(|f| {
                std::iter::once(f)
                    .chain(f.specifiques.iter().filter_map(|s| refs.formacodes.get(s)))
            })
            .map(|f| Theme {
                formacode: f.code.clone(),
                libelle: f.libelle.clone(),
            })
            .collect::<Vec<_>>();
        // Bigger towns host more organisations: weight by population.
        let n_orgs = ((p.sessions / 40) as usize).clamp(8, 4000);
        let grandes: Vec<usize> = {
            let mut idx: Vec<usize> = (0..communes.len()).collect();
            idx.sort_by_key(|&i| std::cmp::Reverse(communes[i].population));
            idx.truncate(120);
            idx.sort();
            idx
        };
        let mut orgs = Vec::with_capacity(n_orgs);
        for i in 0..n_orgs {
            let siren = luhn_complete(&format!("{:08}", rng.gen_range(10_000_000..99_999_999u32)));
            let siret = luhn_complete(&format!("{siren}{:04}", rng.gen_range(10..9999u32)));
            let siege = grandes[rng.gen_range(0..grandes.len())];
            let mut sites = vec![siege];
            for _ in 0..rng.gen_range(0..4) {
                let s = if rng.gen_bool(0.6) {
                    grandes[rng.gen_range(0..grandes.len())]
                } else {
                    rng.gen_range(0..communes.len())
                };
                if !sites.contains(&s) {
                    sites.push(s);
                }
            }
            let dep = &communes[siege].departement;
            let nom = format!(
                "{} {} {}",
                PREFIXES_ORG.choose(&mut rng).unwrap(),
                NOMS_ORG.choose(&mut rng).unwrap(),
                i + 1
            );
            let forme = FORMES.choose(&mut rng).unwrap();
            let slug: String = nom
                .to_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            orgs.push(OrgGen {
                nda: format!("52{dep}{:07}", rng.gen_range(0..10_000_000u32)),
                raison_sociale: format!("{nom} {forme}"),
                nom,
                siret,
                sites,
                formacodes: Vec::new(),
                web: format!("https://www.{}.fr", slug.trim_matches('-')),
                tel: format!(
                    "02 {:02} {:02} {:02} {:02}",
                    rng.gen_range(40..55),
                    rng.gen_range(0..100),
                    rng.gen_range(0..100),
                    rng.gen_range(0..100)
                ),
                numero: format!("OF_{:05}", i + 1),
                uai: None,
                voie: None,
            });
        }
        let populaires = POPULAIRES_CERTIFIANTES
            .iter()
            .filter_map(|t| {
                // The most recent active one of that title.
                certifs
                    .iter()
                    .rev()
                    .find(|c| c.intitule == *t)
                    .map(|c| Populaire::Certifiante(c))
            })
            .chain(
                POPULAIRES_AUTRES
                    .iter()
                    .filter(|(_, fc)| refs.formacodes.contains_key(*fc))
                    .map(|(t, fc)| Populaire::Autre(t, fc)),
            )
            .collect();
        let rng_pop = ChaCha8Rng::seed_from_u64(p.seed ^ 0x9090_1e5e);
        let mut rng_init = ChaCha8Rng::seed_from_u64(p.seed ^ 0x1417_1a1e);
        orgs.extend(initiale::etablissements(&communes, &mut rng_init));
        Generateur {
            refs,
            rng,
            p,
            communes,
            certifs,
            themes,
            orgs,
            n_orgs,
            rng_init,
            populaires,
            rng_pop,
        }
    }

    /// Writes the whole document; returns the number of formations.
    pub fn ecrire<W: Write>(mut self, out: W) -> io::Result<u64> {
        let mut w = LheoWriter::new(out)?;
        let mut restant = self.p.sessions;
        let mut n = 0u64;
        while restant > 0 {
            n += 1;
            let f = self.formation(n, &mut restant);
            w.formation(&f)?;
        }
        w.finish()?;
        Ok(n)
    }

    fn adresse(&mut self, commune: usize, avec_geo: bool) -> Adresse {
        let c = self.communes[commune];
        let cp = c.codes_postaux[0].clone();
        let dep = c.departement.clone();
        Adresse {
            denomination: None,
            lignes: vec![format!(
                "{} {}",
                self.rng.gen_range(1..120),
                VOIES.choose(&mut self.rng).unwrap()
            )],
            codepostal: cp,
            ville: cut(&c.nom, 50),
            departement: Some(dep),
            code_insee_commune: Some(c.code_insee.clone()),
            code_insee_canton: None,
            region: Some("52".into()),
            pays: Some("FR".into()),
            geolocalisation: avec_geo.then(|| Geolocalisation {
                latitude: format!("{:.5}", c.lat.unwrap_or_default()),
                longitude: format!("{:.5}", c.lon.unwrap_or_default()),
                extras: vec![],
            }),
            extras: vec![],
        }
    }

    fn personne(&mut self, org: usize) -> Coordonnees {
        let (prenom, civilite) = *PRENOMS.choose(&mut self.rng).unwrap();
        let prenom = prenom.to_string();
        let nom = NOMS.choose(&mut self.rng).unwrap().to_string();
        let domaine = self.orgs[org]
            .web
            .trim_start_matches("https://www.")
            .to_string();
        Coordonnees {
            civilite: Some({
                let hasard = if self.rng.gen_bool(0.5) {
                    "Madame"
                } else {
                    "Monsieur"
                };
                civilite.unwrap_or(hasard).into()
            }),
            courriel: Some(cut(
                &format!("{}.{}@{domaine}", ascii_slug(&prenom), ascii_slug(&nom)),
                160,
            )),
            prenom: Some(prenom),
            nom: Some(nom),
            telfixe: Some(numtel(&self.orgs[org].tel)),
            ..Default::default()
        }
    }

    fn formation(&mut self, n: u64, restant: &mut u64) -> Formation {
        if self.orgs.len() > self.n_orgs && self.rng_init.gen_bool(initiale::PART) {
            std::mem::swap(&mut self.rng, &mut self.rng_init);
            let f = self.formation_initiale(n, restant);
            std::mem::swap(&mut self.rng, &mut self.rng_init);
            return f;
        }
        self.formation_de(n, restant, None)
    }

    /// A formation of organisation `impose.0` leading to certification `impose.1`, or of a
    /// random organisation.
    fn formation_de(
        &mut self,
        n: u64,
        restant: &mut u64,
        impose: Option<(usize, &'a CertifInfo)>,
    ) -> Formation {
        let org = match impose {
            Some((o, _)) => o,
            None => self.rng.gen_range(0..self.n_orgs),
        };
        let certifiante = impose.is_some() || (self.rng.gen_bool(0.65) && !self.certifs.is_empty());
        let (intitule, formacode, certification, niveau_sortie, ais) = if certifiante {
            let c = match impose {
                Some((_, c)) => c,
                None => self.certifs[self.rng.gen_range(0..self.certifs.len())],
            };
            sujet_certifiant(c)
        } else {
            let t = &self.themes[self.rng.gen_range(0..self.themes.len())];
            let (prefixe, ais) = *[
                ("Initiation", "5"),
                ("Perfectionnement", "3"),
                ("Se former", "7"),
                ("Les bases", "5"),
            ]
            .choose(&mut self.rng)
            .unwrap();
            let titre = match prefixe {
                "Se former" => format!("Se former en {}", t.libelle.to_lowercase()),
                "Les bases" => format!("{} : les bases", t.libelle),
                p => format!("{p} - {}", t.libelle.to_lowercase()),
            };
            (cut(&titre, 255), t.formacode.clone(), None, None, ais)
        };
        // A popular training instead, now and then (its own stream: the draws above happen
        // all the same, so the rest of the offer does not move).
        let populaire = impose.is_none()
            && !self.populaires.is_empty()
            && self.rng_pop.gen_bool(PART_POPULAIRES);
        let (intitule, formacode, certification, niveau_sortie, ais) = if populaire {
            match self.populaires[self.rng_pop.gen_range(0..self.populaires.len())] {
                Populaire::Certifiante(c) => sujet_certifiant(c),
                Populaire::Autre(t, fc) => (t.to_string(), fc.to_string(), None, None, "3"),
            }
        } else {
            (intitule, formacode, certification, niveau_sortie, ais)
        };
        let fc_libelle = self
            .refs
            .formacode_libelle(&formacode)
            .unwrap_or("ce métier")
            .to_string();
        {
            let o = &mut self.orgs[org];
            if o.formacodes.len() < 25 && !o.formacodes.contains(&formacode) {
                o.formacodes.push(formacode.clone());
            }
        }
        let mut domaine = DomaineFormation {
            formacodes: vec![Code {
                code: formacode.clone(),
                attrs: vec![
                    ("ref".into(), "V14".into()),
                    ("tag".into(), "principal".into()),
                ],
            }],
            ..Default::default()
        };
        if let Some(g) = self
            .refs
            .formacodes
            .get(&formacode)
            .and_then(|f| f.generique.clone())
            .filter(|g| self.refs.formacodes.contains_key(g))
        {
            domaine.formacodes.push(Code::new(g, "V14"));
        }
        let numero = format!("PDL_F{n:07}");
        let objectif =
            format!(
            "{} Acquérir les compétences en {} attendues par les entreprises de la région : {}.",
            if certification.is_some() {
                format!("Obtenir la certification « {intitule} ».")
            } else {
                format!("Développer ses compétences en {}.", fc_libelle.to_lowercase())
            },
            fc_libelle.to_lowercase(),
            OBJECTIFS.choose(&mut self.rng).unwrap()
        );
        let contenu = {
            let mut mods: Vec<&str> = MODULES.choose_multiple(&mut self.rng, 4).cloned().collect();
            mods.sort();
            format!(
                "Module 1 : fondamentaux de {}. {} Évaluation en cours et en fin de formation.",
                fc_libelle.to_lowercase(),
                mods.iter()
                    .enumerate()
                    .map(|(i, m)| format!("Module {} : {m}.", i + 2))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        let n_actions = *[1, 1, 1, 2, 2, 3].choose(&mut self.rng).unwrap();
        let mut actions = Vec::new();
        for ai in 0..n_actions {
            if *restant == 0 {
                break;
            }
            let a = self.action(&numero, ai, org, certification.is_some(), restant);
            actions.push(a);
        }
        let contact = Contact {
            type_contact: Some("3".into()),
            coordonnees: self.personne(org),
            extras: vec![],
        };
        let siege = self.orgs[org].sites[0];
        let siege_adresse = self.adresse(siege, true);
        let o = &self.orgs[org];
        let organisme = Organisme {
            attrs: vec![("numero".into(), o.numero.clone())],
            numero_activite: o.nda.clone(),
            siret: o.siret.clone(),
            nom: o.nom.clone(),
            raison_sociale: o.raison_sociale.clone(),
            coordonnees: Coordonnees {
                adresse: Some(siege_adresse),
                telfixe: Some(numtel(&o.tel)),
                web: Some(Node {
                    name: "web".into(),
                    children: vec![leaf("urlweb", &o.web)],
                    ..Default::default()
                }),
                ..Default::default()
            },
            contacts: vec![Contact {
                type_contact: Some("4".into()),
                coordonnees: Coordonnees {
                    telfixe: Some(numtel(&o.tel)),
                    courriel: Some(format!(
                        "contact@{}",
                        o.web.trim_start_matches("https://www.")
                    )),
                    ..Default::default()
                },
                extras: vec![],
            }],
            potentiel: Some(Node {
                name: "potentiel".into(),
                children: o
                    .formacodes
                    .iter()
                    .map(|c| Node {
                        name: "code-FORMACODE".into(),
                        attrs: vec![("ref".into(), "V14".into())],
                        text: c.clone(),
                        children: vec![],
                    })
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let base = self.p.date_base;
        let crea = base - self.rng.gen_range(30..900).days();
        Formation {
            numero,
            datecrea: Some(lheo_date(crea)),
            datemaj: Some(lheo_date(base - self.rng.gen_range(0..30).days())),
            domaine,
            intitule,
            objectif: cut(&objectif, 3000),
            resultats_attendus: if certification.is_some() {
                "Certification totale ou partielle (blocs de compétences)".into()
            } else {
                "Attestation de fin de formation".into()
            },
            contenu: cut(&contenu, 3000),
            certifiante: if certification.is_some() { "1" } else { "0" }.into(),
            contacts: vec![contact],
            parcours: ["1", "2", "3", "4"]
                .choose(&mut self.rng)
                .unwrap()
                .to_string(),
            code_niveau_entree: ["0", "11", "12", "13", "14"]
                .choose(&mut self.rng)
                .unwrap()
                .to_string(),
            objectif_general: Some(ais.into()),
            certifications: certification.into_iter().collect(),
            code_niveau_sortie: niveau_sortie,
            url: Some(Node {
                name: "url-formation".into(),
                children: vec![leaf(
                    "urlweb",
                    &format!("{}/formations/{n}", self.orgs[org].web),
                )],
                ..Default::default()
            }),
            actions,
            organisme,
            ..Default::default()
        }
    }

    fn action(
        &mut self,
        fnum: &str,
        ai: usize,
        org: usize,
        certifiante: bool,
        restant: &mut u64,
    ) -> Action {
        let rng = &mut self.rng;
        let a_distance = rng.gen_bool(0.08);
        let mixte = !a_distance && rng.gen_bool(0.15);
        let permanentes = rng.gen_bool(0.12);
        let public_finance = rng.gen_bool(0.6);
        let financeurs: Vec<Financeur> = {
            let pool: Vec<&(&str, bool)> = FINANCEURS
                .iter()
                .filter(|(_, p)| *p == public_finance)
                .collect();
            let k = rng.gen_range(1..=2.min(pool.len()));
            let mut chosen: Vec<&&(&str, bool)> = pool.choose_multiple(rng, k).collect();
            chosen.sort();
            chosen
                .into_iter()
                .map(|(c, p)| Financeur {
                    code_financeur: c.to_string(),
                    nb_places_financees: p.then(|| rng.gen_range(6..25)),
                    extras: vec![],
                })
                .collect()
        };
        let publics: Vec<Code> = {
            let mut v: Vec<&str> = Vec::new();
            if public_finance {
                let k = rng.gen_range(1..3);
                v.extend(PUBLICS_DE.choose_multiple(rng, k));
            } else {
                let k = rng.gen_range(1..3);
                v.extend(PUBLICS_SAL.choose_multiple(rng, k));
            }
            if rng.gen_bool(0.2) {
                v.push("83056");
            }
            v.sort();
            v.into_iter().map(|c| Code::new(c, "V14")).collect()
        };
        let heures_centre: u32 = if certifiante {
            rng.gen_range(20..120) * 10
        } else {
            rng.gen_range(2..20) * 7
        };
        let heures_entreprise: u32 = if certifiante && rng.gen_bool(0.6) {
            rng.gen_range(4..30) * 35
        } else {
            0
        };
        let prix_horaire = rng.gen_range(9..35) as f64 + 0.5 * rng.gen_range(0..2) as f64;
        let sites = self.orgs[org].sites.clone();
        let site = sites[ai % sites.len()];
        let anum = format!("{fnum}_A{}", ai + 1);
        let lieu_adresse = self.adresse(site, true);
        let lieu = Lieu {
            coordonnees: Coordonnees {
                adresse: Some(lieu_adresse.clone()),
                telfixe: Some(numtel(&self.orgs[org].tel)),
                ..Default::default()
            },
            ..Default::default()
        };
        let n_sessions = (*[1u64, 1, 2, 2, 3, 4].choose(&mut self.rng).unwrap()).min(*restant);
        *restant -= n_sessions;
        let duree_jours = ((heures_centre + heures_entreprise) as i64 / 5).max(1);
        let base = self.p.date_base;
        let mut debut = base + self.rng.gen_range(-60..200).days();
        let mut sessions = Vec::new();
        for si in 0..n_sessions {
            let fin = debut + duree_jours.days();
            sessions.push(Session {
                numero: format!("{anum}_S{}", si + 1),
                periode: Periode {
                    debut: lheo_date(debut),
                    fin: lheo_date(fin),
                    extras: vec![],
                },
                adresse_inscription: AdresseBloc {
                    adresse: Adresse {
                        geolocalisation: None,
                        ..lieu_adresse.clone()
                    },
                    extras: vec![],
                },
                modalites_inscription: Some(
                    [
                        "Information collective puis entretien individuel",
                        "Dossier de candidature et entretien",
                        "Inscription en ligne",
                        "Tests de positionnement",
                    ]
                    .choose(&mut self.rng)
                    .unwrap()
                    .to_string(),
                ),
                etat_recrutement: Some(if debut < base { "2" } else { "1" }.into()),
                ..Default::default()
            });
            debut += self.rng.gen_range(45..150).days();
        }
        let rng = &mut self.rng;
        Action {
            numero: anum,
            rythme: [
                "Temps plein, 35 heures par semaine",
                "Temps partiel, 2 jours par semaine",
                "Cours du soir, de 18 h à 21 h",
                "Alternance : 2 semaines en centre, 3 semaines en entreprise",
            ]
            .choose(rng)
            .unwrap()
            .to_string(),
            publics,
            niveau_entree_obligatoire: if rng.gen_bool(0.3) { "1" } else { "0" }.into(),
            modalites_alternance: if heures_entreprise > 0 {
                format!("{heures_entreprise} heures de stage en entreprise")
            } else {
                "-".into()
            },
            modalites_enseignement: if a_distance {
                "2"
            } else if mixte {
                "1"
            } else {
                "0"
            }
            .into(),
            conditions_specifiques: [
                "Aucun prérequis",
                "Savoir lire, écrire et compter",
                "Projet professionnel validé",
                "Niveau 3 (CAP) ou expérience professionnelle dans le domaine",
            ]
            .choose(rng)
            .unwrap()
            .to_string(),
            prise_en_charge_frais_possible: if public_finance { "1" } else { "0" }.into(),
            lieux: vec![lieu],
            modalites_entrees_sorties: if permanentes { "1" } else { "0" }.into(),
            sessions,
            langues: vec!["fr".into()],
            codes_modalite_pedagogique: if a_distance {
                vec![Code::new("96129", "V14")]
            } else {
                vec![]
            },
            prix_horaire_ttc: Some(format!("{prix_horaire:.2}")),
            prix_total_ttc: Some(format!("{:.2}", prix_horaire * heures_centre as f64)),
            nombre_heures_centre: Some(heures_centre),
            nombre_heures_entreprise: (heures_entreprise > 0).then_some(heures_entreprise),
            nombre_heures_total: Some(heures_centre + heures_entreprise),
            conventionnement: Some(if public_finance { "1" } else { "0" }.into()),
            financeurs,
            ..Default::default()
        }
    }
}

/// What a formation is about: title, Formacode, certification, `code-niveau-sortie`,
/// `objectif-general-formation`.
type Sujet = (
    String,
    String,
    Option<Certification>,
    Option<String>,
    &'static str,
);

/// A formation leading to Certif Info fiche `c`.
fn sujet_certifiant(c: &CertifInfo) -> Sujet {
    (
        cut(&c.intitule, 255),
        c.formacode.clone(),
        Some(Certification {
            code_rncp: c.code_rncp.as_ref().map(|r| format!("RNCP{r}")),
            code_certifinfo: Some(c.code.clone()),
            ..Default::default()
        }),
        Some(format!("1{}", c.niveau.unwrap_or(3).clamp(1, 8))),
        "6",
    )
}

fn leaf(name: &str, text: &str) -> Node {
    Node {
        name: name.into(),
        text: text.into(),
        ..Default::default()
    }
}

fn numtel(tel: &str) -> Node {
    Node {
        name: "telfixe".into(),
        children: vec![leaf("numtel", tel)],
        ..Default::default()
    }
}

fn ascii_slug(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfd()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

const OBJECTIFS: &[&str] = &[
    "accueillir et conseiller la clientèle, organiser son poste de travail et respecter les règles d'hygiène et de sécurité",
    "préparer, réaliser et contrôler les interventions, rendre compte à sa hiérarchie",
    "utiliser les outils numériques du métier et travailler en équipe",
    "planifier son activité, gérer les priorités et communiquer avec les partenaires",
    "appliquer la réglementation en vigueur et les démarches qualité",
    "s'insérer durablement dans l'emploi grâce à une expérience en entreprise",
];

const MODULES: &[&str] = &[
    "communication professionnelle",
    "santé et sécurité au travail",
    "outils numériques et bureautique",
    "techniques professionnelles en atelier",
    "relation client",
    "réglementation et qualité",
    "gestion de projet",
    "stage pratique en entreprise",
    "préparation à l'examen",
    "développement durable et transition écologique",
    "anglais professionnel",
    "techniques de recherche d'emploi",
];
