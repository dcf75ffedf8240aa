//! What people search for and do not find (`/gestion/recherches`), from the daily
//! aggregates only: top queries, top queries without results with the nearest Formacode
//! labels (each one click from a synonym or from "seen"), the click-through rate, and demand
//! against supply by Formacode field and département. `/gestion/recherches.csv` exports the
//! aggregates.

use crate::http::analytique::ECARTEES;
use crate::http::forms::*;
use crate::http::identity::Qui;
use crate::http::respond::Body;
use crate::http::App;
use crate::store::{CleAnalytique, CompteRecherche, Evenement};
use axum::extract::{Request, State};
use axum::routing::{get, post};
use axum::Router;
use hyper::{Response, StatusCode};
use maud::{html, Markup};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/gestion/recherches", get(page))
        .route("/gestion/recherches.csv", get(csv))
        .route("/gestion/recherches/synonyme", post(synonyme))
        .route("/gestion/recherches/vue", post(vue))
}

/// Days asked (`?jours=`), 1 to the retention, 30 by default.
fn jours(app: &App, query: Option<&str>) -> u32 {
    query
        .and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "jours")
                .and_then(|(_, v)| v.parse::<u32>().ok())
        })
        .unwrap_or(30)
        .clamp(1, app.analytique.retention_jours.max(1))
}

/// The aggregates of the last `n` days, those still in memory included.
fn lire(
    app: &App,
    n: u32,
) -> Result<Vec<(CleAnalytique, CompteRecherche)>, crate::store::StoreError> {
    app.analytique.vider(&app.store)?;
    app.store
        .analytique_depuis(crate::store::jour_utc().saturating_sub(n - 1))
}

/// "comptabl|departement" → ("comptabl", "departement").
fn parties(cle: &str) -> (&str, &str) {
    cle.split_once('|').unwrap_or((cle, ""))
}

fn taux(n: u64, sur: u64) -> String {
    if sur == 0 {
        "–".into()
    } else {
        format!("{:.0} %", n as f64 * 100.0 / sur as f64)
    }
}

