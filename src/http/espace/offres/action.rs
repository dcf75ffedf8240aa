//! The action step, with its sessions: the Dispositif, the place among the sites; copy,
//! delete, roll the sessions over by a year, close several at once.

use super::champs::*;
use super::*;

fn form_action(
    app: &App,
    c: &Contexte,
    a: &Action,
    s: &SaisieAction,
    message: Option<&str>,
) -> Markup {
    let lecture = c.lecture_seule();
    let prefixe = format!("formation[{}]/action[{}]", c.formation.numero, a.numero);
    let cs = repartir(&c.verdict, &prefixe, CHAMPS_ACTION, &["session["]);
    let url = format!("{}/actions/{}", c.url(), enc(&a.numero));
    let financeurs = dico(&app.refs, "dict-financeurs");
    let publics: Vec<(String, String)> = saisie::PUBLICS
        .iter()
        .map(|p| {
            (
                p.to_string(),
                app.refs.formacode_libelle(p).unwrap_or(p).to_string(),
            )
        })
        .collect();
    let oui_non = vec![
        ("0".to_string(), "non".to_string()),
        ("1".to_string(), "oui".to_string()),
    ];
    cadre_prive(
        &format!("Action {}", a.numero),
        Some(&c.qui),
        html! {
            p.fil { a href="/espace" { "Mes formations" } " › " a href=(c.url()) { (c.formation.intitule) } " › action " (a.numero) }
            h1 { "Action " (a.numero) }
            p { (etat_badge(c.dossier.as_ref(), &c.formation)) }
            (decisions(&Formation { actions: vec![a.clone()], ..c.formation.clone() }, &app.refs))
            @if let Some(m) = message { p.succes role="status" { (m) } }
            (liste_constats("Autres constats sur l'action", &cs.autres))
            nav.etapes aria-label="Étapes" {
                ol { li { a href=(c.url()) { "1. La formation" } } li aria-current="step" { "2. L'action et ses sessions" } }
            }
            form.saisie method="post" action=(url) {
                (csrf(&c.qui))
                input type="hidden" name="version" value=(c.version());
                (choix("lieu", "Lieu de formation", &sites(&c.etab), &s.lieu, cs.de("lieu"), lecture))
                p.aide { "Un autre lieu ? Ajoutez-le comme site secondaire dans " a href="/espace/etablissement" { "Mon établissement" } "." }
                (champ("siret_formateur", "SIRET de l'organisme formateur, s'il n'est pas le vôtre", &s.siret_formateur, cs.de("siret_formateur"), Genre::Court, "", lecture))
                (choix("modalites_enseignement", "Modalités", &dico(&app.refs, "dict-modalites-enseignement"), &s.modalites_enseignement, cs.de("modalites_enseignement"), lecture))
                (choix("entrees_sorties", "Entrées et sorties", &dico(&app.refs, "dict-modalites-es"), &s.entrees_sorties, cs.de("entrees_sorties"), lecture))
                (champ("heures_centre", "Durée en centre (heures)", &s.heures_centre, cs.de("heures_centre"), Genre::Court, "", lecture))
                (champ("heures_entreprise", "Durée en entreprise (heures)", &s.heures_entreprise, cs.de("heures_entreprise"), Genre::Court, "", lecture))
                (champ("rythme", "Rythme", &s.rythme, cs.de("rythme"), Genre::Court, "temps plein, temps partiel, soirs…", lecture))
                (champ("alternance", "Alternance", &s.alternance, cs.de("alternance"), Genre::Long, "« Sans objet » si la formation n'est pas en alternance", lecture))
                (champ("prix_total", "Prix total TTC (euros)", &s.prix_total, cs.de("prix_total"), Genre::Court, "", lecture))
                (choix("niveau_obligatoire", "Le niveau d'entrée est-il exigé ?", &oui_non, &s.niveau_obligatoire, cs.de("niveau_obligatoire"), lecture))
                (champ("conditions_acces", "Prérequis et conditions d'accès", &s.conditions_acces, cs.de("conditions_acces"), Genre::Long, "", lecture))
                (cases("financeurs", "Financeurs (le Dispositif)", &financeurs, &s.financeurs, cs.de("financeurs"), lecture))
                (cases("publics", "Publics visés", &publics, &s.publics, cs.de("publics"), lecture))
                (champ("date_information", "Réunion d'information (date)", &s.date_information, cs.de("date_information"), Genre::Date, "", lecture))
                @if !lecture { p { button type="submit" { "Enregistrer l'action" } } }
            }
            (liste_sessions(c, a, &url))
            @if !lecture {
                section aria-labelledby="titre-outils" {
                    h2 id="titre-outils" { "Outils" }
                    form.en-ligne method="post" action={ (url) "/copier" } {
                        (csrf(&c.qui)) input type="hidden" name="version" value=(c.version());
                        button type="submit" { "Copier cette action" }
                    }
                    form.en-ligne method="post" action={ (url) "/supprimer" } {
                        (csrf(&c.qui)) input type="hidden" name="version" value=(c.version());
                        button.secondaire type="submit" { "Supprimer cette action" }
                    }
                }
            }
        },
    )
}

