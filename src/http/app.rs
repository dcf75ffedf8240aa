//! The application state every route module reaches: the store, the référentiels, the search
//! engine, the admin token, and the caps that keep one client from starving the others.

use crate::referentiel::Referentiels;
use crate::search::Moteur;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;

/// What every request handler can reach.
pub struct App {
    pub store: Store,
    pub refs: Arc<Referentiels>,
    /// Bearer token of the write routes.
    pub admin_token: String,
    /// Largest accepted import body, in bytes.
    pub upload_limit: u64,
    /// The search engine (absent in tools that only need the store).
    pub moteur: Option<Arc<Moteur>>,
    /// Connections, feeds and uploads the server takes at once, and its timeouts.
    pub limits: Limits,
    /// Feeds being written: each holds a blocking thread while its client reads.
    pub feed_slots: Arc<tokio::sync::Semaphore>,
    /// Uploads being imported: each holds a blocking thread while its client sends.
    pub upload_slots: Arc<tokio::sync::Semaphore>,
    /// Sessions of the organisation and staff spaces, and the login throttle.
    pub identity: super::identity::Identity,
    /// Which submitted changes go online without staff.
    /// (Swapped whole when `serve` is sent SIGHUP.)
    pub politique: arc_swap::ArcSwap<crate::politique::Politique>,
    /// Partner keys, quotas and usage of the read routes other sites call.
    pub partenaires: super::partenaires::Partenaires,
    /// Search analytics (daily aggregates).
    pub analytique: super::analytique::Analytique,
    /// The search settings' folder, when the server runs with one (`--index-config`): where
    /// staff add synonyms.
    pub index_config: Option<std::path::PathBuf>,
    /// The address the public reaches the server at (`--public-url`, `https://…` behind a
    /// proxy): canonical links, the sitemap, JSON-LD, the widget snippet and one-time links
    /// use it instead of `http://{Host}`.
    pub url_publique: Option<String>,
    /// On a read replica: the primary's address (writes and the back-office go there) and
    /// where the replica stands.
    pub primaire: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`--proxy-de-confiance`).
    pub proxies: Arc<[std::net::IpAddr]>,
    pub suivi: Option<Arc<crate::suivi::Etat>>,
    /// Request and search counters (`/metrics`).
    pub metriques: Arc<super::metriques::Metriques>,
}

/// What one client can hold, so that slow or stuck ones cannot starve the others: beyond a
/// cap the answer is 503 with `Retry-After`, never a wait.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections; the next ones get a 503 and are closed.
    pub connections: usize,
    /// Feeds (`/lheo/offres.xml`) written at once.
    pub feeds: usize,
    /// Uploads (`POST /api/v1/import`) at once; the next ones wait up to 2 s for a place.
    pub uploads: usize,
    /// Time to send a request's whole head (slowloris).
    pub header_timeout: Duration,
    /// A connection on which no byte moved either way for this long is closed (idle
    /// keep-alive, a client that stopped reading a feed or sending an upload).
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections: 512,
            feeds: 4,
            uploads: 4,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

impl App {
    /// The state every handler reaches; the semaphores follow `limits`.
    pub fn new(
        store: Store,
        refs: Arc<Referentiels>,
        admin_token: String,
        upload_limit: u64,
        moteur: Option<Arc<Moteur>>,
        limits: Limits,
    ) -> App {
        App {
            feed_slots: Arc::new(tokio::sync::Semaphore::new(limits.feeds)),
            upload_slots: Arc::new(tokio::sync::Semaphore::new(limits.uploads)),
            store,
            refs,
            admin_token,
            upload_limit,
            moteur,
            limits,
            identity: Default::default(),
            politique: Default::default(),
            partenaires: super::partenaires::Partenaires::new(Default::default()),
            analytique: super::analytique::Analytique::new(super::analytique::RETENTION_JOURS),
            index_config: None,
            url_publique: None,
            metriques: Default::default(),
            primaire: None,
            suivi: None,
            proxies: Arc::new([]),
        }
    }

    /// The same, believing these proxies' `X-Forwarded-For`.
    pub fn with_proxies(mut self, proxies: Vec<std::net::IpAddr>) -> App {
        self.proxies = proxies.into();
        self
    }

    /// The same, as a read replica of `primaire` when there is one.
    pub fn with_primaire(mut self, primaire: Option<String>) -> App {
        self.suivi = primaire.as_ref().map(|_| Arc::default());
        self.primaire = primaire;
        self
    }

    /// The same, with the public address given (`--public-url`).
    pub fn with_url_publique(mut self, u: Option<String>) -> App {
        self.url_publique = u;
        self
    }

    /// The same, with this auto-acceptance policy.
    pub fn with_politique(mut self, p: crate::politique::Politique) -> App {
        self.politique = arc_swap::ArcSwap::from_pointee(p);
        self
    }

    /// The same, with these anonymous quotas.
    pub fn with_partenaires(mut self, r: super::partenaires::Reglages) -> App {
        self.partenaires = super::partenaires::Partenaires::new(r);
        self
    }

    /// The same, keeping search analytics this many days, and adding synonyms to this
    /// search settings' folder.
    pub fn with_analytique(
        mut self,
        retention_jours: u32,
        index_config: Option<std::path::PathBuf>,
    ) -> App {
        self.analytique = super::analytique::Analytique::new(retention_jours);
        self.index_config = index_config;
        self
    }

    /// The same, with these session settings.
    pub fn with_identity(mut self, identity: super::identity::Identity) -> App {
        self.identity = identity;
        self
    }
}
