//! Who is asking, for the organisation and staff spaces: the session cookie and its
//! server-side session, the checks every unsafe request passes (origin and form token),
//! per-organisation API tokens, and the login throttle.
//!
//! The session cookie is `__Host-sofi` (Secure, HttpOnly, SameSite=Lax, Path=/): a
//! `__Host-` cookie cannot be set by a sub-domain or over plain HTTP. For development over
//! plain HTTP, `serve --cookie-non-securise` names it `sofi` without `Secure`.

use crate::accounts::{Compte, Role};
use crate::store::{SessionWeb, Store, StoreError};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hyper::header::HeaderMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// The client's address, put on each request by the accept loop. Used only in memory by
/// the login throttle and the anonymous quotas: never stored.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// The client of a connection from `pair`: `pair` itself, unless it is one of the
    /// trusted proxies (`--proxy-de-confiance`), in which case the last address of
    /// `X-Forwarded-For` that is not one of them (what a client writes there itself is to
    /// the left of what the proxies added, and is never believed).
    pub fn de(pair: IpAddr, entetes: &hyper::HeaderMap, proxies: &[IpAddr]) -> ClientAddr {
        if !proxies.contains(&pair) {
            return ClientAddr(pair);
        }
        let mut client = pair;
        for v in entetes.get_all("x-forwarded-for").iter().rev() {
            let Ok(v) = v.to_str() else {
                break;
            };
            for a in v.rsplit(',') {
                match a.trim().parse::<IpAddr>() {
                    Ok(ip) => {
                        client = ip;
                        if !proxies.contains(&ip) {
                            return ClientAddr(ip);
                        }
                    }
                    Err(_) => return ClientAddr(client),
                }
            }
        }
        ClientAddr(client)
    }
}

/// Session settings and the login throttle.
pub struct Identity {
    /// `false` only for development over plain HTTP.
    pub cookie_secure: bool,
    /// A session unused this long is dead.
    pub idle: Duration,
    /// A session this old is dead, used or not.
    pub absolute: Duration,
    /// Login attempts per account (by e-mail, known or not).
    par_compte: DefaultKeyedRateLimiter<String>,
    /// Login attempts per client address.
    par_adresse: DefaultKeyedRateLimiter<IpAddr>,
}

impl Default for Identity {
    fn default() -> Self {
        Identity::new(
            true,
            Duration::from_secs(2 * 3600),
            Duration::from_secs(12 * 3600),
        )
    }
}

impl Identity {
    pub fn new(cookie_secure: bool, idle: Duration, absolute: Duration) -> Identity {
        // 5 attempts per account, then one every 2 minutes; 20 per address, then one per 10 s.
        let compte = Quota::with_period(Duration::from_secs(120))
            .expect("non-zero period")
            .allow_burst(NonZeroU32::new(5).expect("non-zero"));
        let adresse = Quota::with_period(Duration::from_secs(10))
            .expect("non-zero period")
            .allow_burst(NonZeroU32::new(20).expect("non-zero"));
        Identity {
            cookie_secure,
            idle,
            absolute,
            par_compte: RateLimiter::keyed(compte),
            par_adresse: RateLimiter::keyed(adresse),
        }
    }

    pub fn cookie_name(&self) -> &'static str {
        if self.cookie_secure {
            "__Host-sofi"
        } else {
            "sofi"
        }
    }

    /// The `Set-Cookie` of a new session.
    pub fn set_cookie(&self, jeton: &str) -> String {
        format!(
            "{}={jeton}; Path=/; HttpOnly; SameSite=Lax{}",
            self.cookie_name(),
            if self.cookie_secure { "; Secure" } else { "" }
        )
    }

    /// The `Set-Cookie` that removes it.
    pub fn clear_cookie(&self) -> String {
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
            self.cookie_name(),
            if self.cookie_secure { "; Secure" } else { "" }
        )
    }

    /// A login attempt for this e-mail from this address: `Err(seconds)` to wait when over
    /// either limit. Every attempt counts, so the answer does not tell known accounts apart.
    pub fn attempt(&self, email: &str, addr: Option<IpAddr>) -> Result<(), u64> {
        let clock = governor::clock::DefaultClock::default();
        let wait = |e: governor::NotUntil<_>| {
            use governor::clock::Clock;
            e.wait_time_from(clock.now()).as_secs().max(1)
        };
        if let Some(a) = addr {
            self.par_adresse.check_key(&a).map_err(wait)?;
        }
        self.par_compte
            .check_key(&email.to_string())
            .map_err(wait)?;
        Ok(())
    }

    /// An anonymous form's attempt (a référencement request) from this address: only the
    /// per-address limit applies.
    pub fn attempt_address(&self, addr: Option<IpAddr>) -> Result<(), u64> {
        let clock = governor::clock::DefaultClock::default();
        match addr {
            Some(a) => self.par_adresse.check_key(&a).map_err(|e| {
                use governor::clock::Clock;
                e.wait_time_from(clock.now()).as_secs().max(1)
            }),
            None => Ok(()),
        }
    }

    /// The session behind the request's cookie, if it is alive: its account is active and
    /// of the same generation, it was used within the idle time, it is younger than the
    /// absolute limit.
    pub fn session(&self, store: &Store, headers: &HeaderMap) -> Result<Option<Qui>, StoreError> {
        let Some(jeton) = cookie(headers, self.cookie_name()) else {
            return Ok(None);
        };
        if jeton.len() != 64 || !jeton.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let Some(mut s) = store.session_web(&jeton)? else {
            return Ok(None);
        };
        let now = crate::store::now_ms();
        let vivante = now - s.vue_le < self.idle.as_millis() as i64
            && now - s.cree_le < self.absolute.as_millis() as i64;
        let compte = store.compte(s.compte)?;
        let Some(compte) = compte.filter(|c| vivante && c.actif && c.generation == s.generation)
        else {
            store.supprimer_session(&jeton)?;
            return Ok(None);
        };
        // Seen: written at most once a minute, not on every request.
        if now - s.vue_le > 60_000 {
            s.vue_le = now;
            store.enregistrer_session(&jeton, &s)?;
        }
        Ok(Some(Qui {
            compte,
            session: s,
            jeton,
        }))
    }
}

