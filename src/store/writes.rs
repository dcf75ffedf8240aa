//! Writing offers and deleting them: one sled transaction per batch over every tree it
//! touches, with the journal entry, the secondary indexes, the counters and the organismes.

use super::*;

pub(super) type Tx = ConflictableTransactionError<StoreError>;

pub(super) fn abort(e: StoreError) -> Tx {
    ConflictableTransactionError::Abort(e)
}

/// What a back-office change adds to an offer's write, inside the same transaction: it gets
/// the `dossiers`, `dossiers_siret`, `audit` and `meta` trees.
pub(super) type Hook<'a> = dyn Fn(&BackofficeTx) -> Result<(), Tx> + 'a;

pub(super) struct BackofficeTx<'a> {
    pub(super) dossiers: &'a TransactionalTree,
    pub(super) dossiers_siret: &'a TransactionalTree,
    pub(super) audit: super::audit::AuditTx<'a>,
    pub(super) meta: &'a TransactionalTree,
    /// The staff queue (see `dossiers::ElementFile`).
    pub(super) file: &'a TransactionalTree,
    /// Suspended organismes and their offers kept aside (see `suspensions`).
    pub(super) suspensions: &'a TransactionalTree,
    pub(super) suspendues: &'a TransactionalTree,
    /// Who decided each entered offer's diffusion (see `decisions`).
    pub(super) decisions: &'a TransactionalTree,
}

/// The trees an offer's write touches, and the back-office's when a hook comes with it.
pub(super) fn offer_trees(a: &Trees, backoffice: bool) -> Vec<&sled::Tree> {
    let mut t = vec![
        &a.offres,
        &a.par_organisme,
        &a.par_maj,
        &a.par_source,
        &a.organismes,
        &a.journal,
        &a.meta,
        &a.attente,
    ];
    if backoffice {
        t.extend([
            &a.dossiers,
            &a.dossiers_siret,
            &a.audit,
            &a.audit_objet,
            &a.file,
            &a.suspensions,
            &a.suspendues,
            &a.decisions,
        ]);
    }
    t
}

fn run_hook(t: &[TransactionalTree], hook: Option<&Hook>) -> Result<(), Tx> {
    match hook {
        Some(h) => h(&BackofficeTx {
            dossiers: &t[8],
            dossiers_siret: &t[9],
            audit: (&t[10], &t[11]),
            meta: &t[6],
            file: &t[12],
            suspensions: &t[13],
            suspendues: &t[14],
            decisions: &t[15],
        }),
        None => Ok(()),
    }
}

pub(super) fn tx_err(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Sled(e),
    }
}

impl Store {
    pub(super) fn writer_lock(&self) -> std::sync::MutexGuard<'_, u64> {
        // A panic while holding it cannot leave a half-written batch: the transaction is
        // sled's, and the file offset is only advanced after a complete write.
        self.fin.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a batch of checked offers from one source, in one transaction. Offers with a
    /// blocking verdict must not be passed. Returns what happened to each.
    pub fn ecrire(
        &self,
        lot: &[(Formation, Verdict)],
        source: &str,
    ) -> Result<Vec<Ecrit>, StoreError> {
        self.probe();
        let r = self.ecrire_lot(lot, source, None, None);
        self.track_failure(r)
    }

