//! `sofi`: the command line. Errors become `anyhow` here, at the edge, and nowhere else.
//!
//! (One file past 600 lines: one function per subcommand, each short; clap's definitions
//! sit with the code that reads them.)

use anyhow::{bail, Context, Result};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sofi::diffusion::{ecrire_flux, Depuis};
use sofi::generate::{Generateur, Parametres};
use sofi::http::{params, Limits};
use sofi::import::{importer, Options, Rapport};
use sofi::lheo::{self, open_input};
use sofi::referentiel::Referentiels;
use sofi::store::Store;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use sofi::configuration;

#[derive(Parser)]
#[command(
    name = "sofi",
    version,
    about = "Collecte, vérifie et diffuse l'offre de formation (LHÉO)"
)]
struct Cli {
    /// Configuration file (TOML, keys are the options' long names): options and environment
    /// variables win over it.
    #[arg(long, global = true, env = "SOFI_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (store, index, inbox).
    #[arg(long, global = true, env = "SOFI_DATA_DIR", default_value = "./var")]
    data_dir: PathBuf,
    /// A gzip input expanding more than this many times its size is refused (past 64 MiB out).
    #[arg(
        long,
        global = true,
        env = "SOFI_GZIP_RATIO_MAX",
        default_value_t = lheo::Decompression::default().ratio_max
    )]
    gzip_ratio_max: u64,
    /// A gzip input expanding past this size is refused (units: K, M, G, T; powers of 1,024).
    #[arg(long, global = true, env = "SOFI_GZIP_MAX", default_value = "16G", value_parser = taille)]
    gzip_max: u64,
    /// Référentiels folder (the layout of `data/ref`), instead of the compiled-in copy.
    #[arg(long, global = true, env = "SOFI_REF_DIR")]
    ref_dir: Option<PathBuf>,
    /// Search settings folder (default `./index-config` when it exists, else the compiled-in
    /// copy).
    #[arg(long, global = true, env = "SOFI_INDEX_CONFIG")]
    index_config: Option<PathBuf>,
    /// sled's cache, in MiB.
    #[arg(long, global = true, env = "SOFI_CACHE_MO", default_value_t = 4)]
    cache_mo: u64,
    /// The region served (INSEE region code): its départements are where places typed in a
    /// search are looked for, and a training place outside them gets a warning.
    #[arg(long, global = true, env = "SOFI_REGION", default_value = "52")]
    region: String,
    /// What to log (tracing's filter syntax: `debug`, `info,sofi=debug`…).
    #[arg(
        long,
        global = true,
        env = "SOFI_LOG",
        default_value = "info,tantivy=warn"
    )]
    log: String,
    /// Log lines as plain text (colours only on a terminal) or as JSON, one object a line.
    #[arg(long, global = true, env = "SOFI_LOG_FORMAT", value_enum, default_value_t = FormatLog::Plain)]
    log_format: FormatLog,
    #[command(subcommand)]
    cmd: Cmd,
}

/// `--log-format`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum FormatLog {
    Plain,
    Json,
}

