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
    pub jeton_admin: String,
    /// Largest accepted import body, in bytes.
    pub limite_import: u64,
    /// The search engine (absent in tools that only need the store).
    pub moteur: Option<Arc<Moteur>>,
    /// Connections, feeds and uploads the server takes at once, and its timeouts.
    pub limites: Limites,
    /// Feeds being written: each holds a blocking thread while its client reads.
    pub flux: Arc<tokio::sync::Semaphore>,
    /// Uploads being imported: each holds a blocking thread while its client sends.
    pub imports: Arc<tokio::sync::Semaphore>,
}

/// What one client can hold, so that slow or stuck ones cannot starve the others: beyond a
/// cap the answer is 503 with `Retry-After`, never a wait.
#[derive(Debug, Clone)]
pub struct Limites {
    /// Open connections; the next ones get a 503 and are closed.
    pub connexions: usize,
    /// Feeds (`/lheo/offres.xml`) written at once.
    pub flux: usize,
    /// Uploads (`POST /api/v1/import`) at once; the next ones wait up to 2 s for a place.
    pub imports: usize,
    /// Time to send a request's whole head (slowloris).
    pub delai_entetes: Duration,
    /// A connection on which no byte moved either way for this long is closed (idle
    /// keep-alive, a client that stopped reading a feed or sending an upload).
    pub delai_inactivite: Duration,
}

impl Default for Limites {
    fn default() -> Self {
        Limites {
            connexions: 512,
            flux: 4,
            imports: 4,
            delai_entetes: Duration::from_secs(10),
            delai_inactivite: Duration::from_secs(60),
        }
    }
}

impl App {
    /// The state every handler reaches; the semaphores follow `limites`.
    pub fn new(
        store: Store,
        refs: Arc<Referentiels>,
        jeton_admin: String,
        limite_import: u64,
        moteur: Option<Arc<Moteur>>,
        limites: Limites,
    ) -> App {
        App {
            flux: Arc::new(tokio::sync::Semaphore::new(limites.flux)),
            imports: Arc::new(tokio::sync::Semaphore::new(limites.imports)),
            store,
            refs,
            jeton_admin,
            limite_import,
            moteur,
            limites,
        }
    }
}
