//! An organisation's offers: the dashboard, and the F-A-S-D forms (formation, action with
//! its sessions, session), each saved as a draft on every submit and checked by the same
//! rules as imports, with every finding shown beside its field. Offers received from a
//! feed appear read-only, their source named.
//!
//! One step per file: [`tableau`] (the dashboard), [`formation`], [`action`], [`session`],
//! [`depot`] (an LHÉO file); [`champs`] holds the forms' building blocks. Here: loading an
//! offer for the person asking (the ownership check), saving a working revision.

mod action;
mod champs;
mod depot;
mod formation;
mod session;
mod tableau;

pub(super) use action::{action, action_operation, action_page};
pub(super) use depot::{deposer, fichier, fichier_page};
pub(super) use formation::{formation, formation_page, nouvelle, nouvelle_page, operation};
pub(super) use session::{session, session_page};
pub(super) use tableau::tableau;

use super::*;
use crate::model::{Action, Formation, Session};
use crate::referentiel::Referentiels;
use crate::rules::{Constat, Gravite, Verdict};
use crate::saisie::{self, SaisieAction, SaisieFormation, SaisieSession};
use crate::store::{
    diff_json, Acceptation, Dossier, Etablissement, Etat, Evenement, Revision, StoreError,
    SOURCE_ESPACE,
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
    // Staff's reasons beside the fields they concern.
    let verdict = champs::avec_motifs(verdict, dossier.as_ref(), &formation);
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

/// `AAAAMMJJ` in French, with LHÉO's conventions (`AAAAMM00`: a month).
pub(super) fn date_lisible(d: &str) -> String {
    crate::model::lheo_date_fr(d)
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

/// One action of a formation, by its numero.
fn trouver_action<'a>(f: &'a Formation, a: &str) -> Option<&'a Action> {
    f.actions.iter().find(|x| x.numero == a)
}

/// What a submission came to.
pub(in crate::http::espace) enum Soumis {
    /// Blocking findings: the draft stays as it was, judged again.
    Bloquee(Verdict),
    /// Waiting for staff.
    EnAttente(Dossier),
    /// Online at once: every change is of a category the policy accepts, the scope decision
    /// did not move.
    EnLigne(Dossier),
}

/// Submits a dossier's working revision: judged again (the référentiels or the other offers
/// may have changed); then, for an online offer whose changes the auto-acceptance policy
/// covers and whose scope decision stays the same, put online at once (audited as the
/// policy's decision, and drawn for a look by staff at the policy's rate); otherwise it
/// waits for staff.
pub(in crate::http::espace) fn soumettre_dossier(
    app: &App,
    d: &Dossier,
    version: i64,
    auteur: &str,
) -> Result<Soumis, StoreError> {
    let Some(rev) = d.travail.clone() else {
        return Err(StoreError::Conflit(
            "rien à soumettre : la version en ligne est à jour".into(),
        ));
    };
    let verdict = saisie::juger(
        &rev.formation,
        &app.refs,
        vec![],
        &autres_de(app, &d.siret, &d.numero),
    );
    let etat = |a: Etat, b: Etat| crate::store::Changement {
        champ: "etat".into(),
        avant: a.code().into(),
        apres: b.code().into(),
    };
    let objet = format!("offre {}", d.numero);
    if verdict.bloquant() {
        let n = Dossier {
            travail: Some(Revision {
                formation: rev.formation,
                verdict: verdict.clone(),
            }),
            ..d.clone()
        };
        app.store.enregistrer_dossier(
            &n,
            Some(version),
            Evenement::new(auteur, objet, "soumission-refusee"),
        )?;
        return Ok(Soumis::Bloquee(verdict));
    }
    let changements = match (d.en_ligne, app.store.offre(&d.numero)?) {
        (true, Some(o)) => {
            let meme_perimetre = o
                .verdict
                .diffusion
                .iter()
                .map(|x| (&x.action, x.diffusee))
                .eq(verdict.diffusion.iter().map(|x| (&x.action, x.diffusee)));
            let c = crate::politique::changements(&o.formation, &rev.formation);
            (meme_perimetre && app.politique.load().accepte(&c)).then_some(c)
        }
        _ => None,
    };
    let soumis = Dossier {
        etat: Etat::EnAttente,
        soumis_le: Some(crate::store::now_ms()),
        travail: Some(Revision {
            formation: rev.formation,
            verdict,
        }),
        ..d.clone()
    };
    let soumis = app.store.enregistrer_dossier(
        &soumis,
        Some(version),
        Evenement::new(auteur, objet.clone(), "soumission")
            .avec(vec![etat(d.etat, Etat::EnAttente)]),
    )?;
    let Some(changements) = changements else {
        return Ok(Soumis::EnAttente(soumis));
    };
    let a_revoir = rand::random::<f64>() < app.politique.load().echantillon;
    let detail = changements
        .iter()
        .map(|c| crate::store::Changement {
            champ: format!("{} ({})", c.chemin, c.categorie),
            avant: c.avant.clone(),
            apres: c.apres.clone(),
        })
        .collect();
    let e = Evenement::new(
        "politique d'acceptation automatique",
        objet,
        "diffusion-automatique",
    )
    .avec(detail)
    .motif(Some(format!("soumise par {auteur}")));
    match app.store.diffuser_dossier(
        &d.numero,
        Some(soumis.modifie_le),
        e,
        Acceptation::Automatique { a_revoir },
    )? {
        Some(en_ligne) => Ok(Soumis::EnLigne(en_ligne)),
        None => Ok(Soumis::EnAttente(soumis)),
    }
}
