//! An offer in the back-office (its *dossier*): at most one working revision, what its
//! organisation edits and staff review, beside the diffused revision, which is the offer in
//! `offres` (what search, feeds, pages and the sitemap see). Drafts never reach `offres`.
//!
//! Every change to a dossier writes its audit event in the same transaction; a diffusion or
//! a withdrawal is one transaction with the offer's write and its journal entry.

use super::audit::{auditer, Changement, Evenement};
use super::*;

/// Where an offer stands, as its organisation and staff see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Etat {
    /// Being entered; saved on every step, even incomplete.
    Brouillon,
    /// Submitted, waiting for a decision.
    EnAttente,
    /// Online (its diffused revision is in `offres`), nothing pending.
    Diffusee,
    /// Sent back to its organisation with reasons.
    ACorriger,
    /// Online, but no session is open any more (computed when read, see [`Dossier::etat_du_jour`]).
    Expiree,
    /// Withdrawn by its organisation: out of search and feeds (a deletion in `?depuis=`).
    Retiree,
    /// Refused by staff, with a reason: this revision will not be diffused (the organisation
    /// may change it and submit again).
    Refusee,
}

impl Etat {
    pub fn code(self) -> &'static str {
        match self {
            Etat::Brouillon => "brouillon",
            Etat::EnAttente => "en_attente",
            Etat::Diffusee => "diffusee",
            Etat::ACorriger => "a_corriger",
            Etat::Expiree => "expiree",
            Etat::Retiree => "retiree",
            Etat::Refusee => "refusee",
        }
    }

    pub fn libelle(self) -> &'static str {
        match self {
            Etat::Brouillon => "brouillon",
            Etat::EnAttente => "en attente de validation",
            Etat::Diffusee => "diffusée",
            Etat::ACorriger => "à corriger",
            Etat::Expiree => "expirée",
            Etat::Retiree => "retirée",
            Etat::Refusee => "refusée",
        }
    }
}

/// A revision: the offer as entered, and what the rules said of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    pub formation: Formation,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dossier {
    pub numero: String,
    /// The organisation that owns it.
    pub siret: String,
    /// The working revision's state (or the offer's when nothing is pending).
    pub etat: Etat,
    /// What its organisation edits and staff review; `None` when nothing is pending.
    pub travail: Option<Revision>,
    /// Whether a diffused revision is online (in `offres`).
    pub en_ligne: bool,
    /// Why staff sent it back (shown beside the fields).
    pub motifs: Vec<MotifDonne>,
    pub cree_le: i64,
    pub modifie_le: i64,
    pub soumis_le: Option<i64>,
    /// Put online by the auto-acceptance policy and drawn for a look by staff afterwards.
    pub a_revoir: bool,
    /// How its working revision came: `formulaire`, `api`, `fichier`, `flux` (handed over).
    pub source: String,
}

impl Dossier {
    /// The state shown today: a diffused offer (`diffusee`, read from `offres`) whose
    /// sessions have all ended is expired.
    pub fn etat_du_jour(&self, diffusee: Option<&Formation>, aujourdhui: &str) -> Etat {
        match (self.etat, diffusee) {
            (Etat::Diffusee, Some(f)) if !sessions_ouvertes(f, aujourdhui) => Etat::Expiree,
            (e, _) => e,
        }
    }
}

/// Whether a formation still has a session that has not ended (`aujourdhui`: `AAAAMMJJ`).
pub fn sessions_ouvertes(f: &Formation, aujourdhui: &str) -> bool {
    f.sessions().next().is_none()
        || f.sessions().any(|s| {
            let fin = &s.periode.fin;
            // `99999999` (unknown end) stays open; month or year precision (`AAAAMM00`)
            // stays open until that month or year is over.
            let fin = if fin.ends_with("0000") {
                format!("{}1231", &fin[..4])
            } else if fin.ends_with("00") && fin.len() == 8 {
                format!("{}31", &fin[..6])
            } else {
                fin.clone()
            };
            fin.as_str() >= aujourdhui
        })
}

fn tget<T: DeserializeOwned>(t: &TransactionalTree, k: &[u8]) -> Result<Option<T>, Tx> {
    t.get(k)?.map(|b| decode(&b).map_err(abort)).transpose()
}