    /// `attendus`: the journal sequence number each offer had when the caller read it; when
    /// one has changed since, nothing is written and the batch fails with `Conflit` (a
    /// judgement again must not overwrite a newer version).
    pub(super) fn ecrire_lot(
        &self,
        lot: &[(Formation, Verdict)],
        source: &str,
        hook: Option<&Hook>,
        attendus: Option<&[u64]>,
    ) -> Result<Vec<Ecrit>, StoreError> {
        let a = self.a()?;
        let now = now_ms();
        let mut fin = self.writer_lock();
        // 1. Bodies of the new and changed offers, appended and synced first: a fiche never
        //    points at bytes that are not on disk.
        let mut places: Vec<Option<(u64, u32, u128)>> = Vec::with_capacity(lot.len());
        let mut ajout = Vec::new();
        // Offers moving to another organisme: the one they leave may be left without any.
        let mut partants = Vec::new();
        for (formation, verdict) in lot {
            let raw = raw_bincode(&StoredBodyRef { formation, verdict })?;
            let empreinte = twox_hash::XxHash3_128::oneshot(&raw);
            let inchangee = match a.offres.get(formation.numero.as_bytes())? {
                Some(b) => {
                    let old: OfferRecord = decode(&b)?;
                    if old.siret != formation.organisme.siret {
                        partants.push((old.siret, formation.numero.clone()));
                    }
                    old.empreinte == empreinte && old.source == source
                }
                None => false,
            };
            if inchangee {
                places.push(None);
                continue;
            }
            let payload = lz4_flex::compress_prepend_size(&raw);
            let pos = *fin + ajout.len() as u64;
            ajout.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            ajout.extend_from_slice(&payload);
            places.push(Some((pos, payload.len() as u32, empreinte)));
        }
        // The file writers append to (a compaction switches it under the writer lock).
        let fichiers = self.corps.load_full();
        if !ajout.is_empty() {
            fichiers.fichier.write_all_at(&ajout, *fin)?;
            fichiers.fichier.sync_data()?;
            *fin += ajout.len() as u64;
        }
        let arrivants: std::collections::HashSet<&str> = lot
            .iter()
            .map(|(f, _)| f.organisme.siret.as_str())
            .collect();
        let sans_offre = self.organismes_sans_offre(&partants, &arrivants)?;
        let fin_engagee = *fin;
        // 2. Fiches, indexes, organismes, journal and counters, in one transaction.
        let trees = offer_trees(&a, hook.is_some());
        // Not while a backup takes its cut (see `Store::sauvegarder`).
        let _cut = self.pause_ecritures();
        let r = trees
            .as_slice()
            .transaction(|t| {
                let [offres, par_org, par_maj, par_src, orgs, journal, meta, attente, ..] =
                    t.as_slice()
                else {
                    unreachable!("offer_trees gives at least 8 trees")
                };
                let mut cpt: Compteurs = match meta.get(COMPTEURS)? {
                    Some(b) => decode(&b).map_err(abort)?,
                    None => Compteurs::default(),
                };
                let mut issues = Vec::with_capacity(lot.len());
                for siret in &sans_offre {
                    if orgs.remove(siret.as_bytes())?.is_some() {
                        cpt.organismes -= 1;
                    }
                }
                meta.insert(CLE_CORPS_FIN, &fin_engagee.to_be_bytes())?;
                for (i, ((formation, verdict), place)) in lot.iter().zip(&places).enumerate() {
                    if let Some(attendu) = attendus.and_then(|a| a.get(i)) {
                        let seq = match offres.get(formation.numero.as_bytes())? {
                            Some(b) => decode::<OfferRecord>(&b).map_err(abort)?.seq,
                            None => 0,
                        };
                        if seq != *attendu {
                            return Err(abort(StoreError::Conflit(format!(
                                "l'offre {} a changé pendant qu'elle était jugée",
                                formation.numero
                            ))));
                        }
                    }
                    let Some((pos, len, empreinte)) = *place else {
                        issues.push(Ecrit::Inchange);
                        continue;
                    };
                    let key = formation.numero.as_bytes();
                    let old: Option<OfferRecord> = match offres.get(key)? {
                        Some(b) => Some(decode(&b).map_err(abort)?),
                        None => None,
                    };
                    cpt.journal_seq += 1;
                    let seq = cpt.journal_seq;
                    let (actions, sessions, diffusable) = counts(formation, verdict);
                    let fiche = OfferRecord {
                        gen: fichiers.gen,
                        pos,
                        len,
                        empreinte,
                        source: source.to_string(),
                        recue_le: old.as_ref().map_or(now, |o| o.recue_le),
                        verifiee_le: now,
                        modifiee_le: now,
                        diffusee_le: old
                            .as_ref()
                            .and_then(|o| o.diffusee_le)
                            .or((diffusable == 1).then_some(now)),
                        seq,
                        siret: formation.organisme.siret.clone(),
                        actions,
                        sessions,
                        diffusable: diffusable == 1,
                    };
                    // Received but never diffused: waiting, for /health.
                    let attente_key = key_maj(fiche.recue_le, &formation.numero);
                    if fiche.diffusee_le.is_none() {
                        if attente.insert(attente_key, &[])?.is_none() {
                            cpt.en_attente += 1;
                        }
                    } else if attente.remove(attente_key)?.is_some() {
                        cpt.en_attente -= 1;
                    }
                    if let Some(o) = &old {
                        unindex(o, &formation.numero, par_org, par_maj, par_src)?;
                        cpt.actions -= o.actions;
                        cpt.sessions -= o.sessions;
                        cpt.diffusables -= o.diffusable as u64;
                        cpt.octets_morts += 4 + o.len as u64;
                    } else {
                        cpt.formations += 1;
                    }
                    cpt.actions += actions;
                    cpt.sessions += sessions;
                    cpt.diffusables += diffusable;
                    offres.insert(key, encode(&fiche).map_err(abort)?)?;
                    index(&fiche, &formation.numero, par_org, par_maj, par_src)?;
                    let o = &formation.organisme;
                    if !o.siret.is_empty() {
                        let mut sites: Vec<String> = match orgs.get(o.siret.as_bytes())? {
                            Some(b) => decode::<OrganismeResume>(&b).map_err(abort)?.sites,
                            None => {
                                cpt.organismes += 1;
                                Vec::new()
                            }
                        };
                        for lieu in formation.actions.iter().flat_map(|a| &a.lieux) {
                            if let Some(a) = &lieu.coordonnees.adresse {
                                let site = a
                                    .code_insee_commune
                                    .clone()
                                    .unwrap_or_else(|| format!("{} {}", a.codepostal, a.ville));
                                if !sites.contains(&site) {
                                    sites.push(site);
                                }
                            }
                        }
                        let resume = OrganismeResume {
                            sites,
                            siret: o.siret.clone(),
                            numero_activite: o.numero_activite.clone(),
                            raison_sociale: o.raison_sociale.clone(),
                            nom: o.nom.clone(),
                            ville: o
                                .coordonnees
                                .adresse
                                .as_ref()
                                .map(|a| a.ville.clone())
                                .unwrap_or_default(),
                            formacodes: o.formacodes().into_iter().map(str::to_string).collect(),
                        };
                        orgs.insert(o.siret.as_bytes(), encode(&resume).map_err(abort)?)?;
                    }
                    let entree = EntreeJournal {
                        seq,
                        numero: formation.numero.clone(),
                        operation: Operation::Ecriture,
                        horodatage: now,
                    };
                    journal.insert(&seq.to_be_bytes(), encode(&entree).map_err(abort)?)?;
                    issues.push(if old.is_some() {
                        Ecrit::Modifie
                    } else {
                        Ecrit::Cree
                    });
                }
                meta.insert(COMPTEURS, encode(&cpt).map_err(abort)?)?;
                run_hook(t, hook)?;
                Ok(issues)
            })
            .map_err(tx_err);
        if hook.is_some() {
            self.file_changee();
        }
        r
    }