#[derive(Subcommand)]
enum Cmd {
    /// Import LHÉO files (.xml, .xml.gz, - for stdin) into the store.
    Import {
        #[arg(required = true)]
        fichiers: Vec<PathBuf>,
        /// Source name (default: the file name without extension).
        #[arg(long)]
        source: Option<String>,
        /// Full feed: withdraw this source's offers that are not in the file.
        #[arg(long)]
        remplacer: bool,
        /// Print the reports as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the same checks as import without storing anything; exit 1 on a blocking error.
    Check {
        #[arg(required = true)]
        fichiers: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Counts of the store.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Generate a realistic LHÉO 2.3 offer of Pays de la Loire.
    Generate {
        #[arg(long)]
        sessions: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Sessions are dated around this day (default: today).
        #[arg(long)]
        date_base: Option<jiff::civil::Date>,
        /// Output file (default: stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Write the diffusable offer as LHÉO 2.3 (only diffusable actions).
    Export {
        /// Output file (default: stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Only what changed since: a journal sequence number or an ISO date/time.
        #[arg(long)]
        depuis: Option<String>,
        /// Compress with gzip.
        #[arg(long)]
        gzip: bool,
        /// Département of the action's place (44, 2A, 971).
        #[arg(long)]
        departement: Vec<String>,
        /// LHÉO financeur code, or `cpf`.
        #[arg(long)]
        financeur: Vec<String>,
        #[arg(long)]
        formacode: Vec<String>,
        /// SIRET of the organisme.
        #[arg(long)]
        organisme: Vec<String>,
    },
    /// Check the whole store (every offer's body, the journal against the counters) and the
    /// search index; exit 1 when anything is damaged.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the search index from the store.
    Reindex,
    /// Score the search on a judged query set: precision over the first ten hits, and the
    /// share of what the same need typed plainly finds (server stopped: it opens the index).
    Pertinence {
        /// The set (`genre | requête | requête propre | attendus` lines); default: the one
        /// shipped (`benches/pertinence.txt`).
        #[arg(long)]
        jeu: Option<PathBuf>,
        /// Search as on this day (default: today).
        #[arg(long)]
        date: Option<jiff::civil::Date>,
        /// Every query, with its first hits.
        #[arg(long)]
        detail: bool,
        #[arg(long)]
        json: bool,
    },
    /// Judge the stored offers again with the rules and référentiels of this run (`serve`
    /// does it by itself at start when they changed); a staff member's decisions stay.
    Rejuger {
        /// Even when the rules and the référentiels have not changed.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// Rewrite the file of offer bodies without the replaced and deleted ones (server stopped).
    #[command(alias = "compacter")]
    Compact {
        /// Stop after copying this many bodies (tests of the resumption).
        #[arg(long, hide = true)]
        arret_apres: Option<u64>,
    },
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Print the effective configuration: every setting, its value and where it came from
    /// (option, environment, configuration file, default).
    Config {
        #[command(flatten)]
        serve: ServeArgs,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// A consistent copy of the data (store, bodies, accounts, audit) into DEST, absent or
    /// empty, while the server keeps serving and taking writes (through it when it runs).
    Backup {
        dest: PathBuf,
        /// Then restore it into a temporary directory and compare it with what was copied
        /// (counters, trees, a sample of offers, every body); only then is it reported good.
        /// On an existing backup, only this check.
        #[arg(long)]
        verify: bool,
        /// The running server to ask, when it holds the store.
        #[arg(long, env = "SOFI_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
    },
    /// Bring a store written by an older version to this version's layout, in place (server
    /// stopped). Its store is first copied to DATA_DIR/avant-migration-N/; an interrupted
    /// migration resumes where it stopped.
    Migrate {
        /// Stop after this many batches (tests of resumption).
        #[arg(long, hide = true)]
        arret_apres: Option<usize>,
    },
    /// Restore a backup into the data directory (absent or empty) and rebuild its index.
    Restore { src: PathBuf },
    /// Write a portable dump into DEST (absent or empty), server stopped: every offer as
    /// LHÉO 2.3 with its source, verdict and dates, and the back-office (accounts,
    /// organisations, dossiers, audit, partner keys) as JSON Lines. For version changes that
    /// `sofi migrate` does not cover.
    #[command(alias = "vider")]
    Dump { dest: PathBuf },
    /// Load a portable dump into the data directory (absent or empty) and index it.
    #[command(alias = "charger")]
    Load { src: PathBuf },
    /// The audit trail as JSON Lines, oldest first: every change by a person (who, when, what,
    /// before → after, why) since a date or an instant.
    Audit {
        /// `AAAA-MM-JJ` or an ISO instant (`2027-03-01T08:00:00Z`); default: everything.
        #[arg(long)]
        since: Option<String>,
    },
    /// Back-office accounts: create one (the first admin) or issue a new password link. The
    /// one-time link is printed: there is no mail infrastructure.
    User {
        #[command(subcommand)]
        op: UserCmd,
    },
}

/// `sofi serve`'s settings (`sofi config` shows them too).
#[derive(clap::Args)]
struct ServeArgs {
    /// Address and port to listen on (`0.0.0.0:8080` for every interface).
    #[arg(long, env = "SOFI_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// On an empty store, first load the demo offer (about 5,000 sessions).
    #[arg(long)]
    demo: bool,
    /// Largest import body (`POST /api/v1/import`); units K, M, G, T (powers of 1,024).
    #[arg(long, env = "SOFI_LIMITE_IMPORT", default_value = "2G", value_parser = taille)]
    limite_import: u64,
    /// Connections served at once; the next ones are answered 503 (also bounded by the
    /// open-files limit).
    #[arg(long, env = "SOFI_CONNEXIONS_MAX", default_value_t = Limits::default().connections)]
    connexions_max: usize,
    /// LHÉO feeds written at once; the next ones are answered 503 with Retry-After.
    #[arg(long, env = "SOFI_FLUX_MAX", default_value_t = Limits::default().feeds)]
    flux_max: usize,
    /// Uploads imported at once; the next ones wait up to 2 s, then are answered 503 with
    /// Retry-After.
    #[arg(long, env = "SOFI_IMPORTS_MAX", default_value_t = Limits::default().uploads)]
    imports_max: usize,
    /// Seconds a client has to send a request's head.
    #[arg(long, env = "SOFI_DELAI_ENTETES", default_value_t = Limits::default().header_timeout.as_secs())]
    delai_entetes: u64,
    /// Seconds without a byte moving either way before a connection is closed.
    #[arg(long, env = "SOFI_DELAI_INACTIVITE", default_value_t = Limits::default().idle_timeout.as_secs())]
    delai_inactivite: u64,
    /// Bearer token of the write routes (default: the one in DATA_DIR/admin-token,
    /// created at first start).
    #[arg(long, env = "SOFI_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// The search's internal switch points, lowered by tests so that every path runs on
    /// small data (`parallel_pass_min=64,short_ids=12,…`).
    #[arg(long, hide = true)]
    test_thresholds: Option<sofi::search::Thresholds>,
    /// Development over plain HTTP only: the session cookie is `sofi` without `Secure`
    /// instead of `__Host-sofi` (browsers refuse Secure cookies from http:// except on
    /// localhost).
    #[arg(long, env = "SOFI_COOKIE_NON_SECURISE", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    cookie_non_securise: bool,
    /// Minutes without a request after which a back-office session ends.
    #[arg(long, env = "SOFI_SESSION_INACTIVITE", default_value_t = 120)]
    session_inactivite: u64,
    /// Hours after which a back-office session ends, used or not.
    #[arg(long, env = "SOFI_SESSION_DUREE", default_value_t = 12)]
    session_duree: u64,
    /// The auto-acceptance policy (TOML: `automatiques`, `echantillon`); default: session
    /// dates, recruitment, new sessions and contacts go online at once, 5 % sampled.
    #[arg(long, env = "SOFI_POLITIQUE")]
    politique: Option<PathBuf>,
    /// Requests per minute an address may make without a partner key (API and feeds;
    /// the site's pages are never limited).
    #[arg(long, env = "SOFI_ANONYME_PAR_MINUTE", default_value_t = sofi::http::partenaires::Reglages::default().anonyme_par_minute)]
    anonyme_par_minute: u32,
    /// Requests per day an address may make without a partner key.
    #[arg(long, env = "SOFI_ANONYME_PAR_JOUR", default_value_t = sofi::http::partenaires::Reglages::default().anonyme_par_jour)]
    anonyme_par_jour: u32,
    /// The LHÉO feeds answer only with a partner key (401 without).
    #[arg(long, env = "SOFI_FLUX_AVEC_CLE", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    flux_avec_cle: bool,
    /// Days the search analytics' daily aggregates are kept (stated on /confidentialite).
    #[arg(long, env = "SOFI_RETENTION_JOURS", default_value_t = sofi::http::analytique::RETENTION_JOURS)]
    retention_jours: u32,
    /// The address the public reaches the server at (`https://formation.example.fr`
    /// behind a TLS proxy): canonical links, sitemap, JSON-LD, widget snippet and
    /// one-time links use it (default: `http://` and the request's Host).
    #[arg(long, env = "SOFI_PUBLIC_URL", value_parser = url_publique)]
    public_url: Option<String>,
    /// Serve as a read replica of this primary (`https://primary`): start from its full
    /// feed, then follow its journal; writes and the back-office are sent to it.
    #[arg(long, env = "SOFI_SUIVRE", value_parser = url_publique)]
    suivre: Option<String>,
    /// The partner key a replica shows the primary, when its feeds need one.
    #[arg(long, env = "SOFI_SUIVRE_CLE", hide_env_values = true)]
    suivre_cle: Option<String>,
    /// Entries of the primary's journal behind which a replica takes its full feed again
    /// rather than the changes one by one.
    #[arg(long, env = "SOFI_SUIVRE_RESYNC", default_value_t = sofi::suivi::RESYNC)]
    suivre_resync: u64,
    /// Reverse proxies in front of Sofi (IP addresses, comma-separated): for their
    /// connections, the client is the last `X-Forwarded-For` address that is not one of
    /// them (quotas and the login throttle count it, never stored).
    #[arg(long, env = "SOFI_PROXY_DE_CONFIANCE", value_delimiter = ',')]
    proxy_de_confiance: Vec<std::net::IpAddr>,
    /// Directory of scheduled backups (none: no scheduled backup). Each is verified as
    /// `sofi backup --verify` does; one that is not good is removed and the failure logged.
    #[arg(long, env = "SOFI_SAUVEGARDE_DOSSIER")]
    sauvegarde_dossier: Option<PathBuf>,
    /// Time between two scheduled backups (`30m`, `6h`, `1d`), counted from the last one in
    /// the directory.
    #[arg(long, env = "SOFI_SAUVEGARDE_INTERVALLE", default_value = "1d", value_parser = duree)]
    sauvegarde_intervalle: std::time::Duration,
    /// Scheduled backups kept; older ones are removed.
    #[arg(long, env = "SOFI_SAUVEGARDE_GARDER", default_value_t = 7)]
    sauvegarde_garder: usize,
    /// The server compacts the body file by itself, while serving and importing, when its
    /// replaced and deleted bodies reach this share of it (percent; 0: never).
    #[arg(long, env = "SOFI_COMPACTION_SEUIL", default_value_t = 50, value_parser = clap::value_parser!(u64).range(0..=100))]
    compaction_seuil: u64,
    /// ... and at least this many MiB of them.
    #[arg(long, env = "SOFI_COMPACTION_MIN_MO", default_value_t = 64)]
    compaction_min_mo: u64,
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create an account and print its activation link.
    Add {
        #[arg(long)]
        email: String,
        /// organisme, responsable, staff or admin.
        #[arg(long)]
        role: String,
        /// SIRETs it acts for (organisation roles).
        #[arg(long)]
        siret: Vec<String>,
        #[arg(long, default_value = "")]
        nom: String,
        /// The server's public address, to print the link with.
        #[arg(long, env = "SOFI_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
    },
    /// Print a one-time link to choose a new password (the account's sessions end when used).
    Reset {
        #[arg(long)]
        email: String,
        #[arg(long, env = "SOFI_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
    },
}

/// `--public-url`: an absolute http(s) address without a path, query or trailing slash.
fn url_publique(s: &str) -> Result<String, String> {
    let t = s.trim().trim_end_matches('/');
    let reste = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"))
        .ok_or_else(|| format!("« {s} » : une adresse http:// ou https:// attendue"))?;
    let hote_ok = !reste.is_empty()
        && reste
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if !hote_ok {
        return Err(format!(
            "« {s} » : seulement le schéma et l'hôte (https://formation.example.fr), sans chemin"
        ));
    }
    Ok(t.to_string())
}

/// A duration: `90s`, `30m`, `6h`, `1d`.
fn duree(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let fin = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unite) = t.split_at(fin);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("« {s} » : durée attendue, comme 90s, 30m, 6h ou 1d"))?;
    let secondes = match unite.trim() {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" | "j" => 86_400,
        u => return Err(format!("« {s} » : unité « {u} » inconnue (s, m, h ou d)")),
    };
    if n == 0 {
        return Err(format!("« {s} » : une durée non nulle"));
    }
    Ok(std::time::Duration::from_secs(n.saturating_mul(secondes)))
}

/// A size in bytes: `5000000`, `512K`, `64M`, `2G`, `1T` (also `Mo`, `MiB`, `GB`…: powers of
/// 1,024 in every case).
fn taille(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let fin = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits_only, unite) = t.split_at(fin);
    let n: u64 = digits_only
        .parse()
        .map_err(|_| format!("« {s} » : taille attendue, comme 5000000, 512K, 64M ou 2G"))?;
    let facteur: u64 = match unite.trim().to_ascii_lowercase().as_str() {
        "" | "o" | "b" => 1,
        "k" | "ko" | "kb" | "kio" | "kib" => 1 << 10,
        "m" | "mo" | "mb" | "mio" | "mib" => 1 << 20,
        "g" | "go" | "gb" | "gio" | "gib" => 1 << 30,
        "t" | "to" | "tb" | "tio" | "tib" => 1 << 40,
        u => {
            return Err(format!(
                "« {s} » : unité « {u} » inconnue (K, M, G ou T, puissances de 1 024)"
            ))
        }
    };
    n.checked_mul(facteur)
        .ok_or_else(|| format!("« {s} » : taille trop grande"))
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    sofi::pages_normales();
    let fichier = match lire_configuration() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("sofi : erreur : {e}");
            std::process::exit(2);
        }
    };
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let filtre = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| "info,tantivy=warn".into());
    match cli.log_format {
        // Colours only on a terminal: journald and log files get plain text.
        FormatLog::Plain => tracing_subscriber::fmt()
            .with_env_filter(filtre)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .init(),
        FormatLog::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filtre)
            .with_writer(std::io::stderr)
            .init(),
    }
    // Batch commands return freed memory at once (flat RSS); the server keeps mimalloc's
    // default, as its queries reuse large buffers over and over.
    if matches!(
        cli.cmd,
        Cmd::Import { .. }
            | Cmd::Check { .. }
            | Cmd::Export { .. }
            | Cmd::Reindex
            | Cmd::Dump { .. }
            | Cmd::Load { .. }
            | Cmd::Compact { .. }
    ) {
        sofi::reglage_allocateur();
    }
    match run(cli, &matches, &fichier) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("sofi : erreur : {e:#}");
            std::process::exit(2);
        }
    }
}

