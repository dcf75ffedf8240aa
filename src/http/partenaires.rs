//! Partner access to what other sites read (the JSON API, the feeds, the widget's calls):
//! keys, their forced filters, quotas, and usage counted as daily aggregates.
//!
//! A key travels in the `X-Sofi-Cle` header only: one in an address would leak through
//! `Referer` and logs, so it is refused there. A browser calling with a key must come from
//! one of its origins. Without a key, use stays possible within the anonymous quotas, per
//! client address, kept in memory only (feeds can be closed to anonymous use). Over a quota
//! the answer is 429 with `Retry-After` and the limit named. The public site's pages are
//! never limited: this layer wraps only the read routes other sites call.

use super::respond::error;
use super::App;
use crate::search::query::Requete;
use crate::store::{ClePartenaire, CleUsage, StoreError, Usage};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use hyper::StatusCode;
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};

/// The header a key travels in.
pub const EN_TETE: &str = "x-sofi-cle";

/// What anonymous clients may do, per address (`sofi serve` options).
#[derive(Debug, Clone)]
pub struct Reglages {
    pub anonyme_par_minute: u32,
    pub anonyme_par_jour: u32,
    /// Feeds without a key: allowed (within the anonymous quotas) or 401.
    pub flux_anonymes: bool,
}

impl Default for Reglages {
    fn default() -> Self {
        Reglages {
            anonyme_par_minute: 300,
            anonyme_par_jour: 20_000,
            flux_anonymes: true,
        }
    }
}

/// The routes whose usage is counted apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Recherche = 1,
    Formation = 2,
    Suggestions = 3,
    Referentiels = 4,
    Flux = 5,
    Widget = 6,
    Autre = 7,
}

impl Route {
    fn de(chemin: &str) -> Route {
        match chemin {
            "/api/v1/recherche" => Route::Recherche,
            "/api/v1/suggestions" => Route::Suggestions,
            "/widget.js" => Route::Widget,
            c if c.starts_with("/api/v1/formations/") => Route::Formation,
            c if c.starts_with("/api/v1/referentiels/") => Route::Referentiels,
            c if c.starts_with("/lheo/") => Route::Flux,
            _ => Route::Autre,
        }
    }

    pub fn libelle(n: u8) -> &'static str {
        match n {
            1 => "recherche",
            2 => "formation",
            3 => "suggestions",
            4 => "référentiels",
            5 => "flux LHÉO",
            6 => "widget",
            _ => "autre",
        }
    }

    /// The script itself and the API's description are not counted against quotas.
    fn libre(self) -> bool {
        matches!(self, Route::Widget | Route::Autre)
    }
}

/// Who a request is counted for: a key, or an address (anonymous).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Sujet {
    Cle(u64),
    Adresse(IpAddr),
}

/// The partner behind a request, for the handlers (forced filters).
#[derive(Debug, Clone)]
pub struct Acces(pub Option<Arc<ClePartenaire>>);

/// Keys, limiters and the usage counted since the last flush.
pub struct Partenaires {
    pub reglages: Reglages,
    /// Keys by the hash of their token (reloaded from the store on every change).
    cles: RwLock<HashMap<[u8; 32], Arc<ClePartenaire>>>,
    /// Each key's limiters: per minute, per day.
    par_cle: Mutex<HashMap<u64, Arc<[DefaultDirectRateLimiter; 2]>>>,
    /// Anonymous clients by address: per minute, per day.
    anonymes: [DefaultKeyedRateLimiter<IpAddr>; 2],
    usage: Mutex<HashMap<CleUsage, Usage>>,
}

fn quota_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).expect("at least 1"))
}

/// `n` a day, all of them usable at once, each coming back a day after it was used (a
/// rolling day: no rush at midnight).
fn quota_jour(n: u32) -> Quota {
    let n = NonZeroU32::new(n.max(1)).expect("at least 1");
    Quota::with_period(std::time::Duration::from_secs(86_400) / n.get())
        .expect("a day over at most 2^32 is not zero")
        .allow_burst(n)
}

