//! Référentiels: Formacode V14 (tree, synonyms; V13 to recognise outdated codes), Certif Info
//! and RNCP certifications, communes with coordinates, départements and régions, LHÉO code
//! tables. The CSV files of `data/ref/` are compiled into the binary, so a fresh box needs
//! nothing else; `sofi --ref-dir` (`SOFI_REF_DIR`) points to a newer copy without recompiling.

use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RefError {
    #[error("référentiel {fichier} : {message}")]
    Fichier { fichier: String, message: String },
}

#[derive(Debug, Clone)]
pub struct Formacode {
    pub code: String,
    pub libelle: String,
    pub generique: Option<String>,
    pub specifiques: Vec<String>,
    pub synonymes: Vec<String>,
    pub champ: String,
}

#[derive(Debug, Clone)]
pub struct CertifInfo {
    pub code: String,
    pub intitule: String,
    pub type_libelle: String,
    pub niveau: Option<u8>,
    pub formacode: String,
    pub code_nsf: String,
    pub codes_rome: Vec<String>,
    pub code_rncp: Option<String>,
    pub code_rs: Option<String>,
    /// 0 publiée, 11 habilitation, 4 formation préparatoire et non certifiante.
    pub etat_code: String,
    pub certificateur: String,
    /// The code this fiche replaced (`code_certifinfo_ancien`).
    pub ancien: Option<String>,
}

impl CertifInfo {
    /// Whether the fiche is a certification (not a "formation préparatoire et non certifiante").
    pub fn certifiante(&self) -> bool {
        self.etat_code != "4"
    }
}

#[derive(Debug, Clone)]
pub struct FicheRncp {
    pub code: String,
    pub intitule: String,
    pub niveau: Option<u8>,
    pub actif: bool,
    /// End of the registration (`date_fin_validite`).
    pub fin: Option<jiff::civil::Date>,
}

#[derive(Debug, Clone)]
pub struct Commune {
    pub code_insee: String,
    pub nom: String,
    pub codes_postaux: Vec<String>,
    pub departement: String,
    pub region: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub population: u32,
    pub actuelle: bool,
    /// For a commune that is no longer one (déléguée, associée): the commune it belongs to.
    pub parent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Departement {
    pub code: String,
    pub nom: String,
    pub region: String,
}

/// Every référentiel, loaded once and shared read-only.
#[derive(Debug, Default)]
pub struct Referentiels {
    pub formacodes: HashMap<String, Formacode>,
    /// Codes of Formacode V13, to tell an outdated code from an unknown one.
    pub formacodes_v13: HashMap<String, String>,
    /// Formacode annex codes: publics (8xxxx) and modalités pédagogiques (96xxx).
    pub annexes: HashMap<String, (String, String)>,
    pub certifinfo: HashMap<String, CertifInfo>,
    /// RNCP number (digits only) → Certif Info codes.
    pub certifinfo_par_rncp: HashMap<String, Vec<String>>,
    /// RS number (digits only) → Certif Info codes.
    pub certifinfo_par_rs: HashMap<String, Vec<String>>,
    pub rncp: HashMap<String, FicheRncp>,
    pub communes: HashMap<String, Commune>,
    pub communes_par_cp: HashMap<String, Vec<String>>,
    pub departements: HashMap<String, Departement>,
    pub regions: HashMap<String, String>,
    /// A Certif Info code no longer in the table → the fiche that replaced it.
    pub certifinfo_remplaces: HashMap<String, String>,
    /// LHÉO dictionaries: name → (code → label).
    pub dictionnaires: HashMap<String, Vec<(String, String)>>,
    pub nsf: HashMap<String, String>,
    /// ROME 4.0 fiches: code → label (the `rome` filter and its labels).
    pub rome: HashMap<String, String>,
    /// ROME appellations (`code_rome`, "Infirmier / Infirmière de bloc opératoire"): the job
    /// titles people type, in both genders (query understanding).
    pub appellations: Vec<(String, String)>,
    /// xxh3-128 of every file loaded (names and bytes), in hex: a store records the one its
    /// offers were judged with, and a change of files makes `serve` judge them again.
    pub empreinte: String,
}

macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/ref/", $name)) as &[u8])),*]
    };
}

