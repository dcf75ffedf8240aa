//! An organisation's offers: the dashboard, and the F-A-S-D forms (formation, action with
//! its sessions, session), each saved as a draft on every submit and checked by the same
//! rules as imports, with every finding shown beside its field. Offers received from a
//! feed appear read-only, their source named.

use super::*;
use crate::model::{Action, Formation, Session};
use crate::referentiel::Referentiels;
use crate::rules::{Constat, Gravite, Verdict};
use crate::saisie::{self, SaisieAction, SaisieFormation, SaisieSession};
use crate::store::{
    diff_json, Dossier, Etablissement, Etat, Evenement, Revision, StoreError, SOURCE_ESPACE,
};

/// An offer as an organisation route sees it, after the ownership check.
pub(super) struct Contexte {
    pub qui: Qui,
    pub siret: String,
    /// `None` for an offer received from a feed (read-only).
    pub dossier: Option<Dossier>,
    pub formation: Formation,
    pub verdict: Verdict,
    /// The feed it came from, when not entered here.
    pub source: Option<String>,
    pub etab: Etablissement,
}

impl Contexte {
    fn lecture_seule(&self) -> bool {
        self.dossier.is_none()
    }
    fn version(&self) -> i64 {
        self.dossier.as_ref().map_or(0, |d| d.modifie_le)
    }
    fn url(&self) -> String {
        format!("/espace/formations/{}", enc(&self.formation.numero))
    }
}

pub(super) fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Loads an offer for the SIRET the person acts for; `None` when it is not theirs (the
/// caller answers 404: another organisation's offer does not exist for them).
pub(super) fn charger(app: &App, qui: &Qui, numero: &str) -> Result<Option<Contexte>, StoreError> {
    let Some(siret) = qui.siret().map(str::to_string) else {
        return Ok(None);
    };
    let sirets = [siret.clone()];
    let dossier = app.store.dossier_de(&sirets, numero)?;
    let (formation, verdict, source) = match &dossier {
        Some(d) => match &d.travail {
            Some(r) => (r.formation.clone(), r.verdict.clone(), None),
            None => match app.store.offre(numero)? {
                Some(o) => (o.formation, o.verdict, None),
                None => return Ok(None),
            },
        },
        None => match app.store.offre(numero)? {
            Some(o) if o.formation.organisme.siret == siret && o.source != SOURCE_ESPACE => {
                (o.formation, o.verdict, Some(o.source))
            }
            _ => return Ok(None),
        },
    };
    let etab = app.store.etablissement(&siret)?.unwrap_or(Etablissement {
        siret: siret.clone(),
        ..Default::default()
    });
    Ok(Some(Contexte {
        qui: qui.clone(),
        siret,
        dossier,
        formation,
        verdict,
        source,
        etab,
    }))
}

/// The organisation's other offers, for the duplicate check.
pub(super) fn autres_de(app: &App, siret: &str, numero: &str) -> Vec<Formation> {
    let mut v: Vec<Formation> = app
        .store
        .dossiers_de(siret)
        .unwrap_or_default()
        .into_iter()
        .filter(|d| d.numero != numero && d.etat != Etat::Retiree)
        .filter_map(|d| match d.travail {
            Some(r) => Some(r.formation),
            None => app
                .store
                .offre(&d.numero)
                .ok()
                .flatten()
                .map(|o| o.formation),
        })
        .collect();
    for n in app.store.numeros_par_organisme(siret).unwrap_or_default() {
        if n != numero && !v.iter().any(|f| f.numero == n) {
            if let Ok(Some(o)) = app.store.offre(&n) {
                v.push(o.formation);
            }
        }
    }
    v
}

/// Saves a new working revision (a draft) with its audit event: the rules run on it,
/// with the typed values' own findings and the duplicate check.
fn sauver(
    app: &App,
    ctx: &Contexte,
    mut f: Formation,
    saisie: Vec<Constat>,
    version: i64,
    quoi: &str,
    changements: Vec<crate::store::Changement>,
) -> Result<Dossier, StoreError> {
    if !ctx.etab.siret.is_empty() && !ctx.etab.raison_sociale.is_empty() {
        f.organisme = saisie::organisme_de(&ctx.etab, &app.refs);
    }
    let verdict = saisie::juger(
        &f,
        &app.refs,
        saisie,
        &autres_de(app, &ctx.siret, &f.numero),
    );
    let d = ctx.dossier.as_ref().expect("only dossiers are saved");
    let nouveau = Dossier {
        etat: Etat::Brouillon,
        travail: Some(Revision {
            formation: f,
            verdict,
        }),
        ..d.clone()
    };
    let mut ch = changements;
    if d.etat != Etat::Brouillon {
        ch.push(crate::store::Changement {
            champ: "etat".into(),
            avant: d.etat.code().into(),
            apres: Etat::Brouillon.code().into(),
        });
    }
    app.store.enregistrer_dossier(
        &nouveau,
        Some(version),
        Evenement::new(&ctx.qui.auteur(), format!("offre {}", d.numero), quoi).avec(ch),
    )
}

// ---------- Rendering helpers ----------

/// Findings of a step, by field: `prefixe` is the step's element path, `champs` maps each
/// form field to the LHÉO elements it feeds (most specific first).
struct Constats<'a> {
    par_champ: Vec<(&'static str, Vec<&'a Constat>)>,
    autres: Vec<&'a Constat>,
}