fn liste_sessions(c: &Contexte, a: &Action, url: &str) -> Markup {
    let lecture = c.lecture_seule();
    let etats = |e: &Option<String>| match e.as_deref() {
        Some("1") => "ouvert",
        Some("2") => "fermé",
        Some("3") => "suspendu",
        _ => "non précisé",
    };
    html! {
        section aria-labelledby="titre-sessions" {
            h2 id="titre-sessions" { "Sessions" }
            form method="post" action={ (url) "/cloturer" } {
                (csrf(&c.qui)) input type="hidden" name="version" value=(c.version());
                table.table-sessions {
                    thead { tr {
                        @if !lecture { th scope="col" { span.visuellement-cache { "Sélection" } } }
                        th scope="col" { "Session" } th scope="col" { "Début" } th scope="col" { "Fin" } th scope="col" { "Recrutement" } th scope="col" { "Places" } th scope="col" { "Constats" }
                    } }
                    tbody {
                        @for s in &a.sessions {
                            @let n = c.verdict.constats.iter().filter(|x| x.chemin.contains(&format!("session[{}]", s.numero))).count();
                            tr {
                                @if !lecture { td { input type="checkbox" name="sel" value=(s.numero) id={ "sel-" (s.numero) } aria-label={ "sélectionner la session " (s.numero) }; } }
                                td { a href={ (url) "/sessions/" (enc(&s.numero)) } { (s.numero) } }
                                td { (date_lisible(&s.periode.debut)) }
                                td { (date_lisible(&s.periode.fin)) }
                                td { (etats(&s.etat_recrutement)) }
                                td { (saisie::places(s).unwrap_or_default()) }
                                td { @if n > 0 { span.constat.bloquant { (n) } } @else { "aucun" } }
                            }
                        }
                    }
                }
                @if !lecture && !a.sessions.is_empty() {
                    p { button type="submit" { "Fermer le recrutement des sessions cochées" } }
                }
            }
            @if !lecture {
                a.bouton href={ (url) "/sessions/nouvelle" } { "Ajouter une session" }
                " "
                form.en-ligne method="post" action={ (url) "/reconduire" } {
                    (csrf(&c.qui)) input type="hidden" name="version" value=(c.version());
                    button type="submit" { "Reconduire les sessions d'un an" }
                }
            }
        }
    }
}

