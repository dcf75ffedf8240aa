//! The formation step: create one, edit it (certifications found by title), submit,
//! withdraw, add an action.

use super::champs::*;
use super::*;

fn form_formation(
    app: &App,
    q: &Qui,
    ctx: Option<&Contexte>,
    s: &SaisieFormation,
    v: &Verdict,
    numero: &str,
    extras: Extras,
) -> Markup {
    let Extras {
        message,
        recherche_certification,
        certifications,
    } = extras;
    let lecture = ctx.is_some_and(|c| c.lecture_seule());
    let prefixe = format!("formation[{numero}]");
    let cs = repartir(
        v,
        &prefixe,
        CHAMPS_FORMATION,
        &["action[", "organisme-formation-responsable"],
    );
    let etab_cs: Vec<&Constat> = v
        .constats
        .iter()
        .filter(|c| c.chemin.contains("organisme-formation-responsable"))
        .collect();
    let action_url = match ctx {
        Some(c) => c.url(),
        None => "/espace/formations/nouvelle".into(),
    };
    let niveaux = dico(&app.refs, "dict-niveaux");
    let titre = if s.intitule.is_empty() {
        "Nouvelle formation".to_string()
    } else {
        s.intitule.clone()
    };
    cadre_prive(
        &titre,
        Some(q),
        html! {
            p.fil { a href="/espace" { "Mes formations" } " › " (titre) }
            h1 { (titre) }
            @if let Some(c) = ctx {
                p { "Offre " code { (c.formation.numero) } " — " (etat_badge(c.dossier.as_ref(), &c.formation)) }
                @if let Some(src) = &c.source {
                    p.aide role="note" { "Cette offre vient du flux « " (src) " » : elle se modifie à la source. Le Carif-Oref peut vous la confier pour la gérer ici." }
                }
                @if let Some(d) = &c.dossier {
                    @if !d.motifs.is_empty() {
                        div.erreur role="alert" { p { strong { @if d.etat == Etat::Refusee { "Le Carif-Oref a refusé cette version :" } @else { "Le Carif-Oref demande des corrections :" } } } ul { @for m in &d.motifs { li { strong { (m.motif.libelle) } " — " (m.motif.action) @if !m.texte.is_empty() { " « " (m.texte) " »" } } } } }
                    }
                }
                (decisions(&c.formation, &app.refs))
            }
            @if let Some(m) = message { p.succes role="status" { (m) } }
            @if !etab_cs.is_empty() {
                div.constats role="region" aria-label="Constats sur l'établissement" {
                    p { strong { "À corriger dans " a href="/espace/etablissement" { "Mon établissement" } " :" } }
                    ul { @for (i, c) in etab_cs.iter().enumerate() { li { (constat(c, &format!("etab-{i}"))) } } }
                }
            }
            (liste_constats("Autres constats sur la formation", &cs.autres))
            nav.etapes aria-label="Étapes" {
                ol {
                    li aria-current="step" { "1. La formation" }
                    li { "2. Les actions et leurs sessions" }
                }
            }
            form.saisie method="post" action=(action_url) {
                (csrf(q))
                input type="hidden" name="version" value=(ctx.map_or(0, |c| c.version()));
                (champ("intitule", "Intitulé de la formation", &s.intitule, cs.de("intitule"), Genre::Court, "255 caractères au plus", lecture))
                (champ("objectif", "Objectifs", &s.objectif, cs.de("objectif"), Genre::Long, "ce que la personne saura faire", lecture))
                (champ("contenu", "Contenu (programme)", &s.contenu, cs.de("contenu"), Genre::Long, "", lecture))
                (champ("resultats_attendus", "Résultats attendus", &s.resultats_attendus, cs.de("resultats_attendus"), Genre::Long, "certification, attestation…", lecture))
                (champ("certification", "Certification visée", &s.certification, cs.de("certification"), Genre::Court, "code RNCP (RNCP12345), RS (RS1234) ou Certif Info ; vide si la formation n'est pas certifiante", lecture))
                @if !lecture && ctx.is_some() {
                    div.champ {
                        label for="certification_q" { "Chercher une certification active par son intitulé" }
                        input id="certification_q" name="certification_q" type="search" value=(recherche_certification);
                        button.secondaire type="submit" name="chercher_certification" value="1" { "Chercher (enregistre le brouillon)" }
                    }
                    @if !certifications.is_empty() {
                        fieldset.propositions {
                            legend { "Certifications actives : choisissez, puis enregistrez" }
                            @for (code, intitule) in &certifications {
                                p { input type="radio" id={ "cert-" (code) } name="certification_choisie" value=(code);
                                    label for={ "cert-" (code) } { " " (intitule) " (" (code) ")" } }
                            }
                        }
                    } @else if !recherche_certification.is_empty() {
                        p.aide role="status" { "Aucune certification active ne contient « " (recherche_certification) " »." }
                    }
                }
                (champ("formacodes", "Domaines Formacode", &s.formacodes, cs.de("formacodes"), Genre::Court, "codes séparés par des espaces, le principal d'abord", lecture))
                (choix("niveau_entree", "Niveau d'entrée", &niveaux, &s.niveau_entree, cs.de("niveau_entree"), lecture))
                (choix("niveau_sortie", "Niveau de sortie", &niveaux, &s.niveau_sortie, cs.de("niveau_sortie"), lecture))
                (choix("parcours", "Parcours", &dico(&app.refs, "dict-type-parcours"), &s.parcours, cs.de("parcours"), lecture))
                fieldset {
                    legend { "Contact pour cette formation" }
                    (champ("contact_nom", "Nom", &s.contact_nom, cs.de("contact_nom"), Genre::Court, "", lecture))
                    (champ("contact_telephone", "Téléphone", &s.contact_telephone, &[], Genre::Court, "", lecture))
                    (champ("contact_email", "Adresse électronique", &s.contact_email, cs.de("contact_email"), Genre::Court, "", lecture))
                }
                @if !lecture { p { button type="submit" { "Enregistrer la formation" } } }
            }
            @if let Some(c) = ctx {
                (liste_actions(c)) (boutons_offre(c))
                section aria-labelledby="titre-parcours" {
                    h2 id="titre-parcours" { "Reçue, décidée, diffusée" }
                    (parcours(c.dossier.as_ref(), app.store.offre(&c.formation.numero).ok().flatten().as_ref(), app.store.decision(&c.formation.numero).ok().flatten().as_ref()))
                }
                @if c.dossier.is_some() {
                    section aria-labelledby="titre-historique" {
                        h2 id="titre-historique" { "Historique de l'offre" }
                        (historique(&app.store.audit(Some(&format!("offre {}", c.formation.numero)), 50).unwrap_or_default()))
                    }
                }
            }
        },
    )
}

