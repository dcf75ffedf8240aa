//! Online backups: a consistent copy of a store that keeps serving and taking writes.
//!
//! sled 0.34 has no snapshot. A backup copies every tree while writes go on, and listens to
//! every tree meanwhile (sled's subscribers see each insert and removal, transactions
//! included). Then, for a moment, it holds [`Store::pause`]: no transaction over several
//! trees runs, so the events received so far end on a transaction's boundary. The events
//! are replayed on the copy in order, which makes each key what it was at that moment
//! (replaying a change the copy already saw is harmless: the last one wins). The body file
//! is append-only: its committed part at that moment is copied after. During a compaction
//! that was stopped midway, the previous body file is copied too, whole: nothing writes it
//! any more, and the next start of the restored store finishes the compaction.
//!
//! A backup is a directory: `store/` (a closed sled database), `offres-N.corps`, the data
//! directory's marker and `sauvegarde.json` (the manifest, written last: a directory
//! without it is an unfinished backup). The search index is derived and is not copied: it
//! is rebuilt from the restored store (`sofi restore` does it).

use super::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// When the last backup of this process ended, and the last one verified (Unix ms, 0:
/// none): `/metrics` shows them, for an alert on backups that stopped.
pub static DERNIERE_SAUVEGARDE: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
pub static DERNIERE_VERIFIEE: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// The manifest's file name.
pub const MANIFESTE: &str = "sauvegarde.json";

/// Offers whose record is compared between the store and its copy at the cut, and again
/// when a backup is verified.
const ECHANTILLON: usize = 1000;

/// What a backup holds, written last in it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifeste {
    pub version_sofi: String,
    pub format: u32,
    /// When the cut was taken (Unix ms).
    pub horodatage: i64,
    pub compteurs: Compteurs,
    /// The body file's generation and committed length.
    pub corps_generation: u64,
    pub corps_octets: u64,
    /// The previous body file's generation and length, when a compaction stopped midway
    /// left some bodies in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corps_ancien: Option<(u64, u64)>,
    /// Keys per tree.
    pub arbres: BTreeMap<String, u64>,
    /// A sample of offers: numero → xxh3-128 of its stored record.
    pub echantillon: BTreeMap<String, String>,
    /// How long writes waited for the cut (ms), and the whole backup (ms).
    pub pause_ms: u64,
    pub duree_ms: u64,
}

/// The empreinte of a record's bytes, as the manifest writes it.
fn empreinte(octets: &[u8]) -> String {
    format!("{:032x}", twox_hash::XxHash3_128::oneshot(octets))
}

fn nom_arbre(nom: &[u8]) -> String {
    String::from_utf8_lossy(nom).into_owned()
}

/// Refuses a directory that holds something (a backup, a restore, a dump or a load only go
/// into a new one), saying `raison`.
pub fn dossier_neuf(dest: &Path, raison: &str) -> Result<(), StoreError> {
    if dest.exists() && std::fs::read_dir(dest)?.next().is_some() {
        return Err(StoreError::Conflit(format!(
            "{} n'est pas vide : {raison}",
            dest.display()
        )));
    }
    Ok(())
}

/// A directory that may receive a backup or a restore: absent, or empty; created.
fn destination_libre(dest: &Path) -> Result<(), StoreError> {
    dossier_neuf(
        dest,
        "une sauvegarde ou une restauration va dans un dossier neuf",
    )?;
    std::fs::create_dir_all(dest)?;
    Ok(())
}

