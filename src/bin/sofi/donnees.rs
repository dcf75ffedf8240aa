//! The data directory's upkeep: `verify`, `reindex`, `compact`, `rejuger`, `migrate`,
//! `backup`, `restore`, `dump`, `load`.

use anyhow::{bail, Result};
use sofi::referentiel::Referentiels;
use sofi::store::Store;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::{Cli, Reglages};

/// `sofi verify`: reads every offer back (each body against its fingerprint), replays the
/// journal against the stored offers and the counters, checks the index's files.
pub(super) fn verify(data_dir: &Path, json: bool) -> Result<i32> {
    let store = Store::open(data_dir)?;
    let (offres, problemes) = store.verifier()?;
    let c = store.compteurs()?;
    let index = sofi::search::index::verifier_index(&data_dir.join("index"));
    let backoffice = store.verify_backoffice()?;
    let sain = problemes.is_empty() && index.is_empty() && backoffice.sain;
    if json {
        let v = serde_json::json!({
            "offres": offres,
            "offres_endommagees": store.damaged_offers(),
            "journal_seq": c.journal_seq,
            "stockage": &problemes,
            "index": &index,
            "backoffice": &backoffice,
            "sain": sain,
        });
        println!("{v}");
    } else {
        println!("{offres} offres lues, journal jusqu'à {}", c.journal_seq);
        println!(
            "{} comptes, {} offres en gestion, {} événements d'audit",
            backoffice.comptes, backoffice.dossiers, backoffice.audit
        );
        for p in problemes.iter().chain(&index).chain(&backoffice.problemes) {
            println!("  PROBLÈME : {p}");
        }
        if sain {
            println!("  stockage et index sains");
        }
    }
    Ok(if sain { 0 } else { 1 })
}

/// `sofi reindex`: after an `index-config/` change, which only a new index takes in full.
pub(super) fn reindex(cli: &Cli) -> Result<i32> {
    let t0 = Instant::now();
    let (n, seq) = reindexer(&cli.data_dir, cli.reglages())?;
    eprintln!(
        "{n} sessions indexées en {:.1} s (journal {seq})",
        t0.elapsed().as_secs_f64()
    );
    Ok(0)
}

/// Rebuilds the data directory's search index from its store (`reindex`, `restore`):
/// sessions indexed and the journal sequence reached.
fn reindexer(data_dir: &Path, (ref_dir, index_config): Reglages) -> Result<(u64, u64)> {
    let refs = Arc::new(Referentiels::charger_depuis(ref_dir)?);
    let config = Arc::new(sofi::search::Config::charger(index_config)?);
    let store = Store::open(data_dir)?;
    let (moteur, _) = sofi::search::Moteur::ouvrir(&data_dir.join("index"), config, refs)?;
    let n = moteur.reindex(&store)?;
    Ok((n, moteur.indexed_seq()))
}

/// `sofi compact`: the same compaction as the server's, in the foreground.
pub(super) fn compact(data_dir: &Path, arret_apres: Option<u64>) -> Result<i32> {
    let b = Store::open(data_dir)?
        .compacter(arret_apres, &std::sync::atomic::AtomicBool::new(false))?;
    eprintln!(
        "corps des offres : {} → {} octets en {:.1} s ({} corps copiés)",
        b.avant,
        b.apres,
        b.duree_ms as f64 / 1000.0,
        b.copies
    );
    Ok(0)
}

/// `sofi rejuger`: what `serve` does at start when the rules or référentiels changed, on
/// demand (`--force`: even when they did not).
pub(super) fn rejuger(cli: &Cli, force: bool, json: bool) -> Result<i32> {
    let refs = Referentiels::charger_depuis(cli.ref_dir.clone())?;
    let store = Store::open(&cli.data_dir)?;
    match rejuger_si_besoin(&store, &refs, force)? {
        None if json => println!("{}", serde_json::json!({ "rejuge": false })),
        None => eprintln!("règles et référentiels inchangés : rien à juger de nouveau (--force pour le faire quand même)"),
        Some((b, s)) if json => println!(
            "{}",
            serde_json::json!({ "rejuge": true, "bilan": b, "secondes": s })
        ),
        Some((b, s)) => eprintln!("{}", bilan_rejugement(&b, s)),
    }
    store.flush()?;
    Ok(0)
}