/// The files compiled in, by name.
pub const FICHIERS: &[(&str, &[u8])] = embedded!(
    "formacode-v14.csv",
    "formacode-v13.csv",
    "formacode-annexes.csv",
    "formacode-v14-grands-domaines.csv",
    "certifinfo.csv",
    "rncp-fiches-2021.csv",
    "communes-france.csv",
    "departements.csv",
    "regions.csv",
    "lheo-dictionnaires.csv",
    "nsf.csv",
    "rome.csv",
    "rome-appellations.csv",
);

/// The départements of Pays de la Loire, the region served by default (and the one the demo
/// offer is generated in).
pub const DEPARTEMENTS_PDL: &[&str] = &["44", "49", "53", "72", "85"];

/// The region Sofi serves (`sofi --region`, an INSEE region code) and its départements, set
/// once at start; Pays de la Loire (`52`) when not set.
static REGION: std::sync::OnceLock<(String, Vec<&'static str>, String)> =
    std::sync::OnceLock::new();

/// Sets the region served (before anything reads it); an unknown code or one without
/// départements is an error naming it.
pub fn regler_region(code: &str, refs: &Referentiels) -> Result<(), String> {
    let code = code.trim();
    let mut deps: Vec<&'static str> = refs
        .departements
        .values()
        .filter(|d| d.region == code)
        .map(|d| &*Box::leak(d.code.clone().into_boxed_str()))
        .collect();
    if deps.is_empty() {
        return Err(format!(
            "--region « {code} » : code de région INSEE inconnu (52 : Pays de la Loire)"
        ));
    }
    deps.sort_unstable();
    let nom = refs
        .regions
        .get(code)
        .cloned()
        .unwrap_or_else(|| code.to_string());
    REGION
        .set((code.to_string(), deps, nom))
        .map_err(|_| "la région est déjà réglée".to_string())
}

/// The départements of the region served.
pub fn departements_region() -> &'static [&'static str] {
    match REGION.get() {
        Some((_, d, _)) => d,
        None => DEPARTEMENTS_PDL,
    }
}

/// The INSEE code of the region served.
pub fn code_region() -> &'static str {
    REGION.get().map_or("52", |(c, _, _)| c.as_str())
}

/// The name of the region served ("Pays de la Loire"), for the pages ("en …").
pub fn nom_region() -> &'static str {
    REGION
        .get()
        .map_or("Pays de la Loire", |(_, _, n)| n.as_str())
}

/// Digits of an RNCP or RS code (`RNCP12345` → `12345`).
pub fn digits(code: &str) -> String {
    code.trim()
        .trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .trim_start_matches('0')
        .to_string()
}

struct Source {
    dir: Option<PathBuf>,
}

