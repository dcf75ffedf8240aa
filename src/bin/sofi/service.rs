//! `sofi serve`: the HTTP service and the threads beside it (inbox or follower, indexer,
//! re-judging, partner usage, scheduled backups, automatic compaction, SIGHUP reload).

use anyhow::{bail, Context, Result};
use sofi::generate::{Generateur, Parametres};
use sofi::http::Limits;
use sofi::import::{importer, Options};
use sofi::lheo;
use sofi::referentiel::Referentiels;
use sofi::store::Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::donnees::{bilan_rejugement, rejuger_si_besoin};
use super::{Cli, Reglages, ServeArgs};

/// The settings checked and put together, then [`serve`].
pub(super) fn lancer(cli: &Cli, args: ServeArgs) -> Result<i32> {
    let ServeArgs {
        listen,
        demo,
        limite_import,
        connexions_max,
        flux_max,
        imports_max,
        delai_entetes,
        delai_inactivite,
        admin_token,
        test_thresholds,
        cookie_non_securise,
        session_inactivite,
        session_duree,
        politique,
        anonyme_par_minute,
        anonyme_par_jour,
        flux_avec_cle,
        retention_jours,
        public_url,
        sauvegarde_dossier,
        sauvegarde_intervalle,
        sauvegarde_garder,
        compaction_seuil,
        compaction_min_mo,
        suivre,
        suivre_cle,
        suivre_resync,
        proxy_de_confiance,
    } = args;
    if let Some(t) = test_thresholds {
        sofi::search::set_thresholds(t);
    }
    // Every connection is a descriptor: take what the hard limit allows, and keep
    // room for the store, the index and the inbox.
    let fichiers = sofi::http::raise_open_files_limit();
    let connexions = connexions_max.min(fichiers.saturating_sub(128).max(16) as usize);
    if connexions < connexions_max {
        tracing::warn!(
            "{connexions} connexions au plus : la limite de fichiers ouverts est {fichiers}"
        );
    }
    let limits = Limits {
        connections: connexions,
        feeds: flux_max.max(1),
        uploads: imports_max.max(1),
        header_timeout: std::time::Duration::from_secs(delai_entetes.max(1)),
        idle_timeout: std::time::Duration::from_secs(delai_inactivite.max(1)),
    };
    refuser_hors_boucle(&listen, admin_token.as_deref(), cookie_non_securise)?;
    let token = sofi::http::admin_token(&cli.data_dir, admin_token)?;
    let reglages = cli.reglages();
    let chemin_politique = politique;
    let politique = match &chemin_politique {
        Some(p) => sofi::politique::Politique::charger(p).map_err(anyhow::Error::msg)?,
        None => Default::default(),
    };
    let identity = sofi::http::identity::Identity::new(
        !cookie_non_securise,
        std::time::Duration::from_secs(session_inactivite.max(1) * 60),
        std::time::Duration::from_secs(session_duree.max(1) * 3600),
    );
    serve(
        &cli.data_dir,
        reglages,
        &listen,
        demo,
        Service {
            limite_import,
            limits,
            token,
            identity,
            politique,
            chemin_politique,
            partenaires: sofi::http::partenaires::Reglages {
                anonyme_par_minute: anonyme_par_minute.max(1),
                anonyme_par_jour: anonyme_par_jour.max(1),
                flux_anonymes: !flux_avec_cle,
            },
            retention_jours: retention_jours.max(1),
            url_publique: public_url,
            suivre: suivre.map(|p| (p, suivre_cle, suivre_resync.max(1))),
            proxies: proxy_de_confiance,
            sauvegardes: sauvegarde_dossier.map(|d| {
                (
                    std::path::absolute(&d).unwrap_or(d),
                    sauvegarde_intervalle,
                    sauvegarde_garder,
                )
            }),
            compaction: (compaction_seuil, compaction_min_mo << 20),
        },
    )
}

