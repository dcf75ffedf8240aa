//! `sofi`: the command line. Errors become `anyhow` here, at the edge, and nowhere else.
//!
//! This file holds what the command line is (clap's definitions, with the parsers of their
//! values) and sends each subcommand to the module of its family: [`offre`] (import, check,
//! stats, generate, export, pertinence), [`donnees`] (the data directory's upkeep: verify,
//! reindex, compact, rejuger, migrate, backup, restore, dump, load), [`comptes`] (user,
//! audit), [`service`] (serve) and [`config`] (the configuration file and `sofi config`).

mod comptes;
mod config;
mod donnees;
mod offre;
mod service;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use sofi::http::Limits;
use sofi::lheo;
use sofi::referentiel::Referentiels;
use std::path::{Path, PathBuf};

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
    Export(ExportArgs),
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

/// `sofi export`'s filters and output.
#[derive(clap::Args)]
struct ExportArgs {
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
}

/// `sofi serve`'s settings (`sofi config` shows them too).
#[derive(Clone, clap::Args)]
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

/// `(ref_dir, index_config)`: where the référentiels and the search settings come from.
type Reglages = (Option<PathBuf>, Option<PathBuf>);

impl Cli {
    fn reglages(&self) -> Reglages {
        (self.ref_dir.clone(), self.index_config.clone())
    }
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The configuration file first (it fills the environment clap reads), then the logs, then
/// the command; errors end with exit code 2.
fn main() {
    sofi::pages_normales();
    let fichier = match config::lire_configuration() {
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
    match run(&cli, &matches, &fichier) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("sofi : erreur : {e:#}");
            std::process::exit(2);
        }
    }
}

/// The settings every command shares, then the command.
fn run(
    cli: &Cli,
    matches: &clap::ArgMatches,
    fichier: &sofi::configuration::Fichier,
) -> Result<i32> {
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
    let data_dir: &Path = &cli.data_dir;
    match &cli.cmd {
        Cmd::Import {
            fichiers,
            source,
            remplacer,
            json,
        } => offre::import(cli, fichiers, source.clone(), *remplacer, *json),
        Cmd::Check { fichiers, json } => offre::check(cli, fichiers, *json),
        Cmd::Stats { json } => offre::stats(data_dir, *json),
        Cmd::Generate {
            sessions,
            seed,
            date_base,
            output,
        } => offre::generate(cli, *sessions, *seed, *date_base, output.as_deref()),
        Cmd::Export(args) => offre::export(cli, args),
        Cmd::Pertinence {
            jeu,
            date,
            detail,
            json,
        } => offre::pertinence(cli, jeu.as_deref(), *date, *detail, *json),
        Cmd::Verify { json } => donnees::verify(data_dir, *json),
        Cmd::Reindex => donnees::reindex(cli),
        Cmd::Compact { arret_apres } => donnees::compact(data_dir, *arret_apres),
        Cmd::Rejuger { force, json } => donnees::rejuger(cli, *force, *json),
        Cmd::Migrate { arret_apres } => donnees::migrate(data_dir, *arret_apres),
        Cmd::Backup { dest, verify, url } => donnees::backup(data_dir, dest, *verify, url),
        Cmd::Restore { src } => donnees::restore(cli, src),
        Cmd::Dump { dest } => donnees::dump(data_dir, dest),
        Cmd::Load { src } => donnees::load(cli, src),
        Cmd::User { op } => comptes::user(data_dir, op),
        Cmd::Audit { since } => comptes::audit(data_dir, since.as_deref()),
        Cmd::Config { serve: _, json } => config::afficher_configuration(matches, fichier, *json),
        Cmd::Serve(args) => service::lancer(cli, args.clone()),
    }
}