/// The configuration file named by `--config` or `SOFI_CONFIG`, if any: its settings become
/// the environment variables not already set (options > environment > file > defaults).
fn lire_configuration() -> Result<configuration::Fichier, String> {
    let mut args = std::env::args_os().skip(1);
    let mut chemin = None;
    while let Some(a) = args.next() {
        let a = a.to_string_lossy().into_owned();
        if a == "--" {
            break;
        } else if a == "--config" {
            chemin = args.next().map(PathBuf::from);
        } else if let Some(c) = a.strip_prefix("--config=") {
            chemin = Some(PathBuf::from(c));
        }
    }
    let Some(chemin) = chemin.or_else(|| std::env::var_os("SOFI_CONFIG").map(PathBuf::from)) else {
        return Ok(Default::default());
    };
    let mut f = configuration::lire(&Cli::command(), &["serve"], &chemin)?;
    // What the environment already sets wins: only the others are taken from the file.
    f.valeurs
        .retain(|v| std::env::var_os(&v.variable).is_none());
    for v in &f.valeurs {
        // (Before any thread is started.)
        std::env::set_var(&v.variable, &v.valeur);
    }
    Ok(f)
}

fn run(cli: Cli, matches: &clap::ArgMatches, fichier: &configuration::Fichier) -> Result<i32> {
    lheo::regler_decompression(lheo::Decompression {
        ratio_max: cli.gzip_ratio_max,
        octets_max: cli.gzip_max,
    });
    sofi::store::set_cache_mib(cli.cache_mo);
    if cli.region.trim() != "52" {
        // (Départements and regions only: the command loads the rest itself if it needs it.)
        let refs = Referentiels::charger_petits(cli.ref_dir.clone())?;
        sofi::referentiel::regler_region(&cli.region, &refs).map_err(anyhow::Error::msg)?;
    }
    match cli.cmd {
        Cmd::Import {
            fichiers,
            source,
            remplacer,
            json,
        } => {
            let refs = Referentiels::charger_depuis(cli.ref_dir.clone())?;
            let store = Store::open(&cli.data_dir)?;
            store.noter_empreinte_si_vide(&sofi::rules::empreinte(&refs))?;
            let code = import_files(&fichiers, &refs, Some(&store), source, remplacer, json)?;
            store.flush()?;
            Ok(code)
        }
        Cmd::Check { fichiers, json } => {
            let refs = Referentiels::charger_depuis(cli.ref_dir.clone())?;
            import_files(&fichiers, &refs, None, None, false, json)
        }
        Cmd::Verify { json } => verify(&cli.data_dir, json),
        Cmd::Stats { json } => {
            let store = Store::open(&cli.data_dir)?;
            let c = store.compteurs()?;
            let v = serde_json::json!({
                "formations": c.formations,
                "actions": c.actions,
                "sessions": c.sessions,
                "organismes": c.organismes,
                "diffusables": c.diffusables,
                "journal_seq": c.journal_seq,
                "corps_octets": store.body_file_len(),
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
                    store.body_file_len(),
                    c.octets_morts
                );
            }
            Ok(0)
        }
        Cmd::Generate {
            sessions,
            seed,
            date_base,
            output,
        } => {
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
                    let f = std::fs::File::create(&p)
                        .with_context(|| format!("création de {}", p.display()))?;
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
        Cmd::Config { serve: _, json } => afficher_configuration(matches, fichier, json),
        Cmd::Serve(ServeArgs {
            listen,
            demo,
            limite_import,
            connexions_max,
            flux_max,
            imports_max,
            delai_entetes,
            delai_inactivite,
            admin_token,
            test_thresholds,
            cookie_non_securise,
            session_inactivite,
            session_duree,
            politique,
            anonyme_par_minute,
            anonyme_par_jour,
            flux_avec_cle,
            retention_jours,
            public_url,
            sauvegarde_dossier,
            sauvegarde_intervalle,
            sauvegarde_garder,
            compaction_seuil,
            compaction_min_mo,
            suivre,
            suivre_cle,
            suivre_resync,
            proxy_de_confiance,
        }) => {
            if let Some(t) = test_thresholds {
                sofi::search::set_thresholds(t);
            }
            // Every connection is a descriptor: take what the hard limit allows, and keep
            // room for the store, the index and the inbox.
            let fichiers = sofi::http::raise_open_files_limit();
            let connexions = connexions_max.min(fichiers.saturating_sub(128).max(16) as usize);
            if connexions < connexions_max {
                tracing::warn!(
                    "{connexions} connexions au plus : la limite de fichiers ouverts est {fichiers}"
                );
            }
            let limits = Limits {
                connections: connexions,
                feeds: flux_max.max(1),
                uploads: imports_max.max(1),
                header_timeout: std::time::Duration::from_secs(delai_entetes.max(1)),
                idle_timeout: std::time::Duration::from_secs(delai_inactivite.max(1)),
            };
            refuser_hors_boucle(&listen, admin_token.as_deref(), cookie_non_securise)?;
            let token = sofi::http::admin_token(&cli.data_dir, admin_token)?;
            let reglages = (cli.ref_dir.clone(), cli.index_config.clone());
            let chemin_politique = politique;
            let politique = match &chemin_politique {
                Some(p) => sofi::politique::Politique::charger(p).map_err(anyhow::Error::msg)?,
                None => Default::default(),
            };
            let identity = sofi::http::identity::Identity::new(
                !cookie_non_securise,
                std::time::Duration::from_secs(session_inactivite.max(1) * 60),
                std::time::Duration::from_secs(session_duree.max(1) * 3600),
            );
            serve(
                &cli.data_dir,
                reglages,
                &listen,
                demo,
                Service {
                    limite_import,
                    limits,
                    token,
                    identity,
                    politique,
                    chemin_politique,
                    partenaires: sofi::http::partenaires::Reglages {
                        anonyme_par_minute: anonyme_par_minute.max(1),
                        anonyme_par_jour: anonyme_par_jour.max(1),
                        flux_anonymes: !flux_avec_cle,
                    },
                    retention_jours: retention_jours.max(1),
                    url_publique: public_url,
                    suivre: suivre.map(|p| (p, suivre_cle, suivre_resync.max(1))),
                    proxies: proxy_de_confiance,
                    sauvegardes: sauvegarde_dossier.map(|d| {
                        (
                            std::path::absolute(&d).unwrap_or(d),
                            sauvegarde_intervalle,
                            sauvegarde_garder,
                        )
                    }),
                    compaction: (compaction_seuil, compaction_min_mo << 20),
                },
            )
        }
        Cmd::User { op } => user(&cli.data_dir, op),
        Cmd::Audit { since } => {
            let depuis = match since.as_deref() {
                None => 0,
                Some(s) => match sofi::diffusion::Depuis::parse(s) {
                    Ok(sofi::diffusion::Depuis::Instant(t)) => t,
                    _ => anyhow::bail!(
                        "--since « {s} » : une date (2027-03-01) ou un horodatage ISO (2027-03-01T08:00:00Z)"
                    ),
                },
            };
            let store = Store::open(&cli.data_dir)?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for e in store.audit_depuis(depuis)? {
                serde_json::to_writer(&mut out, &e?)?;
                std::io::Write::write_all(&mut out, b"\n")?;
            }
            std::io::Write::flush(&mut out)?;
            Ok(0)
        }
        Cmd::Compact { arret_apres } => {
            let b = Store::open(&cli.data_dir)?
                .compacter(arret_apres, &std::sync::atomic::AtomicBool::new(false))?;
            eprintln!(
                "corps des offres : {} → {} octets en {:.1} s ({} corps copiés)",
                b.avant,
                b.apres,
                b.duree_ms as f64 / 1000.0,
                b.copies
            );
            Ok(0)
        }
        Cmd::Rejuger { force, json } => {
            let refs = Referentiels::charger_depuis(cli.ref_dir.clone())?;
            let store = Store::open(&cli.data_dir)?;
            match rejuger(&store, &refs, force)? {
                None if json => println!("{}", serde_json::json!({ "rejuge": false })),
                None => eprintln!("règles et référentiels inchangés : rien à juger de nouveau (--force pour le faire quand même)"),
                Some((b, s)) if json => println!(
                    "{}",
                    serde_json::json!({ "rejuge": true, "bilan": b, "secondes": s })
                ),
                Some((b, s)) => eprintln!("{}", bilan_rejugement(&b, s)),
            }
            store.flush()?;
            Ok(0)
        }
        Cmd::Pertinence {
            jeu,
            date,
            detail,
            json,
        } => {
            let texte = match &jeu {
                Some(f) => {
                    std::fs::read_to_string(f).with_context(|| format!("{}", f.display()))?
                }
                None => sofi::pertinence::JEU.to_string(),
            };
            let cas = sofi::pertinence::lire(&texte).map_err(anyhow::Error::msg)?;
            let refs = Arc::new(Referentiels::charger_depuis(cli.ref_dir.clone())?);
            let config = Arc::new(sofi::search::Config::charger(cli.index_config.clone())?);
            let (moteur, _) =
                sofi::search::Moteur::ouvrir(&cli.data_dir.join("index"), config, refs)?;
            let jour = sofi::search::index::jour(date.unwrap_or_else(|| jiff::Zoned::now().date()));
            let mesures =
                sofi::pertinence::evaluer(&moteur, &cas, jour).map_err(anyhow::Error::msg)?;
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
        Cmd::Migrate { arret_apres } => {
            let t0 = Instant::now();
            match sofi::store::format_du_stockage(&cli.data_dir)? {
                Some(f) if f < sofi::store::FORMAT => {
                    let copie = sofi::store::copie_avant_migration(&cli.data_dir, f)?;
                    eprintln!("stockage au format {f} copié dans {}", copie.display());
                }
                _ => {}
            }
            match Store::migrer(&cli.data_dir, arret_apres)? {
                None => eprintln!(
                    "rien à migrer : le stockage est au format {}",
                    sofi::store::FORMAT
                ),
                Some(b) => eprintln!(
                    "stockage migré du format {} au format {} : {} offres converties ({} l'étaient déjà), en {:.1} s ; l'index sera reconstruit au démarrage",
                    b.depuis,
                    b.vers,
                    b.offres,
                    b.deja_faites,
                    t0.elapsed().as_secs_f64()
                ),
            }
            Ok(0)
        }
        Cmd::Backup { dest, verify, url } => backup(&cli.data_dir, &dest, verify, &url),
        Cmd::Restore { src } => {
            let t0 = Instant::now();
            let m = Store::restaurer(&src, &cli.data_dir)?;
            let (n, _) = reindexer(
                &cli.data_dir,
                (cli.ref_dir.clone(), cli.index_config.clone()),
            )?;
            eprintln!(
                "restauré dans {} : {} formations, journal {}, {n} sessions indexées, en {:.1} s",
                cli.data_dir.display(),
                m.compteurs.formations,
                m.compteurs.journal_seq,
                t0.elapsed().as_secs_f64()
            );
            Ok(0)
        }
        Cmd::Dump { dest } => {
            let t0 = Instant::now();
            let store = Store::open(&cli.data_dir)?;
            let m = sofi::vidage::vider(&store, &dest)?;
            eprintln!(
                "vidage dans {} : {} offres de {} sources, {} enregistrements du back-office, en {:.1} s",
                dest.display(),
                m.offres,
                m.sources.len(),
                m.arbres.arbres.values().sum::<u64>(),
                t0.elapsed().as_secs_f64()
            );
            // What could not be read is named; the dump holds everything else.
            if !m.endommagees.is_empty() || m.arbres.illisibles > 0 {
                eprintln!(
                    "INCOMPLET : {} offre(s) au corps endommagé ({}) et {} enregistrement(s) illisible(s) (dans illisibles.jsonl) ; lancez sofi verify",
                    m.endommagees.len(),
                    m.endommagees.join(", "),
                    m.arbres.illisibles
                );
                return Ok(1);
            }
            Ok(0)
        }
        Cmd::Load { src } => {
            let t0 = Instant::now();
            sofi::store::dossier_neuf(
                &cli.data_dir,
                "un vidage se charge dans un dossier de données neuf",
            )?;
            // Checked before the data directory is created.
            sofi::vidage::lire_manifeste(&src)?;
            // Loaded beside it, then renamed: a load that fails leaves nothing half-loaded.
            let nom = cli
                .data_dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy();
            let temp = cli.data_dir.with_file_name(format!(".{nom}.chargement"));
            if temp.exists() {
                std::fs::remove_dir_all(&temp)?;
            }
            let charge = || -> Result<(sofi::vidage::Manifeste, u64)> {
                let m = {
                    let store = Store::open(&temp)?;
                    sofi::vidage::charger(&store, &src)?
                };
                let (n, _) = reindexer(&temp, (cli.ref_dir.clone(), cli.index_config.clone()))?;
                Ok((m, n))
            };
            let (m, n) = match charge() {
                Ok(r) => r,
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&temp);
                    return Err(e.context("rien n'a été chargé"));
                }
            };
            if cli.data_dir.exists() {
                std::fs::remove_dir(&cli.data_dir)?;
            }
            std::fs::rename(&temp, &cli.data_dir)?;
            eprintln!(
                "vidage de Sofi {} chargé dans {} : {} offres, {} enregistrements du back-office, {n} sessions indexées, en {:.1} s",
                m.version_sofi,
                cli.data_dir.display(),
                m.offres,
                m.arbres.arbres.values().sum::<u64>(),
                t0.elapsed().as_secs_f64()
            );
            Ok(0)
        }
        Cmd::Reindex => {
            let t0 = Instant::now();
            let (n, seq) = reindexer(
                &cli.data_dir,
                (cli.ref_dir.clone(), cli.index_config.clone()),
            )?;
            eprintln!(
                "{n} sessions indexées en {:.1} s (journal {seq})",
                t0.elapsed().as_secs_f64()
            );
            Ok(0)
        }
        Cmd::Export {
            output,
            depuis,
            gzip,
            departement,
            financeur,
            formacode,
            organisme,
        } => {
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
            let out: Box<dyn Write> = match &output {
                Some(p) => Box::new(
                    std::fs::File::create(p)
                        .with_context(|| format!("création de {}", p.display()))?,
                ),
                None => Box::new(std::io::stdout().lock()),
            };
            let out = std::io::BufWriter::with_capacity(256 * 1024, out);
            let mut prog = |n: u64| bar.set_position(n);
            let bilan = if gzip {
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
    }
}

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

/// Rebuilds the data directory's search index from its store (`reindex`, `restore`):
/// sessions indexed and the journal sequence reached.
fn reindexer(data_dir: &Path, (ref_dir, index_config): Reglages) -> Result<(u64, u64)> {
    let refs = Arc::new(Referentiels::charger_depuis(ref_dir)?);
    let config = Arc::new(sofi::search::Config::charger(index_config)?);
    let store = Store::open(data_dir)?;
    let (moteur, _) = sofi::search::Moteur::ouvrir(&data_dir.join("index"), config, refs)?;
    let n = moteur.reindex(&store)?;
    Ok((n, moteur.indexed_seq()))
}

/// `sofi backup`: in this process when the store is free, else through the running server;
/// then, with `--verify`, the check.
fn backup(data_dir: &Path, dest: &Path, verify: bool, url: &str) -> Result<i32> {
    let dest = std::path::absolute(dest)?;
    if !(verify && dest.join(sofi::store::MANIFESTE).exists()) {
        let m = match Store::open(data_dir) {
            Ok(store) => store.sauvegarder(&dest)?,
            Err(sofi::store::StoreError::Verrouille(_)) => {
                let token =
                    sofi::http::admin_token(data_dir, std::env::var("SOFI_ADMIN_TOKEN").ok())?;
                let r = ureq::post(&format!(
                    "{}/api/v1/admin/sauvegarde",
                    url.trim_end_matches('/')
                ))
                .set("authorization", &format!("Bearer {token}"))
                .send_json(serde_json::json!({ "destination": dest }));
                match r {
                    Ok(r) => r.into_json::<sofi::store::Manifeste>()?,
                    Err(ureq::Error::Status(code, r)) => {
                        let v: serde_json::Value = r.into_json().unwrap_or_default();
                        bail!(
                            "le serveur ({url}) refuse la sauvegarde ({code}) : {}",
                            v["erreur"]["message"].as_str().unwrap_or("?")
                        )
                    }
                    Err(e) => bail!(
                        "le stockage est tenu par un serveur, mais {url} ne répond pas ({e}) : donnez son adresse par --url"
                    ),
                }
            }
            Err(e) => return Err(e.into()),
        };
        eprintln!(
            "sauvegarde dans {} : {} formations, journal {}, écritures en attente {} ms, en {:.1} s",
            dest.display(),
            m.compteurs.formations,
            m.compteurs.journal_seq,
            m.pause_ms,
            m.duree_ms as f64 / 1000.0
        );
    }
    if !verify {
        return Ok(0);
    }
    let t0 = Instant::now();
    let (m, problemes) = Store::verifier_sauvegarde(&dest)?;
    if problemes.is_empty() {
        eprintln!(
            "sauvegarde vérifiée : restaurée et comparée ({} formations, journal {}, {} offres de l'échantillon, chaque corps relu) en {:.1} s",
            m.compteurs.formations,
            m.compteurs.journal_seq,
            m.echantillon.len(),
            t0.elapsed().as_secs_f64()
        );
        Ok(0)
    } else {
        for p in &problemes {
            eprintln!("  PROBLÈME : {p}");
        }
        eprintln!("sauvegarde NON vérifiée : {} problème(s)", problemes.len());
        Ok(1)
    }
}

/// `sofi config`: each setting, its value and where it came from.
fn afficher_configuration(
    matches: &clap::ArgMatches,
    fichier: &configuration::Fichier,
    json: bool,
) -> Result<i32> {
    let cmd = Cli::command();
    let sous = matches
        .subcommand_matches("config")
        .context("sous-commande config")?;
    let mut lignes = Vec::new();
    for (_, arg) in configuration::reglages(&cmd, &["config"]) {
        let id = arg.get_id().as_str();
        let variable = arg
            .get_env()
            .map(|v| v.to_string_lossy().into_owned())
            .unwrap_or_default();
        let valeur = sous.get_raw(id).map(|vs| {
            vs.map(|v| v.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(",")
        });
        let source = match sous.value_source(id) {
            Some(clap::parser::ValueSource::CommandLine) => "option".to_string(),
            Some(clap::parser::ValueSource::EnvVariable) => match fichier.cle_de(&variable) {
                Some(cle) => format!(
                    "fichier {} ({cle})",
                    fichier
                        .chemin
                        .as_deref()
                        .unwrap_or(Path::new("?"))
                        .display()
                ),
                None => format!("environnement {variable}"),
            },
            Some(clap::parser::ValueSource::DefaultValue) => "défaut".to_string(),
            _ => "non réglé".to_string(),
        };
        // Secrets are never printed, only whether they are set.
        let valeur = match valeur {
            Some(_) if arg.is_hide_env_values_set() => Some("(masqué)".to_string()),
            v => v,
        };
        lignes.push((
            arg.get_long().unwrap_or(id).replace('-', "_"),
            variable,
            valeur,
            source,
        ));
    }
    let mut out = std::io::stdout().lock();
    if json {
        let v: Vec<_> = lignes
            .iter()
            .map(|(cle, var, val, src)| {
                serde_json::json!({"cle": cle, "variable": var, "valeur": val, "source": src})
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        let large = lignes.iter().map(|l| l.0.len()).max().unwrap_or(0);
        for (cle, _, val, src) in &lignes {
            let val = val.as_deref().unwrap_or("-");
            writeln!(out, "{cle:large$}  {val:<32}  {src}")?;
        }
    }
    Ok(0)
}

/// A server reachable from other machines refuses development settings: the insecure
/// cookie, and an admin token a person could guess.
fn refuser_hors_boucle(listen: &str, token: Option<&str>, cookie_non_securise: bool) -> Result<()> {
    let addr = sofi::http::parse_listen_address(listen).map_err(anyhow::Error::msg)?;
    if addr.ip().is_loopback() {
        return Ok(());
    }
    if cookie_non_securise {
        bail!(
            "--cookie-non-securise (SOFI_COOKIE_NON_SECURISE) sert au développement sur 127.0.0.1 : \
             refusé pour une écoute sur {addr} (mettez Sofi derrière HTTPS)"
        );
    }
    if let Some(t) = token.map(str::trim).filter(|t| !t.is_empty()) {
        let distincts = t.chars().collect::<std::collections::BTreeSet<_>>().len();
        if t.chars().count() < 24 || distincts < 10 {
            bail!(
                "le jeton d'administration donné (--admin-token, SOFI_ADMIN_TOKEN) est trop faible \
                 pour une écoute sur {addr} : 24 caractères au moins, variés (par exemple \
                 `openssl rand -hex 32`), ou aucun pour celui que Sofi crée dans DATA_DIR/admin-token"
            );
        }
    }
    Ok(())
}

/// `(ref_dir, index_config)`: where the référentiels and the search settings come from.
type Reglages = (Option<PathBuf>, Option<PathBuf>);

/// What the HTTP service is given: its limits, the admin token, the session settings.
struct Service {
    limite_import: u64,
    limits: Limits,
    token: String,
    identity: sofi::http::identity::Identity,
    politique: sofi::politique::Politique,
    /// Its file, read again on SIGHUP.
    chemin_politique: Option<PathBuf>,
    partenaires: sofi::http::partenaires::Reglages,
    retention_jours: u32,
    url_publique: Option<String>,
    /// Scheduled backups: directory, interval, how many kept.
    sauvegardes: Option<(PathBuf, std::time::Duration, usize)>,
    /// Automatic compaction: share of dead bytes (percent, 0: never) and their minimum.
    compaction: (u64, u64),
    /// The primary this server is a read replica of, and the key it shows.
    suivre: Option<(String, Option<String>, u64)>,
    /// Trusted reverse proxies.
    proxies: Vec<std::net::IpAddr>,
}

fn serve(
    data_dir: &Path,
    (ref_dir, index_config): Reglages,
    listen: &str,
    demo: bool,
    Service {
        limite_import,
        limits,
        token,
        identity,
        politique,
        chemin_politique,
        partenaires,
        retention_jours,
        url_publique,
        sauvegardes,
        compaction,
        suivre,
        proxies,
    }: Service,
) -> Result<i32> {
    let addr = sofi::http::parse_listen_address(listen).map_err(anyhow::Error::msg)?;
    let t0 = Instant::now();
    let refs = Arc::new(Referentiels::charger_depuis(ref_dir)?);
    tracing::info!("référentiels chargés en {} ms", t0.elapsed().as_millis());
    let store = Store::open(data_dir)?;
    store.noter_empreinte_si_vide(&sofi::rules::empreinte(&refs))?;
    if demo && store.compteurs()?.formations == 0 {
        charger_demo(&store, &refs)?;
    }
    // Where staff add synonyms: the settings' folder in use, if there is one.
    let dossier_config = index_config
        .clone()
        .or_else(|| Some(PathBuf::from("index-config")))
        .filter(|d| d.is_dir());
    let config = Arc::new(sofi::search::Config::charger(index_config.clone())?);
    let (moteur, recree) =
        sofi::search::Moteur::ouvrir(&data_dir.join("index"), config, refs.clone())?;
    let moteur = Arc::new(moteur);
    // Query understanding's tables, built before serving: not on the first search, and
    // not in the background while the server already answers (an overloaded server must
    // not be found busy with them).
    moteur.lexique();
    // The index is derived: rebuilt when missing, of another layout, or ahead of the store
    // (a restored store), in the background while the server already answers (searches
    // say it is rebuilding); otherwise brought up to date from the journal.
    let seq_store = store.compteurs()?.journal_seq;
    let a_reconstruire = recree || moteur.indexed_seq() > seq_store;
    if !a_reconstruire {
        let n = moteur.catch_up(&store)?;
        tracing::info!("index à jour ({n} offres rattrapées)");
    }
    // Feeds and uploads hold blocking threads while their clients read or send: they get
    // their own, beyond the eight that searches and pages share.
    let fils_bloquants = 8 + limits.feeds + limits.uploads;
    let stop_usage = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let app = Arc::new(
        sofi::http::App::new(
            store.clone(),
            refs.clone(),
            token,
            limite_import,
            Some(moteur.clone()),
            limits,
        )
        .with_identity(identity)
        .with_politique(politique)
        .with_partenaires(partenaires)
        .with_analytique(retention_jours, dossier_config)
        .with_url_publique(url_publique)
        .with_primaire(suivre.as_ref().map(|(p, _, _)| p.clone()))
        .with_proxies(proxies),
    );
    if let Some(p) = &app.primaire {
        tracing::info!("réplique en lecture de {p}");
    }
    app.partenaires.recharger(&store)?;
    // Partner usage is counted in memory and added to the daily aggregates every few
    // seconds (and once more at the end).
    let usage = {
        let (stop, app) = (stop_usage.clone(), app.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for _ in 0..50 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                if let Err(e) = app.partenaires.vider(&app.store) {
                    tracing::warn!("usage des partenaires non enregistré : {e}");
                }
                if let Err(e) = app.analytique.vider(&app.store) {
                    tracing::warn!("statistiques de recherche non enregistrées : {e}");
                }
            }
        })
    };
    let stop = stop_usage;
    // A replica's offer comes from its primary only: no inbox, the follower instead.
    let inbox = match (&suivre, &app.suivi) {
        (Some((primaire, cle, resync)), Some(etat)) => {
            let suiveur = sofi::suivi::Suiveur {
                primaire: primaire.clone(),
                cle: cle.clone(),
                store: store.clone(),
                refs,
                data_dir: data_dir.to_path_buf(),
                etat: etat.clone(),
                resync: *resync,
            };
            let stop = stop.clone();
            std::thread::spawn(move || suiveur.run(&stop))
        }
        _ => {
            let inbox = sofi::inbox::Inbox::new(data_dir, store.clone(), refs)?;
            tracing::info!("boîte de dépôt : {}", inbox.dir.display());
            let stop = stop.clone();
            std::thread::spawn(move || inbox.run(stop))
        }
    };
    // Near-real-time: the indexer follows the journal; a stored change is searchable within
    // one interval plus a commit.
    let indexeur = {
        let stop = stop.clone();
        let store = store.clone();
        std::thread::spawn(move || {
            if a_reconstruire {
                tracing::info!(
                    "index en reconstruction : les recherches répondent 503 jusqu'à la fin"
                );
                let t = Instant::now();
                match moteur.reconstruire_en_fond(&store) {
                    Ok(n) => tracing::info!(
                        "index reconstruit : {n} sessions en {} ms",
                        t.elapsed().as_millis()
                    ),
                    Err(e) => tracing::error!("index non reconstruit : {e}"),
                }
            }
            // On failure (a full disk) it backs off, up to 5 s, and says so once per 10 s.
            let mut pause = std::time::Duration::from_millis(100);
            let mut dernier_log: Option<Instant> = None;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match moteur.catch_up(&store) {
                    Ok(_) => pause = std::time::Duration::from_millis(100),
                    Err(e) => {
                        if dernier_log.is_none_or(|t| t.elapsed().as_secs() >= 10) {
                            tracing::warn!("indexation : {e}");
                            dernier_log = Some(Instant::now());
                        }
                        pause = (pause * 2).min(std::time::Duration::from_secs(5));
                    }
                }
                // Slept in small steps so that a stop is seen quickly.
                let t = Instant::now();
                while t.elapsed() < pause && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(100).min(pause));
                }
            }
        })
    };
    // Automatic decisions taken again if the rules or the référentiels changed, while the
    // server already answers with the previous ones (the indexer follows the rewrites).
    let rejugement = {
        let (store, refs) = (store.clone(), app.refs.clone());
        std::thread::spawn(move || match rejuger(&store, &refs, false) {
            Ok(Some((b, s))) => tracing::info!("{}", bilan_rejugement(&b, s)),
            Ok(None) => {}
            Err(e) => tracing::warn!("décisions automatiques non recalculées : {e:#}"),
        })
    };
    let sauvegardes = sauvegardes.map(|(dossier, intervalle, garder)| {
        let (stop, store) = (stop.clone(), store.clone());
        tracing::info!(
            "sauvegardes dans {} toutes les {} min, {garder} gardées",
            dossier.display(),
            intervalle.as_secs() / 60
        );
        std::thread::spawn(move || {
            sauvegarder_regulierement(&store, &dossier, intervalle, garder, &stop)
        })
    });
    let compacteur = {
        let (stop, store) = (stop.clone(), store.clone());
        std::thread::spawn(move || compacter_au_besoin(&store, compaction, &stop))
    };
    // Searches, imports and feeds run on blocking threads; a few suffice on a small box, and
    // each idle one keeps allocator memory.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(fils_bloquants)
        .build()?;
    let app_rechargement = app.clone();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("écoute sur {addr}"))?;
        tracing::info!("sofi écoute sur http://{}", listener.local_addr()?);
        tokio::spawn(recharger_sur_sighup(
            app_rechargement,
            index_config,
            chemin_politique,
        ));
        sofi::http::serve(listener, app, sofi::http::shutdown_signal()).await?;
        anyhow::Ok(())
    })?;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = inbox.join();
    let _ = indexeur.join();
    let _ = rejugement.join();
    let _ = usage.join();
    if let Some(s) = sauvegardes {
        let _ = s.join();
    }
    let _ = compacteur.join();
    tracing::info!("arrêt propre");
    store.flush()?;
    Ok(0)
}