fn put_dossier(t: &BackofficeTx, d: &Dossier) -> Result<(), Tx> {
    // The queue follows the state: out with the old entry, in with the new one.
    if let Some(avant) = tget::<Dossier>(t.dossiers, d.numero.as_bytes())? {
        for k in cle_file(&avant).into_iter().chain(cle_revoir(&avant)) {
            t.file.remove(k)?;
        }
    }
    for k in cle_file(d).into_iter().chain(cle_revoir(d)) {
        t.file
            .insert(k, encode(&ElementFile::de(d)).map_err(abort)?)?;
    }
    t.dossiers
        .insert(d.numero.as_bytes(), encode(d).map_err(abort)?)?;
    t.dossiers_siret.insert(key2(&d.siret, &d.numero), &[])?;
    Ok(())
}

/// A dossier waiting for staff in the queue: submitted (big-endian ms) ++ numero.
fn cle_file(d: &Dossier) -> Option<Vec<u8>> {
    (d.etat == Etat::EnAttente).then(|| key_maj(d.soumis_le.unwrap_or(d.modifie_le), &d.numero))
}

/// Keys of the sampled auto-accepted offers, after the queue's in the same tree (a time's
/// first byte is 0 for the next 2,000 centuries).
const REVOIR: &[u8] = b"~revoir\0";

/// An auto-accepted dossier drawn for a look by staff: `REVOIR` ++ numero.
fn cle_revoir(d: &Dossier) -> Option<Vec<u8>> {
    d.a_revoir.then(|| [REVOIR, d.numero.as_bytes()].concat())
}

/// What the staff queue shows and filters on, kept beside each waiting dossier so that the
/// queue page reads no revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElementFile {
    pub numero: String,
    pub siret: String,
    pub raison_sociale: String,
    pub intitule: String,
    pub departements: Vec<String>,
    pub formacodes: Vec<String>,
    /// How it came: `formulaire`, `api`, `fichier`.
    pub source: String,
    pub soumis_le: i64,
    /// Whether a diffused revision is online (a revision, not a new offer).
    pub en_ligne: bool,
    /// Whether the rules find a blocking error (it cannot be accepted as is).
    pub bloquant: bool,
}

impl ElementFile {
    fn de(d: &Dossier) -> ElementFile {
        let f = d.travail.as_ref().map(|r| &r.formation);
        let mut departements: Vec<String> = f
            .into_iter()
            .flat_map(|f| &f.actions)
            .flat_map(|a| &a.lieux)
            .filter_map(|l| l.coordonnees.adresse.as_ref()?.departement.clone())
            .collect();
        departements.sort();
        departements.dedup();
        ElementFile {
            numero: d.numero.clone(),
            siret: d.siret.clone(),
            raison_sociale: f
                .map(|f| f.organisme.raison_sociale.clone())
                .unwrap_or_default(),
            intitule: f.map(|f| f.intitule.clone()).unwrap_or_default(),
            departements,
            formacodes: f
                .map(|f| {
                    f.domaine
                        .formacodes
                        .iter()
                        .map(|c| c.code.clone())
                        .collect()
                })
                .unwrap_or_default(),
            source: d.source.clone(),
            soumis_le: if d.etat == Etat::EnAttente {
                d.soumis_le.unwrap_or(d.modifie_le)
            } else {
                d.modifie_le
            },
            en_ligne: d.en_ligne,
            bloquant: d.travail.as_ref().is_some_and(|r| r.verdict.bloquant()),
        }
    }
}

/// The current dossier, checked against the version the caller read (`attendu`: its
/// `modifie_le`), so that two tabs or two people never overwrite each other silently.
fn current(t: &BackofficeTx, numero: &str, attendu: Option<i64>) -> Result<Option<Dossier>, Tx> {
    let d: Option<Dossier> = tget(t.dossiers, numero.as_bytes())?;
    if let (Some(d), Some(a)) = (&d, attendu) {
        if d.modifie_le != a {
            return Err(abort(StoreError::Conflit(format!(
                "l'offre {numero} a été modifiée entre-temps : rechargez la page, vos saisies sont à reprendre sur la version actuelle"
            ))));
        }
    }
    Ok(d)
}