impl Store {
    /// Copies this store, consistent as of one moment, into `dest` (absent or empty).
    pub fn sauvegarder(&self, dest: &Path) -> Result<Manifeste, StoreError> {
        let t0 = Instant::now();
        destination_libre(dest)?;
        let a = self.a()?;
        // A compaction running waits: its end removes the file this copies.
        let _seule = self.maintenance.lock().unwrap_or_else(|e| e.into_inner());
        // (With the lock held no compaction runs: an `ancien` file is one stopped midway,
        // which no writer appends to.)
        let fichiers = self.corps.load_full();
        let copie = sled::Config::new()
            .path(dest.join("store"))
            .cache_capacity(64 << 20)
            .mode(sled::Mode::HighThroughput)
            .open()?;
        let noms: Vec<sled::IVec> = a.db.tree_names();
        let arbres: Vec<sled::Tree> = noms
            .iter()
            .map(|n| a.db.open_tree(n))
            .collect::<Result<_, _>>()?;
        // Listening before copying: whatever changes during the copy is replayed after.
        let abonnes: Vec<sled::Subscriber> =
            arbres.iter().map(|t| t.watch_prefix(vec![])).collect();
        let fin = Arc::new(AtomicBool::new(false));
        let ecoute = {
            let fin = fin.clone();
            std::thread::spawn(move || ecouter(abonnes, &fin))
        };
        let copies: Vec<sled::Tree> = noms
            .iter()
            .map(|n| copie.open_tree(n))
            .collect::<Result<_, _>>()?;
        // Two threads take the trees, the large ones first (most of the time goes to
        // inserting into the copy; counting a tree would cost a pass over it).
        const GRANDS: [&str; 6] = [
            "offres",
            "journal",
            "par_maj",
            "par_source",
            "par_organisme",
            "audit_objet",
        ];
        let mut ordre: Vec<usize> = (0..arbres.len()).collect();
        ordre.sort_by_key(|&i| {
            let nom = nom_arbre(&noms[i]);
            GRANDS
                .iter()
                .position(|g| *g == nom)
                .unwrap_or(GRANDS.len())
        });
        let suivant = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            let travail = || -> Result<(), StoreError> {
                loop {
                    let k = suivant.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = ordre.get(k) else {
                        return Ok(());
                    };
                    copier_arbre(&arbres[i], &copies[i])?;
                }
            };
            let autre = s.spawn(travail);
            let r = travail();
            autre
                .join()
                .map_err(|_| StoreError::Conflit("sauvegarde : copie interrompue".into()))?
                .and(r)
        })?;
        // Which offers to compare: chosen on the copy, read from the store at the cut.
        let offres_copie = copie.open_tree("offres")?;
        let choix = echantillon(&offres_copie, None)?;
        // The cut: no transaction over several trees runs while the events are collected.
        let t_pause = Instant::now();
        let (evenements, corps_fin, echantillon_vivant) = {
            let _cut = self.pause.write().unwrap_or_else(|e| e.into_inner());
            fin.store(true, Ordering::Release);
            let evenements = ecoute
                .join()
                .map_err(|_| StoreError::Conflit("sauvegarde : écoute interrompue".into()))?;
            let corps_fin = a
                .meta
                .get(CLE_CORPS_FIN)?
                .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
                .unwrap_or(0);
            (evenements, corps_fin, echantillon(&a.offres, Some(&choix))?)
        };
        let pause_ms = t_pause.elapsed().as_millis() as u64;
        for (i, e) in evenements {
            match e {
                sled::Event::Insert { key, value } => {
                    copies[i].insert(key, value)?;
                }
                sled::Event::Remove { key } => {
                    copies[i].remove(key)?;
                }
            }
        }
        copie.flush()?;
        let echantillon_copie = echantillon(&offres_copie, Some(&choix))?;
        if echantillon_copie != echantillon_vivant {
            return Err(StoreError::Conflit(
                "sauvegarde : la copie diffère du stockage au moment de la coupure".into(),
            ));
        }
        let meta = copie.open_tree("meta")?;
        let compteurs: Compteurs = match meta.get(COMPTEURS)? {
            Some(b) => decode(&b)?,
            None => Compteurs::default(),
        };
        let mut par_arbre = BTreeMap::new();
        for (n, t) in noms.iter().zip(&copies) {
            par_arbre.insert(nom_arbre(n), t.len() as u64);
        }
        drop((copies, offres_copie, meta));
        drop(copie);
        // The committed part of the body file (it only grows; bytes below the cut never
        // change).
        copier_debut(&fichiers.fichier, corps_fin, &body_path(dest, fichiers.gen))?;
        let corps_ancien = match &fichiers.ancien {
            Some((gen, f)) => {
                let octets = f.metadata()?.len();
                copier_debut(f, octets, &body_path(dest, *gen))?;
                Some((*gen, octets))
            }
            None => None,
        };
        std::fs::write(dest.join(MARQUEUR), MARQUEUR_TEXTE)?;
        let m = Manifeste {
            version_sofi: env!("CARGO_PKG_VERSION").to_string(),
            format: FORMAT,
            horodatage: now_ms(),
            compteurs,
            corps_generation: fichiers.gen,
            corps_octets: corps_fin,
            corps_ancien,
            arbres: par_arbre,
            echantillon: echantillon_vivant,
            pause_ms,
            duree_ms: t0.elapsed().as_millis() as u64,
        };
        ecrire_manifeste(dest, MANIFESTE, &m)?;
        DERNIERE_SAUVEGARDE.store(now_ms(), Ordering::Relaxed);
        Ok(m)
    }

    /// Restores the backup in `src` into a temporary directory beside it and compares it
    /// with its manifest, reading every body back; returns what is wrong (empty: good).
    pub fn verifier_sauvegarde(src: &Path) -> Result<(Manifeste, Vec<String>), StoreError> {
        let m = lire_manifeste(src)?;
        let nom = src
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let essai = src.with_file_name(format!(".{nom}.verification-{}", std::process::id()));
        let r = (|| {
            Store::restaurer(src, &essai)?;
            let store = Store::open(&essai)?;
            let mut problemes = store.comparer_au_manifeste(&m)?;
            problemes.extend(store.verifier()?.1);
            problemes.extend(store.verify_backoffice()?.problemes);
            Ok::<_, StoreError>(problemes)
        })();
        let _ = std::fs::remove_dir_all(&essai);
        let problemes = r?;
        if problemes.is_empty() {
            DERNIERE_VERIFIEE.store(now_ms(), Ordering::Relaxed);
        }
        Ok((m, problemes))
    }

    /// Restores the backup in `src` into `dest` (absent or empty). The index is not part of
    /// it: the caller rebuilds it.
    pub fn restaurer(src: &Path, dest: &Path) -> Result<Manifeste, StoreError> {
        let m = lire_manifeste(src)?;
        if m.format != FORMAT {
            return Err(StoreError::Format(src.to_path_buf(), m.format));
        }
        destination_libre(dest)?;
        copier_dossier(&src.join("store"), &dest.join("store"))?;
        let corps = body_path(src, m.corps_generation);
        std::fs::copy(&corps, body_path(dest, m.corps_generation))?;
        if let Some((gen, _)) = m.corps_ancien {
            std::fs::copy(body_path(src, gen), body_path(dest, gen))?;
        }
        std::fs::write(dest.join(MARQUEUR), MARQUEUR_TEXTE)?;
        Ok(m)
    }

    /// Checks a restored store against its manifest: counters, keys per tree, the sample of
    /// offers. Returns what differs, in words (empty: the same).
    pub fn comparer_au_manifeste(&self, m: &Manifeste) -> Result<Vec<String>, StoreError> {
        let a = self.a()?;
        let mut ecarts = Vec::new();
        let c = self.compteurs()?;
        if c != m.compteurs {
            ecarts.push(format!("compteurs : {c:?} au lieu de {:?}", m.compteurs));
        }
        for (nom, attendu) in &m.arbres {
            let n = a.db.open_tree(nom)?.len() as u64;
            if n != *attendu {
                ecarts.push(format!("arbre {nom} : {n} clés au lieu de {attendu}"));
            }
        }
        let vu = echantillon(&a.offres, Some(&m.echantillon))?;
        for (numero, e) in &m.echantillon {
            match vu.get(numero) {
                None => ecarts.push(format!("offre {numero} absente")),
                Some(v) if v != e => ecarts.push(format!("offre {numero} différente")),
                _ => {}
            }
        }
        if self.body_file_len() != m.corps_octets {
            ecarts.push(format!(
                "fichier des corps : {} octets au lieu de {}",
                self.body_file_len(),
                m.corps_octets
            ));
        }
        let ancien = self
            .corps
            .load()
            .ancien
            .as_ref()
            .map(|(gen, f)| f.metadata().map(|md| (*gen, md.len())))
            .transpose()?;
        if ancien != m.corps_ancien {
            ecarts.push(format!(
                "fichier des corps précédent (compaction à finir) : {ancien:?} au lieu de {:?}",
                m.corps_ancien
            ));
        }
        Ok(ecarts)
    }
}

