//! The offer's commands: `import`, `check`, `stats`, `generate`, `export`, `pertinence`.

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sofi::diffusion::{ecrire_flux, Depuis};
use sofi::generate::{Generateur, Parametres};
use sofi::http::params;
use sofi::import::{importer, Options, Rapport};
use sofi::lheo::open_input;
use sofi::referentiel::Referentiels;
use sofi::store::Store;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::{Cli, ExportArgs};

/// `sofi import`: the files into the store, one report each.
pub(super) fn import(
    cli: &Cli,
    fichiers: &[PathBuf],
    source: Option<String>,
    remplacer: bool,
    json: bool,
) -> Result<i32> {
    let refs = Referentiels::charger_depuis(cli.ref_dir.clone())?;
    let store = Store::open(&cli.data_dir)?;
    store.noter_empreinte_si_vide(&sofi::rules::empreinte(&refs))?;
    let code = import_files(fichiers, &refs, Some(&store), source, remplacer, json)?;
    store.flush()?;
    Ok(code)
}

/// `sofi check`: the same reading and rules as an import, nothing stored.
pub(super) fn check(cli: &Cli, fichiers: &[PathBuf], json: bool) -> Result<i32> {
    let refs = Referentiels::charger_depuis(cli.ref_dir.clone())?;
    import_files(fichiers, &refs, None, None, false, json)
}

/// `sofi stats`: the store's counters.
pub(super) fn stats(data_dir: &Path, json: bool) -> Result<i32> {
    let store = Store::open(data_dir)?;
    let c = store.compteurs()?;
    let v = serde_json::json!({
        "formations": c.formations,
        "actions": c.actions,
        "sessions": c.sessions,
        "organismes": c.organismes,
        "diffusables": c.diffusables,
        "journal_seq": c.journal_seq,
        "corps_octets": store.corps_octets(),
        "corps_octets_morts": c.octets_morts,
    });
    if json {
        println!("{v}");
    } else {
        println!("formations  {}", c.formations);
        println!("actions     {}", c.actions);
        println!("sessions    {}", c.sessions);
        println!("organismes  {}", c.organismes);
        println!("diffusables {}", c.diffusables);
        println!("journal     {}", c.journal_seq);
        println!(
            "corps       {} octets, dont {} de versions remplacées ou supprimées",
            store.corps_octets(),
            c.octets_morts
        );
    }
    Ok(0)
}

/// `sofi generate`: a realistic offer of the region, for benches and demos.
pub(super) fn generate(
    cli: &Cli,
    sessions: u64,
    seed: u64,
    date_base: Option<jiff::civil::Date>,
    output: Option<&Path>,
) -> Result<i32> {
    let refs = Referentiels::charger_depuis(cli.ref_dir.clone())?;
    let date_base = date_base.unwrap_or_else(|| jiff::Zoned::now().date());
    let g = Generateur::new(
        &refs,
        Parametres {
            sessions,
            seed,
            date_base,
        },
    );
    match output {
        Some(p) => {
            let f =
                std::fs::File::create(p).with_context(|| format!("création de {}", p.display()))?;
            let n = g.ecrire(std::io::BufWriter::with_capacity(256 * 1024, f))?;
            eprintln!(
                "{n} formations, {sessions} sessions écrites dans {}",
                p.display()
            );
        }
        None => {
            let out = std::io::stdout().lock();
            g.ecrire(std::io::BufWriter::with_capacity(256 * 1024, out))?;
        }
    }
    Ok(0)
}