impl Store {
    fn backoffice_tx<R>(
        &self,
        f: impl Fn(&BackofficeTx) -> Result<R, Tx>,
    ) -> Result<R, StoreError> {
        let a = self.a()?;
        let trees = [
            &a.dossiers,
            &a.dossiers_siret,
            &a.audit,
            &a.meta,
            &a.audit_objet,
            &a.file,
            &a.suspensions,
            &a.suspendues,
            &a.decisions,
        ];
        // Not while a backup takes its cut (see `Store::sauvegarder`).
        let _cut = self.pause_ecritures();
        let r = trees
            .as_slice()
            .transaction(|t| {
                f(&BackofficeTx {
                    dossiers: &t[0],
                    dossiers_siret: &t[1],
                    audit: (&t[2], &t[4]),
                    meta: &t[3],
                    file: &t[5],
                    suspensions: &t[6],
                    suspendues: &t[7],
                    decisions: &t[8],
                })
            })
            .map_err(tx_err);
        self.file_changee();
        let r = self.track_failure(r);
        if r.is_ok() {
            self.make_durable()?;
        }
        r
    }

    /// A dossier, whoever owns it (staff routes only).
    pub fn dossier(&self, numero: &str) -> Result<Option<Dossier>, StoreError> {
        self.a()?
            .dossiers
            .get(numero.as_bytes())?
            .map(|b| decode(&b))
            .transpose()
    }

    /// A dossier if it belongs to one of `sirets`: organisation routes have no other way to
    /// read one, so another organisation's dossier is never theirs to see.
    pub fn dossier_de(
        &self,
        sirets: &[String],
        numero: &str,
    ) -> Result<Option<Dossier>, StoreError> {
        Ok(self.dossier(numero)?.filter(|d| sirets.contains(&d.siret)))
    }

    /// The dossiers of one organisation, by numero.
    pub fn dossiers_de(&self, siret: &str) -> Result<Vec<Dossier>, StoreError> {
        let a = self.a()?;
        prefixed(&a.dossiers_siret, siret)?
            .iter()
            .filter_map(|n| self.dossier(n).transpose())
            .collect()
    }