fn liste_actions(c: &Contexte) -> Markup {
    let lecture = c.lecture_seule();
    html! {
        section aria-labelledby="titre-actions" {
            h2 id="titre-actions" { "Actions et sessions" }
            @if c.formation.actions.is_empty() { p { "Aucune action : ajoutez-en une pour dire où, quand et comment la formation a lieu." } }
            ul.liste-actions {
                @for a in &c.formation.actions {
                    @let erreurs = c.verdict.constats.iter().filter(|x| x.gravite == Gravite::Bloquant && x.chemin.contains(&format!("action[{}]", a.numero))).count();
                    li {
                        a href={ (c.url()) "/actions/" (enc(&a.numero)) } { "Action " (a.numero) }
                        " — " (a.lieux.first().and_then(|l| l.coordonnees.adresse.as_ref()).map_or(String::new(), |ad| ad.ville.clone()))
                        ", " (a.sessions.len()) " session(s)"
                        @if erreurs > 0 { " — " span.constat.bloquant { (erreurs) " erreur(s)" } }
                    }
                }
            }
            @if !lecture {
                form.en-ligne method="post" action={ (c.url()) "/nouvelle-action" } {
                    (csrf(&c.qui))
                    input type="hidden" name="version" value=(c.version());
                    button type="submit" { "Ajouter une action" }
                }
            }
        }
    }
}