/// The automatic compaction: looks every 10 s whether the dead bytes reached the threshold
/// (or an interrupted compaction is to finish), and compacts while the server goes on. A
/// shutdown stops it between two chunks; the next start goes on.
fn compacter_au_besoin(
    store: &Store,
    (seuil, min): (u64, u64),
    stop: &std::sync::atomic::AtomicBool,
) {
    let mut echec: Option<Instant> = None;
    while attendre(stop, 100) {
        // After a failure (a damaged body, a full disk), one try an hour.
        if echec.is_some_and(|t| t.elapsed().as_secs() < 3600) {
            continue;
        }
        match store.compaction_utile(seuil, min) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(target: "sofi::compaction", "{e}");
                continue;
            }
        }
        match store.compacter(None, stop) {
            Ok(b) if !b.finie => {
                tracing::info!(target: "sofi::compaction", "compaction arrêtée, reprise au prochain démarrage");
            }
            Ok(b) => {
                echec = None;
                tracing::info!(
                    target: "sofi::compaction",
                    avant = b.avant,
                    apres = b.apres,
                    copies = b.copies,
                    attente_max_ms = b.attente_max_ms,
                    ms = b.duree_ms,
                    "corps des offres compactés"
                );
                // The removed file stays open a moment for readers that took a fiche just
                // before the end; then its space is freed.
                attendre(stop, 50);
                store.liberer_corps_retire();
            }
            Err(e) => {
                echec = Some(Instant::now());
                tracing::error!(target: "sofi::compaction", "compaction : {e}");
            }
        }
    }
}