    /// Which of these offers are managed in the back-office (have a dossier): a feed no
    /// longer writes them once they were handed over. Free while no dossier exists.
    pub fn geres_parmi<'a>(
        &self,
        numeros: impl Iterator<Item = &'a str>,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let a = self.a()?;
        let mut out = std::collections::HashSet::new();
        if a.dossiers.is_empty() {
            return Ok(out);
        }
        for n in numeros {
            if a.dossiers.contains_key(n.as_bytes())? {
                out.insert(n.to_string());
            }
        }
        Ok(out)
    }

    /// The staff queue: every dossier waiting for a decision, oldest submission first.
    /// The staff queue, oldest first. Kept in memory between changes: reading and decoding
    /// 10,000 items from sled took most of the queue page's 20 ms.
    pub fn file(&self) -> Result<Arc<Vec<ElementFile>>, StoreError> {
        use std::sync::atomic::Ordering;
        let generation = self.file_generation.load(Ordering::Acquire);
        let mut cache = self.file_cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((g, v)) = cache.as_ref() {
            if *g == generation {
                return Ok(v.clone());
            }
        }
        let v: Arc<Vec<ElementFile>> = Arc::new(
            self.a()?
                .file
                .range(..REVOIR)
                .values()
                .map(|v| decode(&v?))
                .collect::<Result<_, _>>()?,
        );
        // A change committed while reading bumped the generation: the next read reloads.
        *cache = Some((generation, v.clone()));
        Ok(v)
    }

    /// Called after every transaction that may change the `file` tree (once committed, so
    /// that a cache filled meanwhile is dropped).
    pub(super) fn file_changee(&self) {
        self.file_generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// The auto-accepted offers drawn for a look by staff (their `soumis_le` is when they
    /// went online).
    pub fn a_revoir(&self) -> Result<Vec<ElementFile>, StoreError> {
        self.a()?
            .file
            .scan_prefix(REVOIR)
            .values()
            .map(|v| decode(&v?))
            .collect()
    }

    /// Saves a dossier (a draft, a submission, a decision that does not put it online) with
    /// its audit event, in one transaction. `attendu` is the `modifie_le` the caller read
    /// (`None` for a new dossier, which must not exist yet).
    pub fn enregistrer_dossier(
        &self,
        d: &Dossier,
        attendu: Option<i64>,
        e: Evenement,
    ) -> Result<Dossier, StoreError> {
        self.backoffice_tx(|t| {
            let avant = current(t, &d.numero, attendu)?;
            if avant.is_some() && attendu.is_none() {
                return Err(abort(StoreError::Conflit(format!(
                    "l'offre {} existe déjà",
                    d.numero
                ))));
            }
            if let Some(a) = &avant {
                if a.siret != d.siret {
                    t.dossiers_siret.remove(key2(&a.siret, &a.numero))?;
                }
            }
            let mut d = d.clone();
            d.modifie_le = now_ms().max(avant.as_ref().map_or(0, |a| a.modifie_le + 1));
            put_dossier(t, &d)?;
            auditer(t.meta, t.audit, e.clone())?;
            Ok(d)
        })
    }

    /// Puts a dossier's working revision online: the offer is written to `offres` with its
    /// journal entry, the dossier loses its working revision, and the event is audited —
    /// one transaction. The revision must have no blocking finding.
    pub fn diffuser_dossier(
        &self,
        numero: &str,
        attendu: Option<i64>,
        e: Evenement,
        acceptation: Acceptation,
    ) -> Result<Option<Dossier>, StoreError> {
        let Some(d) = self.dossier(numero)? else {
            return Ok(None);
        };
        let (a_revoir, par) = match acceptation {
            Acceptation::Equipe => (false, Some(e.auteur.clone())),
            Acceptation::Automatique { a_revoir } => (a_revoir, None),
        };
        let Some(rev) = d.travail.clone() else {
            return Ok(None);
        };
        if rev.verdict.bloquant() {
            return Err(StoreError::Conflit(format!(
                "l'offre {numero} a des erreurs bloquantes : elle ne peut pas être diffusée"
            )));
        }
        if self.suspension(&d.siret)?.is_some() {
            return Err(StoreError::Conflit(format!(
                "l'organisme {} est suspendu : ses offres ne sont pas diffusées",
                d.siret
            )));
        }
        let fait = std::sync::Mutex::new(None);
        let hook = |t: &BackofficeTx| -> Result<(), Tx> {
            let Some(mut d) = current(t, numero, attendu.or(Some(d.modifie_le)))? else {
                return Err(abort(StoreError::Conflit(format!(
                    "l'offre {numero} a disparu"
                ))));
            };
            d.travail = None;
            d.etat = Etat::Diffusee;
            d.en_ligne = true;
            d.motifs.clear();
            d.a_revoir = a_revoir;
            d.modifie_le = now_ms().max(d.modifie_le + 1);
            put_dossier(t, &d)?;
            let decision = Decision {
                par: par.clone(),
                le: d.modifie_le,
            };
            t.decisions
                .insert(numero.as_bytes(), encode(&decision).map_err(abort)?)?;
            auditer(t.meta, t.audit, e.clone())?;
            *fait.lock().unwrap_or_else(|p| p.into_inner()) = Some(d);
            Ok(())
        };
        self.probe();
        let r = self.ecrire_lot(
            &[(rev.formation, rev.verdict)],
            SOURCE_ESPACE,
            Some(&hook),
            None,
        );
        self.track_failure(r)?;
        self.make_durable()?;
        Ok(fait.into_inner().unwrap_or_else(|p| p.into_inner()))
    }

    /// Withdraws an offer at its organisation's request: its diffused revision leaves
    /// `offres` (a deletion in the journal), the dossier keeps the last revision, one
    /// transaction.
    pub fn retirer_dossier(
        &self,
        numero: &str,
        attendu: Option<i64>,
        e: Evenement,
    ) -> Result<Option<Dossier>, StoreError> {
        let Some(d) = self.dossier(numero)? else {
            return Ok(None);
        };
        let derniere = match (&d.travail, self.offre(numero)?) {
            (Some(r), _) => Some(r.clone()),
            (None, Some(o)) => Some(Revision {
                formation: o.formation,
                verdict: o.verdict,
            }),
            (None, None) => None,
        };
        let fait = std::sync::Mutex::new(None);
        let hook = |t: &BackofficeTx| -> Result<(), Tx> {
            let Some(mut d) = current(t, numero, attendu.or(Some(d.modifie_le)))? else {
                return Err(abort(StoreError::Conflit(format!(
                    "l'offre {numero} a disparu"
                ))));
            };
            d.travail = derniere.clone();
            d.etat = Etat::Retiree;
            d.en_ligne = false;
            d.modifie_le = now_ms().max(d.modifie_le + 1);
            put_dossier(t, &d)?;
            auditer(t.meta, t.audit, e.clone())?;
            *fait.lock().unwrap_or_else(|p| p.into_inner()) = Some(d);
            Ok(())
        };
        self.probe();
        let r = self.supprimer_lot(&[numero.to_string()], Operation::Suppression, Some(&hook));
        self.track_failure(r)?;
        self.make_durable()?;
        Ok(fait.into_inner().unwrap_or_else(|p| p.into_inner()))
    }

    /// Lands an offer from an organisation's own file as its working revision, submitted
    /// (`en_attente`): nothing goes online before a decision. An unchanged revision writes
    /// nothing.
    pub fn deposer(
        &self,
        formation: Formation,
        verdict: Verdict,
        auteur: &str,
        fichier: &str,
    ) -> Result<Ecrit, StoreError> {
        let numero = formation.numero.clone();
        let en_ligne = self.offre(&numero)?;
        if let Some(o) = &en_ligne {
            if o.source != SOURCE_ESPACE && self.dossier(&numero)?.is_none() {
                return Err(StoreError::Conflit(format!(
                    "l'offre {numero} vient du flux « {} » : demandez au Carif-Oref de vous la confier",
                    o.source
                )));
            }
        }
        let rev = Revision { formation, verdict };
        self.backoffice_tx(|t| {
            let avant = current(t, &numero, None)?;
            if let Some(a) = &avant {
                if a.siret != rev.formation.organisme.siret {
                    return Err(abort(StoreError::Conflit(format!(
                        "l'offre {numero} appartient à un autre organisme"
                    ))));
                }
                if a.travail.as_ref() == Some(&rev) && a.etat == Etat::EnAttente {
                    return Ok(Ecrit::Inchange);
                }
            }
            let now = now_ms();
            let d = Dossier {
                numero: numero.clone(),
                siret: rev.formation.organisme.siret.clone(),
                etat: Etat::EnAttente,
                travail: Some(rev.clone()),
                en_ligne: avant.as_ref().is_some_and(|a| a.en_ligne) || en_ligne.is_some(),
                motifs: Vec::new(),
                cree_le: avant.as_ref().map_or(now, |a| a.cree_le),
                modifie_le: now.max(avant.as_ref().map_or(0, |a| a.modifie_le + 1)),
                soumis_le: Some(now),
                a_revoir: false,
                source: "fichier".into(),
            };
            put_dossier(t, &d)?;
            auditer(
                t.meta,
                t.audit,
                Evenement::new(auteur, format!("offre {numero}"), "depot-fichier").avec(vec![
                    Changement {
                        champ: "etat".into(),
                        avant: avant.as_ref().map_or("", |a| a.etat.code()).into(),
                        apres: Etat::EnAttente.code().into(),
                    },
                    Changement {
                        champ: "fichier".into(),
                        avant: String::new(),
                        apres: fichier.into(),
                    },
                ]),
            )?;
            Ok(if avant.is_some() {
                Ecrit::Modifie
            } else {
                Ecrit::Cree
            })
        })
    }

    /// Hands an offer received from a feed over to its organisation: a dossier is opened
    /// on the diffused revision, and the offer is re-written under the back-office's
    /// source so that a later full feed of its old source does not withdraw it.
    pub fn confier_dossier(
        &self,
        numero: &str,
        e: Evenement,
    ) -> Result<Option<Dossier>, StoreError> {
        let Some(o) = self.offre(numero)? else {
            return Ok(None);
        };
        if self.dossier(numero)?.is_some() {
            return Err(StoreError::Conflit(format!(
                "l'offre {numero} est déjà gérée par son organisme"
            )));
        }
        let now = now_ms();
        let d = Dossier {
            numero: numero.to_string(),
            siret: o.formation.organisme.siret.clone(),
            etat: Etat::Diffusee,
            travail: None,
            en_ligne: true,
            motifs: Vec::new(),
            cree_le: now,
            modifie_le: now,
            soumis_le: None,
            a_revoir: false,
            source: "flux".into(),
        };
        let e = e.avec(vec![Changement {
            champ: "source".into(),
            avant: o.source.clone(),
            apres: SOURCE_ESPACE.into(),
        }]);
        let hook = |t: &BackofficeTx| -> Result<(), Tx> {
            put_dossier(t, &d)?;
            auditer(t.meta, t.audit, e.clone())?;
            Ok(())
        };
        self.probe();
        let r = self.ecrire_lot(
            &[(o.formation, o.verdict)],
            SOURCE_ESPACE,
            Some(&hook),
            None,
        );
        self.track_failure(r)?;
        self.make_durable()?;
        Ok(Some(d))
    }
}