fn boutons_offre(c: &Contexte) -> Markup {
    let Some(d) = &c.dossier else { return html! {} };
    let peut_soumettre = d.travail.is_some()
        && matches!(
            d.etat,
            Etat::Brouillon | Etat::ACorriger | Etat::Retiree | Etat::Refusee
        )
        && !c.verdict.bloquant();
    html! {
        section.soumission aria-labelledby="titre-soumission" {
            h2 id="titre-soumission" { "Soumettre au Carif-Oref" }
            @if d.etat == Etat::EnAttente {
                p role="status" { "Offre soumise : le Carif-Oref la vérifie." }
            } @else if d.travail.is_none() {
                p { "Rien à soumettre : la version en ligne est à jour." }
            } @else if c.verdict.bloquant() {
                p { "Corrigez les erreurs ci-dessus pour pouvoir soumettre l'offre : elle reste enregistrée comme brouillon." }
            }
            @if peut_soumettre {
                form.en-ligne method="post" action={ (c.url()) "/soumettre" } {
                    (csrf(&c.qui))
                    input type="hidden" name="version" value=(c.version());
                    button type="submit" { "Soumettre l'offre" }
                }
            }
            @if d.en_ligne {
                form.en-ligne method="post" action={ (c.url()) "/retirer" } {
                    (csrf(&c.qui))
                    input type="hidden" name="version" value=(c.version());
                    button.secondaire type="submit" { "Retirer l'offre de la diffusion" }
                }
            }
        }
    }
}

pub(in crate::http::espace) async fn nouvelle_page(
    S(app): S<Arc<App>>,
    req: Request,
) -> Response<Body> {
    let q = match connecte(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    if q.siret().is_none() {
        return introuvable(Some(&q));
    }
    let s = SaisieFormation {
        parcours: "1".into(),
        ..Default::default()
    };
    ok(form_formation(
        &app,
        &q,
        None,
        &s,
        &Verdict::default(),
        "",
        Extras::default(),
    ))
}

/// What a formation page shows beside the form: a message, and certifications found by title.
#[derive(Default)]
struct Extras<'a> {
    message: Option<&'a str>,
    recherche_certification: String,
    certifications: Vec<(String, String)>,
}

impl<'a> Extras<'a> {
    fn message(m: &'a str) -> Self {
        Extras {
            message: Some(m),
            ..Default::default()
        }
    }
}

/// Active certifications whose title contains every word typed: RNCP or RS code when
/// there is one, else the Certif Info number.
fn certifications_par_intitule(refs: &Referentiels, q: &str) -> Vec<(String, String)> {
    let mots: Vec<String> = crate::search::analyse::plier(q)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if mots.is_empty() {
        return vec![];
    }
    let mut v: Vec<(String, String)> = refs
        .certifinfo
        .values()
        .filter(|c| c.certifiante())
        .filter(|c| {
            let t = crate::search::analyse::plier(&c.intitule);
            mots.iter().all(|m| t.contains(m.as_str()))
        })
        .map(|c| {
            let code = c
                .code_rncp
                .as_ref()
                .map(|r| format!("RNCP{r}"))
                .or(c.code_rs.as_ref().map(|r| format!("RS{r}")))
                .unwrap_or_else(|| c.code.clone());
            (code, c.intitule.clone())
        })
        .collect();
    v.sort_by(|a, b| a.1.len().cmp(&b.1.len()).then(a.0.cmp(&b.0)));
    v.dedup_by(|a, b| a.0 == b.0);
    v.truncate(15);
    v
}