/// Judges the stored offers again when the rules or the référentiels differ from the ones
/// they were judged with (or always, with `force`); `None` when nothing was to do.
pub(super) fn rejuger_si_besoin(
    store: &Store,
    refs: &Referentiels,
    force: bool,
) -> Result<Option<(sofi::store::Rejugement, f64)>> {
    let empreinte = sofi::rules::empreinte(refs);
    if !force && store.empreinte_regles()?.as_deref() == Some(empreinte.as_str()) {
        return Ok(None);
    }
    let t0 = Instant::now();
    let b = store.rejuger(&empreinte, &|f, v| sofi::rules::rejuger(f, v, refs))?;
    Ok(Some((b, t0.elapsed().as_secs_f64())))
}

/// What a re-judging did, in one line for the operator or the log.
pub(super) fn bilan_rejugement(b: &sofi::store::Rejugement, secondes: f64) -> String {
    format!(
        "décisions automatiques recalculées en {secondes:.1} s : {} offres ({} sessions) jugées de nouveau, {} modifiées dont {} dont la diffusion change (journalisées et tracées), {} décidées par l'équipe laissées telles quelles, {} illisibles",
        b.offres, b.sessions, b.modifiees, b.diffusion_changee, b.figees, b.illisibles
    )
}

/// `sofi migrate`: a copy of the old store first, then the conversion in place.
pub(super) fn migrate(data_dir: &Path, arret_apres: Option<usize>) -> Result<i32> {
    let t0 = Instant::now();
    match sofi::store::format_du_stockage(data_dir)? {
        Some(f) if f < sofi::store::FORMAT => {
            let copie = sofi::store::copie_avant_migration(data_dir, f)?;
            eprintln!("stockage au format {f} copié dans {}", copie.display());
        }
        _ => {}
    }
    match Store::migrer(data_dir, arret_apres)? {
        None => eprintln!(
            "rien à migrer : le stockage est au format {}",
            sofi::store::FORMAT
        ),
        Some(b) => eprintln!(
            "stockage migré du format {} au format {} : {} offres converties ({} l'étaient déjà), en {:.1} s ; l'index sera reconstruit au démarrage",
            b.depuis,
            b.vers,
            b.offres,
            b.deja_faites,
            t0.elapsed().as_secs_f64()
        ),
    }
    Ok(0)
}

/// `sofi backup`: in this process when the store is free, else through the running server;
/// then, with `--verify`, the check.
pub(super) fn backup(data_dir: &Path, dest: &Path, verify: bool, url: &str) -> Result<i32> {
    let dest = std::path::absolute(dest)?;
    if !(verify && dest.join(sofi::store::MANIFESTE).exists()) {
        let m = match Store::open(data_dir) {
            Ok(store) => store.sauvegarder(&dest)?,
            Err(sofi::store::StoreError::Verrouille(_)) => {
                let token =
                    sofi::http::admin_token(data_dir, std::env::var("SOFI_ADMIN_TOKEN").ok())?;
                let r = ureq::post(&format!(
                    "{}/api/v1/admin/sauvegarde",
                    url.trim_end_matches('/')
                ))
                .set("authorization", &format!("Bearer {token}"))
                .send_json(serde_json::json!({ "destination": dest }));
                match r {
                    Ok(r) => r.into_json::<sofi::store::Manifeste>()?,
                    Err(ureq::Error::Status(code, r)) => {
                        let v: serde_json::Value = r.into_json().unwrap_or_default();
                        bail!(
                            "le serveur ({url}) refuse la sauvegarde ({code}) : {}",
                            v["erreur"]["message"].as_str().unwrap_or("?")
                        )
                    }
                    Err(e) => bail!(
                        "le stockage est tenu par un serveur, mais {url} ne répond pas ({e}) : donnez son adresse par --url"
                    ),
                }
            }
            Err(e) => return Err(e.into()),
        };
        eprintln!(
            "sauvegarde dans {} : {} formations, journal {}, écritures en attente {} ms, en {:.1} s",
            dest.display(),
            m.compteurs.formations,
            m.compteurs.journal_seq,
            m.pause_ms,
            m.duree_ms as f64 / 1000.0
        );
    }
    if !verify {
        return Ok(0);
    }
    let t0 = Instant::now();
    let (m, problemes) = Store::verifier_sauvegarde(&dest)?;
    if problemes.is_empty() {
        eprintln!(
            "sauvegarde vérifiée : restaurée et comparée ({} formations, journal {}, {} offres de l'échantillon, chaque corps relu) en {:.1} s",
            m.compteurs.formations,
            m.compteurs.journal_seq,
            m.echantillon.len(),
            t0.elapsed().as_secs_f64()
        );
        Ok(0)
    } else {
        for p in &problemes {
            eprintln!("  PROBLÈME : {p}");
        }
        eprintln!("sauvegarde NON vérifiée : {} problème(s)", problemes.len());
        Ok(1)
    }
}