/// A server reachable from other machines refuses development settings: the insecure
/// cookie, and an admin token a person could guess.
fn refuser_hors_boucle(listen: &str, token: Option<&str>, cookie_non_securise: bool) -> Result<()> {
    let addr = sofi::http::parse_listen_address(listen).map_err(anyhow::Error::msg)?;
    if addr.ip().is_loopback() {
        return Ok(());
    }
    if cookie_non_securise {
        bail!(
            "--cookie-non-securise (SOFI_COOKIE_NON_SECURISE) sert au développement sur 127.0.0.1 : \
             refusé pour une écoute sur {addr} (mettez Sofi derrière HTTPS)"
        );
    }
    if let Some(t) = token.map(str::trim).filter(|t| !t.is_empty()) {
        let distincts = t.chars().collect::<std::collections::BTreeSet<_>>().len();
        if t.chars().count() < 24 || distincts < 10 {
            bail!(
                "le jeton d'administration donné (--admin-token, SOFI_ADMIN_TOKEN) est trop faible \
                 pour une écoute sur {addr} : 24 caractères au moins, variés (par exemple \
                 `openssl rand -hex 32`), ou aucun pour celui que Sofi crée dans DATA_DIR/admin-token"
            );
        }
    }
    Ok(())
}

/// What the HTTP service is given: its limits, the admin token, the session settings.
struct Service {
    limite_import: u64,
    limits: Limits,
    token: String,
    identity: sofi::http::identity::Identity,
    politique: sofi::politique::Politique,
    /// Its file, read again on SIGHUP.
    chemin_politique: Option<PathBuf>,
    partenaires: sofi::http::partenaires::Reglages,
    retention_jours: u32,
    url_publique: Option<String>,
    /// Scheduled backups: directory, interval, how many kept.
    sauvegardes: Option<(PathBuf, std::time::Duration, usize)>,
    /// Automatic compaction: share of dead bytes (percent, 0: never) and their minimum.
    compaction: (u64, u64),
    /// The primary this server is a read replica of, and the key it shows.
    suivre: Option<(String, Option<String>, u64)>,
    /// Trusted reverse proxies.
    proxies: Vec<std::net::IpAddr>,
}