fn repartir<'a>(
    v: &'a Verdict,
    prefixe: &str,
    champs: &[(&'static str, &'static str)],
    exclure: &[&str],
) -> Constats<'a> {
    let mut par_champ: Vec<(&'static str, Vec<&Constat>)> =
        champs.iter().map(|(c, _)| (*c, Vec::new())).collect();
    let mut autres = Vec::new();
    for c in &v.constats {
        let Some(reste) = c.chemin.strip_prefix(prefixe) else {
            continue;
        };
        let reste = reste.trim_start_matches('/');
        if exclure.iter().any(|x| reste.starts_with(x)) {
            continue;
        }
        match champs.iter().position(|(_, el)| reste.starts_with(el)) {
            Some(i) => par_champ[i].1.push(c),
            None => autres.push(c),
        }
    }
    Constats { par_champ, autres }
}

impl<'a> Constats<'a> {
    fn de(&self, champ: &str) -> &[&'a Constat] {
        self.par_champ
            .iter()
            .find(|(c, _)| *c == champ)
            .map_or(&[], |(_, v)| v.as_slice())
    }
}

fn constat(c: &Constat, id: &str) -> Markup {
    let g = match c.gravite {
        Gravite::Bloquant => "bloquant",
        Gravite::Avertissement => "avertissement",
    };
    html! {
        span class={ "constat " (g) } id=(id) {
            strong { @if c.gravite == Gravite::Bloquant { "Erreur" } @else { "Avertissement" } }
            " [" code { (c.code) } "] " (c.message) ". "
            em { (saisie::que_faire(&c.code)) }
        }
    }
}

fn liste_constats(titre: &str, v: &[&Constat]) -> Markup {
    html! {
        @if !v.is_empty() {
            div.constats role="region" aria-label=(titre) {
                p { strong { (titre) } }
                ul { @for (i, c) in v.iter().enumerate() { li { (constat(c, &format!("autre-{i}"))) } } }
            }
        }
    }
}

/// A labelled field with its findings, linked for screen readers.
fn champ(
    nom: &str,
    libelle: &str,
    valeur: &str,
    cs: &[&Constat],
    genre: Genre,
    aide: &str,
    lecture: bool,
) -> Markup {
    let invalide = cs.iter().any(|c| c.gravite == Gravite::Bloquant);
    let ids: Vec<String> = (0..cs.len()).map(|i| format!("c-{nom}-{i}")).collect();
    let decrit = {
        let mut d = ids.join(" ");
        if !aide.is_empty() {
            d = format!("aide-{nom} {d}");
        }
        d
    };
    html! {
        div.champ .a-corriger[invalide] {
            label for=(nom) { (libelle) }
            @if !aide.is_empty() { span.aide id={ "aide-" (nom) } { (aide) } }
            @match genre {
                Genre::Long => textarea id=(nom) name=(nom) rows="5" readonly[lecture] aria-invalid=[invalide.then_some("true")] aria-describedby=(decrit) { (valeur) },
                Genre::Date => input id=(nom) name=(nom) type="date" value=(valeur) readonly[lecture] aria-invalid=[invalide.then_some("true")] aria-describedby=(decrit);,
                Genre::Court => input id=(nom) name=(nom) value=(valeur) readonly[lecture] aria-invalid=[invalide.then_some("true")] aria-describedby=(decrit);,
            }
            @for (c, id) in cs.iter().zip(&ids) { (constat(c, id)) }
        }
    }
}