/// Copies the first `octets` bytes of `source` into a new file at `cible`, synced.
fn copier_debut(source: &File, octets: u64, cible: &Path) -> Result<(), StoreError> {
    let mut sortie = std::io::BufWriter::with_capacity(1 << 20, File::create(cible)?);
    let mut tampon = vec![0u8; 1 << 20];
    let mut pos = 0u64;
    while pos < octets {
        let n = (octets - pos).min(tampon.len() as u64) as usize;
        source.read_exact_at(&mut tampon[..n], pos)?;
        std::io::Write::write_all(&mut sortie, &tampon[..n])?;
        pos += n as u64;
    }
    let f = sortie.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    Ok(())
}

/// The scheduled backups in `dossier` (`sofi-AAAAMMJJTHHMMSSZ`, finished ones only), oldest
/// first.
pub fn sauvegardes_planifiees(dossier: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dossier)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with("sofi-") && e.path().join(MANIFESTE).exists()
        })
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

impl Store {
    /// One scheduled backup: taken into `dossier` and verified under a temporary name
    /// (removed if it is not good), then the oldest removed so that, with it, the `garder`
    /// most recent are kept. Returns the new backup's path.
    pub fn sauvegarde_planifiee(
        &self,
        dossier: &Path,
        garder: usize,
    ) -> Result<PathBuf, StoreError> {
        std::fs::create_dir_all(dossier)?;
        let nom = format!("sofi-{}", jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ"));
        let dest = dossier.join(&nom);
        // Written and verified under a temporary name: a backup cut short, or not good, is
        // never taken for one, and never more than `garder` are there.
        let partielle = dossier.join(format!(".{nom}.partielle"));
        let _ = std::fs::remove_dir_all(&partielle);
        let r = self
            .sauvegarder(&partielle)
            .and_then(|_| Store::verifier_sauvegarde(&partielle));
        match r {
            Ok((_, p)) if p.is_empty() => {}
            Ok((_, p)) => {
                let _ = std::fs::remove_dir_all(&partielle);
                return Err(StoreError::Conflit(format!(
                    "sauvegarde {nom} non vérifiée, supprimée : {}",
                    p.join(" ; ")
                )));
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&partielle);
                return Err(e);
            }
        }
        let toutes = sauvegardes_planifiees(dossier);
        let garder = garder.max(1) - 1;
        for vieille in toutes.iter().take(toutes.len().saturating_sub(garder)) {
            std::fs::remove_dir_all(vieille)?;
        }
        std::fs::rename(&partielle, &dest)?;
        File::open(dossier)?.sync_all()?;
        Ok(dest)
    }
}