/// The scheduled backups: one when the most recent in `dossier` is older than `intervalle`
/// (so that a restart neither skips one nor takes one at once).
fn sauvegarder_regulierement(
    store: &Store,
    dossier: &Path,
    intervalle: std::time::Duration,
    garder: usize,
    stop: &std::sync::atomic::AtomicBool,
) {
    let mut echec: Option<Instant> = None;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let derniere = sofi::store::sauvegardes_planifiees(dossier)
            .last()
            .and_then(|d| sofi::store::lire_manifeste(d).ok())
            .map_or(0, |m| m.horodatage);
        let age =
            std::time::Duration::from_millis((sofi::store::now_ms() - derniere).max(0) as u64);
        // After a failure, the next try waits a tenth of the interval (at least a minute).
        let reessai = echec.is_none_or(|t| {
            t.elapsed() >= (intervalle / 10).max(std::time::Duration::from_secs(60))
        });
        if age >= intervalle && reessai {
            let t = Instant::now();
            match store.sauvegarde_planifiee(dossier, garder) {
                Ok(d) => {
                    echec = None;
                    tracing::info!(
                        target: "sofi::sauvegarde",
                        ms = t.elapsed().as_millis() as u64,
                        "sauvegarde vérifiée : {}",
                        d.display()
                    )
                }
                Err(e) => {
                    echec = Some(Instant::now());
                    tracing::error!(target: "sofi::sauvegarde", "sauvegarde planifiée : {e}")
                }
            }
        }
        if !attendre(stop, 10) {
            return;
        }
    }
}