impl Partenaires {
    pub fn new(reglages: Reglages) -> Partenaires {
        Partenaires {
            anonymes: [
                RateLimiter::keyed(quota_minute(reglages.anonyme_par_minute)),
                RateLimiter::keyed(quota_jour(reglages.anonyme_par_jour)),
            ],
            reglages,
            cles: RwLock::new(HashMap::new()),
            par_cle: Mutex::new(HashMap::new()),
            usage: Mutex::new(HashMap::new()),
        }
    }

    /// Reads the keys from the store again (at start and after each change).
    pub fn recharger(&self, store: &crate::store::Store) -> Result<(), StoreError> {
        let cles: HashMap<[u8; 32], Arc<ClePartenaire>> = store
            .cles()?
            .into_iter()
            .map(|(h, c)| (h, Arc::new(c)))
            .collect();
        // A key's limiter follows its quota: rebuilt on the next request.
        self.par_cle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        *self.cles.write().unwrap_or_else(|e| e.into_inner()) = cles;
        Ok(())
    }

    /// The active key of this token, if any.
    pub fn cle_active(&self, jeton: &str) -> Option<Arc<ClePartenaire>> {
        self.cle(jeton).filter(|c| c.active(crate::store::now_ms()))
    }

    fn cle(&self, jeton: &str) -> Option<Arc<ClePartenaire>> {
        let h = crate::accounts::token_hash(jeton.trim());
        self.cles
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&h)
            .cloned()
    }

    /// `Ok` when `sujet` may make one more request now; else the 429 naming the limit.
    fn admettre(&self, sujet: Sujet, cle: Option<&ClePartenaire>) -> Result<(), Response> {
        let (par_minute, par_jour) = match cle {
            Some(c) => (c.par_minute, c.par_jour),
            None => (
                self.reglages.anonyme_par_minute,
                self.reglages.anonyme_par_jour,
            ),
        };
        let refus = match sujet {
            Sujet::Cle(id) => {
                let l = self
                    .par_cle
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(id)
                    .or_insert_with(|| {
                        Arc::new([
                            RateLimiter::direct(quota_minute(par_minute)),
                            RateLimiter::direct(quota_jour(par_jour)),
                        ])
                    })
                    .clone();
                l[0].check()
                    .map_err(|n| (0, n))
                    .and_then(|_| l[1].check().map_err(|n| (1, n)))
            }
            Sujet::Adresse(ip) => self.anonymes[0]
                .check_key(&ip)
                .map_err(|n| (0, n))
                .and_then(|_| self.anonymes[1].check_key(&ip).map_err(|n| (1, n))),
        };
        match refus {
            Ok(()) => Ok(()),
            Err((quel, n)) => {
                use governor::clock::Clock;
                let now = governor::clock::DefaultClock::default().now();
                // Rounded up: a client that waits as told is served.
                let s = (n.wait_time_from(now).as_millis() as u64)
                    .div_ceil(1000)
                    .max(1);
                Err(if quel == 0 {
                    trop(
                        "quota-minute",
                        &format!("{par_minute} requêtes par minute"),
                        s,
                    )
                } else {
                    trop("quota-jour", &format!("{par_jour} requêtes par jour"), s)
                })
            }
        }
    }

    fn compter(&self, cle: CleUsage, erreur: bool, octets: u64) {
        let mut u = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        let e = u.entry(cle).or_default();
        e.requetes += 1;
        e.erreurs += erreur as u64;
        e.octets += octets;
    }

    /// Writes the usage counted since the last call to the store's daily aggregates (and
    /// forgets the addresses whose quotas are full again).
    pub fn vider(&self, store: &crate::store::Store) -> Result<(), StoreError> {
        for l in &self.anonymes {
            l.retain_recent();
        }
        let lot: Vec<(CleUsage, Usage)> =
            std::mem::take(&mut *self.usage.lock().unwrap_or_else(|e| e.into_inner()))
                .into_iter()
                .collect();
        let r = store.ajouter_usage(&lot);
        if r.is_err() {
            // Kept for the next flush rather than lost.
            let mut u = self.usage.lock().unwrap_or_else(|e| e.into_inner());
            for (k, v) in lot {
                u.entry(k).or_default().ajouter(&v);
            }
        }
        r
    }
}