/// The source name of offers diffused from the back-office (see `par_source`).
pub const SOURCE_ESPACE: &str = "espace";

/// What `sofi verify` says of the back-office's trees.
#[derive(Debug, Default, Serialize)]
pub struct BackofficeCheck {
    pub comptes: usize,
    pub dossiers: usize,
    pub audit: u64,
    pub problemes: Vec<String>,
    pub sain: bool,
}

impl Store {
    /// Every record decodes; the e-mail index and the organisations' index agree with the
    /// accounts and dossiers; the audit trail has no hole; a dossier said online is in
    /// `offres` and a dossier said offline is not.
    pub fn verify_backoffice(&self) -> Result<BackofficeCheck, StoreError> {
        let a = self.a()?;
        let mut c = BackofficeCheck::default();
        for kv in a.comptes.iter() {
            let (k, v) = kv?;
            match decode::<crate::accounts::Compte>(&v) {
                Ok(x) => {
                    c.comptes += 1;
                    if a.emails.get(x.email.as_bytes())?.as_deref() != Some(&k[..]) {
                        c.problemes
                            .push(format!("compte {} : absent de l'index des adresses", x.id));
                    }
                }
                Err(e) => c.problemes.push(format!("compte illisible : {e}")),
            }
        }
        if a.emails.len() != c.comptes {
            c.problemes.push(format!(
                "{} adresses indexées pour {} comptes",
                a.emails.len(),
                c.comptes
            ));
        }
        for kv in a.dossiers.iter() {
            let (k, v) = kv?;
            match decode::<Dossier>(&v) {
                Ok(d) => {
                    c.dossiers += 1;
                    if !a.dossiers_siret.contains_key(key2(&d.siret, &d.numero))? {
                        c.problemes.push(format!(
                            "offre {} : absente de l'index de son organisme",
                            d.numero
                        ));
                    }
                    // An online offer of a suspended organisme is kept aside, not in `offres`.
                    let de_cote = a.suspendues.contains_key(key2(&d.siret, &d.numero))?;
                    if d.en_ligne != (a.offres.contains_key(d.numero.as_bytes())? || de_cote) {
                        c.problemes.push(format!(
                            "offre {} : dite {} mais {} de la diffusion",
                            d.numero,
                            if d.en_ligne { "en ligne" } else { "hors ligne" },
                            if d.en_ligne { "absente" } else { "présente" }
                        ));
                    }
                }
                Err(e) => c.problemes.push(format!(
                    "offre en gestion {} illisible : {e}",
                    String::from_utf8_lossy(&k)
                )),
            }
        }
        c.audit = self.audit_seq()?;
        let n = a.audit.len() as u64;
        let dernier = a
            .audit
            .last()?
            .map(|(k, _)| u64::from_be_bytes(k.as_ref().try_into().unwrap_or([0; 8])))
            .unwrap_or(0);
        if a.audit_objet.len() as u64 != n {
            c.problemes.push(format!(
                "index de l'audit par objet : {} entrées pour {n} événements",
                a.audit_objet.len()
            ));
        }
        if n != c.audit || dernier != c.audit {
            c.problemes.push(format!(
                "journal d'audit : {n} événements, dernier n° {dernier}, compteur {}",
                c.audit
            ));
        }
        c.sain = c.problemes.is_empty();
        Ok(c)
    }
}