/// A logged-in person.
#[derive(Debug, Clone)]
pub struct Qui {
    pub compte: Compte,
    pub session: SessionWeb,
    /// The session's cookie value (to log out, to switch SIRET).
    pub jeton: String,
}

impl Qui {
    /// The SIRET it acts for now (organisation roles), among its own.
    pub fn siret(&self) -> Option<&str> {
        self.session
            .siret
            .as_deref()
            .filter(|s| self.compte.sirets.iter().any(|x| x == s))
            .or(self.compte.sirets.first().map(String::as_str))
    }

    pub fn auteur(&self) -> String {
        crate::store::auteur_de(&self.compte)
    }

    pub fn equipe(&self) -> bool {
        self.compte.role.equipe()
    }

    pub fn responsable(&self) -> bool {
        matches!(self.compte.role, Role::Responsable | Role::Admin)
    }
}

/// One cookie's value.
pub fn cookie(headers: &HeaderMap, nom: &str) -> Option<String> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == nom)
        .map(|(_, v)| v.to_string())
}

/// Why an unsafe request is refused as cross-site, if it is: the browser's own
/// `Sec-Fetch-Site`, else `Origin` against `Host`.
pub fn cross_site(headers: &HeaderMap) -> Option<String> {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site") {
        if site != "same-origin" && site != "none" {
            return Some(format!(
                "requête venue d'un autre site (Sec-Fetch-Site: {site})"
            ));
        }
    }
    if let Some(origin) = get("origin") {
        let host = get("host").unwrap_or("");
        let hote = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .unwrap_or("");
        if hote != host {
            return Some(format!("requête venue d'une autre origine ({origin})"));
        }
    }
    None
}

/// Compares two tokens in constant time.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
fn meme_jeton(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Authorisation of the admin routes (import, deletion, backups): `None` when allowed, else the error response.
pub(super) fn refus_admin(
    app: &super::App,
    req: &axum::extract::Request,
) -> Option<hyper::Response<super::respond::Body>> {
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    match header.and_then(|h| h.strip_prefix("Bearer ")) {
        None => {
            let mut r = super::respond::error(
                hyper::StatusCode::UNAUTHORIZED,
                "authentification-requise",
                "en-tête Authorization: Bearer <jeton> requis (jeton dans DATA_DIR/admin-token ou SOFI_ADMIN_TOKEN)",
                None,
            );
            r.headers_mut().insert(
                "www-authenticate",
                "Bearer realm=\"sofi\"".parse().expect("static"),
            );
            Some(r)
        }
        Some(t) if !meme_jeton(t.trim(), &app.admin_token) => Some(super::respond::error(
            hyper::StatusCode::FORBIDDEN,
            "jeton-invalide",
            "ce jeton n'est pas celui d'administration",
            None,
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies_and_right_to_left() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let proxies = [ip("127.0.0.1"), ip("10.0.0.2")];
        let mut h = hyper::HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "6.6.6.6, 203.0.113.9, 10.0.0.2".parse().unwrap(),
        );
        // From a proxy: the last address that is not a proxy (6.6.6.6 was written by the
        // client itself).
        assert_eq!(
            ClientAddr::de(ip("127.0.0.1"), &h, &proxies).0,
            ip("203.0.113.9")
        );
        // From anyone else: the connection's address, whatever the header says.
        assert_eq!(
            ClientAddr::de(ip("198.51.100.7"), &h, &proxies).0,
            ip("198.51.100.7")
        );
        // Garbage stops the walk at the last good hop.
        h.insert("x-forwarded-for", "nimporte, 10.0.0.2".parse().unwrap());
        assert_eq!(
            ClientAddr::de(ip("127.0.0.1"), &h, &proxies).0,
            ip("10.0.0.2")
        );
        // No header: the proxy itself.
        assert_eq!(
            ClientAddr::de(ip("127.0.0.1"), &hyper::HeaderMap::new(), &proxies).0,
            ip("127.0.0.1")
        );
    }
}
