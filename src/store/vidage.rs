//! The store's side of the portable dump (`sofi dump`, `sofi load`, see `crate::vidage`):
//! the back-office and partner trees as JSON Lines, and offers written back with the verdict
//! and the dates they had.
//!
//! Records that are Sofi types are written as their JSON (serde), so that a later version,
//! whose bincode layout or sled format changed, reads them back through serde; the small
//! indexes whose values are bytes are written in hex. Keys are hex: they are byte layouts
//! (big-endian numbers, `\0`-separated parts) that sled's order depends on.

use super::*;
use crate::accounts::Compte;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};

/// How a tree's values are written in the dump.
#[derive(Clone, Copy)]
enum Genre {
    /// As JSON, through the Sofi type they encode.
    Json(
        fn(&[u8]) -> Result<serde_json::Value, StoreError>,
        fn(serde_json::Value) -> Result<Vec<u8>, StoreError>,
    ),
    /// As hex bytes (an id, nothing, a timestamp).
    Octets,
}

fn vers_json<T: DeserializeOwned + Serialize>(b: &[u8]) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(decode::<T>(b)?).map_err(|e| StoreError::Encodage(e.to_string()))
}

fn depuis_json<T: DeserializeOwned + Serialize>(
    v: serde_json::Value,
) -> Result<Vec<u8>, StoreError> {
    let t: T = serde_json::from_value(v).map_err(|e| StoreError::Encodage(e.to_string()))?;
    encode(&t).map(|b| b.to_vec())
}

macro_rules! json {
    ($t:ty) => {
        Genre::Json(vers_json::<$t>, depuis_json::<$t>)
    };
}

/// The trees a dump carries besides the offers, in load order. Not carried: the offer trees
/// and `meta` (rebuilt by writing the offers), web sessions and one-time links (secrets
/// meant to expire: people sign in again, links are sent again).
fn arbres() -> [(&'static str, Genre); 19] {
    [
        ("comptes", json!(Compte)),
        ("emails", Genre::Octets),
        ("jetons", json!(JetonApi)),
        ("demandes", json!(Demande)),
        ("etablissements", json!(Etablissement)),
        ("dossiers", json!(Dossier)),
        ("dossiers_siret", Genre::Octets),
        ("file", json!(ElementFile)),
        ("audit", json!(Evenement)),
        ("audit_objet", Genre::Octets),
        ("motifs", json!(Motif)),
        ("signalements", json!(Signalement)),
        ("suspensions", json!(Suspension)),
        ("suspendues", json!(OffreSuspendue)),
        ("decisions", json!(Decision)),
        ("cles", json!(ClePartenaire)),
        ("cles_jetons", Genre::Octets),
        ("usage", json!(Usage)),
        // Daily aggregates and the first-seen times of queries: mixed values, as bytes.
        ("recherches", Genre::Octets),
    ]
}

/// `meta` keys a dump carries: the counters that number what the trees above hold.
const META: [&[u8]; 2] = [
    super::audit::CLE_AUDIT,
    super::partenaires::CLE_DERNIERE_CLE,
];

/// One line of a tree's file.
#[derive(Serialize, Deserialize)]
struct Ligne {
    cle: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    valeur: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    octets: Option<String>,
}

/// What an offer was besides its LHÉO: where from, its verdict and its dates.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetaOffre {
    pub numero: String,
    pub source: String,
    pub verdict: Verdict,
    pub recue_le: i64,
    pub verifiee_le: i64,
    pub modifiee_le: i64,
    pub diffusee_le: Option<i64>,
}

impl MetaOffre {
    pub fn de(o: &OffreStockee) -> MetaOffre {
        MetaOffre {
            numero: o.formation.numero.clone(),
            source: o.source.clone(),
            verdict: o.verdict.clone(),
            recue_le: o.recue_le,
            verifiee_le: o.verifiee_le,
            modifiee_le: o.modifiee_le,
            diffusee_le: o.diffusee_le,
        }
    }
}