impl Source {
    fn bytes(&self, name: &str) -> Result<std::borrow::Cow<'static, [u8]>, RefError> {
        if let Some(dir) = &self.dir {
            let p = dir.join(name);
            return std::fs::read(&p)
                .map(std::borrow::Cow::Owned)
                .map_err(|e| RefError::Fichier {
                    fichier: p.display().to_string(),
                    message: e.to_string(),
                });
        }
        FICHIERS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| std::borrow::Cow::Borrowed(*b))
            .ok_or_else(|| RefError::Fichier {
                fichier: name.into(),
                message: "absent".into(),
            })
    }

    /// The fingerprint of every file this source gives (see [`Referentiels::empreinte`]).
    fn empreinte(&self) -> Result<String, RefError> {
        let mut parts = Vec::new();
        for (name, _) in FICHIERS {
            parts.extend_from_slice(name.as_bytes());
            parts.extend_from_slice(
                &twox_hash::XxHash3_128::oneshot(&self.bytes(name)?).to_le_bytes(),
            );
        }
        Ok(format!("{:032x}", twox_hash::XxHash3_128::oneshot(&parts)))
    }

    /// Calls `f` with each row as a header-indexed record.
    fn rows(
        &self,
        name: &str,
        mut f: impl FnMut(&Row) -> Result<(), String>,
    ) -> Result<(), RefError> {
        let bytes = self.bytes(name)?;
        let err = |message: String| RefError::Fichier {
            fichier: name.into(),
            message,
        };
        let mut rdr = csv::ReaderBuilder::new().from_reader(&bytes[..]);
        let headers = rdr.headers().map_err(|e| err(e.to_string()))?.clone();
        let mut rec = csv::StringRecord::new();
        while rdr.read_record(&mut rec).map_err(|e| err(e.to_string()))? {
            let row = Row {
                headers: &headers,
                rec: &rec,
            };
            f(&row).map_err(|m| {
                err(format!(
                    "ligne {} : {m}",
                    rec.position().map(|p| p.line()).unwrap_or(0)
                ))
            })?;
        }
        Ok(())
    }
}

struct Row<'a> {
    headers: &'a csv::StringRecord,
    rec: &'a csv::StringRecord,
}