#[derive(Clone, Copy)]
enum Genre {
    Court,
    Long,
    Date,
}

fn choix(
    nom: &str,
    libelle: &str,
    options: &[(String, String)],
    valeur: &str,
    cs: &[&Constat],
    lecture: bool,
) -> Markup {
    let invalide = cs.iter().any(|c| c.gravite == Gravite::Bloquant);
    let ids: Vec<String> = (0..cs.len()).map(|i| format!("c-{nom}-{i}")).collect();
    html! {
        div.champ .a-corriger[invalide] {
            label for=(nom) { (libelle) }
            select id=(nom) name=(nom) disabled[lecture] aria-invalid=[invalide.then_some("true")] aria-describedby=(ids.join(" ")) {
                option value="" { "— choisir —" }
                @for (code, lib) in options {
                    option value=(code) selected[code == valeur] { (lib) }
                }
            }
            @for (c, id) in cs.iter().zip(&ids) { (constat(c, id)) }
        }
    }
}

fn cases(
    nom: &str,
    libelle: &str,
    options: &[(String, String)],
    valeurs: &[String],
    cs: &[&Constat],
    lecture: bool,
) -> Markup {
    let ids: Vec<String> = (0..cs.len()).map(|i| format!("c-{nom}-{i}")).collect();
    html! {
        fieldset.champ.cases aria-describedby=(ids.join(" ")) {
            legend { (libelle) }
            @for (code, lib) in options {
                p {
                    input type="checkbox" id={ (nom) "-" (code) } name=(nom) value=(code) checked[valeurs.contains(code)] disabled[lecture];
                    label for={ (nom) "-" (code) } { " " (lib) }
                }
            }
            @for (c, id) in cs.iter().zip(&ids) { (constat(c, id)) }
        }
    }
}

fn dico(refs: &Referentiels, d: &str) -> Vec<(String, String)> {
    refs.dictionnaires
        .get(d)
        .into_iter()
        .flatten()
        .filter(|(_, l)| l != "Code(s) obsolète(s)")
        .map(|(c, l)| (c.clone(), l.clone()))
        .collect()
}

fn sites(e: &Etablissement) -> Vec<(String, String)> {
    std::iter::once(&e.site_principal)
        .chain(&e.sites)
        .enumerate()
        .map(|(i, s)| {
            (
                i.to_string(),
                format!(
                    "{} — {} {}",
                    if s.nom.is_empty() { "Site" } else { &s.nom },
                    s.codepostal,
                    s.ville
                ),
            )
        })
        .collect()
}

/// "sera diffusée : …" / "ne sera pas diffusée : …" for each action.
fn decisions(f: &Formation, refs: &Referentiels) -> Markup {
    html! {
        @if !f.actions.is_empty() {
            div.perimetre role="status" {
                p { strong { "Diffusion prévue" } }
                ul {
                    @for a in &f.actions {
                        @let d = crate::rules::decision(f, a, refs);
                        li {
                            "Action " (a.numero) " : "
                            @if d.diffusee { strong.diffusee { "sera diffusée" } } @else { strong.non-diffusee { "ne sera pas diffusée" } }
                            " — " (d.motif)
                        }
                    }
                }
                p {
                    "Éligibilité au CPF : "
                    @if crate::diffusion::eligible_cpf(f, refs) { strong { "oui" } " (certification inscrite au RNCP ou au Répertoire spécifique)" }
                    @else { strong { "non" } " (il faut une certification inscrite au RNCP ou au Répertoire spécifique)" }
                }
            }
        }
    }
}

fn etat_badge(d: Option<&Dossier>, f: &Formation) -> Markup {
    let (code, libelle) = match d {
        None => ("flux", "reçue par flux (lecture seule)".to_string()),
        Some(d) => {
            let e = d.etat_du_jour(Some(f), &aujourdhui());
            let mut l = e.libelle().to_string();
            if d.en_ligne && d.travail.is_some() && e != Etat::Retiree {
                l.push_str(" (la version diffusée reste en ligne)");
            }
            (e.code(), l)
        }
    };
    html! { span class={ "etat etat-" (code) } { (libelle) } }
}

// ---------- Dashboard ----------