/// What the trees' part of a dump holds.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct ArbresVides {
    /// Records per tree.
    pub arbres: BTreeMap<String, u64>,
    /// The `meta` counters carried (hex key → hex value).
    pub meta: BTreeMap<String, String>,
    /// Records that did not decode: kept as bytes in `illisibles.jsonl`, not loaded.
    pub illisibles: u64,
}

fn enc(e: impl std::fmt::Display) -> StoreError {
    StoreError::Encodage(e.to_string())
}

impl Store {
    /// Writes `dir/arbres/<tree>.jsonl` for every carried tree. A record that does not
    /// decode is not lost: it goes to `dir/illisibles.jsonl` as bytes, and is counted.
    pub fn vider_arbres(&self, dir: &Path) -> Result<ArbresVides, StoreError> {
        let a = self.a()?;
        std::fs::create_dir_all(dir.join("arbres"))?;
        let mut illisibles = std::io::BufWriter::new(File::create(dir.join("illisibles.jsonl"))?);
        let mut bilan = ArbresVides::default();
        for (nom, genre) in arbres() {
            let arbre = a.db.open_tree(nom)?;
            let chemin = dir.join("arbres").join(format!("{nom}.jsonl"));
            let mut sortie = std::io::BufWriter::new(File::create(&chemin)?);
            let mut n = 0u64;
            for kv in arbre.iter() {
                let (k, v) = kv?;
                let mut ligne = Ligne {
                    cle: hex::encode(&k),
                    valeur: None,
                    octets: None,
                };
                match genre {
                    Genre::Json(vers, _) => match vers(&v) {
                        Ok(j) => ligne.valeur = Some(j),
                        Err(e) => {
                            tracing::warn!("{nom} : enregistrement {} illisible ({e})", ligne.cle);
                            let l = serde_json::json!({
                                "arbre": nom, "cle": ligne.cle,
                                "octets": hex::encode(&v), "erreur": e.to_string(),
                            });
                            serde_json::to_writer(&mut illisibles, &l).map_err(enc)?;
                            illisibles.write_all(b"\n")?;
                            bilan.illisibles += 1;
                            continue;
                        }
                    },
                    Genre::Octets => ligne.octets = Some(hex::encode(&v)),
                }
                serde_json::to_writer(&mut sortie, &ligne).map_err(enc)?;
                sortie.write_all(b"\n")?;
                n += 1;
            }
            sortie
                .into_inner()
                .map_err(|e| e.into_error())?
                .sync_all()?;
            bilan.arbres.insert(nom.to_string(), n);
        }
        illisibles
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        for cle in META {
            if let Some(v) = a.meta.get(cle)? {
                bilan.meta.insert(hex::encode(cle), hex::encode(&v));
            }
        }
        Ok(bilan)
    }