/// Sleeps `dixiemes` tenths of a second, in steps so that a stop is seen quickly; `false`
/// when it was.
fn attendre(stop: &std::sync::atomic::AtomicBool, dixiemes: u32) -> bool {
    for _ in 0..dixiemes {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    true
}

/// `kill -HUP`: the search settings (`index-config/`) and the acceptance policy are read
/// again and take effect at the next request, without a connection dropped. A file that
/// does not read keeps the settings in force, and says why.
async fn recharger_sur_sighup(
    app: Arc<sofi::http::App>,
    index_config: Option<PathBuf>,
    politique: Option<PathBuf>,
) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        match sofi::search::Config::charger(index_config.clone()) {
            Ok(c) => {
                if let Some(m) = &app.moteur {
                    m.recharger_config(c);
                }
                tracing::info!("SIGHUP : réglages de recherche relus (les mots vides attendent le prochain démarrage)");
            }
            Err(e) => tracing::warn!("SIGHUP : réglages de recherche gardés, {e}"),
        }
        if let Some(p) = &politique {
            match sofi::politique::Politique::charger(p) {
                Ok(p) => {
                    app.politique.store(Arc::new(p));
                    tracing::info!("SIGHUP : politique d'acceptation relue");
                }
                Err(e) => tracing::warn!("SIGHUP : politique gardée, {e}"),
            }
        }
    }
}

