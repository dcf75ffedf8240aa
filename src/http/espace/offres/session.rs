//! The session step: dates as people type them and as LHÉO writes them, recruitment,
//! places, registration; copy and delete.

use super::champs::*;
use super::*;

fn form_session(
    app: &App,
    c: &Contexte,
    a: &Action,
    sn: &str,
    s: &SaisieSession,
    message: Option<&str>,
) -> Markup {
    let lecture = c.lecture_seule();
    let prefixe = format!(
        "formation[{}]/action[{}]/session[{}]",
        c.formation.numero, a.numero, sn
    );
    let cs = repartir(&c.verdict, &prefixe, CHAMPS_SESSION, &[]);
    let url = format!(
        "{}/actions/{}/sessions/{}",
        c.url(),
        enc(&a.numero),
        enc(sn)
    );
    let titre = if sn == "nouvelle" {
        "Nouvelle session".to_string()
    } else {
        format!("Session {sn}")
    };
    cadre_prive(
        &titre,
        Some(&c.qui),
        html! {
            p.fil { a href="/espace" { "Mes formations" } " › " a href=(c.url()) { (c.formation.intitule) } " › " a href={ (c.url()) "/actions/" (enc(&a.numero)) } { "action " (a.numero) } " › " (titre) }
            h1 { (titre) }
            @if let Some(m) = message { p.succes role="status" { (m) } }
            (liste_constats("Autres constats sur la session", &cs.autres))
            form.saisie method="post" action=(url) {
                (csrf(&c.qui))
                input type="hidden" name="version" value=(c.version());
                (champ("debut", "Début", &s.debut, cs.de("debut"), Genre::Court, "JJ/MM/AAAA ou AAAA-MM-JJ ; AAAA-MM pour un mois seulement", lecture))
                (champ("fin", "Fin", &s.fin, cs.de("fin"), Genre::Court, "idem", lecture))
                (choix("etat_recrutement", "État du recrutement", &dico(&app.refs, "dict-etat-recrutement"), &s.etat_recrutement, cs.de("etat_recrutement"), lecture))
                (champ("places", "Nombre de places", &s.places, cs.de("places"), Genre::Court, "", lecture))
                (choix("inscription", "Adresse d'inscription", &sites(&c.etab), &s.inscription, cs.de("inscription"), lecture))
                (champ("modalites_inscription", "Modalités d'inscription", &s.modalites_inscription, cs.de("modalites_inscription"), Genre::Long, "", lecture))
                @if !lecture { p { button type="submit" { "Enregistrer la session" } } }
            }
            @if !lecture && sn != "nouvelle" {
                form.en-ligne method="post" action={ (url) } {
                    (csrf(&c.qui)) input type="hidden" name="version" value=(c.version());
                    input type="hidden" name="operation" value="copier";
                    button type="submit" { "Copier cette session" }
                }
                form.en-ligne method="post" action={ (url) } {
                    (csrf(&c.qui)) input type="hidden" name="version" value=(c.version());
                    input type="hidden" name="operation" value="supprimer";
                    button.secondaire type="submit" { "Supprimer cette session" }
                }
            }
        },
    )
}

/// Accepts `JJ/MM/AAAA` too, as people type it.
fn date_tapee(v: &str) -> String {
    let p: Vec<&str> = v.trim().split('/').collect();
    match p.as_slice() {
        [j, m, a] if a.len() == 4 => format!("{a}-{m:0>2}-{j:0>2}"),
        [m, a] if a.len() == 4 => format!("{a}-{m:0>2}"),
        _ => v.trim().to_string(),
    }
}