/// Opens the store and the index, starts the threads beside the HTTP service, serves until
/// SIGTERM or Ctrl-C, then stops the threads and flushes the store.
fn serve(
    data_dir: &Path,
    (ref_dir, index_config): Reglages,
    listen: &str,
    demo: bool,
    Service {
        limite_import,
        limits,
        token,
        identity,
        politique,
        chemin_politique,
        partenaires,
        retention_jours,
        url_publique,
        sauvegardes,
        compaction,
        suivre,
        proxies,
    }: Service,
) -> Result<i32> {
    let addr = sofi::http::parse_listen_address(listen).map_err(anyhow::Error::msg)?;
    let t0 = Instant::now();
    let refs = Arc::new(Referentiels::charger_depuis(ref_dir)?);
    tracing::info!("référentiels chargés en {} ms", t0.elapsed().as_millis());
    let store = Store::open(data_dir)?;
    store.noter_empreinte_si_vide(&sofi::rules::empreinte(&refs))?;
    if demo && store.compteurs()?.formations == 0 {
        charger_demo(&store, &refs)?;
    }
    // Where staff add synonyms: the settings' folder in use, if there is one.
    let dossier_config = index_config
        .clone()
        .or_else(|| Some(PathBuf::from("index-config")))
        .filter(|d| d.is_dir());
    let config = Arc::new(sofi::search::Config::charger(index_config.clone())?);
    let (moteur, recree) =
        sofi::search::Moteur::ouvrir(&data_dir.join("index"), config, refs.clone())?;
    let moteur = Arc::new(moteur);
    // Query understanding's tables, built before serving: not on the first search, and
    // not in the background while the server already answers (an overloaded server must
    // not be found busy with them).
    moteur.lexique();
    // The index is derived: rebuilt when missing, of another layout, or ahead of the store
    // (a restored store), in the background while the server already answers (searches
    // say it is rebuilding); otherwise brought up to date from the journal.
    let seq_store = store.compteurs()?.journal_seq;
    let a_reconstruire = recree || moteur.indexed_seq() > seq_store;
    if a_reconstruire {
        moteur.annoncer_reconstruction();
    } else {
        let n = moteur.catch_up(&store)?;
        tracing::info!("index à jour ({n} offres rattrapées)");
    }
    // Feeds and uploads hold blocking threads while their clients read or send: they get
    // their own, beyond the eight that searches and pages share.
    let fils_bloquants = 8 + limits.feeds + limits.uploads;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let app = Arc::new(
        sofi::http::App::new(
            store.clone(),
            refs.clone(),
            token,
            limite_import,
            Some(moteur.clone()),
            limits,
        )
        .with_identity(identity)
        .with_politique(politique)
        .with_partenaires(partenaires)
        .with_analytique(retention_jours, dossier_config)
        .with_url_publique(url_publique)
        .with_primaire(suivre.as_ref().map(|(p, _, _)| p.clone()))
        .with_proxies(proxies),
    );
    if let Some(p) = &app.primaire {
        tracing::info!("réplique en lecture de {p}");
    }
    app.partenaires.recharger(&store)?;
    // Partner usage is counted in memory and added to the daily aggregates every few
    // seconds (and once more at the end).
    let usage = {
        let (stop, app) = (stop.clone(), app.clone());
        std::thread::spawn(move || loop {
            let continuer = attendre(&stop, 50);
            if let Err(e) = app.partenaires.vider(&app.store) {
                tracing::warn!("usage des partenaires non enregistré : {e}");
            }
            if let Err(e) = app.analytique.vider(&app.store) {
                tracing::warn!("statistiques de recherche non enregistrées : {e}");
            }
            if !continuer {
                break;
            }
        })
    };
    // A replica's offer comes from its primary only: no inbox, the follower instead.
    let inbox = match (&suivre, &app.suivi) {
        (Some((primaire, cle, resync)), Some(etat)) => {
            let suiveur = sofi::suivi::Suiveur {
                primaire: primaire.clone(),
                cle: cle.clone(),
                store: store.clone(),
                refs,
                data_dir: data_dir.to_path_buf(),
                etat: etat.clone(),
                resync: *resync,
            };
            let stop = stop.clone();
            std::thread::spawn(move || suiveur.run(&stop))
        }
        _ => {
            let inbox = sofi::inbox::Inbox::new(data_dir, store.clone(), refs)?;
            tracing::info!("boîte de dépôt : {}", inbox.dir.display());
            let stop = stop.clone();
            std::thread::spawn(move || inbox.run(stop))
        }
    };
    // Near-real-time: the indexer follows the journal; a stored change is searchable within
    // one interval plus a commit.
    let indexeur = {
        let stop = stop.clone();
        let store = store.clone();
        std::thread::spawn(move || {
            if a_reconstruire {
                tracing::info!(
                    "index en reconstruction : les recherches répondent 503 jusqu'à la fin"
                );
                let t = Instant::now();
                match moteur.reconstruire_en_fond(&store) {
                    Ok(n) => tracing::info!(
                        "index reconstruit : {n} sessions en {} ms",
                        t.elapsed().as_millis()
                    ),
                    Err(e) => tracing::error!("index non reconstruit : {e}"),
                }
            }
            // On failure (a full disk) it backs off, up to 5 s, and says so once per 10 s.
            let mut pause = std::time::Duration::from_millis(100);
            let mut dernier_log: Option<Instant> = None;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match moteur.catch_up(&store) {
                    Ok(_) => pause = std::time::Duration::from_millis(100),
                    Err(e) => {
                        if dernier_log.is_none_or(|t| t.elapsed().as_secs() >= 10) {
                            tracing::warn!("indexation : {e}");
                            dernier_log = Some(Instant::now());
                        }
                        pause = (pause * 2).min(std::time::Duration::from_secs(5));
                    }
                }
                // Slept in small steps so that a stop is seen quickly.
                let t = Instant::now();
                while t.elapsed() < pause && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(100).min(pause));
                }
            }
        })
    };
    // Automatic decisions taken again if the rules or the référentiels changed, while the
    // server already answers with the previous ones (the indexer follows the rewrites).
    let rejugement = {
        let (store, refs) = (store.clone(), app.refs.clone());
        std::thread::spawn(move || match rejuger_si_besoin(&store, &refs, false) {
            Ok(Some((b, s))) => tracing::info!("{}", bilan_rejugement(&b, s)),
            Ok(None) => {}
            Err(e) => tracing::warn!("décisions automatiques non recalculées : {e:#}"),
        })
    };
    let sauvegardes = sauvegardes.map(|(dossier, intervalle, garder)| {
        let (stop, store) = (stop.clone(), store.clone());
        tracing::info!(
            "sauvegardes dans {} toutes les {} min, {garder} gardées",
            dossier.display(),
            intervalle.as_secs() / 60
        );
        std::thread::spawn(move || {
            sauvegarder_regulierement(&store, &dossier, intervalle, garder, &stop)
        })
    });
    let compacteur = {
        let (stop, store) = (stop.clone(), store.clone());
        std::thread::spawn(move || compacter_au_besoin(&store, compaction, &stop))
    };
    // Searches, imports and feeds run on blocking threads; a few suffice on a small box, and
    // each idle one keeps allocator memory.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(fils_bloquants)
        .build()?;
    let app_rechargement = app.clone();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("écoute sur {addr}"))?;
        tracing::info!("sofi écoute sur http://{}", listener.local_addr()?);
        tokio::spawn(recharger_sur_sighup(
            app_rechargement,
            index_config,
            chemin_politique,
        ));
        sofi::http::serve(listener, app, sofi::http::shutdown_signal()).await?;
        anyhow::Ok(())
    })?;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = inbox.join();
    let _ = indexeur.join();
    let _ = rejugement.join();
    let _ = usage.join();
    if let Some(s) = sauvegardes {
        let _ = s.join();
    }
    let _ = compacteur.join();
    tracing::info!("arrêt propre");
    store.flush()?;
    Ok(0)
}