/// `sofi restore`: the backup, then its index rebuilt.
pub(super) fn restore(cli: &Cli, src: &Path) -> Result<i32> {
    let t0 = Instant::now();
    let m = Store::restaurer(src, &cli.data_dir)?;
    let (n, _) = reindexer(&cli.data_dir, cli.reglages())?;
    eprintln!(
        "restauré dans {} : {} formations, journal {}, {n} sessions indexées, en {:.1} s",
        cli.data_dir.display(),
        m.compteurs.formations,
        m.compteurs.journal_seq,
        t0.elapsed().as_secs_f64()
    );
    Ok(0)
}

/// `sofi dump`: exit 1 when an offer or a record could not be read; the dump holds the rest
/// and names them, so that nothing is lost silently.
pub(super) fn dump(data_dir: &Path, dest: &Path) -> Result<i32> {
    let t0 = Instant::now();
    let store = Store::open(data_dir)?;
    let m = sofi::vidage::vider(&store, dest)?;
    eprintln!(
        "vidage dans {} : {} offres de {} sources, {} enregistrements du back-office, en {:.1} s",
        dest.display(),
        m.offres,
        m.sources.len(),
        m.arbres.arbres.values().sum::<u64>(),
        t0.elapsed().as_secs_f64()
    );
    // What could not be read is named; the dump holds everything else.
    if !m.endommagees.is_empty() || m.arbres.illisibles > 0 {
        eprintln!(
            "INCOMPLET : {} offre(s) au corps endommagé ({}) et {} enregistrement(s) illisible(s) (dans illisibles.jsonl) ; lancez sofi verify",
            m.endommagees.len(),
            m.endommagees.join(", "),
            m.arbres.illisibles
        );
        return Ok(1);
    }
    Ok(0)
}

/// `sofi load`: the manifest checked first, then loaded and indexed beside the data
/// directory and renamed into place, so that a load that fails leaves nothing half-loaded.
pub(super) fn load(cli: &Cli, src: &Path) -> Result<i32> {
    let t0 = Instant::now();
    sofi::store::dossier_neuf(
        &cli.data_dir,
        "un vidage se charge dans un dossier de données neuf",
    )?;
    // Checked before the data directory is created.
    sofi::vidage::lire_manifeste(src)?;
    // Loaded beside it, then renamed: a load that fails leaves nothing half-loaded.
    let nom = cli
        .data_dir
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    let temp = cli.data_dir.with_file_name(format!(".{nom}.chargement"));
    if temp.exists() {
        std::fs::remove_dir_all(&temp)?;
    }
    let charge = || -> Result<(sofi::vidage::Manifeste, u64)> {
        let m = {
            let store = Store::open(&temp)?;
            sofi::vidage::charger(&store, src)?
        };
        let (n, _) = reindexer(&temp, cli.reglages())?;
        Ok((m, n))
    };
    let (m, n) = match charge() {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&temp);
            return Err(e.context("rien n'a été chargé"));
        }
    };
    if cli.data_dir.exists() {
        std::fs::remove_dir(&cli.data_dir)?;
    }
    std::fs::rename(&temp, &cli.data_dir)?;
    eprintln!(
        "vidage de Sofi {} chargé dans {} : {} offres, {} enregistrements du back-office, {n} sessions indexées, en {:.1} s",
        m.version_sofi,
        cli.data_dir.display(),
        m.offres,
        m.arbres.arbres.values().sum::<u64>(),
        t0.elapsed().as_secs_f64()
    );
    Ok(0)
}