pub(in crate::http::espace) async fn session_page(
    S(app): S<Arc<App>>,
    p: RawPathParams,
    req: Request,
) -> Response<Body> {
    let q = match connecte(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    let mut c = chemin(&p);
    let sn = c.pop().unwrap_or_default();
    let an = c.pop().unwrap_or_default();
    let numero = c.pop().unwrap_or_default();
    bloquant(move || match charger(&app, &q, &numero) {
        Ok(Some(ctx)) => {
            let Some(a) = trouver_action(&ctx.formation, &an) else {
                return introuvable(Some(&q));
            };
            let s = if sn == "nouvelle" {
                if ctx.lecture_seule() {
                    return introuvable(Some(&q));
                }
                SaisieSession {
                    etat_recrutement: "1".into(),
                    inscription: "0".into(),
                    ..Default::default()
                }
            } else {
                match a.sessions.iter().find(|s| s.numero == sn) {
                    Some(s) => SaisieSession::de(s, &ctx.etab),
                    None => return introuvable(Some(&q)),
                }
            };
            ok(form_session(&app, &ctx, a, &sn, &s, None))
        }
        Ok(None) => introuvable(Some(&q)),
        Err(e) => erreur_stockage(&e),
    })
    .await
}

pub(in crate::http::espace) async fn session(
    S(app): S<Arc<App>>,
    p: RawPathParams,
    req: Request,
) -> Response<Body> {
    let mut c = chemin(&p);
    let sn = c.pop().unwrap_or_default();
    let an = c.pop().unwrap_or_default();
    let numero = c.pop().unwrap_or_default();
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let version: i64 = field(&envoi.corps, "version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let operation = field(&envoi.corps, "operation").unwrap_or_default();
    let mut s: SaisieSession = match lire(&envoi.corps) {
        Ok(s) => s,
        Err(r) => return r,
    };
    s.debut = date_tapee(&s.debut);
    s.fin = date_tapee(&s.fin);
    bloquant(move || {
        let q = envoi.qui;
        let ctx = match modifiable(&app, &q, &numero) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let mut f = ctx.formation.clone();
        let Some(a) = f.actions.iter_mut().find(|x| x.numero == an) else {
            return introuvable(Some(&q));
        };
        let url_action = format!("{}/actions/{}", ctx.url(), enc(&an));
        let ch = |champ: String, avant: String, apres: String| {
            vec![crate::store::Changement {
                champ,
                avant,
                apres,
            }]
        };
        let (sn, quoi, changements, sa) = match (operation.as_str(), sn.as_str()) {
            ("copier", _) | ("supprimer", _) => {
                let Some(i) = a.sessions.iter().position(|x| x.numero == sn) else {
                    return introuvable(Some(&q));
                };
                if operation == "copier" {
                    if a.sessions.len() >= saisie::MAX_SESSIONS {
                        return refus(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "Trop de sessions",
                            &format!("{} sessions au plus par action", saisie::MAX_SESSIONS),
                            Some(&q),
                        );
                    }
                    let mut copie = a.sessions[i].clone();
                    copie.numero = saisie::numero_suivant(
                        &an,
                        'S',
                        a.sessions.iter().map(|s| s.numero.as_str()),
                    );
                    let n = copie.numero.clone();
                    a.sessions.push(copie);
                    (
                        n.clone(),
                        "copie-session",
                        ch("session".into(), sn.clone(), n),
                        saisie::Saisie::default(),
                    )
                } else {
                    a.sessions.remove(i);
                    (
                        String::new(),
                        "suppression-session",
                        ch("session".into(), sn.clone(), String::new()),
                        saisie::Saisie::default(),
                    )
                }
            }
            (_, "nouvelle") => {
                if a.sessions.len() >= saisie::MAX_SESSIONS {
                    return refus(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "Trop de sessions",
                        &format!("{} sessions au plus par action", saisie::MAX_SESSIONS),
                        Some(&q),
                    );
                }
                let n =
                    saisie::numero_suivant(&an, 'S', a.sessions.iter().map(|s| s.numero.as_str()));
                let mut x = Session {
                    numero: n.clone(),
                    ..Default::default()
                };
                let mut sa = saisie::Saisie::default();
                s.appliquer(
                    &mut x,
                    &ctx.etab,
                    &app.refs,
                    &format!("formation[{numero}]/action[{an}]/session[{n}]"),
                    &mut sa,
                );
                a.sessions.push(x);
                let c = diff_json(&SaisieSession::default(), &s)
                    .into_iter()
                    .map(|mut c| {
                        c.champ = format!("session[{n}].{}", c.champ);
                        c
                    })
                    .collect();
                (n, "ajout-session", c, sa)
            }
            (_, _) => {
                let Some(x) = a.sessions.iter_mut().find(|x| x.numero == sn) else {
                    return introuvable(Some(&q));
                };
                let avant = SaisieSession::de(x, &ctx.etab);
                let mut sa = saisie::Saisie::default();
                s.appliquer(
                    x,
                    &ctx.etab,
                    &app.refs,
                    &format!("formation[{numero}]/action[{an}]/session[{sn}]"),
                    &mut sa,
                );
                let c = diff_json(&avant, &s)
                    .into_iter()
                    .map(|mut c| {
                        c.champ = format!("session[{sn}].{}", c.champ);
                        c
                    })
                    .collect();
                (sn.clone(), "enregistrement-session", c, sa)
            }
        };
        let saisie_ok = sa.constats.is_empty();
        match sauver(&app, &ctx, f, sa.constats, version, quoi, changements) {
            Ok(_) if sn.is_empty() => redirect(&url_action),
            Ok(_) if saisie_ok => redirect(&format!("{url_action}/sessions/{}", enc(&sn))),
            Ok(_) => match charger(&app, &q, &numero) {
                Ok(Some(c)) => match trouver_action(&c.formation, &an) {
                    Some(a) => prive(page(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        form_session(
                            &app,
                            &c,
                            a,
                            &sn,
                            &s,
                            Some("Brouillon enregistré, avec des points à corriger."),
                        ),
                    )),
                    None => introuvable(Some(&q)),
                },
                _ => introuvable(Some(&q)),
            },
            Err(e) => conflit_ou_erreur(e, &q),
        }
    })
    .await
}