pub(in crate::http::espace) async fn action_page(
    S(app): S<Arc<App>>,
    p: RawPathParams,
    req: Request,
) -> Response<Body> {
    let q = match connecte(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    let mut c = chemin(&p);
    let an = c.pop().unwrap_or_default();
    let numero = c.pop().unwrap_or_default();
    bloquant(move || match charger(&app, &q, &numero) {
        Ok(Some(ctx)) => match trouver_action(&ctx.formation, &an) {
            Some(a) => ok(form_action(
                &app,
                &ctx,
                a,
                &SaisieAction::de(a, &ctx.etab),
                None,
            )),
            None => introuvable(Some(&q)),
        },
        Ok(None) => introuvable(Some(&q)),
        Err(e) => erreur_stockage(&e),
    })
    .await
}

pub(in crate::http::espace) async fn action(
    S(app): S<Arc<App>>,
    p: RawPathParams,
    req: Request,
) -> Response<Body> {
    let mut c = chemin(&p);
    let an = c.pop().unwrap_or_default();
    let numero = c.pop().unwrap_or_default();
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let version: i64 = field(&envoi.corps, "version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let s: SaisieAction = match lire(&envoi.corps) {
        Ok(s) => s,
        Err(r) => return r,
    };
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
        let avant = SaisieAction::de(a, &ctx.etab);
        let mut sa = saisie::Saisie::default();
        let ch_prefixe = format!("formation[{numero}]/action[{an}]");
        s.appliquer(a, &ctx.etab, &app.refs, &ch_prefixe, &mut sa);
        let saisie_ok = sa.constats.is_empty();
        let ch = diff_json(&avant, &s)
            .into_iter()
            .map(|mut c| {
                c.champ = format!("action[{an}].{}", c.champ);
                c
            })
            .collect();
        match sauver(
            &app,
            &ctx,
            f,
            sa.constats,
            version,
            "enregistrement-action",
            ch,
        ) {
            Ok(_) if saisie_ok => redirect(&format!("{}/actions/{}", ctx.url(), enc(&an))),
            Ok(_) => match charger(&app, &q, &numero) {
                Ok(Some(c)) => match trouver_action(&c.formation, &an) {
                    Some(a) => prive(page(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        form_action(
                            &app,
                            &c,
                            a,
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

/// Adds a year to a LHÉO date, keeping its precision (`AAAAMM00` stays a month).
fn plus_un_an(d: &str) -> String {
    if d.len() != 8 || d == "00000000" || d == "99999999" {
        return d.to_string();
    }
    let y: u32 = d[..4].parse().unwrap_or(0);
    let mut s = format!("{:04}{}", y + 1, &d[4..]);
    if &s[4..] == "0229" {
        s.replace_range(6..8, "28");
    }
    s
}

/// `POST …/actions/{action}/{copier|supprimer|reconduire|cloturer}`.
pub(in crate::http::espace) async fn action_operation(
    S(app): S<Arc<App>>,
    p: RawPathParams,
    req: Request,
) -> Response<Body> {
    let mut c = chemin(&p);
    let op = c.pop().unwrap_or_default();
    let an = c.pop().unwrap_or_default();
    let numero = c.pop().unwrap_or_default();
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let version: i64 = field(&envoi.corps, "version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let selection: Vec<String> = form_urlencoded::parse(&envoi.corps)
        .filter(|(k, _)| k == "sel")
        .map(|(_, v)| v.into_owned())
        .take(saisie::MAX_SESSIONS)
        .collect();
    bloquant(move || {
        let q = envoi.qui;
        let ctx = match modifiable(&app, &q, &numero) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let mut f = ctx.formation.clone();
        let Some(i) = f.actions.iter().position(|x| x.numero == an) else {
            return introuvable(Some(&q));
        };
        let mut suite = format!("{}/actions/{}", ctx.url(), enc(&an));
        let ch = |champ: &str, avant: String, apres: String| {
            vec![crate::store::Changement {
                champ: champ.into(),
                avant,
                apres,
            }]
        };
        let (quoi, changements) = match op.as_str() {
            "copier" => {
                if f.actions.len() >= saisie::MAX_ACTIONS {
                    return refus(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "Trop d'actions",
                        &format!("{} actions au plus par formation", saisie::MAX_ACTIONS),
                        Some(&q),
                    );
                }
                let nouveau = saisie::numero_suivant(
                    &numero,
                    'A',
                    f.actions.iter().map(|a| a.numero.as_str()),
                );
                let mut copie = f.actions[i].clone();
                copie.numero = nouveau.clone();
                for (k, s) in copie.sessions.iter_mut().enumerate() {
                    s.numero = format!("{nouveau}_S{}", k + 1);
                }
                f.actions.push(copie);
                suite = format!("{}/actions/{}", ctx.url(), enc(&nouveau));
                ("copie-action", ch("action", an.clone(), nouveau))
            }
            "supprimer" => {
                f.actions.remove(i);
                suite = ctx.url();
                (
                    "suppression-action",
                    ch("action", an.clone(), String::new()),
                )
            }
            "reconduire" => {
                let a = &mut f.actions[i];
                if a.sessions.len() * 2 > saisie::MAX_SESSIONS {
                    return refus(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "Trop de sessions",
                        &format!("{} sessions au plus par action", saisie::MAX_SESSIONS),
                        Some(&q),
                    );
                }
                let mut nouvelles = Vec::new();
                let mut existants: Vec<String> =
                    a.sessions.iter().map(|s| s.numero.clone()).collect();
                for s in &a.sessions {
                    let mut n = s.clone();
                    n.numero =
                        saisie::numero_suivant(&an, 'S', existants.iter().map(String::as_str));
                    existants.push(n.numero.clone());
                    n.periode.debut = plus_un_an(&s.periode.debut);
                    n.periode.fin = plus_un_an(&s.periode.fin);
                    n.etat_recrutement = Some("1".into());
                    nouvelles.push(n);
                }
                let k = nouvelles.len();
                a.sessions.extend(nouvelles);
                (
                    "reconduction-sessions",
                    ch(
                        "sessions",
                        String::new(),
                        format!("{k} session(s) reconduite(s) d'un an"),
                    ),
                )
            }
            "cloturer" => {
                let a = &mut f.actions[i];
                let mut fermees = Vec::new();
                for s in a
                    .sessions
                    .iter_mut()
                    .filter(|s| selection.contains(&s.numero))
                {
                    s.etat_recrutement = Some("2".into());
                    fermees.push(s.numero.clone());
                }
                if fermees.is_empty() {
                    return redirect(&suite);
                }
                (
                    "cloture-sessions",
                    ch(
                        "etat-recrutement",
                        String::new(),
                        format!("fermé : {}", fermees.join(", ")),
                    ),
                )
            }
            _ => return introuvable(Some(&q)),
        };
        match sauver(&app, &ctx, f, vec![], version, quoi, changements) {
            Ok(_) => redirect(&suite),
            Err(e) => conflit_ou_erreur(e, &q),
        }
    })
    .await
}