pub(super) async fn tableau(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
    let q = match connecte(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    if q.siret().is_none() && q.equipe() {
        return redirect("/gestion");
    }
    bloquant(move || {
        let Some(siret) = q.siret().map(str::to_string) else {
            return introuvable(Some(&q));
        };
        let dossiers = match app.store.dossiers_de(&siret) {
            Ok(d) => d,
            Err(e) => return erreur_stockage(&e),
        };
        let etab = app.store.etablissement(&siret).ok().flatten();
        let mut lignes: Vec<Ligne> = Vec::new();
        let jour = aujourdhui();
        for d in &dossiers {
            let diffusee = app.store.offre(&d.numero).ok().flatten();
            let f = match (&d.travail, &diffusee) {
                (Some(r), _) => r.formation.clone(),
                (None, Some(o)) => o.formation.clone(),
                _ => continue,
            };
            let v = d
                .travail
                .as_ref()
                .map(|r| r.verdict.clone())
                .or(diffusee.as_ref().map(|o| o.verdict.clone()))
                .unwrap_or_default();
            lignes.push((
                d.numero.clone(),
                etat_badge(Some(d), diffusee.as_ref().map_or(&f, |o| &o.formation)),
                f.intitule.clone(),
                prochaines(&f, &jour),
                (v.erreurs().count(), v.avertissements().count()),
            ));
        }
        let flux: Vec<(String, String, String)> = app
            .store
            .numeros_par_organisme(&siret)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| !dossiers.iter().any(|d| &d.numero == n))
            .filter_map(|n| app.store.offre(&n).ok().flatten())
            .map(|o| (o.formation.numero, o.formation.intitule, o.source))
            .collect();
        ok(cadre_prive(
            "Mes formations",
            Some(&q),
            html! {
                h1 { "Mes formations" }
                p { "Organisme " strong { (etab.as_ref().map_or(siret.as_str(), |e| e.raison_sociale.as_str())) } " — SIRET " (siret) }
                @if q.compte.sirets.len() > 1 {
                    form.en-ligne method="post" action="/espace/siret" {
                        (csrf(&q))
                        label for="siret-choisi" { "Agir pour : " }
                        select id="siret-choisi" name="siret" {
                            @for s in &q.compte.sirets { option value=(s) selected[s == &siret] { (s) } }
                        }
                        button type="submit" { "Changer" }
                    }
                }
                @if etab.as_ref().is_none_or(|e| e.raison_sociale.is_empty()) {
                    p.erreur role="alert" { "Commencez par décrire votre établissement : " a href="/espace/etablissement" { "Mon établissement" } "." }
                }
                ul.actions-espace {
                    li { a.bouton href="/espace/formations/nouvelle" { "Nouvelle formation" } }
                    li { a href="/espace/etablissement" { "Mon établissement" } }
                    li { a href="/espace/fichier" { "Déposer un fichier LHÉO" } }
                    @if q.responsable() { li { a href="/espace/utilisateurs" { "Utilisateurs" } } }
                    li { a href="/espace/jetons" { "Jetons d'API" } }
                }
                @if lignes.is_empty() && flux.is_empty() {
                    p { "Aucune formation pour l'instant." }
                } @else {
                    table.tableau-offres {
                        caption { "Formations saisies ici" }
                        thead { tr { th scope="col" { "Formation" } th scope="col" { "État" } th scope="col" { "Prochaines sessions" } th scope="col" { "Constats" } } }
                        tbody {
                            @for (n, etat, titre, sessions, (e, a)) in &lignes {
                                tr {
                                    td { a href={ "/espace/formations/" (enc(n)) } { (if titre.is_empty() { "(sans intitulé)" } else { titre }) } br; small { (n) } }
                                    td { (etat) }
                                    td { (sessions) }
                                    td { @if *e > 0 { span.constat.bloquant { (e) " erreur(s)" } " " } @if *a > 0 { (a) " avertissement(s)" } @if *e == 0 && *a == 0 { "aucun" } }
                                }
                            }
                        }
                    }
                    @if !flux.is_empty() {
                        table.tableau-offres {
                            caption { "Formations reçues par flux (lecture seule)" }
                            thead { tr { th scope="col" { "Formation" } th scope="col" { "Source" } } }
                            tbody {
                                @for (n, t, s) in &flux {
                                    tr { td { a href={ "/espace/formations/" (enc(n)) } { (t) } br; small { (n) } } td { (s) } }
                                }
                            }
                        }
                    }
                }
            },
        ))
    })
    .await
}

