//! Initial training in the generated offer: lycées, CFA and universities of the five
//! départements, with what LHÉO 2.3 says of them (a `cycle` per session with its type, year
//! and capacity, the apprenticeship rhythm, the admission mode, teachings, UAI codes).
//! Their share of formations is [`PART`]; they draw from the generator's second stream.

use super::{luhn_complete, Generateur, OrgGen};
use crate::model::*;
use crate::referentiel::{CertifInfo, Commune};
use jiff::ToSpan;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Share of formations that are initial training (about one in eight in a Carif-Oref's
/// catalogue once schools, CFA and universities are in).
pub(super) const PART: f64 = 0.12;

const LYCEES: &[&str] = &[
    "Jules Verne",
    "Albert Camus",
    "Jean Moulin",
    "Marie Curie",
    "Léonard de Vinci",
    "Simone Veil",
    "Gustave Eiffel",
    "Louis Pasteur",
    "Jacques Cartier",
    "Olympe de Gouges",
    "Camille Claudel",
    "Joachim du Bellay",
];

const CFA: &[&str] = &[
    "CFA du bâtiment",
    "CFA des métiers de l'artisanat",
    "CFA agricole",
    "CFA de l'industrie",
];

/// Universities and their institutes, by département.
const UNIVERSITES: &[(&str, &str)] = &[
    ("44", "Nantes Université"),
    ("49", "Université d'Angers"),
    ("72", "Le Mans Université"),
    ("53", "IUT de Laval (Le Mans Université)"),
    ("85", "IUT de La Roche-sur-Yon (Nantes Université)"),
];

/// A UAI with its check letter, in département `dep`.
fn uai(dep: &str, rng: &mut ChaCha8Rng) -> String {
    let sept = format!("0{dep:0>2}{:04}", rng.gen_range(0..10_000u32));
    let cle = crate::rules::cle_uai(&sept).unwrap_or('A');
    format!("{sept}{cle}")
}

/// The establishments: per département three lycées and two CFA in its largest towns, and
/// its university or institute.
pub(super) fn etablissements(communes: &[&Commune], rng: &mut ChaCha8Rng) -> Vec<OrgGen> {
    let mut out = Vec::new();
    for dep in super::DEPARTEMENTS_PDL {
        let mut villes: Vec<usize> = (0..communes.len())
            .filter(|&i| communes[i].departement == *dep)
            .collect();
        villes.sort_by_key(|&i| std::cmp::Reverse(communes[i].population));
        villes.truncate(6);
        if villes.is_empty() {
            continue;
        }
        let mut ajouter = |nom: String, voie: Voie, site: usize, rng: &mut ChaCha8Rng| {
            let siren = luhn_complete(&format!("{:08}", rng.gen_range(10_000_000..99_999_999u32)));
            let siret = luhn_complete(&format!("{siren}{:04}", rng.gen_range(10..9999u32)));
            let slug: String = nom
                .to_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            let numero = format!("ETAB_{:03}", out.len() + 1);
            out.push(OrgGen {
                siret,
                nda: format!("52{dep}{:07}", rng.gen_range(0..10_000_000u32)),
                raison_sociale: nom.clone(),
                nom,
                sites: vec![site],
                formacodes: Vec::new(),
                web: format!("https://www.{}.fr", slug.trim_matches('-')),
                tel: format!(
                    "02 {:02} {:02} {:02} {:02}",
                    rng.gen_range(40..55),
                    rng.gen_range(0..100),
                    rng.gen_range(0..100),
                    rng.gen_range(0..100)
                ),
                numero,
                uai: Some(uai(dep, rng)),
                voie: Some(voie),
            });
        };
        for k in 0..3 {
            let nom = format!(
                "Lycée professionnel {} ({})",
                LYCEES.choose(rng).unwrap(),
                communes[villes[k % villes.len()]].nom
            );
            ajouter(nom, Voie::Scolaire, villes[k % villes.len()], rng);
        }
        for k in 0..2 {
            let site = villes[(k + 1) % villes.len()];
            let nom = format!("{} ({})", CFA.choose(rng).unwrap(), communes[site].nom);
            ajouter(nom, Voie::Apprentissage, site, rng);
        }
        if let Some((_, u)) = UNIVERSITES.iter().find(|(d, _)| d == dep) {
            ajouter(u.to_string(), Voie::Universitaire, villes[0], rng);
        }
    }
    out
}

fn noeud(name: &str, children: Vec<Node>) -> Node {
    Node {
        name: name.into(),
        children,
        ..Default::default()
    }
}

fn feuille(name: &str, text: impl Into<String>) -> Node {
    Node {
        name: name.into(),
        text: text.into(),
        ..Default::default()
    }
}

fn uai_noeud(element: &str, code: &str) -> Node {
    noeud(element, vec![feuille("code-UAI", code)])
}

impl<'a> Generateur<'a> {
    /// An initial-training formation: an establishment, a certification of its levels, a
    /// school-year session per action with its cycle.
    pub(super) fn formation_initiale(&mut self, n: u64, restant: &mut u64) -> Formation {
        let etab = self.rng.gen_range(self.n_orgs..self.orgs.len());
        let voie = self.orgs[etab].voie.unwrap_or(Voie::Scolaire);
        // CAP to BTS in lycées and CFA, licence and master at university.
        let niveaux = match voie {
            Voie::Universitaire => 6..=7,
            _ => 3..=5,
        };
        let certifs: Vec<&'a CertifInfo> = self
            .certifs
            .iter()
            .filter(|c| c.niveau.is_some_and(|x| niveaux.contains(&x)))
            .copied()
            .collect();
        let Some(&cert) = certifs.choose(&mut self.rng) else {
            return self.formation_de(n, restant, None);
        };
        let mut f = self.formation_de(n, restant, Some((etab, cert)));
        let o = &self.orgs[etab];
        f.organisme.uai = o
            .uai
            .as_deref()
            .map(|u| uai_noeud("code-UAI-organisme-formation", u));
        f.code_niveau_sortie = cert.niveau.map(|x| format!("1{x}"));
        let annees = if cert.niveau == Some(3) || cert.niveau == Some(5) {
            2
        } else {
            1
        };
        let uai = o.uai.clone();
        for a in &mut f.actions {
            self.rendre_initiale(a, voie, annees, uai.as_deref());
        }
        f
    }

    fn rendre_initiale(&mut self, a: &mut Action, voie: Voie, annees: u32, uai: Option<&str>) {
        let rng = &mut self.rng;
        let base = self.p.date_base;
        let (financeurs, publics, rythme): (&[&str], &[&str], &str) = match voie {
            Voie::Apprentissage => (
                &["16", "2"],
                &["82027"],
                "Alternance : 2 semaines en entreprise, 1 semaine au CFA",
            ),
            Voie::Universitaire => (
                &["12"],
                &["81024", "83056"],
                "Temps plein, deux semestres de septembre à juin",
            ),
            _ => (
                &["12", "2"],
                &["81024"],
                "Temps plein, année scolaire de septembre à juin, stages en entreprise",
            ),
        };
        a.financeurs = financeurs
            .iter()
            .map(|c| Financeur {
                code_financeur: c.to_string(),
                ..Default::default()
            })
            .collect();
        a.publics = publics.iter().map(|c| Code::new(*c, "V14")).collect();
        a.rythme = rythme.into();
        a.modalites_enseignement = "0".into();
        a.modalites_entrees_sorties = "0".into();
        a.prise_en_charge_frais_possible = "1".into();
        a.prix_horaire_ttc = None;
        a.prix_total_ttc = None;
        a.codes_modalite_pedagogique.clear();
        a.duree_cycle = Some(annees.to_string());
        if voie == Voie::Apprentissage {
            a.modalites_alternance =
                "Contrat d'apprentissage : 2 semaines en entreprise, 1 semaine au centre".into();
        }
        if let (Some(u), Some(l)) = (uai, a.lieux.first_mut()) {
            l.uai = Some(uai_noeud("code-UAI-lieu-formation", u));
        }
        a.enseignements = vec![
            noeud(
                "enseignement",
                vec![
                    feuille("libelle-enseignement", "Enseignement professionnel"),
                    feuille("type-enseignement", "10"),
                    feuille("obligatoire", "1"),
                ],
            ),
            noeud(
                "enseignement",
                vec![
                    feuille("libelle-enseignement", "Anglais"),
                    feuille("type-enseignement", "5"),
                    feuille("obligatoire", "1"),
                ],
            ),
        ];
        // The school year: from the next September; the end given to the month, as schools
        // write it (`AAAAMM00`).
        let annee = if base.month() < 6 {
            base.year()
        } else {
            base.year() + 1
        };
        let capacite = rng.gen_range(12..36u32);
        for s in &mut a.sessions {
            let debut = jiff::civil::date(annee, 9, 1) + rng.gen_range(0..5).days();
            s.periode.debut = lheo_date(debut);
            s.periode.fin = format!("{}0600", annee as i32 + annees as i32);
            s.etat_recrutement = Some("1".into());
            s.modalites_inscription = Some(
                match voie {
                    Voie::Apprentissage => {
                        "Candidature auprès du CFA et signature d'un contrat d'apprentissage"
                    }
                    _ => "Candidature sur Parcoursup",
                }
                .into(),
            );
            let mut cycle = vec![feuille(
                "type-cycle",
                if voie == Voie::Apprentissage {
                    "1"
                } else {
                    "0"
                },
            )];
            for y in 1..=annees {
                cycle.push(feuille("annee-cycle", y.to_string()));
            }
            cycle.push(feuille("capacite-simultanee", capacite.to_string()));
            if voie == Voie::Apprentissage {
                cycle.push(noeud(
                    "alternance",
                    vec![
                        feuille("type-alternance", "1"),
                        noeud(
                            "rythme-alternance",
                            vec![
                                feuille("unite-rythme-alternance", "3"),
                                feuille("unites-entreprise", "2"),
                                feuille("unites-centre", "1"),
                            ],
                        ),
                    ],
                ));
            }
            let mode = match voie {
                Voie::Apprentissage => "8",
                _ => "3",
            };
            s.details = vec![
                noeud(
                    "recrutement",
                    vec![
                        feuille("modalite-recrutement", mode),
                        feuille("nb-places", capacite.to_string()),
                    ],
                ),
                noeud("cycle", cycle),
            ];
        }
    }
}