/// The automatic compaction: looks every 10 s whether the dead bytes reached the threshold
/// (or an interrupted compaction is to finish), and compacts while the server goes on. A
/// shutdown stops it between two chunks; the next start goes on.
fn compacter_au_besoin(
    store: &Store,
    (seuil, min): (u64, u64),
    stop: &std::sync::atomic::AtomicBool,
) {
    let mut echec: Option<Instant> = None;
    while attendre(stop, 100) {
        // After a failure (a damaged body, a full disk), one try an hour.
        if echec.is_some_and(|t| t.elapsed().as_secs() < 3600) {
            continue;
        }
        match store.compaction_utile(seuil, min) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(target: "sofi::compaction", "{e}");
                continue;
            }
        }
        match store.compacter(None, stop) {
            Ok(b) if !b.finie => {
                tracing::info!(target: "sofi::compaction", "compaction arrêtée, reprise au prochain démarrage");
            }
            Ok(b) => {
                echec = None;
                tracing::info!(
                    target: "sofi::compaction",
                    avant = b.avant,
                    apres = b.apres,
                    copies = b.copies,
                    attente_max_ms = b.attente_max_ms,
                    ms = b.duree_ms,
                    "corps des offres compactés"
                );
                // The removed file stays open a moment for readers that took a fiche just
                // before the end; then its space is freed.
                attendre(stop, 50);
                store.liberer_corps_retire();
            }
            Err(e) => {
                echec = Some(Instant::now());
                tracing::error!(target: "sofi::compaction", "compaction : {e}");
            }
        }
    }
}