/// A dashboard row: numero, state badge, title, next sessions, (errors, warnings).
type Ligne = (String, Markup, String, Markup, (usize, usize));

/// The next two session starts, in French.
fn prochaines(f: &Formation, jour: &str) -> Markup {
    let mut debuts: Vec<&str> = f
        .sessions()
        .filter(|s| s.periode.fin.as_str() >= jour || s.periode.fin.ends_with("00"))
        .map(|s| s.periode.debut.as_str())
        .collect();
    debuts.sort();
    html! {
        @if debuts.is_empty() { "aucune" }
        @for d in debuts.iter().take(2) { (date_lisible(d)) br; }
    }
}

/// `AAAAMMJJ` in French, with LHÉO's conventions (`AAAAMM00`: a month).
pub(super) fn date_lisible(d: &str) -> String {
    const MOIS: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    if d.len() != 8 || d == "00000000" || d == "99999999" {
        return "date non communiquée".into();
    }
    let (y, m, j) = (
        &d[..4],
        d[4..6].parse::<usize>().unwrap_or(0),
        d[6..].parse::<u32>().unwrap_or(0),
    );
    match (m, j) {
        (0, _) => format!("année {y}"),
        (m, 0) if m <= 12 => format!("{} {y}", MOIS[m - 1]),
        (m, j) if m <= 12 => format!("{j} {} {y}", MOIS[m - 1]),
        _ => d.to_string(),
    }
}

// ---------- Formation step ----------

const CHAMPS_FORMATION: &[(&str, &str)] = &[
    ("intitule", "intitule-formation"),
    ("objectif", "objectif-formation"),
    ("contenu", "contenu-formation"),
    ("resultats_attendus", "resultats-attendus"),
    ("certification", "certification"),
    ("formacodes", "domaine-formation"),
    ("niveau_entree", "code-niveau-entree"),
    ("niveau_sortie", "code-niveau-sortie"),
    ("parcours", "parcours-de-formation"),
    ("contact_email", "contact-formation/courriel"),
    ("contact_nom", "contact-formation"),
];

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
                        div.erreur role="alert" { p { strong { "Le Carif-Oref demande des corrections :" } } ul { @for m in &d.motifs { li { (m) } } } }
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
            @if let Some(c) = ctx { (liste_actions(c)) (boutons_offre(c)) }
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
        && matches!(d.etat, Etat::Brouillon | Etat::ACorriger | Etat::Retiree)
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