/// Copies every key of `source` into `cible`, in batches.
fn copier_arbre(source: &sled::Tree, cible: &sled::Tree) -> Result<(), StoreError> {
    let mut lot = sled::Batch::default();
    let mut n = 0;
    for kv in source.iter() {
        let (k, v) = kv?;
        lot.insert(k, v);
        n += 1;
        if n % 10_000 == 0 {
            cible.apply_batch(std::mem::take(&mut lot))?;
        }
    }
    cible.apply_batch(lot)?;
    Ok(())
}

/// Collects every event of every tree until told to stop, then the ones already sent.
///
/// Polled as futures with a waker that does nothing: `Subscriber::next_timeout` keeps
/// waiting forever on a change sled dropped (a write that changed nothing), and would then
/// miss every later event of its tree.
fn ecouter(mut abonnes: Vec<sled::Subscriber>, fin: &AtomicBool) -> Vec<(usize, sled::Event)> {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let mut cx = Context::from_waker(Waker::noop());
    let mut v = Vec::new();
    let mut coupure: Option<std::time::Instant> = None;
    loop {
        // Read before draining: once it is seen set, every transaction over several trees
        // has ended, and their events were sent before they returned; no other write to
        // their trees is in flight (they take the pause too), so none of their events waits
        // behind an unfinished one. Writes to the other trees (sessions, analytics, usage)
        // go on during the cut, and either side of it is consistent for them: the last
        // passes go on for a millisecond after one finds nothing, and never past 20 ms.
        if coupure.is_none() && fin.load(Ordering::Acquire) {
            coupure = Some(std::time::Instant::now());
        }
        let mut rien = true;
        for (i, s) in abonnes.iter_mut().enumerate() {
            while let Poll::Ready(Some(e)) = std::pin::Pin::new(&mut *s).poll(&mut cx) {
                v.push((i, e));
                rien = false;
            }
        }
        match coupure.map(|t| t.elapsed()) {
            Some(d) if d >= Duration::from_millis(20) => return v,
            Some(d) if rien && d >= Duration::from_millis(1) => return v,
            Some(_) => std::thread::yield_now(),
            None if rien => std::thread::sleep(Duration::from_millis(1)),
            None => {}
        }
    }
}