/// A coded reason staff give when they send an offer back: what is wrong, what to do, and
/// the form field it concerns (shown beside it). Staff extend the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Motif {
    pub code: String,
    pub libelle: String,
    /// "Action à mener".
    pub action: String,
    /// The form field it concerns (`intitule`, `objectif`, `debut`…), if one.
    pub champ: Option<String>,
}

/// A reason given on one offer: the coded reason (as it was worded then) and staff's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MotifDonne {
    pub motif: Motif,
    pub texte: String,
}

/// The reasons every Carif starts with.
fn motifs_de_base() -> Vec<Motif> {
    let m = |code: &str, libelle: &str, action: &str, champ: Option<&str>| Motif {
        code: code.into(),
        libelle: libelle.into(),
        action: action.into(),
        champ: champ.map(str::to_string),
    };
    vec![
        m(
            "intitule-imprecis",
            "Intitulé imprécis",
            "Dites dans l'intitulé le métier, la compétence ou la certification visés.",
            Some("intitule"),
        ),
        m(
            "objectifs-incomplets",
            "Objectifs incomplets",
            "Décrivez ce que la personne saura faire à la fin de la formation.",
            Some("objectif"),
        ),
        m(
            "contenu-insuffisant",
            "Programme insuffisant",
            "Détaillez le programme : modules, durées, modalités d'évaluation.",
            Some("contenu"),
        ),
        m(
            "certification-erronee",
            "Certification erronée",
            "Choisissez la fiche RNCP ou RS active que la formation prépare réellement.",
            Some("certification"),
        ),
        m(
            "dates-incoherentes",
            "Dates incohérentes",
            "Vérifiez les dates de début et de fin des sessions et leur durée.",
            Some("debut"),
        ),
        m(
            "financement-non-justifie",
            "Financement non justifié",
            "Ne déclarez que les financeurs qui ont conventionné l'action.",
            Some("financeurs"),
        ),
        m(
            "public-inadapte",
            "Public inadapté",
            "Indiquez les publics réellement visés par l'action.",
            Some("publics"),
        ),
        m(
            "prix-manquant",
            "Prix manquant ou erroné",
            "Indiquez le prix total TTC de l'action.",
            Some("prix_total"),
        ),
        m(
            "lieu-errone",
            "Lieu erroné",
            "Choisissez le site où la formation a lieu.",
            Some("lieu"),
        ),
        m("autre", "Autre", "Voir le commentaire du Carif-Oref.", None),
    ]
}