/// A formation step's form, its version and its fields.
fn lire_formation(corps: &[u8]) -> Result<(i64, SaisieFormation), Response<Body>> {
    let version = field(corps, "version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok((version, lire(corps)?))
}

pub(in crate::http::espace) async fn nouvelle(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let (_, s) = match lire_formation(&envoi.corps) {
        Ok(x) => x,
        Err(r) => return r,
    };
    bloquant(move || {
        let q = envoi.qui;
        let Some(siret) = q.siret().map(str::to_string) else {
            return introuvable(Some(&q));
        };
        let id = match app.store.nouvel_id() {
            Ok(i) => i,
            Err(e) => return erreur_stockage(&e),
        };
        let numero = format!("ESP{id:07}");
        let mut f = Formation {
            numero: numero.clone(),
            ..Default::default()
        };
        f.organisme.siret = siret.clone();
        let mut sa = saisie::Saisie::default();
        s.appliquer(&mut f, &app.refs, &mut sa);
        let etab = app
            .store
            .etablissement(&siret)
            .ok()
            .flatten()
            .unwrap_or_default();
        if !etab.raison_sociale.is_empty() {
            f.organisme = saisie::organisme_de(&etab, &app.refs);
        }
        let verdict = saisie::juger(
            &f,
            &app.refs,
            sa.constats,
            &autres_de(&app, &siret, &numero),
        );
        let now = crate::store::now_ms();
        let d = Dossier {
            numero: numero.clone(),
            siret,
            etat: Etat::Brouillon,
            travail: Some(Revision {
                formation: f,
                verdict,
            }),
            en_ligne: false,
            motifs: vec![],
            cree_le: now,
            modifie_le: now,
            soumis_le: None,
            a_revoir: false,
            source: "formulaire".into(),
        };
        let ch = diff_json(&SaisieFormation::default(), &s);
        match app.store.enregistrer_dossier(
            &d,
            None,
            Evenement::new(&q.auteur(), format!("offre {numero}"), "creation").avec(ch),
        ) {
            Ok(_) => redirect(&format!("/espace/formations/{}", enc(&numero))),
            Err(e) => erreur_stockage(&e),
        }
    })
    .await
}

pub(in crate::http::espace) async fn formation_page(
    S(app): S<Arc<App>>,
    p: RawPathParams,
    req: Request,
) -> Response<Body> {
    let q = match connecte(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    let numero = chemin(&p).pop().unwrap_or_default();
    bloquant(move || match charger(&app, &q, &numero) {
        Ok(Some(c)) => {
            let s = SaisieFormation::de(&c.formation);
            ok(form_formation(
                &app,
                &q,
                Some(&c),
                &s,
                &c.verdict,
                &numero,
                Extras::default(),
            ))
        }
        Ok(None) => introuvable(Some(&q)),
        Err(e) => erreur_stockage(&e),
    })
    .await
}

pub(in crate::http::espace) async fn formation(
    S(app): S<Arc<App>>,
    p: RawPathParams,
    req: Request,
) -> Response<Body> {
    let numero = chemin(&p).pop().unwrap_or_default();
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let (version, mut s) = match lire_formation(&envoi.corps) {
        Ok(x) => x,
        Err(r) => return r,
    };
    // A certification picked among those found by title replaces the code typed.
    if let Some(c) = field(&envoi.corps, "certification_choisie").filter(|c| !c.is_empty()) {
        s.certification = c;
    }
    let recherche = field(&envoi.corps, "chercher_certification")
        .map(|_| field(&envoi.corps, "certification_q").unwrap_or_default());
    bloquant(move || {
        let q = envoi.qui;
        let ctx = match modifiable(&app, &q, &numero) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let mut f = ctx.formation.clone();
        let mut sa = saisie::Saisie::default();
        s.appliquer(&mut f, &app.refs, &mut sa);
        let saisie_ok = sa.constats.is_empty();
        let ch = diff_json(&SaisieFormation::de(&ctx.formation), &s);
        match sauver(
            &app,
            &ctx,
            f,
            sa.constats,
            version,
            "enregistrement-formation",
            ch,
        ) {
            Ok(_) if saisie_ok && recherche.is_none() => {
                redirect(&format!("{}#contenu", ctx.url()))
            }
            Ok(_) => {
                // Values the model cannot hold (a date that is not one) stay in the form,
                // and so does a certification search with its results.
                let (status, extras) = match &recherche {
                    Some(r) => (
                        StatusCode::OK,
                        Extras {
                            message: Some("Brouillon enregistré."),
                            recherche_certification: r.chars().take(100).collect(),
                            certifications: certifications_par_intitule(&app.refs, r),
                        },
                    ),
                    None => (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Extras::message("Brouillon enregistré, avec des points à corriger."),
                    ),
                };
                match charger(&app, &q, &numero) {
                    Ok(Some(c)) => prive(page(
                        status,
                        form_formation(&app, &q, Some(&c), &s, &c.verdict, &numero, extras),
                    )),
                    _ => introuvable(Some(&q)),
                }
            }
            Err(e) => conflit_ou_erreur(e, &q),
        }
    })
    .await
}

/// `POST /espace/formations/{numero}/{soumettre|retirer|nouvelle-action}`.
pub(in crate::http::espace) async fn operation(
    S(app): S<Arc<App>>,
    p: RawPathParams,
    req: Request,
) -> Response<Body> {
    let mut c = chemin(&p);
    let op = c.pop().unwrap_or_default();
    let numero = c.pop().unwrap_or_default();
    let envoi = match formulaire(&app, req).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let version: i64 = field(&envoi.corps, "version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    bloquant(move || {
        let q = envoi.qui;
        let ctx = match modifiable(&app, &q, &numero) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let d = ctx.dossier.clone().expect("modifiable");
        let ev = |quoi: &str, avant: Etat, apres: Etat| {
            Evenement::new(&q.auteur(), format!("offre {numero}"), quoi).avec(vec![
                crate::store::Changement {
                    champ: "etat".into(),
                    avant: avant.code().into(),
                    apres: apres.code().into(),
                },
            ])
        };
        let r = match op.as_str() {
            "soumettre" => super::soumettre_dossier(&app, &d, version, &q.auteur()).map(|_| ()),
            "retirer" => app
                .store
                .retirer_dossier(&numero, Some(version), ev("retrait", d.etat, Etat::Retiree))
                .map(|_| ()),
            "nouvelle-action" => {
                let mut f = ctx.formation.clone();
                if f.actions.len() >= saisie::MAX_ACTIONS {
                    return refus(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "Trop d'actions",
                        &format!("{} actions au plus par formation", saisie::MAX_ACTIONS),
                        Some(&q),
                    );
                }
                let an = saisie::numero_suivant(
                    &numero,
                    'A',
                    f.actions.iter().map(|a| a.numero.as_str()),
                );
                let mut a = saisie::nouvelle_action(an.clone());
                let mut sa = saisie::Saisie::default();
                SaisieAction {
                    lieu: "0".into(),
                    ..SaisieAction::de(&a, &ctx.etab)
                }
                .appliquer(&mut a, &ctx.etab, &app.refs, "", &mut sa);
                f.actions.push(a);
                return match sauver(
                    &app,
                    &ctx,
                    f,
                    vec![],
                    version,
                    "ajout-action",
                    vec![crate::store::Changement {
                        champ: "action".into(),
                        avant: String::new(),
                        apres: an.clone(),
                    }],
                ) {
                    Ok(_) => redirect(&format!("{}/actions/{}", ctx.url(), enc(&an))),
                    Err(e) => conflit_ou_erreur(e, &q),
                };
            }
            _ => return introuvable(Some(&q)),
        };
        match r {
            Ok(()) => redirect(&ctx.url()),
            Err(e) => conflit_ou_erreur(e, &q),
        }
    })
    .await
}