/// Judges the stored offers again when the rules or the référentiels differ from the ones
/// they were judged with (or always, with `force`); `None` when nothing was to do.
fn rejuger(
    store: &Store,
    refs: &Referentiels,
    force: bool,
) -> Result<Option<(sofi::store::Rejugement, f64)>> {
    let empreinte = sofi::rules::empreinte(refs);
    if !force && store.empreinte_regles()?.as_deref() == Some(empreinte.as_str()) {
        return Ok(None);
    }
    let t0 = Instant::now();
    let b = store.rejuger(&empreinte, &|f, v| sofi::rules::rejuger(f, v, refs))?;
    Ok(Some((b, t0.elapsed().as_secs_f64())))
}

fn bilan_rejugement(b: &sofi::store::Rejugement, secondes: f64) -> String {
    format!(
        "décisions automatiques recalculées en {secondes:.1} s : {} offres ({} sessions) jugées de nouveau, {} modifiées dont {} dont la diffusion change (journalisées et tracées), {} décidées par l'équipe laissées telles quelles, {} illisibles",
        b.offres, b.sessions, b.modifiees, b.diffusion_changee, b.figees, b.illisibles
    )
}

/// `sofi verify`: reads every offer back (each body against its fingerprint), replays the
/// journal against the stored offers and the counters, checks the index's files.
fn verify(data_dir: &Path, json: bool) -> Result<i32> {
    let store = Store::open(data_dir)?;
    let (offres, problemes) = store.verifier()?;
    let c = store.compteurs()?;
    let index = sofi::search::index::verifier_index(&data_dir.join("index"));
    let backoffice = store.verify_backoffice()?;
    let sain = problemes.is_empty() && index.is_empty() && backoffice.sain;
    if json {
        let v = serde_json::json!({
            "offres": offres,
            "offres_endommagees": store.damaged_offers(),
            "journal_seq": c.journal_seq,
            "stockage": &problemes,
            "index": &index,
            "backoffice": &backoffice,
            "sain": sain,
        });
        println!("{v}");
    } else {
        println!("{offres} offres lues, journal jusqu'à {}", c.journal_seq);
        println!(
            "{} comptes, {} offres en gestion, {} événements d'audit",
            backoffice.comptes, backoffice.dossiers, backoffice.audit
        );
        for p in problemes.iter().chain(&index).chain(&backoffice.problemes) {
            println!("  PROBLÈME : {p}");
        }
        if sain {
            println!("  stockage et index sains");
        }
    }
    Ok(if sain { 0 } else { 1 })
}