impl Store {
    /// The coded reasons, by code (the base list until staff change it).
    pub fn motifs(&self) -> Result<Vec<Motif>, StoreError> {
        let a = self.a()?;
        let mut v: Vec<Motif> = a
            .motifs
            .iter()
            .values()
            .map(|b| decode(&b?))
            .collect::<Result<_, _>>()?;
        if v.is_empty() {
            v = motifs_de_base();
        }
        Ok(v)
    }

    /// Adds or rewords a coded reason, audited.
    pub fn enregistrer_motif(&self, m: &Motif, auteur: &str) -> Result<(), StoreError> {
        let a = self.a()?;
        let base = if a.motifs.is_empty() {
            motifs_de_base()
        } else {
            vec![]
        };
        let trees = [&a.motifs, &a.audit, &a.meta, &a.audit_objet];
        // Not while a backup takes its cut (see `Store::sauvegarder`).
        let _cut = self.pause_ecritures();
        let r = trees
            .as_slice()
            .transaction(|t| {
                for b in &base {
                    t[0].insert(b.code.as_bytes(), encode(b).map_err(abort)?)?;
                }
                let avant: Option<Motif> = tget(&t[0], m.code.as_bytes())?;
                t[0].insert(m.code.as_bytes(), encode(m).map_err(abort)?)?;
                auditer(
                    &t[2],
                    (&t[1], &t[3]),
                    Evenement::new(auteur, format!("motif {}", m.code), "motif")
                        .avec(super::audit::diff_json(&avant, &Some(m.clone()))),
                )?;
                Ok(())
            })
            .map_err(tx_err);
        self.track_failure(r)?;
        self.make_durable()
    }
}