    /// Loads the trees of a dump into this store, which holds no back-office yet, in
    /// batches of 1,000 records (a dossier holds whole formations: memory stays flat). A bad
    /// line names the file and the line; `sofi load` then drops the whole directory.
    pub fn charger_arbres(&self, dir: &Path, attendu: &ArbresVides) -> Result<(), StoreError> {
        let a = self.a()?;
        let mut ids = 0u64;
        for (nom, genre) in arbres() {
            let arbre = a.db.open_tree(nom)?;
            if !arbre.is_empty() {
                return Err(StoreError::Conflit(format!(
                    "{nom} n'est pas vide : un vidage se charge dans un dossier de données neuf"
                )));
            }
            let chemin = dir.join("arbres").join(format!("{nom}.jsonl"));
            let lecteur = std::io::BufReader::new(
                File::open(&chemin)
                    .map_err(|e| StoreError::Conflit(format!("{} : {e}", chemin.display())))?,
            );
            let mut lot = sled::Batch::default();
            let mut n = 0u64;
            for (i, l) in lecteur.lines().enumerate() {
                let l = l?;
                if l.trim().is_empty() {
                    continue;
                }
                let ou = |e: &dyn std::fmt::Display| {
                    StoreError::Conflit(format!("{} ligne {} : {e}", chemin.display(), i + 1))
                };
                let ligne: Ligne = serde_json::from_str(&l).map_err(|e| ou(&e))?;
                let cle = hex::decode(&ligne.cle).map_err(|e| ou(&e))?;
                let valeur = match (genre, ligne.valeur, ligne.octets) {
                    (Genre::Json(_, depuis), Some(v), _) => depuis(v).map_err(|e| ou(&e))?,
                    (Genre::Octets, _, Some(h)) => hex::decode(&h).map_err(|e| ou(&e))?,
                    _ => return Err(ou(&"ni valeur ni octets attendus")),
                };
                if matches!(nom, "comptes" | "signalements") && cle.len() == 8 {
                    ids = ids.max(u64::from_be_bytes(cle[..8].try_into().expect("8 bytes")));
                }
                lot.insert(cle, valeur);
                n += 1;
                if n.is_multiple_of(1000) {
                    let _cut = self.pause_ecritures();
                    arbre.apply_batch(std::mem::take(&mut lot))?;
                }
            }
            let prevu = attendu.arbres.get(nom).copied().unwrap_or(0);
            if n != prevu {
                return Err(StoreError::Conflit(format!(
                    "{} : {n} enregistrements, le manifeste en annonce {prevu}",
                    chemin.display()
                )));
            }
            let _cut = self.pause_ecritures();
            arbre.apply_batch(lot)?;
        }
        for (cle, v) in &attendu.meta {
            let (cle, v) = (hex::decode(cle).map_err(enc)?, hex::decode(v).map_err(enc)?);
            let _cut = self.pause_ecritures();
            a.meta.insert(cle, v)?;
        }
        // Ids (accounts, reports) come from sled's generator: past every loaded one.
        while a.db.generate_id()? < ids {}
        self.file_changee();
        self.flush()?;
        Ok(())
    }

    /// Writes offers as they were: bodies with their own verdict, then the source and the
    /// dates they had (the journal starts again: each is one new entry).
    pub fn ecrire_restaurees(&self, lot: Vec<(Formation, MetaOffre)>) -> Result<(), StoreError> {
        let mut dates = Vec::with_capacity(lot.len());
        let mut par_source: BTreeMap<String, Vec<(Formation, Verdict)>> = BTreeMap::new();
        for (f, m) in lot {
            dates.push((
                f.numero.clone(),
                m.recue_le,
                m.verifiee_le,
                m.modifiee_le,
                m.diffusee_le,
            ));
            par_source.entry(m.source).or_default().push((f, m.verdict));
        }
        for (source, offres) in &par_source {
            self.ecrire(offres, source)?;
        }
        let a = self.a()?;
        let trees = offer_trees(&a, false);
        let _cut = self.pause_ecritures();
        trees
            .as_slice()
            .transaction(|t| {
                let [offres, par_org, par_maj, par_src, _, _, meta, attente, ..] = t.as_slice()
                else {
                    unreachable!("offer_trees gives at least 8 trees")
                };
                let mut cpt: Compteurs = match meta.get(COMPTEURS)? {
                    Some(b) => decode(&b).map_err(abort)?,
                    None => Compteurs::default(),
                };
                for (numero, recue_le, verifiee_le, modifiee_le, diffusee_le) in &dates {
                    let cle = numero.as_bytes();
                    let Some(b) = offres.get(cle)? else { continue };
                    let mut fiche: OfferRecord = decode(&b).map_err(abort)?;
                    unindex(&fiche, numero, par_org, par_maj, par_src)?;
                    if attente.remove(key_maj(fiche.recue_le, numero))?.is_some() {
                        cpt.en_attente -= 1;
                    }
                    fiche.recue_le = *recue_le;
                    fiche.verifiee_le = *verifiee_le;
                    fiche.modifiee_le = *modifiee_le;
                    fiche.diffusee_le = *diffusee_le;
                    if fiche.diffusee_le.is_none()
                        && attente
                            .insert(key_maj(fiche.recue_le, numero), &[])?
                            .is_none()
                    {
                        cpt.en_attente += 1;
                    }
                    index(&fiche, numero, par_org, par_maj, par_src)?;
                    offres.insert(cle, encode(&fiche).map_err(abort)?)?;
                }
                meta.insert(COMPTEURS, encode(&cpt).map_err(abort)?)?;
                Ok(())
            })
            .map_err(tx_err)
    }
}
