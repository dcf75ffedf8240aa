//! The tantivy index: one document per session of each diffusable action, derived from the
//! store and rebuilt from it at will. Every filter dimension is a numeric fast field with a
//! global code (département 44, public 80006, SIRET…), so a query can evaluate all filters and
//! count every facet in one pass over its matches.
//!
//! (One file past 600 lines: the schema, the document built from an offer and the codes of
//! each dimension are one contract with the views and the queries; they change together.)

use super::analyse::{analyseur, plier};
use super::config::Config;
use crate::model::{Action, Adresse, Formation, LheoDate, Session, Voie};
use crate::referentiel::{digits, Referentiels};
use crate::store::{OffreStockee, Store, StoreError};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, Value, FAST,
    STORED, STRING,
};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("index : {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("index : {0}")]
    Io(#[from] std::io::Error),
}

/// Version of the document layout: a different one in an existing index forces a rebuild.
/// (5: tantivy 0.27 and its frostem stemmer, which replaced rust-stemmers.)
pub const VERSION_SCHEMA: &str = "sofi-index-8";

/// Start of an unknown start date (`00000000`): the distant past, so it is always "open".
pub const JOUR_INCONNU_DEBUT: i64 = 0;
/// End of an unknown end date (`99999999`).
pub const JOUR_INCONNU_FIN: i64 = 1_000_000;

/// Days since 1970-01-01.
pub fn jour(d: jiff::civil::Date) -> i64 {
    d.since(jiff::civil::date(1970, 1, 1))
        .map(|s| s.get_days() as i64)
        .unwrap_or(0)
}

pub fn date_de_jour(j: i64) -> jiff::civil::Date {
    jiff::civil::date(1970, 1, 1)
        .checked_add(jiff::Span::new().days(j))
        .unwrap_or(jiff::civil::date(1970, 1, 1))
}

/// Département code as a number: `44` → 44, `2A` → 201, `2B` → 202, `971` → 971.
pub fn code_dep(d: &str) -> Option<u64> {
    match d {
        "2A" | "2a" => Some(201),
        "2B" | "2b" => Some(202),
        _ => d.parse().ok(),
    }
}

pub fn dep_de_code(c: u64) -> String {
    match c {
        201 => "2A".into(),
        202 => "2B".into(),
        c if c < 100 => format!("{c:02}"),
        c => c.to_string(),
    }
}

/// INSEE code as a number (Corsica's 2A/2B mapped above every real code).
pub fn code_insee(c: &str) -> Option<u64> {
    if c.len() != 5 {
        return None;
    }
    match &c[..2] {
        "2A" | "2a" => c[2..].parse::<u64>().ok().map(|n| 200_000 + n),
        "2B" | "2b" => c[2..].parse::<u64>().ok().map(|n| 300_000 + n),
        _ => c.parse().ok(),
    }
}

pub fn insee_de_code(c: u64) -> String {
    match c {
        c if c >= 300_000 => format!("2B{:03}", c - 300_000),
        c if c >= 200_000 => format!("2A{:03}", c - 200_000),
        c => format!("{c:05}"),
    }
}

/// Certification codes: RNCP, RS and Certif Info numbers in one numeric space.
pub const CERT_RNCP: u64 = 1 << 40;
pub const CERT_RS: u64 = 2 << 40;
pub const CERT_CI: u64 = 3 << 40;

/// Level of a `code-niveau-sortie` on the 2019 scale (3 = CAP … 8 = doctorat), 0 if none.
pub fn niveau(code: Option<&str>) -> u64 {
    match code.unwrap_or("") {
        c @ ("11" | "12" | "13" | "14" | "15" | "16" | "17" | "18") => c[1..].parse().unwrap_or(0),
        "4" => 3,
        "5" => 4,
        "6" => 5,
        "7" => 6,
        "8" => 7,
        _ => 0,
    }
}

/// Financeur code used for "eligible to the CPF" in the `financeur` dimension.
pub const FINANCEUR_CPF: u64 = 1000;

#[derive(Clone, Copy)]
pub struct Champs {
    pub formation: Field,
    pub action: Field,
    pub session: Field,
    pub groupe: Field,
    pub intitule: Field,
    pub thesaurus: Field,
    pub objectif: Field,
    /// The start of the objectives, stored for highlights (the whole text is only indexed).
    pub objectif_debut: Field,
    pub contenu: Field,
    pub organisme: Field,
    /// The organisme's name as shown in results.
    pub organisme_nom: Field,
    pub formacodes: Field,
    pub commune: Field,
    pub departement: Field,
    pub lat: Field,
    pub lon: Field,
    pub debut: Field,
    pub fin: Field,
    pub permanente: Field,
    pub a_distance: Field,
    pub publics: Field,
    pub financeurs: Field,
    pub certifiante: Field,
    pub certifications: Field,
    pub niveau: Field,
    pub siret: Field,
    /// [`Voie`] numbers of the session.
    pub voies: Field,
    /// Exact codes a filter matches on the group's first document: `rome:M1607`,
    /// `nsf:311` (and the NSF's parents `nsf:31`, `nsf:3`), `uai:0440001M`.
    pub codes: Field,
    /// What a result card shows (financing, price, hours, level, recruitment), bincode
    /// ([`super::query::Carte`]: a few bytes, decoded per hit), on the group's first document.
    pub carte: Field,
}

fn schema() -> (Schema, Champs) {
    let mut b = Schema::builder();
    let texte = |stored: bool| {
        let o = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("fr")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        if stored {
            o.set_stored()
        } else {
            o
        }
    };
    let num = || NumericOptions::default().set_fast().set_indexed();
    let c = Champs {
        formation: b.add_text_field("formation", STRING | STORED),
        action: b.add_text_field("action", STRING | STORED),
        session: b.add_text_field("session", STRING | STORED),
        groupe: b.add_u64_field("groupe", FAST),
        intitule: b.add_text_field("intitule", texte(true)),
        thesaurus: b.add_text_field("thesaurus", texte(false)),
        objectif: b.add_text_field("objectif", texte(false)),
        objectif_debut: b.add_text_field("objectif_debut", STORED),
        contenu: b.add_text_field("contenu", texte(false)),
        organisme: b.add_text_field("organisme", texte(false)),
        organisme_nom: b.add_text_field("organisme_nom", STORED),
        formacodes: b.add_u64_field("formacodes", num()),
        commune: b.add_u64_field("commune", num() | STORED),
        departement: b.add_u64_field("departement", num()),
        lat: b.add_f64_field("lat", FAST | STORED),
        lon: b.add_f64_field("lon", FAST | STORED),
        debut: b.add_i64_field("debut", FAST | STORED),
        fin: b.add_i64_field("fin", FAST | STORED),
        permanente: b.add_bool_field("permanente", FAST),
        a_distance: b.add_bool_field("a_distance", FAST | STORED),
        publics: b.add_u64_field("publics", num()),
        financeurs: b.add_u64_field("financeurs", num()),
        certifiante: b.add_bool_field("certifiante", FAST),
        certifications: b.add_u64_field("certifications", num()),
        niveau: b.add_u64_field("niveau", num()),
        siret: b.add_u64_field("siret", num() | STORED),
        voies: b.add_u64_field("voies", num()),
        codes: b.add_text_field("codes", STRING),
        carte: b.add_bytes_field("carte", STORED),
    };
    (b.build(), c)
}

/// The index and its writer; shared by the indexer thread and the query handlers.
pub struct Moteur {
    pub(super) index: Index,
    pub(super) reader: IndexReader,
    writer: Mutex<IndexWriter>,
    pub(super) champs: Champs,
    /// Replaced whole when staff change the settings (`recharger_config`).
    pub(super) config: arc_swap::ArcSwap<Config>,
    pub(super) refs: Arc<Referentiels>,
    pub(super) libelles: super::suggest::Libelles,
    /// Query understanding's tables (places, job titles, spelling), built on first use:
    /// commands that only index (reindex, rejudge) never pay for them; `serve` builds them
    /// before it answers.
    lexique: std::sync::OnceLock<super::comprendre::Lexique>,
    /// Generic Formacode of each Formacode, as numbers (for the facet tree).
    pub(super) parents_formacode: std::collections::HashMap<u64, u64>,
    /// Per-segment views the queries read (see `vue`).
    pub(super) vues: super::vue::Vues,
    /// Query passes running now (a lone one may use both cores).
    pub(super) en_cours: std::sync::atomic::AtomicUsize,
    /// Typo neighbours of query words, per index generation.
    pub(super) voisins: super::fautes::Voisins,
    /// Why the last catch-up with the journal failed, until one succeeds (`/health`).
    failure: Mutex<Option<String>>,
    /// Set while the index is rebuilt from nothing (a new layout): searches are answered
    /// "rebuilding" rather than from an empty index.
    reconstruction: std::sync::atomic::AtomicBool,
    /// The store's reopen count this index follows (see `Store::reopen_count`).
    reopen_count: std::sync::atomic::AtomicU64,
}

/// What is wrong with the index in `dir`, without opening it for writing (for `sofi verify`):
/// unreadable metas, files whose checksum fails, a layout of another version. Empty when it
/// is sound, or absent (never built yet: not damage). `sofi serve` rebuilds a damaged index
/// at start, and builds a missing one.
pub fn verifier_index(dir: &Path) -> Vec<String> {
    if !dir.join("meta.json").exists() {
        return Vec::new();
    }
    let index = match Index::open_in_dir(dir) {
        Ok(i) => i,
        Err(e) => return vec![format!("index illisible : {e}")],
    };
    let mut problemes = Vec::new();
    if index.schema() != schema().0 {
        problemes.push("index d'une autre version du schéma".to_string());
    }
    match index.validate_checksum() {
        Ok(abimes) => problemes.extend(
            abimes
                .iter()
                .map(|f| format!("fichier d'index endommagé : {}", f.display())),
        ),
        Err(e) => problemes.push(format!("index illisible : {e}")),
    }
    problemes
}

impl Moteur {
    /// Opens `dir` (created if missing); an index of another layout is recreated empty.
    pub fn ouvrir(
        dir: &Path,
        config: Arc<Config>,
        refs: Arc<Referentiels>,
    ) -> Result<(Moteur, bool), IndexError> {
        let (schema, champs) = schema();
        std::fs::create_dir_all(dir)?;
        let mut recree = false;
        // An index that is missing, of another layout, or damaged (a file whose checksum
        // fails, unreadable metas) is rebuilt from the store: it is only a cache of it.
        let utilisable = |i: &Index| -> Result<bool, String> {
            let metas = i.load_metas().map_err(|e| e.to_string())?;
            if i.schema() != schema
                || !metas
                    .payload
                    .as_deref()
                    .is_some_and(|p| p.starts_with(VERSION_SCHEMA))
            {
                return Ok(false);
            }
            let abimes = i.validate_checksum().map_err(|e| e.to_string())?;
            if !abimes.is_empty() {
                return Err(format!("fichiers endommagés : {abimes:?}"));
            }
            Ok(true)
        };
        let index = match Index::open_in_dir(dir).map_err(|e| e.to_string()) {
            Ok(i)
                if utilisable(&i).unwrap_or_else(|e| {
                    tracing::warn!("index {} inutilisable, reconstruit : {e}", dir.display());
                    false
                }) =>
            {
                i
            }
            ouvert => {
                if let Err(e) = ouvert {
                    if dir.join("meta.json").exists() {
                        tracing::warn!("index {} illisible, reconstruit : {e}", dir.display());
                    }
                }
                recree = true;
                for e in std::fs::read_dir(dir)? {
                    let p = e?.path();
                    if p.is_file() {
                        std::fs::remove_file(p)?;
                    }
                }
                // Small doc-store blocks: a page reads ~20 scattered documents, each costing
                // the decompression of its whole block.
                Index::builder()
                    .schema(schema)
                    .settings(tantivy::IndexSettings {
                        docstore_blocksize: 4096,
                        ..Default::default()
                    })
                    .create_in_dir(dir)?
            }
        };
        index
            .tokenizers()
            .register("fr", analyseur(&config.mots_vides));
        let writer = index.writer_with_num_threads(1, 64_000_000)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok((
            Moteur {
                index,
                reader,
                writer: Mutex::new(writer),
                champs,
                config: arc_swap::ArcSwap::new(config),
                libelles: super::suggest::Libelles::new(&refs),
                lexique: std::sync::OnceLock::new(),
                vues: Default::default(),
                en_cours: Default::default(),
                voisins: Default::default(),
                failure: Mutex::new(None),
                reconstruction: Default::default(),
                reopen_count: Default::default(),
                parents_formacode: refs
                    .formacodes
                    .values()
                    .filter_map(|f| {
                        Some((f.code.parse().ok()?, f.generique.as_ref()?.parse().ok()?))
                    })
                    .collect(),
                refs,
            },
            recree,
        ))
    }

    /// Journal sequence the index is up to date with.
    pub fn indexed_seq(&self) -> u64 {
        self.index
            .load_metas()
            .ok()
            .and_then(|m| m.payload)
            .and_then(|p| {
                p.strip_prefix(VERSION_SCHEMA)?
                    .strip_prefix(':')?
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    }

    fn commit(&self, w: &mut IndexWriter, seq: u64) -> Result<(), IndexError> {
        let mut prepared = w.prepare_commit()?;
        prepared.set_payload(&format!("{VERSION_SCHEMA}:{seq}"));
        prepared.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Builds the new segments' views now rather than in the first query that meets them.
    fn rafraichir_vues(&self) -> Result<(), IndexError> {
        Ok(self.vues.rafraichir(&self.reader.searcher())?)
    }

    /// Whether the index is being rebuilt from nothing (see [`Moteur::reconstruire_en_fond`]).
    pub fn en_reconstruction(&self) -> bool {
        self.reconstruction
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Says a rebuild is coming, before the server answers: a request that came between the
    /// start and the rebuild's thread would otherwise take the empty index for a whole one.
    pub fn annoncer_reconstruction(&self) {
        self.reconstruction
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// [`Moteur::reindex`] with [`Moteur::en_reconstruction`] set while it runs: for an
    /// index that has nothing to answer from until it is done.
    pub fn reconstruire_en_fond(&self, store: &Store) -> Result<u64, IndexError> {
        self.reconstruction
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let r = self.reindex(store);
        self.reconstruction
            .store(false, std::sync::atomic::Ordering::Relaxed);
        r
    }

    pub fn reindex(&self, store: &Store) -> Result<u64, IndexError> {
        let seq = store.compteurs()?.journal_seq;
        let mut w = self.writer.lock().expect("index writer lock");
        // No background merge while rebuilding: one started by the commit below would take
        // segments away from the explicit merge after it ("segments that were merged could
        // not be found", seen at 1M sessions). The usual policy is back at the end.
        w.set_merge_policy(Box::new(tantivy::merge_policy::NoMergePolicy));
        let r = self.reconstruire(&mut w, store, seq);
        w.set_merge_policy(Box::new(tantivy::merge_policy::LogMergePolicy::default()));
        r
    }

    fn reconstruire(
        &self,
        w: &mut IndexWriter,
        store: &Store,
        seq: u64,
    ) -> Result<u64, IndexError> {
        let mut n = 0;
        self.apply_in_one_commit(w, seq, |w| {
            w.delete_all_documents()?;
            for o in store.offres() {
                n += self.ajouter_lue(w, o.map(Some))?;
            }
            Ok(())
        })?;
        // One segment: each query then builds one scorer (and one typo automaton per word
        // and field) instead of one per segment. The merge keeps the commit's payload.
        let segments = self.index.searchable_segment_ids()?;
        if segments.len() > 1 {
            w.merge(&segments).wait()?;
            self.reader.reload()?;
        }
        self.rafraichir_vues()?;
        Ok(n)
    }

    /// Why the index cannot follow the journal now, if it cannot.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().ok().and_then(|p| p.clone())
    }

    /// Applies the journal entries the index has not seen. Returns how many offers changed.
    pub fn catch_up(&self, store: &Store) -> Result<usize, IndexError> {
        let r = self.catch_up_journal(store);
        if let Ok(mut p) = self.failure.lock() {
            *p = r.as_ref().err().map(|e| e.to_string());
        }
        r
    }

    fn catch_up_journal(&self, store: &Store) -> Result<usize, IndexError> {
        // sled was reopened: what the index followed of the journal may not be on disk, and
        // its sequence numbers will be given again. Rebuilt from the store as it is now.
        let reopen_count = store.reopen_count();
        if reopen_count != self.reopen_count.load(std::sync::atomic::Ordering::Relaxed) {
            let n = self.reindex(store)?;
            self.reopen_count
                .store(reopen_count, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!("index reconstruit après la réouverture du stockage : {n} sessions");
            return Ok(n as usize);
        }
        let depuis = self.indexed_seq();
        let fin = store.compteurs()?.journal_seq;
        if fin <= depuis {
            return Ok(0);
        }
        let mut numeros: Vec<String> = Vec::new();
        let mut vus = std::collections::HashSet::new();
        for e in store.journal_depuis(depuis) {
            let e = e?;
            if e.seq > fin {
                break;
            }
            if vus.insert(e.numero.clone()) {
                numeros.push(e.numero);
            }
        }
        let mut w = self.writer.lock().expect("index writer lock");
        self.apply_in_one_commit(&mut w, fin, |w| {
            for n in &numeros {
                w.delete_term(Term::from_field_text(self.champs.formation, n));
                self.ajouter_lue(w, store.offre(n))?;
            }
            Ok(())
        })?;
        drop(w);
        self.rafraichir_vues()?;
        Ok(numeros.len())
    }

    /// Queues `changer`'s changes and commits them at `seq`, or none of them: on any error
    /// the writer goes back to its last commit. Without that, on a full disk the new
    /// documents were lost with their segment while their deletions stayed queued, and the
    /// next commit that succeeded emptied the index. The next round redoes the work.
    fn apply_in_one_commit(
        &self,
        w: &mut IndexWriter,
        seq: u64,
        changer: impl FnOnce(&mut IndexWriter) -> Result<(), IndexError>,
    ) -> Result<(), IndexError> {
        let r = changer(w).and_then(|()| self.commit(w, seq));
        if r.is_err() {
            if let Err(e) = w.rollback() {
                tracing::warn!("index : retour au dernier état impossible : {e}");
            }
        }
        r
    }

    /// Adds an offer read from the store, if there is one. A damaged body leaves its offer
    /// out of search (the store counts it for `/health`), not the whole index.
    fn ajouter_lue(
        &self,
        w: &IndexWriter,
        lue: Result<Option<OffreStockee>, StoreError>,
    ) -> Result<u64, IndexError> {
        match lue {
            Ok(Some(o)) => self.ajouter(w, &o),
            Ok(None) => Ok(0),
            Err(e @ StoreError::DamagedBody { .. }) => {
                tracing::warn!("index : {e}");
                Ok(0)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Adds the documents of one offer (its diffusable actions' sessions).
    fn ajouter(&self, w: &IndexWriter, o: &OffreStockee) -> Result<u64, IndexError> {
        if !o.verdict.diffusable() {
            return Ok(0);
        }
        let f = &o.formation;
        let c = &self.champs;
        let thesaurus = self.thesaurus(f);
        let formacodes = self.formacodes(f);
        let certs = certifications(f, &self.refs);
        let cpf = crate::diffusion::eligible_cpf(f, &self.refs);
        let org = format!("{} {}", f.organisme.nom, f.organisme.raison_sociale);
        let org_nom = if f.organisme.nom.is_empty() {
            f.organisme.raison_sociale.as_str()
        } else {
            f.organisme.nom.as_str()
        };
        let siret: u64 = f.organisme.siret.parse().unwrap_or(0);
        let niv = niveau(f.code_niveau_sortie.as_deref());
        let codes = codes_rome_nsf(f, &self.refs);
        let mut n = 0;
        for (i, a) in f.actions.iter().enumerate() {
            if !o.verdict.diffusion.get(i).is_some_and(|d| d.diffusee) {
                continue;
            }
            // Sessions by place, so that each group (action × commune) is a run of
            // consecutive documents: an action given in three towns has its sessions in
            // each. An action without sessions still gets one document, with unknown dates
            // that every date filter lets through, as rolling entry.
            // Voies are the action's (a group's values are read from its first document).
            let mut voies: Vec<Voie> = a.sessions.iter().map(|s| Voie::de_session(f, s)).collect();
            voies.sort_unstable();
            voies.dedup();
            if voies.is_empty() {
                voies.push(Voie::Continue);
            }
            let mut sessions: Vec<(Option<&Session>, Place)> = Vec::new();
            for s in a
                .sessions
                .iter()
                .map(Some)
                .chain(a.sessions.is_empty().then_some(None))
            {
                for l in lieux(a, s, &self.refs) {
                    sessions.push((s, l));
                }
            }
            sessions.sort_by_key(|(_, l)| l.commune);
            for (k, (s, lieu)) in sessions.iter().enumerate() {
                let mut d = doc!(
                    c.formation => f.numero.as_str(),
                    c.action => a.numero.as_str(),
                    c.session => s.map_or("", |s| s.numero.as_str()),
                    c.groupe => groupe(&a.numero, lieu.commune),
                    c.debut => s.map_or(JOUR_INCONNU_DEBUT, debut),
                    c.fin => s.map_or(JOUR_INCONNU_FIN, fin),
                    c.permanente => s.is_none() || a.entrees_permanentes(),
                    c.a_distance => a.a_distance(),
                    c.certifiante => f.certifiante == "1",
                    c.niveau => niv,
                    c.siret => siret,
                );
                // All sessions of a group share the formation's text: it is indexed (and
                // stored) on the group's first document only, so a text query scores one
                // document per group.
                if k == 0 || sessions[k - 1].1.commune != lieu.commune {
                    d.add_text(c.intitule, &f.intitule);
                    d.add_text(c.thesaurus, &thesaurus);
                    d.add_text(c.objectif, &f.objectif);
                    if !f.resultats_attendus.is_empty() && f.resultats_attendus != "-" {
                        d.add_text(c.objectif, &f.resultats_attendus);
                    }
                    for code in &codes {
                        d.add_text(c.codes, code);
                    }
                    d.add_text(c.objectif_debut, debut_texte(&f.objectif, LONGUEUR_EXTRAIT));
                    d.add_text(c.contenu, &f.contenu);
                    d.add_text(c.organisme, &org);
                    d.add_text(c.organisme_nom, org_nom);
                    let du_lieu = sessions.iter().filter(|(_, l)| l.commune == lieu.commune);
                    let carte = super::query::Carte::de(f, a, du_lieu.filter_map(|(s, _)| *s), cpf);
                    d.add_bytes(c.carte, &carte.encoder());
                }
                if let Some(cm) = lieu.commune {
                    d.add_u64(c.commune, cm);
                }
                if let Some(dep) = lieu.departement {
                    d.add_u64(c.departement, dep);
                }
                if let Some((la, lo)) = lieu.pos {
                    d.add_f64(c.lat, la);
                    d.add_f64(c.lon, lo);
                }
                for fc in &formacodes {
                    d.add_u64(c.formacodes, *fc);
                }
                for p in &a.publics {
                    if let Ok(v) = p.code.parse() {
                        d.add_u64(c.publics, v);
                    }
                }
                for fi in &a.financeurs {
                    if let Ok(v) = fi.code_financeur.parse() {
                        d.add_u64(c.financeurs, v);
                    }
                }
                if cpf {
                    d.add_u64(c.financeurs, FINANCEUR_CPF);
                }
                for cert in &certs {
                    d.add_u64(c.certifications, *cert);
                }
                for v in &voies {
                    d.add_u64(c.voies, *v as u64);
                }
                w.add_document(d)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Labels and synonyms of the offer's Formacodes: a query word that is a thesaurus synonym
    /// finds the offers indexed under its descriptor.
    fn thesaurus(&self, f: &Formation) -> String {
        let mut t = String::new();
        for c in &f.domaine.formacodes {
            if let Some(fc) = self.refs.formacodes.get(&c.code) {
                t.push_str(&fc.libelle);
                t.push_str(". ");
                for s in &fc.synonymes {
                    t.push_str(s);
                    t.push_str(". ");
                }
            }
        }
        t
    }

    /// Each Formacode of the offer and all its ancestors, so a generic code finds its
    /// descendants.
    fn formacodes(&self, f: &Formation) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::new();
        for c in &f.domaine.formacodes {
            for code in self.refs.formacode_ancetres(&c.code) {
                if let Ok(v) = code.parse::<u64>() {
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
            }
        }
        out
    }

    /// Numbers of the indexed (hence diffusable) formations, from the term dictionary, each
    /// once, skipping those whose documents are all deleted.
    pub fn numeros_formations(&self) -> Vec<String> {
        let searcher = self.reader.searcher();
        let mut out = std::collections::BTreeSet::new();
        for seg in searcher.segment_readers() {
            let Ok(inv) = seg.inverted_index(self.champs.formation) else {
                continue;
            };
            let Ok(mut termes) = inv.terms().stream() else {
                continue;
            };
            while let Some((t, info)) = termes.next() {
                let Ok(mut p) = inv.read_postings_from_terminfo(info, IndexRecordOption::Basic)
                else {
                    continue;
                };
                let mut doc = tantivy::DocSet::doc(&p);
                while doc != tantivy::TERMINATED {
                    if !seg.is_deleted(doc) {
                        if let Ok(s) = std::str::from_utf8(t) {
                            out.insert(s.to_string());
                        }
                        break;
                    }
                    doc = tantivy::DocSet::advance(&mut p);
                }
            }
        }
        out.into_iter().collect()
    }

    /// Changes whenever what a search can find changes (a new searcher generation, another
    /// process): the API's validators are built on it.
    pub fn state_id(&self) -> u64 {
        static PROCESSUS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        let nonce = *PROCESSUS.get_or_init(|| {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u32(std::process::id());
            h.finish()
        });
        nonce ^ self.reader.searcher().generation().generation_id()
    }

    pub fn doc_count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The search settings (index-config): defaults, boosts, synonyms.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// Takes new search settings at once (a synonym added by staff): boosts, synonyms and
    /// defaults apply to the next query; stop words, which shape the index, wait for the
    /// next start.
    pub fn recharger_config(&self, c: Config) {
        self.config.store(Arc::new(c));
    }

    /// The référentiels the index was built with.
    /// Query understanding's tables.
    pub fn lexique(&self) -> &super::comprendre::Lexique {
        self.lexique
            .get_or_init(|| super::comprendre::Lexique::new(&self.refs))
    }

    pub fn refs(&self) -> &Referentiels {
        &self.refs
    }

    /// One line per segment view: groups, values, profiles and ids per group (for benches).
    pub fn describe_views(&self) -> Vec<String> {
        let Ok(vues) = self.vues.de(&self.reader.searcher()) else {
            return Vec::new();
        };
        vues.iter().map(|v| v.describe()).collect()
    }

    /// Groups (an action at one place) in the index, and its segments.
    pub fn groups_and_segments(&self) -> (usize, usize) {
        let searcher = self.reader.searcher();
        let groupes = self
            .vues
            .de(&searcher)
            .map(|v| v.iter().map(|v| v.nb_groupes()).sum())
            .unwrap_or(0);
        (groupes, searcher.segment_readers().len())
    }
}

fn groupe(action: &str, commune: Option<u64>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    action.hash(&mut h);
    commune.hash(&mut h);
    h.finish()
}

pub fn debut(s: &Session) -> i64 {
    match LheoDate::parse(&s.periode.debut) {
        Ok(LheoDate::Date(d)) => jour(d),
        _ => JOUR_INCONNU_DEBUT,
    }
}

pub fn fin(s: &Session) -> i64 {
    match LheoDate::parse_fin(&s.periode.fin) {
        Ok(LheoDate::Date(d)) => jour(d),
        _ => JOUR_INCONNU_FIN,
    }
}

pub struct Place {
    pub commune: Option<u64>,
    pub departement: Option<u64>,
    pub pos: Option<(f64, f64)>,
}

fn place_of(a: &Adresse, refs: &Referentiels) -> Place {
    let insee = a
        .code_insee_commune
        .clone()
        .filter(|c| refs.communes.contains_key(c))
        .or_else(|| {
            refs.communes_par_cp
                .get(&a.codepostal)
                .and_then(|v| {
                    let ville = plier(&a.ville);
                    v.iter()
                        .find(|c| {
                            refs.communes
                                .get(*c)
                                .is_some_and(|x| plier(&x.nom) == ville)
                        })
                        .or(v.first())
                })
                .cloned()
        });
    let commune = insee.as_ref().and_then(|c| refs.communes.get(c));
    let pos = a
        .geolocalisation
        .as_ref()
        .and_then(|g| g.lat_lon())
        .or_else(|| commune.and_then(|c| Some((c.lat?, c.lon?))));
    Place {
        commune: insee.as_deref().and_then(code_insee),
        departement: crate::diffusion::departement(a)
            .or_else(|| commune.map(|c| c.departement.clone()))
            .as_deref()
            .and_then(code_dep),
        pos,
    }
}

/// Where a session takes place: the action's first known place, else its registration
/// address.
pub fn lieu(a: &Action, s: Option<&Session>, refs: &Referentiels) -> Place {
    lieux(a, s, refs).swap_remove(0)
}

/// Every place a session takes place in: each of the action's places in a known commune
/// (one per commune), else its registration address; never empty.
pub fn lieux(a: &Action, s: Option<&Session>, refs: &Referentiels) -> Vec<Place> {
    let mut out: Vec<Place> = Vec::new();
    for p in a
        .lieux
        .iter()
        .filter_map(|l| l.coordonnees.adresse.as_ref())
        .map(|ad| place_of(ad, refs))
    {
        if p.commune.is_some() && !out.iter().any(|x| x.commune == p.commune) {
            out.push(p);
        }
    }
    if out.is_empty() {
        out.push(
            s.map(|s| place_of(&s.adresse_inscription.adresse, refs))
                .unwrap_or(Place {
                    commune: None,
                    departement: None,
                    pos: None,
                }),
        );
    }
    out
}

/// The codes an offer is found by: ROME and NSF, its own (`domaine-formation`) and those
/// Certif Info gives its certifications (an NSF code also under its parents); the UAI of
/// its establishments.
fn codes_rome_nsf(f: &Formation, refs: &Referentiels) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rome: Vec<&str> = f.domaine.rome.iter().map(|c| c.code.as_str()).collect();
    let mut nsf: Vec<&str> = f.domaine.nsf.iter().map(|c| c.as_str()).collect();
    let fiches: Vec<_> = f
        .certifications
        .iter()
        .flat_map(|c| refs.fiches_certifinfo(c))
        .collect();
    for fiche in &fiches {
        rome.extend(fiche.codes_rome.iter().map(|c| c.as_str()));
        if !fiche.code_nsf.is_empty() {
            nsf.push(&fiche.code_nsf);
        }
    }
    for r in rome {
        out.push(format!("rome:{}", r.trim().to_ascii_uppercase()));
    }
    // UAI of the organisme, of its places and of the organismes formateurs.
    let texte_uai = |n: &crate::model::Node| {
        n.children
            .iter()
            .find(|c| c.name == "code-UAI")
            .map(|c| c.text.trim().to_ascii_uppercase())
    };
    let mut uais: Vec<String> = f.organisme.uai.iter().filter_map(texte_uai).collect();
    for a in &f.actions {
        uais.extend(
            a.lieux
                .iter()
                .filter_map(|l| l.uai.as_ref())
                .filter_map(texte_uai),
        );
        for o in &a.organismes_formateurs {
            uais.extend(
                o.children
                    .iter()
                    .filter(|c| c.name == "code-UAI-formateur")
                    .filter_map(texte_uai),
            );
        }
    }
    out.extend(uais.into_iter().map(|u| format!("uai:{u}")));
    for n in nsf {
        let n = n.trim().to_ascii_lowercase();
        for k in 1..=n.len() {
            if n.is_char_boundary(k) {
                out.push(format!("nsf:{}", &n[..k]));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn certifications(f: &Formation, refs: &Referentiels) -> Vec<u64> {
    let mut out = Vec::new();
    for c in &f.certifications {
        if let Some(n) = c
            .code_rncp
            .as_deref()
            .and_then(|r| digits(r).parse::<u64>().ok())
        {
            out.push(CERT_RNCP | n);
        }
        if let Some(n) = c
            .code_rs
            .as_deref()
            .and_then(|r| digits(r).parse::<u64>().ok())
        {
            out.push(CERT_RS | n);
        }
        for fiche in refs.fiches_certifinfo(c) {
            if let Ok(n) = fiche.code.parse::<u64>() {
                out.push(CERT_CI | n);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Bytes of the objectives highlights are looked for in: tokenizing whole programmes for
/// each hit would cost more than the rest of the query.
pub const LONGUEUR_EXTRAIT: usize = 600;

/// At most `n` bytes of `t`, cut at a character boundary.
pub fn debut_texte(t: &str, n: usize) -> &str {
    if t.len() <= n {
        return t;
    }
    let mut i = n;
    while !t.is_char_boundary(i) {
        i -= 1;
    }
    &t[..i]
}

/// Reads a stored string of a document.
pub fn texte(d: &TantivyDocument, f: Field) -> String {
    d.get_first(f)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}