fn page_recherches(app: &App, q: &Qui, n: u32, message: Option<Markup>) -> Response<Body> {
    let (agregats, vues) = match lire(app, n).and_then(|a| Ok((a, app.store.recherches_vues()?))) {
        Ok(x) => x,
        Err(e) => return erreur_stockage(&e),
    };
    let mut par_requete: HashMap<String, CompteRecherche> = HashMap::new();
    let mut demande: HashMap<(String, String), u64> = HashMap::new();
    let mut ecartees = 0;
    for (k, c) in &agregats {
        match k {
            CleAnalytique::Requete(_, r) if r == ECARTEES => ecartees += c.recherches,
            CleAnalytique::Requete(_, r) => par_requete.entry(r.clone()).or_default().ajouter(c),
            CleAnalytique::Demande(_, champ, dep) => {
                *demande.entry((champ.clone(), dep.clone())).or_default() += c.recherches
            }
        }
    }
    let total: CompteRecherche =
        par_requete
            .values()
            .fold(CompteRecherche::default(), |mut a, c| {
                a.ajouter(c);
                a
            });
    let mut tops: Vec<(&String, &CompteRecherche)> = par_requete.iter().collect();
    tops.sort_by(|a, b| b.1.recherches.cmp(&a.1.recherches).then(a.0.cmp(b.0)));
    let mut zeros: Vec<(&String, &CompteRecherche)> = par_requete
        .iter()
        .filter(|(k, c)| c.sans_resultat > 0 && !vues.contains(*k) && !parties(k).0.is_empty())
        .collect();
    zeros.sort_by(|a, b| b.1.sans_resultat.cmp(&a.1.sans_resultat).then(a.0.cmp(b.0)));
    // Supply: live sessions by Formacode field and département.
    let offre: HashMap<(String, String), u64> = app
        .moteur
        .as_ref()
        .and_then(|m| {
            m.stats(crate::search::index::jour(jiff::Zoned::now().date()))
                .ok()
        })
        .map(|s| {
            s.domaines_departements
                .into_iter()
                .map(|((f, d), n)| ((format!("{f:05}"), d), n))
                .collect()
        })
        .unwrap_or_default();
    let mut champs: BTreeMap<String, u64> = BTreeMap::new();
    for ((c, _), n) in &demande {
        *champs.entry(c.clone()).or_default() += n;
    }
    let mut champs: Vec<(String, u64)> = champs.into_iter().collect();
    champs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    champs.truncate(15);
    let deps: Vec<&str> = crate::referentiel::departements_region().to_vec();
    let libelle_champ = |c: &str| -> String {
        if c == "--" {
            "domaine non reconnu".into()
        } else {
            app.refs.formacode_libelle(c).unwrap_or(c).to_string()
        }
    };
    let proches = |mots: &str| -> String {
        app.moteur
            .as_ref()
            .and_then(|m| m.suggest(mots, 3).ok())
            .map(|s| {
                s.into_iter()
                    .filter(|x| x.type_ == "formacode")
                    .map(|x| x.libelle)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    prive(crate::http::html::page(
        StatusCode::OK,
        cadre_prive(
            "Recherches",
            Some(q),
            html! {
                p.fil { a href="/gestion" { "Gestion" } " › recherches" }
                h1 { "Ce que l'on cherche, et ne trouve pas" }
                @if let Some(m) = message { (m) }
                p {
                    "Sur " (n) " jours : " strong { (total.recherches) } " recherches, "
                    strong { (total.sans_resultat) } " sans résultat (" (taux(total.sans_resultat, total.recherches)) "), "
                    "taux de clic " strong { (taux(total.clics, total.recherches)) } " (recherches suivies d'un clic vers une offre ÷ recherches). "
                    (ecartees) " recherches écartées (trop longues, ou ressemblant à une donnée personnelle). "
                    a href={ "/gestion/recherches.csv?jours=" (n) } { "Exporter en CSV" }
                }
                p { "Période : " @for j in [7u32, 30, 90, 365] { a href={ "/gestion/recherches?jours=" (j) } { (j) " jours" } " " } }
                h2 { "Recherches les plus fréquentes" }
                table.tableau-offres {
                    thead { tr { th scope="col" { "Mots (normalisés)" } th scope="col" { "Filtres" } th scope="col" { "Recherches" } th scope="col" { "Résultats (moyenne)" } th scope="col" { "Sans résultat" } th scope="col" { "Clics" } } }
                    tbody {
                        @for (k, c) in tops.iter().take(20) {
                            @let (mots, filtres) = parties(k);
                            tr { td { (mots) } td { (filtres) } td { (c.recherches) } td { (c.resultats / c.recherches.max(1)) } td { (c.sans_resultat) } td { (taux(c.clics, c.recherches)) } }
                        }
                    }
                }
                h2 { "Recherches sans résultat" }
                @if zeros.is_empty() { p { "Aucune sur la période." } }
                table.tableau-offres {
                    thead { tr { th scope="col" { "Mots" } th scope="col" { "Fois" } th scope="col" { "Formacode les plus proches" } th scope="col" { "Action" } } }
                    tbody {
                        @for (k, c) in zeros.iter().take(20) {
                            @let (mots, _) = parties(k);
                            tr {
                                td { (mots) } td { (c.sans_resultat) } td { (proches(mots)) }
                                td {
                                    form.en-ligne method="post" action="/gestion/recherches/synonyme" {
                                        (csrf(q))
                                        input type="hidden" name="mot" value=(mots.split_whitespace().next().unwrap_or(""));
                                        label { span.visuellement-cache { "Synonyme pour " (mots) } input name="alternatives" placeholder="mot qui trouve" size="14" required; }
                                        button.secondaire type="submit" { "Ajouter le synonyme" }
                                    }
                                    form.en-ligne method="post" action="/gestion/recherches/vue" {
                                        (csrf(q))
                                        input type="hidden" name="cle" value=(k);
                                        button.lien type="submit" { "Marquer comme vue" }
                                    }
                                }
                            }
                        }
                    }
                }
                h2 { "Demande et offre" }
                p { "Pour chaque domaine Formacode cherché et chaque département : recherches / sessions diffusées. En rouge, là où l'on cherche plus qu'on ne trouve." }
                table.tableau-offres.chaleur {
                    thead { tr { th scope="col" { "Domaine" } @for d in &deps { th scope="col" { (d) } } th scope="col" { "Toute la région" } } }
                    tbody {
                        @for (c, _) in &champs {
                            tr {
                                th scope="row" { (libelle_champ(c)) }
                                @for d in deps.iter().copied().chain(std::iter::once("--")) {
                                    @let cherche = demande.get(&(c.clone(), d.to_string())).copied().unwrap_or(0);
                                    @let offert = if d == "--" { offre.iter().filter(|((f, _), _)| f == c).map(|(_, n)| *n).sum() } else { offre.get(&(c.clone(), d.to_string())).copied().unwrap_or(0) };
                                    @let rapport = cherche as f64 / (offert as f64 + 1.0);
                                    @let fond = if cherche == 0 { "transparent".to_string() } else { format!("rgba(192, 0, 0, {:.2})", (rapport / 2.0).min(0.85)) };
                                    td style={ "background:" (fond) } { (cherche) " / " (offert) }
                                }
                            }
                        }
                    }
                }
                p.aide { "Conservation : " (app.analytique.retention_jours) " jours, par jour seulement (voir " a href="/confidentialite" { "la page Confidentialité" } ")." }
            },
        ),
    ))
}

async fn page(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let q = match equipe(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    let n = jours(&app, req.uri().query());
    bloquant(move || page_recherches(&app, &q, n, None)).await
}

/// A CSV field, quoted when it must be.
fn champ_csv(s: &str) -> String {
    if s.contains([',', '"', '\n', ';']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

async fn csv(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let q = match equipe(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    let n = jours(&app, req.uri().query());
    bloquant(move || {
        let agregats = match lire(&app, n) {
            Ok(a) => a,
            Err(e) => return erreur_stockage(&e),
        };
        let _ = &q;
        let mut out = String::from(
            "jour,type,mots,filtres_ou_departement,domaine,recherches,sans_resultat,clics,resultats\n",
        );
        for (k, c) in agregats {
            let jour = jiff::Timestamp::from_second(k.jour() as i64 * 86_400)
                .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
                .unwrap_or_default();
            let (t, a, b, d) = match &k {
                CleAnalytique::Requete(_, r) => {
                    let (m, f) = parties(r);
                    ("recherche", m.to_string(), f.to_string(), String::new())
                }
                CleAnalytique::Demande(_, champ, dep) => {
                    ("demande", String::new(), dep.clone(), champ.clone())
                }
            };
            out.push_str(&format!(
                "{jour},{t},{},{},{},{},{},{},{}\n",
                champ_csv(&a),
                champ_csv(&b),
                champ_csv(&d),
                c.recherches,
                c.sans_resultat,
                c.clics,
                c.resultats
            ));
        }
        let mut r = crate::http::html::answer(StatusCode::OK, "text/csv; charset=utf-8", out);
        r.headers_mut().insert(
            "content-disposition",
            "attachment; filename=\"recherches.csv\""
                .parse()
                .expect("static header"),
        );
        prive(r)
    })
    .await
}

/// Adds `mot = alternatives` to the search settings' `synonymes.txt` and applies it at
/// once (the settings read again), audited.
async fn synonyme(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    if !q.equipe() {
        return introuvable(Some(&q));
    }
    let plier = |s: String| -> String {
        crate::search::analyse::plier(&s)
            .split_whitespace()
            .next()
            .unwrap_or("")
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '-')
            .take(60)
            .collect()
    };
    let mot = plier(field(&envoi.corps, "mot").unwrap_or_default());
    let alternatives: Vec<String> = field(&envoi.corps, "alternatives")
        .unwrap_or_default()
        .split(',')
        .map(|a| plier(a.to_string()))
        .filter(|a| !a.is_empty())
        .take(5)
        .collect();
    bloquant(move || {
        let n = 30;
        if mot.is_empty() || alternatives.is_empty() {
            return page_recherches(
                &app,
                &q,
                n,
                Some(html! { p.erreur role="alert" { "Un synonyme demande un mot et au moins un mot qui trouve." } }),
            );
        }
        let Some(dossier) = app.index_config.clone() else {
            return page_recherches(
                &app,
                &q,
                n,
                Some(html! { p.erreur role="alert" { "Le serveur tourne sans dossier index-config : ajoutez le synonyme à index-config/synonymes.txt et redémarrez." } }),
            );
        };
        let ligne = format!("{mot} = {}\n", alternatives.join(", "));
        let ecrit = std::fs::OpenOptions::new()
            .append(true)
            .open(dossier.join("synonymes.txt"))
            .and_then(|mut f| std::io::Write::write_all(&mut f, ligne.as_bytes()).and_then(|_| f.sync_all()));
        if let Err(e) = ecrit {
            return page_recherches(
                &app,
                &q,
                n,
                Some(html! { p.erreur role="alert" { "synonymes.txt n'a pu être écrit : " (e) } }),
            );
        }
        // Applied at once: the settings are read again and swapped in the engine.
        let applique = match (
            app.moteur.as_ref(),
            crate::search::Config::charger(Some(dossier.clone())),
        ) {
            (Some(m), Ok(c)) => {
                m.recharger_config(c);
                Ok(())
            }
            (_, Err(e)) => Err(e.to_string()),
            (None, Ok(_)) => Ok(()),
        };
        let _ = app.store.journaliser(
            Evenement::new(&q.auteur(), "index-config synonymes.txt", "ajout-synonyme").avec(vec![
                crate::store::Changement {
                    champ: mot.clone(),
                    avant: String::new(),
                    apres: alternatives.join(", "),
                },
            ]),
        );
        page_recherches(
            &app,
            &q,
            n,
            Some(match applique {
                Ok(()) => html! { p.succes role="status" { "Synonyme ajouté et appliqué : « " (ligne.trim()) " »." } },
                Err(e) => html! { p.erreur role="alert" { "Synonyme écrit dans synonymes.txt, mais les réglages ne se relisent pas : " (e) } },
            }),
        )
    })
    .await
}

async fn vue(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let q = envoi.qui;
    if !q.equipe() {
        return introuvable(Some(&q));
    }
    let cle: String = field(&envoi.corps, "cle")
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    bloquant(
        move || match app.store.marquer_recherche_vue(&cle, &q.auteur()) {
            Ok(()) => redirect("/gestion/recherches"),
            Err(e) => erreur_stockage(&e),
        },
    )
    .await
}