fn trop(code: &str, limite: &str, attente_s: u64) -> Response {
    let mut r = error(
        StatusCode::TOO_MANY_REQUESTS,
        code,
        &format!("limite atteinte : {limite} ; réessayez dans {attente_s} s"),
        None,
    );
    r.headers_mut().insert(
        "retry-after",
        attente_s.to_string().parse().expect("digits"),
    );
    r.into_response()
}

fn refus(status: StatusCode, code: &str, message: &str) -> Response {
    error(status, code, message, None).into_response()
}

/// The layer of the read routes other sites call: the key (or the address), its quotas,
/// the `Acces` handlers read, and the usage of the answer, bytes counted as they leave.
pub(super) async fn garder(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let route = Route::de(req.uri().path());
    let dans_adresse = req.uri().query().is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "cle" || k == "key")
    });
    if dans_adresse {
        return refus(
            StatusCode::BAD_REQUEST,
            "cle-dans-l-adresse",
            "une clé se passe dans l'en-tête X-Sofi-Cle, jamais dans l'adresse (elle fuirait par Referer et les journaux)",
        );
    }
    let p = &app.partenaires;
    let cle = match req.headers().get(EN_TETE).map(|v| v.to_str()) {
        None => None,
        Some(Err(_)) => {
            return refus(StatusCode::UNAUTHORIZED, "cle-inconnue", "clé illisible");
        }
        Some(Ok(jeton)) => match p.cle(jeton) {
            None => {
                return refus(StatusCode::UNAUTHORIZED, "cle-inconnue", "clé inconnue");
            }
            Some(c) if !c.active(crate::store::now_ms()) => {
                let (code, m) = if c.revoquee_le.is_some() {
                    ("cle-revoquee", "cette clé a été révoquée")
                } else {
                    ("cle-expiree", "cette clé a expiré")
                };
                return refus(StatusCode::UNAUTHORIZED, code, m);
            }
            Some(c) => Some(c),
        },
    };
    if let (Some(c), Some(origine)) = (&cle, req.headers().get("origin")) {
        let origine = origine.to_str().unwrap_or("");
        if !c.origines.is_empty() && !c.origines.iter().any(|o| o == origine) {
            return refus(
                StatusCode::FORBIDDEN,
                "origine-refusee",
                &format!("cette clé ne s'utilise pas depuis {origine}"),
            );
        }
    }
    if cle.is_none() && route == Route::Flux && !p.reglages.flux_anonymes {
        return refus(
            StatusCode::UNAUTHORIZED,
            "cle-requise",
            "les flux demandent une clé de partenaire (en-tête X-Sofi-Cle)",
        );
    }
    // The site's own pages call the API from their origin (suggestions as you type): a
    // browser says so itself (`Sec-Fetch-Site`), and those are not limited.
    let du_site = cle.is_none()
        && req
            .headers()
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() == b"same-origin");
    if !route.libre() && !du_site {
        let sujet = match (&cle, req.extensions().get::<super::identity::ClientAddr>()) {
            (Some(c), _) => Some(Sujet::Cle(c.id)),
            (None, Some(a)) => Some(Sujet::Adresse(a.0)),
            (None, None) => None,
        };
        if let Some(s) = sujet {
            if let Err(r) = p.admettre(s, cle.as_deref()) {
                p.compter(
                    CleUsage {
                        jour: crate::store::jour_utc(),
                        cle: cle.as_ref().map_or(0, |c| c.id),
                        route: route as u8,
                    },
                    true,
                    0,
                );
                return r;
            }
        }
    }
    let compte = CleUsage {
        jour: crate::store::jour_utc(),
        cle: cle.as_ref().map_or(0, |c| c.id),
        route: route as u8,
    };
    req.extensions_mut().insert(Acces(cle));
    let r = next.run(req).await;
    let erreur = r.status().is_client_error() || r.status().is_server_error();
    let (parts, corps) = r.into_parts();
    let corps = axum::body::Body::new(Compte {
        corps,
        octets: 0,
        fin: Some((app.clone(), compte, erreur)),
    });
    Response::from_parts(parts, corps)
}

/// An answer's body, its bytes counted as they leave; the usage is added when it is done
/// (or dropped by a client that went away).
struct Compte {
    corps: axum::body::Body,
    octets: u64,
    fin: Option<(Arc<App>, CleUsage, bool)>,
}