/// The scheduled backups: one when the most recent in `dossier` is older than `intervalle`
/// (so that a restart neither skips one nor takes one at once).
fn sauvegarder_regulierement(
    store: &Store,
    dossier: &Path,
    intervalle: std::time::Duration,
    garder: usize,
    stop: &std::sync::atomic::AtomicBool,
) {
    let mut echec: Option<Instant> = None;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let derniere = sofi::store::sauvegardes_planifiees(dossier)
            .last()
            .and_then(|d| sofi::store::lire_manifeste(d).ok())
            .map_or(0, |m| m.horodatage);
        let age =
            std::time::Duration::from_millis((sofi::store::now_ms() - derniere).max(0) as u64);
        // After a failure, the next try waits a tenth of the interval (at least a minute).
        let reessai = echec.is_none_or(|t| {
            t.elapsed() >= (intervalle / 10).max(std::time::Duration::from_secs(60))
        });
        if age >= intervalle && reessai {
            let t = Instant::now();
            match store.sauvegarde_planifiee(dossier, garder) {
                Ok(d) => {
                    echec = None;
                    tracing::info!(
                        target: "sofi::sauvegarde",
                        ms = t.elapsed().as_millis() as u64,
                        "sauvegarde vérifiée : {}",
                        d.display()
                    )
                }
                Err(e) => {
                    echec = Some(Instant::now());
                    tracing::error!(target: "sofi::sauvegarde", "sauvegarde planifiée : {e}")
                }
            }
        }
        if !attendre(stop, 10) {
            return;
        }
    }
}

/// Sleeps `dixiemes` tenths of a second, in steps so that a stop is seen quickly; `false`
/// when it was.
fn attendre(stop: &std::sync::atomic::AtomicBool, dixiemes: u32) -> bool {
    for _ in 0..dixiemes {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    true
}

/// `kill -HUP`: the search settings (`index-config/`) and the acceptance policy are read
/// again and take effect at the next request, without a connection dropped. A file that
/// does not read keeps the settings in force, and says why.
async fn recharger_sur_sighup(
    app: Arc<sofi::http::App>,
    index_config: Option<PathBuf>,
    politique: Option<PathBuf>,
) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        match sofi::search::Config::charger(index_config.clone()) {
            Ok(c) => {
                if let Some(m) = &app.moteur {
                    m.recharger_config(c);
                }
                tracing::info!("SIGHUP : réglages de recherche relus (les mots vides attendent le prochain démarrage)");
            }
            Err(e) => tracing::warn!("SIGHUP : réglages de recherche gardés, {e}"),
        }
        if let Some(p) = &politique {
            match sofi::politique::Politique::charger(p) {
                Ok(p) => {
                    app.politique.store(Arc::new(p));
                    tracing::info!("SIGHUP : politique d'acceptation relue");
                }
                Err(e) => tracing::warn!("SIGHUP : politique gardée, {e}"),
            }
        }
    }
}

/// Generates the demo offer (about 5,000 sessions dated around today) and imports it.
fn charger_demo(store: &Store, refs: &Referentiels) -> Result<()> {
    let t0 = Instant::now();
    let mut xml = Vec::with_capacity(8 << 20);
    Generateur::new(
        refs,
        Parametres {
            sessions: 5_000,
            seed: 2027,
            date_base: jiff::Zoned::now().date(),
        },
    )
    .ecrire(&mut xml)?;
    let taille = xml.len() as u64;
    let input = lheo::Input::de(std::io::Cursor::new(xml), Some(taille));
    let opts = Options {
        store: Some(store),
        source: "demo".into(),
        remplacer: true,
        depot: None,
    };
    let r = importer(input, refs, &opts, &|_| {})?;
    if let Some(e) = r.erreur_fatale {
        bail!("offre de démonstration illisible : {e}");
    }
    store.flush()?;
    tracing::info!(
        "offre de démonstration : {} formations, {} sessions, {} rejetées, en {} ms",
        r.stockees,
        r.sessions_lues,
        r.rejetees,
        t0.elapsed().as_millis()
    );
    Ok(())
}