/// `sofi export`: the diffusable offer as LHÉO 2.3, whole or since a point, filtered as the
/// feed is.
pub(super) fn export(cli: &Cli, args: &ExportArgs) -> Result<i32> {
    let ExportArgs {
        output,
        depuis,
        gzip,
        departement,
        financeur,
        formacode,
        organisme,
    } = args;
    let refs = Referentiels::charger_depuis(cli.ref_dir.clone())?;
    // The same checks as the feed's query string (`/lheo/offres.xml`).
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.extend_pairs(depuis.iter().map(|v| ("depuis", v)));
    q.extend_pairs(departement.iter().map(|v| ("departement", v)));
    q.extend_pairs(financeur.iter().map(|v| ("financeur", v)));
    q.extend_pairs(formacode.iter().map(|v| ("formacode", v)));
    q.extend_pairs(organisme.iter().map(|v| ("organisme", v)));
    let (depuis, filtres) = params::parse::<params::Flux>(&q.finish())
        .and_then(|f| f.filtres(&refs))
        .map_err(|e| anyhow::anyhow!("--{} : {}", e.param, e.message))?;
    let store = Store::open(&cli.data_dir)?;
    let c = store.compteurs()?;
    if let Some(Depuis::Seq(n)) = depuis {
        if n > c.journal_seq {
            bail!(
                "--depuis {n} : au-delà du journal, dont le dernier numéro est {}",
                c.journal_seq
            );
        }
    }
    let bar = ProgressBar::with_draw_target(
        Some(if depuis.is_some() {
            c.journal_seq
        } else {
            c.formations
        }),
        ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        ProgressStyle::with_template("export [{bar:40}] {pos}/{len} offres ({eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let out: Box<dyn Write> = match output {
        Some(p) => Box::new(
            std::fs::File::create(p).with_context(|| format!("création de {}", p.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let out = std::io::BufWriter::with_capacity(256 * 1024, out);
    let mut prog = |n: u64| bar.set_position(n);
    let bilan = if *gzip {
        let gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        let (b, gz) = ecrire_flux(&store, &refs, depuis, &filtres, gz, &mut prog)?;
        gz.finish()?.flush()?;
        b
    } else {
        let (b, mut w) = ecrire_flux(&store, &refs, depuis, &filtres, out, &mut prog)?;
        w.flush()?;
        b
    };
    bar.finish_and_clear();
    eprintln!(
        "{} offres exportées, {} suppressions (journal {})",
        bilan.offres, bilan.suppressions, c.journal_seq
    );
    // The file holds every readable offer; the operator must still hear of the others.
    if bilan.endommagees > 0 {
        eprintln!(
            "{} offre(s) au corps endommagé laissée(s) de côté (détail ci-dessus ; sofi verify)",
            bilan.endommagees
        );
        return Ok(1);
    }
    Ok(0)
}

/// `sofi pertinence`: the search scored on a judged query set.
pub(super) fn pertinence(
    cli: &Cli,
    jeu: Option<&Path>,
    date: Option<jiff::civil::Date>,
    detail: bool,
    json: bool,
) -> Result<i32> {
    let texte = match jeu {
        Some(f) => std::fs::read_to_string(f).with_context(|| format!("{}", f.display()))?,
        None => sofi::pertinence::JEU.to_string(),
    };
    let cas = sofi::pertinence::lire(&texte).map_err(anyhow::Error::msg)?;
    let refs = Arc::new(Referentiels::charger_depuis(cli.ref_dir.clone())?);
    let config = Arc::new(sofi::search::Config::charger(cli.index_config.clone())?);
    let (moteur, _) = sofi::search::Moteur::ouvrir(&cli.data_dir.join("index"), config, refs)?;
    let jour = sofi::search::index::jour(date.unwrap_or_else(|| jiff::Zoned::now().date()));
    let mesures = sofi::pertinence::evaluer(&moteur, &cas, jour).map_err(anyhow::Error::msg)?;
    let bilans = sofi::pertinence::bilans(&mesures);
    if json {
        println!(
            "{}",
            serde_json::json!({ "bilans": bilans, "requetes": mesures })
        );
        return Ok(0);
    }
    if detail {
        for m in &mesures {
            println!(
                "{:<13} {:<36} P@10 {:.2}  part {:.2}  ({} / {}, {} pertinentes)  {}",
                m.cas.genre,
                m.cas.q,
                m.precision,
                m.part,
                m.total,
                m.total_propre,
                m.pertinents,
                m.premiers.join(" · ")
            );
        }
        println!();
    }
    for c in sofi::pertinence::non_jugeables(&mesures) {
        println!(
            "non jugeable (aucune offre pertinente) : ligne {} « {} »",
            c.ligne, c.q
        );
    }
    println!(
        "{:<13} {:>8} {:>8} {:>8} {:>10}",
        "genre", "requêtes", "P@10", "part", "part<0,8"
    );
    for b in &bilans {
        println!(
            "{:<13} {:>8} {:>8.3} {:>8.3} {:>10}",
            b.genre, b.requetes, b.precision, b.part, b.sous_80
        );
    }
    Ok(0)
}

/// A source is named after its file (`of-44.xml.gz` → `of-44`): a full feed with
/// `--remplacer` withdraws only that source's offers.
fn source_name(path: &Path) -> String {
    if path == Path::new("-") {
        return "stdin".into();
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.trim_end_matches(".gz")
        .trim_end_matches(".xml")
        .to_string()
}

/// Imports (or only checks, without a store) each file, then the files a `lheo-index`
/// among them names beside it; exit code 1 when any file failed or, for `check`, rejected
/// an offer.
fn import_files(
    fichiers: &[PathBuf],
    refs: &Referentiels,
    store: Option<&Store>,
    source: Option<String>,
    remplacer: bool,
    json: bool,
) -> Result<i32> {
    let mut code = 0;
    let mut rapports = Vec::new();
    // The files given, then those a `lheo-index` among them points to (not further).
    let mut a_lire: std::collections::VecDeque<(PathBuf, bool)> =
        fichiers.iter().map(|p| (p.clone(), false)).collect();
    let mut suivis: Vec<PathBuf> = Vec::new();
    while let Some((path, suivi)) = a_lire.pop_front() {
        let path = &path;
        let t0 = Instant::now();
        let input = match open_input(path) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("{} : {e}", path.display());
                code = 1;
                continue;
            }
        };
        let bar = match input.taille {
            Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(path.display().to_string());
        let opts = Options {
            store,
            source: source.clone().unwrap_or_else(|| source_name(path)),
            remplacer,
            depot: None,
        };
        let rapport = importer(input, refs, &opts, &|n| bar.set_position(n))?;
        bar.finish_and_clear();
        let dt = t0.elapsed().as_secs_f64();
        if !rapport.succes() {
            code = 1;
        }
        if store.is_none() && rapport.rejetees > 0 {
            code = 1;
        }
        if let (Some(index), false) = (&rapport.index, suivi) {
            for f in fichiers_locaux(path, &index.fichiers) {
                let donne = fichiers
                    .iter()
                    .any(|g| g.canonicalize().ok().as_ref() == Some(&f));
                if !suivis.contains(&f) && !donne {
                    suivis.push(f.clone());
                    a_lire.push_back((f, true));
                }
            }
        }
        if json {
            rapports.push(serde_json::json!({"fichier": path, "secondes": dt, "rapport": rapport}));
        } else {
            afficher(path, &rapport, dt, store.is_some());
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rapports)?);
    }
    Ok(code)
}

/// The `file` references of an index that are files beside it (relative paths that stay in
/// its folder and exist); addresses (`http://…`) are not fetched.
fn fichiers_locaux(index: &Path, refs: &[String]) -> Vec<PathBuf> {
    let Some(dossier) = index.parent().and_then(|d| {
        let d = if d.as_os_str().is_empty() {
            Path::new(".")
        } else {
            d
        };
        d.canonicalize().ok()
    }) else {
        return Vec::new();
    };
    refs.iter()
        .filter(|f| !f.contains("://") && !Path::new(f.as_str()).is_absolute())
        .filter_map(|f| dossier.join(f).canonicalize().ok())
        .filter(|p| p.starts_with(&dossier) && p.is_file())
        .collect()
}

/// One file's report for a person: counts, speed, each rejection with its line and column.
fn afficher(path: &Path, r: &Rapport, dt: f64, stocke: bool) {
    let mut out = std::io::stdout().lock();
    let mo = r.octets as f64 / 1e6;
    let _ = writeln!(out, "{} :", path.display());
    if let Some(i) = &r.index {
        let _ = writeln!(
            out,
            "  index LHÉO    {} résumés d'offres, {} organismes ; {} à jour, {} à récupérer",
            i.resumes, i.organismes, i.a_jour, i.a_recuperer
        );
        for d in &i.details {
            let ou = d
                .file
                .as_deref()
                .or(d.href.as_deref())
                .unwrap_or("sans adresse");
            let _ = writeln!(out, "    à récupérer {} ({ou})", d.numero);
        }
    }
    let _ = writeln!(out, "  lues          {}", r.lues);
    if stocke {
        let _ = writeln!(
            out,
            "  stockées      {} ({} créées, {} modifiées)",
            r.stockees, r.creees, r.modifiees
        );
        let _ = writeln!(out, "  inchangées    {}", r.inchangees);
    }
    let _ = writeln!(out, "  rejetées      {}", r.rejetees);
    let _ = writeln!(out, "  non diffusées {}", r.non_diffusees);
    if r.retirees > 0 {
        let _ = writeln!(out, "  retirées      {}", r.retirees);
    }
    let _ = writeln!(out, "  avertissements {}", r.avertissements);
    let _ = writeln!(
        out,
        "  {:.1} Mo en {:.2} s ({:.1} Mo/s, {:.0} sessions/s)",
        mo,
        dt,
        mo / dt.max(1e-9),
        r.sessions_lues as f64 / dt.max(1e-9)
    );
    for rej in &r.rejets {
        let _ = writeln!(
            out,
            "  rejetée {} ({}:{}:{}) :",
            rej.numero,
            path.display(),
            rej.ligne,
            rej.colonne
        );
        for e in &rej.erreurs {
            let _ = writeln!(out, "    {e}");
        }
    }
    if r.rejetees as usize > r.rejets.len() {
        let _ = writeln!(
            out,
            "  … et {} autres rejets",
            r.rejetees as usize - r.rejets.len()
        );
    }
    for nd in &r.non_diffusions {
        let _ = writeln!(out, "  non diffusée {} : {}", nd.numero, nd.motif);
        for a in &nd.avertissements {
            let _ = writeln!(out, "    {a}");
        }
    }
    if let Some(e) = &r.erreur_fatale {
        let _ = writeln!(out, "  ARRÊT : {}:{e}", path.display());
    }
}