impl Row<'_> {
    fn get(&self, col: &str) -> Result<&str, String> {
        let i = self
            .headers
            .iter()
            .position(|h| h == col)
            .ok_or_else(|| format!("colonne « {col} » absente"))?;
        Ok(self.rec.get(i).unwrap_or(""))
    }
    fn s(&self, col: &str) -> Result<String, String> {
        self.get(col).map(str::to_string)
    }
    fn list(&self, col: &str) -> Result<Vec<String>, String> {
        Ok(self
            .get(col)?
            .split('|')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect())
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

impl Referentiels {
    /// Loads the compiled-in référentiels.
    pub fn charger() -> Result<Referentiels, RefError> {
        Self::charger_depuis(None)
    }

    /// Only the small tables (départements, régions, dictionaries, NSF, ROME): what
    /// settings read at start (`--region`).
    pub fn charger_petits(dir: Option<PathBuf>) -> Result<Referentiels, RefError> {
        let mut r = Referentiels::default();
        Self::petits(&mut r, &Source { dir })?;
        Ok(r)
    }

    /// Loads the référentiels of `dir` (`sofi --ref-dir`), else the compiled-in ones.
    pub fn charger_depuis(dir: Option<PathBuf>) -> Result<Referentiels, RefError> {
        let src = Source { dir };
        // The two largest files load on their own threads (2 cores on the target box).
        std::thread::scope(|s| {
            let communes = s.spawn(|| Self::communes(&src));
            let certifs = s.spawn(|| Self::certifications(&src));
            let mut r = Referentiels::default();
            r.formacodes_charger(&src)?;
            Self::petits(&mut r, &src)?;
            let (communes, par_cp) = communes.join().expect("communes loader")?;
            r.communes = communes;
            r.communes_par_cp = par_cp;
            let (ci, par_rncp, par_rs, rncp) = certifs.join().expect("certifications loader")?;
            r.certifinfo_remplaces = ci
                .values()
                .filter_map(|c| {
                    let a = c.ancien.as_ref()?;
                    (!ci.contains_key(a)).then(|| (a.clone(), c.code.clone()))
                })
                .collect();
            r.certifinfo = ci;
            r.certifinfo_par_rncp = par_rncp;
            r.certifinfo_par_rs = par_rs;
            r.rncp = rncp;
            r.empreinte = src.empreinte()?;
            Ok(r)
        })
    }

    fn formacodes_charger(&mut self, src: &Source) -> Result<(), RefError> {
        src.rows("formacode-v14.csv", |r| {
            let code = r.s("code")?;
            self.formacodes.insert(
                code.clone(),
                Formacode {
                    code,
                    libelle: r.s("libelle")?,
                    generique: non_empty(r.s("generique_code")?),
                    specifiques: r.list("specifiques_codes")?,
                    synonymes: r.list("synonymes")?,
                    champ: r.s("champ_semantique_code")?,
                },
            );
            Ok(())
        })?;
        src.rows("formacode-v13.csv", |r| {
            self.formacodes_v13
                .insert(r.s("code")?, r.s("libelle_majuscules")?);
            Ok(())
        })?;
        src.rows("formacode-annexes.csv", |r| {
            self.annexes
                .insert(r.s("code")?, (r.s("annexe")?, r.s("libelle")?));
            Ok(())
        })?;
        // The 001xx codes: the tops of the tree (labels for the facet and the statistics).
        src.rows("formacode-v14-grands-domaines.csv", |r| {
            self.annexes
                .insert(r.s("code")?, ("domaine".into(), r.s("libelle")?));
            Ok(())
        })
    }

    fn petits(r: &mut Referentiels, src: &Source) -> Result<(), RefError> {
        src.rows("departements.csv", |row| {
            let code = row.s("code")?;
            r.departements.insert(
                code.clone(),
                Departement {
                    code,
                    nom: row.s("nom")?,
                    region: row.s("region_code")?,
                },
            );
            Ok(())
        })?;
        src.rows("regions.csv", |row| {
            r.regions.insert(row.s("code")?, row.s("nom")?);
            Ok(())
        })?;
        src.rows("lheo-dictionnaires.csv", |row| {
            r.dictionnaires
                .entry(row.s("dictionnaire")?)
                .or_default()
                .push((row.s("code")?, row.s("libelle")?));
            Ok(())
        })?;
        src.rows("nsf.csv", |row| {
            r.nsf.insert(row.s("code")?, row.s("libelle")?);
            Ok(())
        })?;
        src.rows("rome.csv", |row| {
            r.rome.insert(row.s("code_rome")?, row.s("libelle")?);
            Ok(())
        })?;
        src.rows("rome-appellations.csv", |row| {
            r.appellations
                .push((row.s("code_rome")?, row.s("libelle")?));
            Ok(())
        })
    }

    #[allow(clippy::type_complexity)]
    fn communes(
        src: &Source,
    ) -> Result<(HashMap<String, Commune>, HashMap<String, Vec<String>>), RefError> {
        let mut communes = HashMap::with_capacity(40_000);
        let mut par_cp: HashMap<String, Vec<String>> = HashMap::with_capacity(7_000);
        src.rows("communes-france.csv", |r| {
            let code = r.s("code_insee")?;
            let actuelle = matches!(
                r.get("type")?,
                "commune-actuelle" | "arrondissement-municipal"
            );
            let c = Commune {
                code_insee: code.clone(),
                nom: r.s("nom")?,
                codes_postaux: r.list("codes_postaux")?,
                departement: r.s("departement_code")?,
                region: r.s("region_code")?,
                lat: r.get("latitude")?.parse().ok(),
                lon: r.get("longitude")?.parse().ok(),
                population: r.get("population")?.parse().unwrap_or(0),
                actuelle,
                parent: non_empty(r.s("commune_parent_code")?).filter(|p| *p != code),
            };
            if actuelle {
                for cp in &c.codes_postaux {
                    par_cp.entry(cp.clone()).or_default().push(code.clone());
                }
            }
            // A commune déléguée shares its code with nothing else; keep the actuelle if both.
            if actuelle || !communes.contains_key(&code) {
                communes.insert(code, c);
            }
            Ok(())
        })?;
        Ok((communes, par_cp))
    }

    #[allow(clippy::type_complexity)]
    fn certifications(
        src: &Source,
    ) -> Result<
        (
            HashMap<String, CertifInfo>,
            HashMap<String, Vec<String>>,
            HashMap<String, Vec<String>>,
            HashMap<String, FicheRncp>,
        ),
        RefError,
    > {
        let mut ci = HashMap::with_capacity(11_000);
        let mut par_rncp: HashMap<String, Vec<String>> = HashMap::new();
        let mut par_rs: HashMap<String, Vec<String>> = HashMap::new();
        src.rows("certifinfo.csv", |r| {
            let code = r.s("code_certifinfo")?;
            let c = CertifInfo {
                code: code.clone(),
                intitule: r.s("intitule")?,
                type_libelle: r.s("type_libelle")?,
                niveau: r.get("niveau_europeen")?.parse().ok(),
                formacode: r.s("formacode")?,
                code_nsf: r.s("code_nsf")?,
                codes_rome: r.list("codes_rome")?,
                code_rncp: non_empty(digits(r.get("code_rncp")?)),
                code_rs: non_empty(digits(r.get("code_rs")?)),
                etat_code: r.s("etat_code")?,
                certificateur: r.s("certificateur")?,
                ancien: non_empty(r.s("code_certifinfo_ancien")?),
            };
            if let Some(n) = &c.code_rncp {
                par_rncp.entry(n.clone()).or_default().push(code.clone());
            }
            if let Some(n) = &c.code_rs {
                par_rs.entry(n.clone()).or_default().push(code.clone());
            }
            ci.insert(code, c);
            Ok(())
        })?;
        let mut rncp = HashMap::with_capacity(18_000);
        src.rows("rncp-fiches-2021.csv", |r| {
            let code = digits(r.get("code_rncp")?);
            rncp.insert(
                code.clone(),
                FicheRncp {
                    code,
                    intitule: r.s("intitule")?,
                    niveau: r.get("niveau")?.parse().ok(),
                    actif: r.get("actif")? == "ACTIVE",
                    fin: r.get("date_fin_validite")?.parse().ok(),
                },
            );
            Ok(())
        })?;
        Ok((ci, par_rncp, par_rs, rncp))
    }

    /// Label of a code in a LHÉO dictionary (`dict-financeurs`, …).
    pub fn libelle(&self, dict: &str, code: &str) -> Option<&str> {
        self.dictionnaires
            .get(dict)?
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, l)| l.as_str())
    }

    /// A Formacode and its ancestors in the thesaurus, most specific first.
    pub fn formacode_ancetres(&self, code: &str) -> Vec<String> {
        let mut out = vec![code.to_string()];
        let mut cur = self.formacodes.get(code).and_then(|f| f.generique.clone());
        while let Some(c) = cur {
            if out.contains(&c) || out.len() > 16 {
                break;
            }
            cur = self.formacodes.get(&c).and_then(|f| f.generique.clone());
            out.push(c);
        }
        out
    }

    /// Label of a Formacode (descriptor or annex code).
    pub fn formacode_libelle(&self, code: &str) -> Option<&str> {
        self.formacodes
            .get(code)
            .map(|f| f.libelle.as_str())
            .or_else(|| self.annexes.get(code).map(|(_, l)| l.as_str()))
    }

    /// The Certif Info fiches a certification element points to (by Certif Info, RNCP or RS
    /// code).
    pub fn fiches_certifinfo(&self, c: &crate::model::Certification) -> Vec<&CertifInfo> {
        let mut out: Vec<&CertifInfo> = Vec::new();
        let mut push = |code: &String| {
            if let Some(f) = self.certifinfo.get(code) {
                if !out.iter().any(|o| o.code == f.code) {
                    out.push(f);
                }
            }
        };
        if let Some(ci) = &c.code_certifinfo {
            let ci = ci.trim();
            // A replaced code stands for the fiche that replaced it.
            match self.certifinfo_remplaces.get(ci) {
                Some(n) if !self.certifinfo.contains_key(ci) => push(n),
                _ => push(&ci.to_string()),
            }
        }
        if let Some(r) = &c.code_rncp {
            for code in self
                .certifinfo_par_rncp
                .get(&digits(r))
                .into_iter()
                .flatten()
            {
                push(code);
            }
        }
        if let Some(r) = &c.code_rs {
            for code in self.certifinfo_par_rs.get(&digits(r)).into_iter().flatten() {
                push(code);
            }
        }
        out
    }
}