/// The records of the sample's offers (`numeros`), or of up to [`ECHANTILLON`] offers
/// spread over the tree when none are given.
fn echantillon(
    offres: &sled::Tree,
    numeros: Option<&BTreeMap<String, String>>,
) -> Result<BTreeMap<String, String>, StoreError> {
    let mut v = BTreeMap::new();
    match numeros {
        Some(n) => {
            for numero in n.keys() {
                if let Some(b) = offres.get(numero.as_bytes())? {
                    v.insert(numero.clone(), empreinte(&b));
                }
            }
        }
        None => {
            let pas = (offres.len() / ECHANTILLON).max(1);
            for (i, kv) in offres.iter().enumerate() {
                if i % pas == 0 {
                    let (k, b) = kv?;
                    v.insert(nom_arbre(&k), empreinte(&b));
                }
            }
        }
    }
    Ok(v)
}

/// Reads a backup's manifest (absent: not a finished backup).
pub fn lire_manifeste(src: &Path) -> Result<Manifeste, StoreError> {
    let chemin = src.join(MANIFESTE);
    let texte = std::fs::read_to_string(&chemin).map_err(|e| {
        StoreError::Conflit(format!(
            "{} : pas une sauvegarde terminée de Sofi ({e})",
            src.display()
        ))
    })?;
    serde_json::from_str(&texte)
        .map_err(|e| StoreError::Conflit(format!("{} illisible : {e}", chemin.display())))
}

/// Writes a manifest (`dir/nom`, JSON) whole or not at all, and on disk: the last file of a
/// backup or a dump, whose presence says the rest is complete.
pub fn ecrire_manifeste<T: Serialize>(dir: &Path, nom: &str, m: &T) -> Result<(), StoreError> {
    let texte = serde_json::to_string_pretty(m).map_err(|e| StoreError::Encodage(e.to_string()))?;
    let tmp = dir.join(format!("{nom}.tmp"));
    std::fs::write(&tmp, texte)?;
    File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, dir.join(nom))?;
    File::open(dir)?.sync_all()?;
    Ok(())
}

pub(super) fn copier_dossier(src: &Path, dest: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dest)?;
    for e in std::fs::read_dir(src)? {
        let e = e?;
        let cible = dest.join(e.file_name());
        if e.file_type()?.is_dir() {
            copier_dossier(&e.path(), &cible)?;
        } else {
            std::fs::copy(e.path(), &cible)?;
        }
    }
    Ok(())
}
