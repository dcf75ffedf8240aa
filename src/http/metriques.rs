//! `GET /metrics` (Prometheus text format) and the one log line each request gets.
//!
//! Requests are counted by route *pattern* (`/api/v1/formations/{*numero}`), method and
//! status, never by path, query or client: no offer text typed by a person and no address
//! reaches a label. What the store and the index hold is read at scrape time.

use super::respond::Body;
use super::App;
use hyper::{Response, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A request's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Requete {
    route: Arc<str>,
    methode: &'static str,
    statut: u16,
}

/// A route's label (latency histograms).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    route: Arc<str>,
}

type Histogrammes = Family<Route, Histogram, fn() -> Histogram>;

/// The counters requests and searches add to.
#[derive(Debug)]
pub struct Metriques {
    registre: Registry,
    requetes: Family<Requete, Counter>,
    durees: Histogrammes,
    recherches: Counter,
    recherches_sans_resultat: Counter,
}

impl Default for Metriques {
    fn default() -> Self {
        let mut registre = Registry::with_prefix("sofi");
        let requetes = Family::<Requete, Counter>::default();
        // 0.25 ms to ~8 s, doubling: searches sit in the first buckets, feeds in the last.
        let durees: Histogrammes =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.000_25, 2.0, 16)));
        let recherches = Counter::default();
        let recherches_sans_resultat = Counter::default();
        registre.register(
            "http_requetes",
            "Requêtes HTTP par motif de route, méthode et statut",
            requetes.clone(),
        );
        registre.register(
            "http_duree_secondes",
            "Durée des requêtes HTTP par motif de route (jusqu'à l'en-tête de la réponse)",
            durees.clone(),
        );
        registre.register(
            "recherches",
            "Recherches répondues (API et site)",
            recherches.clone(),
        );
        registre.register(
            "recherches_sans_resultat",
            "Recherches répondues sans aucun résultat",
            recherches_sans_resultat.clone(),
        );
        Metriques {
            registre,
            requetes,
            durees,
            recherches,
            recherches_sans_resultat,
        }
    }
}

impl Metriques {
    /// One answered request.
    pub fn requete(&self, route: &Arc<str>, methode: &hyper::Method, statut: u16, secondes: f64) {
        // The standard methods only: a client can send any token as a method, and each
        // would otherwise become a series of its own.
        let methode = match *methode {
            hyper::Method::GET => "GET",
            hyper::Method::HEAD => "HEAD",
            hyper::Method::POST => "POST",
            hyper::Method::PUT => "PUT",
            hyper::Method::DELETE => "DELETE",
            hyper::Method::OPTIONS => "OPTIONS",
            hyper::Method::PATCH => "PATCH",
            _ => "autre",
        };
        self.requetes
            .get_or_create(&Requete {
                route: route.clone(),
                methode,
                statut,
            })
            .inc();
        self.durees
            .get_or_create(&Route {
                route: route.clone(),
            })
            .observe(secondes);
    }

    /// One answered search, and whether it found nothing.
    pub fn recherche(&self, vide: bool) {
        self.recherches.inc();
        if vide {
            self.recherches_sans_resultat.inc();
        }
    }
}

/// `GET /metrics`.
pub(super) fn metrics(app: &App) -> Response<Body> {
    let mut texte = String::with_capacity(16 << 10);
    let r =
        prometheus_client::encoding::prometheus_text::encode(&mut texte, &app.metriques.registre)
            .map_err(|e| e.to_string())
            .and_then(|_| etat(app).map_err(|e| e.to_string()))
            .and_then(|reg| {
                prometheus_client::encoding::prometheus_text::encode(&mut texte, &reg)
                    .map_err(|e| e.to_string())
            });
    match r {
        Ok(()) => {
            let mut r = Response::new(super::respond::full(texte));
            let h = r.headers_mut();
            h.insert(
                "content-type",
                hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            h.insert(
                "cache-control",
                hyper::header::HeaderValue::from_static("no-store"),
            );
            r
        }
        Err(e) => super::respond::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "metriques-indisponibles",
            &e,
            None,
        ),
    }
}