    /// Removes offers (journalled), in one transaction. Returns how many existed.
    pub fn supprimer(&self, numeros: &[String], operation: Operation) -> Result<usize, StoreError> {
        self.probe();
        let r = self.supprimer_lot(numeros, operation, None);
        self.track_failure(r)
    }

    pub(super) fn supprimer_lot(
        &self,
        numeros: &[String],
        operation: Operation,
        hook: Option<&Hook>,
    ) -> Result<usize, StoreError> {
        let a = self.a()?;
        let now = now_ms();
        let _ecrivain = self.writer_lock();
        let mut partants = Vec::new();
        for numero in numeros {
            if let Some(b) = a.offres.get(numero.as_bytes())? {
                partants.push((decode::<OfferRecord>(&b)?.siret, numero.clone()));
            }
        }
        let sans_offre = self.organismes_sans_offre(&partants, &Default::default())?;
        let trees = offer_trees(&a, hook.is_some());
        // Not while a backup takes its cut (see `Store::sauvegarder`).
        let _cut = self.pause_ecritures();
        let r = trees
            .as_slice()
            .transaction(|t| {
                let [offres, par_org, par_maj, par_src, orgs, journal, meta, attente, ..] =
                    t.as_slice()
                else {
                    unreachable!("offer_trees gives at least 8 trees")
                };
                let mut cpt: Compteurs = match meta.get(COMPTEURS)? {
                    Some(b) => decode(&b).map_err(abort)?,
                    None => Compteurs::default(),
                };
                for siret in &sans_offre {
                    if orgs.remove(siret.as_bytes())?.is_some() {
                        cpt.organismes -= 1;
                    }
                }
                let mut n = 0;
                for numero in numeros {
                    let Some(b) = offres.remove(numero.as_bytes())? else {
                        continue;
                    };
                    let old: OfferRecord = decode(&b).map_err(abort)?;
                    unindex(&old, numero, par_org, par_maj, par_src)?;
                    if attente.remove(key_maj(old.recue_le, numero))?.is_some() {
                        cpt.en_attente -= 1;
                    }
                    cpt.formations -= 1;
                    cpt.actions -= old.actions;
                    cpt.sessions -= old.sessions;
                    cpt.diffusables -= old.diffusable as u64;
                    cpt.octets_morts += 4 + old.len as u64;
                    cpt.journal_seq += 1;
                    let entree = EntreeJournal {
                        seq: cpt.journal_seq,
                        numero: numero.clone(),
                        operation,
                        horodatage: now,
                    };
                    journal.insert(
                        &cpt.journal_seq.to_be_bytes(),
                        encode(&entree).map_err(abort)?,
                    )?;
                    n += 1;
                }
                meta.insert(COMPTEURS, encode(&cpt).map_err(abort)?)?;
                run_hook(t, hook)?;
                Ok(n)
            })
            .map_err(tx_err);
        if hook.is_some() {
            self.file_changee();
        }
        r
    }