/// Generates the demo offer (about 5,000 sessions dated around today) and imports it.
fn charger_demo(store: &Store, refs: &Referentiels) -> Result<()> {
    let t0 = Instant::now();
    let mut xml = Vec::with_capacity(8 << 20);
    Generateur::new(
        refs,
        Parametres {
            sessions: 5_000,
            seed: 2027,
            date_base: jiff::Zoned::now().date(),
        },
    )
    .ecrire(&mut xml)?;
    let input = lheo::Input {
        lus: Default::default(),
        taille: Some(xml.len() as u64),
        reader: lheo::from_reader(std::io::Cursor::new(xml)),
    };
    let opts = Options {
        store: Some(store),
        source: "demo".into(),
        remplacer: true,
        depot: None,
    };
    let r = importer(input, refs, &opts, &|_| {})?;
    if let Some(e) = r.erreur_fatale {
        bail!("offre de démonstration illisible : {e}");
    }
    store.flush()?;
    tracing::info!(
        "offre de démonstration : {} formations, {} sessions, {} rejetées, en {} ms",
        r.stockees,
        r.sessions_lues,
        r.rejetees,
        t0.elapsed().as_millis()
    );
    Ok(())
}

/// `sofi user add|reset`: the account and its one-time link, printed for whoever runs it.
fn user(data_dir: &Path, op: UserCmd) -> Result<i32> {
    use sofi::accounts::{self, Compte, Role};
    let store = Store::open(data_dir)?;
    let auteur = "sofi user (ligne de commande)";
    match op {
        UserCmd::Add {
            email,
            role,
            siret,
            nom,
            url,
        } => {
            let email = accounts::email(&email).map_err(anyhow::Error::msg)?;
            let role = Role::parse(&role).ok_or_else(|| {
                anyhow::anyhow!("rôle « {role} » : organisme, responsable, staff ou admin")
            })?;
            for s in &siret {
                anyhow::ensure!(sofi::rules::siret_valide(s), "SIRET invalide : {s}");
            }
            anyhow::ensure!(
                role.equipe() || !siret.is_empty(),
                "un compte d'organisme agit pour au moins un SIRET (--siret)"
            );
            let c = Compte {
                id: store.nouvel_id()?,
                email,
                nom,
                role,
                sirets: siret,
                mot_de_passe: None,
                generation: 0,
                actif: true,
                cree_le: sofi::store::now_ms(),
            };
            let l = store.creer_compte(&c, auteur)?;
            println!(
                "Compte {} ({}) créé. Lien d'activation, valable 7 jours, une seule fois :\n{}/espace/lien/{}",
                l.email,
                role.libelle(),
                url.trim_end_matches('/'),
                l.jeton
            );
        }
        UserCmd::Reset { email, url } => {
            let email = accounts::email(&email).map_err(anyhow::Error::msg)?;
            let c = store
                .compte_par_email(&email)?
                .ok_or_else(|| anyhow::anyhow!("aucun compte pour {email}"))?;
            let jeton = store.emettre_lien(c.id, sofi::store::ButLien::Reinitialisation, auteur)?;
            println!(
                "Lien pour choisir un nouveau mot de passe ({email}), valable 7 jours, une seule fois :\n{}/espace/lien/{jeton}",
                url.trim_end_matches('/')
            );
        }
    }
    Ok(0)
}