/// What the store, the index and the process say now, as a registry read once.
fn etat(app: &App) -> Result<Registry, crate::store::StoreError> {
    let mut reg = Registry::with_prefix("sofi");
    let c = app.store.compteurs()?;
    let (attente, plus_ancienne) = app.store.en_attente()?;
    let jauge = |reg: &mut Registry, nom: &str, aide: &str, v: i64| {
        let g = Gauge::<i64>::default();
        g.set(v);
        reg.register(nom, aide, g);
    };
    let compte = |reg: &mut Registry, nom: &str, aide: &str, v: u64| {
        let c = Counter::<u64>::default();
        c.inc_by(v);
        reg.register(nom, aide, c);
    };
    let info = Family::<Vec<(String, String)>, Gauge>::default();
    info.get_or_create(&vec![("version".into(), env!("CARGO_PKG_VERSION").into())])
        .set(1);
    reg.register("build_info", "Version de Sofi qui répond", info);
    jauge(
        &mut reg,
        "formations",
        "Formations stockées",
        c.formations as i64,
    );
    jauge(&mut reg, "actions", "Actions stockées", c.actions as i64);
    jauge(&mut reg, "sessions", "Sessions stockées", c.sessions as i64);
    jauge(
        &mut reg,
        "organismes",
        "Organismes connus",
        c.organismes as i64,
    );
    jauge(
        &mut reg,
        "diffusables",
        "Formations diffusées",
        c.diffusables as i64,
    );
    jauge(
        &mut reg,
        "journal_seq",
        "Dernier numéro du journal",
        c.journal_seq as i64,
    );
    jauge(
        &mut reg,
        "non_diffusees",
        "Offres reçues jamais diffusées",
        attente as i64,
    );
    jauge(
        &mut reg,
        "plus_ancienne_non_diffusee_secondes",
        "Âge de la plus ancienne offre jamais diffusée (0 sans attente)",
        plus_ancienne.map_or(0, |t| (crate::store::now_ms() - t).max(0) / 1000),
    );
    if let Some(m) = &app.moteur {
        let indexe = m.indexed_seq();
        let retard = c.journal_seq.saturating_sub(indexe);
        // Seconds: the age of the oldest journal entry the index has not applied.
        let retard_s = if retard == 0 {
            0
        } else {
            app.store
                .entree_journal(indexe + 1)?
                .map_or(0, |e| (crate::store::now_ms() - e.horodatage).max(0) / 1000)
        };
        jauge(
            &mut reg,
            "index_seq",
            "Dernier numéro du journal indexé",
            indexe as i64,
        );
        jauge(
            &mut reg,
            "index_retard_entrees",
            "Entrées du journal que l'index n'a pas encore appliquées",
            retard as i64,
        );
        jauge(
            &mut reg,
            "index_retard_secondes",
            "Âge de la plus ancienne entrée du journal non indexée",
            retard_s,
        );
        jauge(
            &mut reg,
            "index_documents",
            "Documents de l'index",
            m.doc_count() as i64,
        );
    }
    let tailles = Family::<Vec<(String, String)>, Gauge>::default();
    let dir = app.store.dir();
    for (partie, octets) in [
        ("store", taille(&dir.join("store"))),
        ("corps", app.store.corps_octets()),
        ("index", taille(&dir.join("index"))),
    ] {
        tailles
            .get_or_create(&vec![("partie".into(), partie.into())])
            .set(octets as i64);
    }
    reg.register("stockage_octets", "Taille sur disque par partie", tailles);
    jauge(
        &mut reg,
        "corps_octets_morts",
        "Octets du fichier des corps occupés par des versions remplacées",
        c.octets_morts as i64,
    );
    jauge(
        &mut reg,
        "compaction_en_cours",
        "1 pendant une compaction du fichier des corps",
        crate::store::COMPACTION_EN_COURS.load(Ordering::Relaxed) as i64,
    );
    compte(
        &mut reg,
        "compactions",
        "Compactions du fichier des corps terminées par ce processus",
        crate::store::COMPACTIONS.load(Ordering::Relaxed),
    );
    for (nom, aide, quand) in [
        (
            "sauvegarde_derniere_horodatage_secondes",
            "Fin de la dernière sauvegarde de ce processus (0 : aucune)",
            &crate::store::DERNIERE_SAUVEGARDE,
        ),
        (
            "sauvegarde_verifiee_horodatage_secondes",
            "Fin de la dernière sauvegarde vérifiée de ce processus (0 : aucune)",
            &crate::store::DERNIERE_VERIFIEE,
        ),
    ] {
        jauge(&mut reg, nom, aide, quand.load(Ordering::Relaxed) / 1000);
    }
    if let Some(e) = &app.suivi {
        jauge(
            &mut reg,
            "replique_retard_entrees",
            "Entrées du journal du primaire pas encore appliquées par cette réplique",
            e.retard_entrees() as i64,
        );
        jauge(
            &mut reg,
            "replique_retard_secondes",
            "Secondes depuis que la réplique avait tout le primaire (-1 : jamais encore)",
            e.retard_secondes(),
        );
        compte(
            &mut reg,
            "replique_resyncs",
            "Flux complets repris du primaire",
            e.resyncs.load(Ordering::Relaxed),
        );
    }
    let t = &crate::import::TOTAUX;
    for (nom, aide, n) in [
        ("imports", "Imports lancés", &t.imports),
        (
            "imports_echoues",
            "Imports interrompus (XML illisible, stockage)",
            &t.echecs,
        ),
        ("import_offres_lues", "Offres lues par les imports", &t.lues),
        (
            "import_offres_stockees",
            "Offres stockées (créées ou modifiées) par les imports",
            &t.stockees,
        ),
        (
            "import_offres_rejetees",
            "Offres rejetées par les règles à l'import",
            &t.rejetees,
        ),
    ] {
        compte(&mut reg, nom, aide, n.load(Ordering::Relaxed));
    }
    Ok(reg)
}

/// Bytes of the files under `dir` (not following links).
fn taille(dir: &Path) -> u64 {
    let Ok(entrees) = std::fs::read_dir(dir) else {
        return 0;
    };
    entrees
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => taille(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