impl hyper::body::Body for Compte {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, axum::Error>>> {
        let r = Pin::new(&mut self.corps).poll_frame(cx);
        if let Poll::Ready(Some(Ok(f))) = &r {
            if let Some(d) = f.data_ref() {
                self.octets += d.len() as u64;
            }
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.corps.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.corps.size_hint()
    }
}

impl Drop for Compte {
    fn drop(&mut self) {
        if let Some((app, cle, erreur)) = self.fin.take() {
            app.partenaires.compter(cle, erreur, self.octets);
        }
    }
}

/// Keeps what a key asks for within its forced filters: a département or Formacode it may
/// see is kept, anything else gives way to the key's own (asking wider never widens).
pub fn imposer(acces: Option<&Acces>, refs: &crate::referentiel::Referentiels, r: &mut Requete) {
    let Some(c) = acces.and_then(|a| a.0.as_deref()) else {
        return;
    };
    if !c.departements.is_empty() {
        let forces: Vec<u64> = c
            .departements
            .iter()
            .filter_map(|d| crate::search::index::code_dep(d))
            .collect();
        let gardes: Vec<u64> = r
            .departements
            .iter()
            .copied()
            .filter(|d| forces.contains(d))
            .collect();
        r.departements = if gardes.is_empty() { forces } else { gardes };
    }
    if !c.formacodes.is_empty() {
        let sous = |code: u64| {
            refs.formacode_ancetres(&format!("{code:05}"))
                .iter()
                .any(|a| c.formacodes.iter().any(|f| f == a))
        };
        let gardes: Vec<u64> = r.formacodes.iter().copied().filter(|f| sous(*f)).collect();
        r.formacodes = if gardes.is_empty() {
            c.formacodes.iter().filter_map(|f| f.parse().ok()).collect()
        } else {
            gardes
        };
    }
}

/// A key's answer shows no facet value outside its forced filters (the département facet
/// would otherwise count the offers of the others).
pub fn filtrer_facettes(
    acces: Option<&Acces>,
    refs: &crate::referentiel::Referentiels,
    f: &mut crate::search::query::Facettes,
) {
    let Some(c) = acces.and_then(|a| a.0.as_deref()) else {
        return;
    };
    for (nom, valeurs) in f.0.iter_mut() {
        match *nom {
            "departement" if !c.departements.is_empty() => {
                valeurs.retain(|v| c.departements.contains(&v.valeur))
            }
            "formacode" if !c.formacodes.is_empty() => valeurs.retain(|v| {
                refs.formacode_ancetres(&v.valeur)
                    .iter()
                    .any(|a| c.formacodes.contains(a))
            }),
            _ => {}
        }
    }
}

/// The same for a feed's filters.
pub fn imposer_flux(
    acces: Option<&Acces>,
    refs: &crate::referentiel::Referentiels,
    f: &mut crate::diffusion::Filtres,
) {
    let Some(c) = acces.and_then(|a| a.0.as_deref()) else {
        return;
    };
    if !c.departements.is_empty() {
        let gardes: Vec<String> = f
            .departements
            .iter()
            .filter(|d| c.departements.contains(d))
            .cloned()
            .collect();
        f.departements = if gardes.is_empty() {
            c.departements.clone()
        } else {
            gardes
        };
    }
    if !c.formacodes.is_empty() {
        let gardes: Vec<String> = f
            .formacodes
            .iter()
            .filter(|x| {
                refs.formacode_ancetres(x)
                    .iter()
                    .any(|a| c.formacodes.iter().any(|f| f == a))
            })
            .cloned()
            .collect();
        f.formacodes = if gardes.is_empty() {
            c.formacodes.clone()
        } else {
            gardes
        };
    }
}

/// Whether a key may see this offer: one of its diffused actions is in its départements and
/// the formation under one of its Formacode domains.
pub fn admet_offre(
    acces: Option<&Acces>,
    refs: &crate::referentiel::Referentiels,
    o: &crate::store::OffreStockee,
) -> bool {
    if acces.and_then(|a| a.0.as_ref()).is_none() {
        return true;
    }
    let mut f = crate::diffusion::Filtres::default();
    imposer_flux(acces, refs, &mut f);
    !crate::diffusion::actions_diffusees(o, &f, refs).is_empty()
}