    /// The organismes left without any offer once the offers in `partants` (SIRET, numero)
    /// leave them, unless an offer of theirs `arrivants` is being written. Read before the
    /// transaction that removes them (sled transactions cannot scan a prefix), under the
    /// writer lock, so no other write slips between.
    pub(super) fn organismes_sans_offre(
        &self,
        partants: &[(String, String)],
        arrivants: &std::collections::HashSet<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let a = self.a()?;
        let mut sirets: Vec<&str> = partants
            .iter()
            .map(|(s, _)| s.as_str())
            .filter(|s| !s.is_empty() && !arrivants.contains(s))
            .collect();
        sirets.sort_unstable();
        sirets.dedup();
        let partis: std::collections::HashSet<&str> =
            partants.iter().map(|(_, n)| n.as_str()).collect();
        let mut vides = Vec::new();
        for siret in sirets {
            let restent = prefixed(&a.par_organisme, siret)?
                .iter()
                .any(|n| !partis.contains(n.as_str()));
            if !restent {
                vides.push(siret.to_string());
            }
        }
        Ok(vides)
    }
}

pub(super) fn index(
    f: &OfferRecord,
    numero: &str,
    par_org: &TransactionalTree,
    par_maj: &TransactionalTree,
    par_src: &TransactionalTree,
) -> Result<(), UnabortableTransactionError> {
    par_org.insert(key2(&f.siret, numero), &[])?;
    par_maj.insert(key_maj(f.modifiee_le, numero), &[])?;
    par_src.insert(key2(&f.source, numero), &[])?;
    Ok(())
}

pub(super) fn unindex(
    f: &OfferRecord,
    numero: &str,
    par_org: &TransactionalTree,
    par_maj: &TransactionalTree,
    par_src: &TransactionalTree,
) -> Result<(), UnabortableTransactionError> {
    par_org.remove(key2(&f.siret, numero))?;
    par_maj.remove(key_maj(f.modifiee_le, numero))?;
    par_src.remove(key2(&f.source, numero))?;
    Ok(())
}