pub(super) async fn nouvelle_page(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
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

pub(super) async fn nouvelle(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
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

pub(super) async fn formation_page(
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

/// Loads the offer of a POST and checks it can be edited here.
fn modifiable(app: &App, q: &Qui, numero: &str) -> Result<Contexte, Response<Body>> {
    match charger(app, q, numero) {
        Ok(Some(c)) if !c.lecture_seule() => Ok(c),
        Ok(Some(_)) => Err(refus(
            StatusCode::FORBIDDEN,
            "Offre en lecture seule",
            "Cette offre vient d'un flux : elle se modifie à la source.",
            Some(q),
        )),
        Ok(None) => Err(introuvable(Some(q))),
        Err(e) => Err(erreur_stockage(&e)),
    }
}

fn conflit_ou_erreur(e: StoreError, q: &Qui) -> Response<Body> {
    match e {
        StoreError::Conflit(m) => refus(
            StatusCode::CONFLICT,
            "Modification concurrente",
            &m,
            Some(q),
        ),
        e => erreur_stockage(&e),
    }
}

pub(super) async fn formation(
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
pub(super) async fn operation(
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
            "soumettre" => {
                let Some(rev) = d.travail.clone() else {
                    return redirect(&ctx.url());
                };
                // Judged again: the référentiels or the other offers may have changed.
                let verdict = saisie::juger(
                    &rev.formation,
                    &app.refs,
                    vec![],
                    &autres_de(&app, &ctx.siret, &numero),
                );
                let bloque = verdict.bloquant();
                let apres = if bloque { d.etat } else { Etat::EnAttente };
                let nouveau = Dossier {
                    etat: apres,
                    soumis_le: (!bloque).then(crate::store::now_ms).or(d.soumis_le),
                    travail: Some(Revision {
                        formation: rev.formation,
                        verdict,
                    }),
                    ..d.clone()
                };
                app.store
                    .enregistrer_dossier(
                        &nouveau,
                        Some(version),
                        ev(
                            if bloque {
                                "soumission-refusee"
                            } else {
                                "soumission"
                            },
                            d.etat,
                            apres,
                        ),
                    )
                    .map(|_| ())
            }
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

// ---------- Action step ----------

const CHAMPS_ACTION: &[(&str, &str)] = &[
    ("lieu", "lieu-de-formation"),
    ("siret_formateur", "organisme-formateur"),
    ("modalites_enseignement", "modalites-enseignement"),
    ("entrees_sorties", "modalites-entrees-sorties"),
    ("heures_centre", "nombre-heures-centre"),
    ("heures_entreprise", "nombre-heures-entreprise"),
    ("heures_centre", "nombre-heures-total"),
    ("rythme", "rythme-formation"),
    ("alternance", "modalites-alternance"),
    ("prix_total", "prix-total-TTC"),
    ("prix_total", "prix-horaire-TTC"),
    ("niveau_obligatoire", "niveau-entree-obligatoire"),
    ("conditions_acces", "conditions-specifiques"),
    ("financeurs", "organisme-financeur"),
    ("publics", "code-public-vise"),
    ("date_information", "date-information"),
];

fn trouver_action<'a>(f: &'a Formation, a: &str) -> Option<&'a Action> {
    f.actions.iter().find(|x| x.numero == a)
}

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

pub(super) async fn action_page(
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

pub(super) async fn action(S(app): S<Arc<App>>, p: RawPathParams, req: Request) -> Response<Body> {
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
pub(super) async fn action_operation(
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

// ---------- Session step ----------

const CHAMPS_SESSION: &[(&str, &str)] = &[
    ("debut", "periode/debut"),
    ("fin", "periode/fin"),
    ("debut", "periode"),
    ("etat_recrutement", "etat-recrutement"),
    ("places", "nb-places"),
    ("inscription", "adresse-inscription"),
    ("modalites_inscription", "modalites-inscription"),
];

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

pub(super) async fn session_page(
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

pub(super) async fn session(S(app): S<Arc<App>>, p: RawPathParams, req: Request) -> Response<Body> {
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

// ---------- LHÉO file ----------

fn page_fichier(q: &Qui, rapport: Option<&crate::import::Rapport>) -> Markup {
    cadre_prive(
        "Déposer un fichier LHÉO",
        Some(q),
        html! {
            h1 { "Déposer un fichier LHÉO" }
            p { "Votre logiciel exporte votre offre au format LHÉO (2.2 ou 2.3) ? Déposez le fichier : chaque offre est vérifiée par les mêmes règles que les formulaires, puis soumise au Carif-Oref. Les offres d'un autre SIRET que " strong { (q.siret().unwrap_or("")) } " sont refusées." }
            @if let Some(r) = rapport {
                div role="status" .succes[r.rejetees == 0] .erreur[r.rejetees > 0] {
                    p { (r.lues) " offre(s) lue(s) : " (r.creees) " nouvelle(s), " (r.modifiees) " modifiée(s), " (r.inchangees) " inchangée(s) — soumises au Carif-Oref ; " (r.rejetees) " refusée(s)." }
                    @if let Some(e) = &r.erreur_fatale { p { "Lecture interrompue : " (e) } }
                    @if !r.rejets.is_empty() {
                        ul { @for rj in &r.rejets { li { "Offre " code { (rj.numero) } @if rj.ligne > 0 { " (ligne " (rj.ligne) ")" } " : "
                            @for e in &rj.erreurs { (e.message) " [" code { (e.code) } "] " } } } }
                    }
                }
            }
            form.saisie method="post" action="/espace/fichier" enctype="multipart/form-data" {
                (csrf(q))
                p.champ { label for="fichier" { "Fichier LHÉO (.xml, éventuellement .gz)" } input id="fichier" name="fichier" type="file" accept=".xml,.gz,application/xml" required; }
                p { button type="submit" { "Déposer" } }
            }
        },
    )
}

pub(super) async fn fichier_page(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
    match connecte(&app, req.headers()).await {
        Ok(q) if q.siret().is_some() => ok(page_fichier(&q, None)),
        Ok(q) => introuvable(Some(&q)),
        Err(r) => r,
    }
}

pub(super) async fn fichier(S(app): S<Arc<App>>, req: Request) -> Response<Body> {
    if let Some(p) = cross_site(req.headers()) {
        return refus(StatusCode::FORBIDDEN, "Requête refusée", &p, None);
    }
    let q = match connecte(&app, req.headers()).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    let Some(siret) = q.siret().map(str::to_string) else {
        return introuvable(Some(&q));
    };
    let limite = crate::limits::MAX_DEPOT.min(app.upload_limit as usize);
    let place = app.upload_slots.clone().acquire_owned();
    let Ok(Ok(_place)) = tokio::time::timeout(crate::limits::UPLOAD_WAIT, place).await else {
        let mut r = refus(
            StatusCode::SERVICE_UNAVAILABLE,
            "Dépôts occupés",
            "Trop de dépôts en cours : réessayez dans un instant.",
            Some(&q),
        );
        r.headers_mut()
            .insert("retry-after", "5".parse().expect("digits"));
        return r;
    };
    let mut multipart = match axum::extract::Multipart::from_request(req, &()).await {
        Ok(m) => m,
        Err(e) => {
            return refus(
                StatusCode::BAD_REQUEST,
                "Envoi illisible",
                &e.body_text(),
                Some(&q),
            )
        }
    };
    let (mut jeton, mut octets, mut nom) = (String::new(), None, String::from("fichier.xml"));
    loop {
        match multipart.next_field().await {
            Ok(Some(mut champ)) => match champ.name() {
                Some("_csrf") => jeton = champ.text().await.unwrap_or_default(),
                Some("fichier") => {
                    nom = champ
                        .file_name()
                        .unwrap_or("fichier.xml")
                        .chars()
                        .take(100)
                        .collect();
                    let mut v: Vec<u8> = Vec::new();
                    loop {
                        match champ.chunk().await {
                            Ok(Some(c)) => {
                                if v.len() + c.len() > limite {
                                    return refus(
                                        StatusCode::PAYLOAD_TOO_LARGE,
                                        "Fichier trop volumineux",
                                        &format!("le fichier dépasse {} Mo", limite >> 20),
                                        Some(&q),
                                    );
                                }
                                v.extend_from_slice(&c);
                            }
                            Ok(None) => break,
                            Err(e) => {
                                return refus(
                                    StatusCode::BAD_REQUEST,
                                    "Envoi interrompu",
                                    &e.body_text(),
                                    Some(&q),
                                )
                            }
                        }
                    }
                    octets = Some(v);
                }
                _ => {}
            },
            Ok(None) => break,
            Err(e) => {
                return refus(
                    StatusCode::BAD_REQUEST,
                    "Envoi illisible",
                    &e.body_text(),
                    Some(&q),
                )
            }
        }
    }
    if !same_token(&jeton, &q.session.csrf) {
        return refus(
            StatusCode::FORBIDDEN,
            "Requête refusée",
            "le jeton du formulaire manque ou a expiré : rechargez la page",
            Some(&q),
        );
    }
    let Some(octets) = octets else {
        return refus(
            StatusCode::BAD_REQUEST,
            "Aucun fichier",
            "choisissez un fichier LHÉO à déposer",
            Some(&q),
        );
    };
    bloquant(
        move || match deposer(&app, &q.auteur(), &[siret], &nom, octets) {
            Ok(r) => ok(page_fichier(&q, Some(&r))),
            Err(e) => erreur_stockage(&e),
        },
    )
    .await
}

/// Runs the import pipeline on an organisation's file: its offers land `en_attente`.
pub(super) fn deposer(
    app: &App,
    auteur: &str,
    sirets: &[String],
    nom: &str,
    octets: Vec<u8>,
) -> Result<crate::import::Rapport, StoreError> {
    let n = octets.len() as u64;
    let lus = Arc::new(std::sync::atomic::AtomicU64::new(n));
    let input = crate::lheo::Input {
        reader: crate::lheo::from_reader(std::io::Cursor::new(octets)),
        taille: Some(n),
        lus,
    };
    let opts = crate::import::Options {
        store: Some(&app.store),
        source: format!("{SOURCE_ESPACE}:{nom}"),
        remplacer: false,
        depot: Some(crate::import::Depot { sirets, auteur }),
    };
    match crate::import::importer(input, &app.refs, &opts, &|_| {}) {
        Ok(r) => Ok(r),
        Err(crate::import::ImportError::Store(e)) => Err(e),
    }
}

use axum::extract::FromRequest;
