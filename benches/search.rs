//! Search bench: a store of N generated sessions, a full reindex, then a standard query mix
//! measured server-side (p50/p99 per kind), then HTTP throughput on loopback at concurrency 1
//! and 16.
//!
//! `cargo bench --bench search` (N = 100,000; `SOFI_BENCH_SESSIONS=1000000` for 1M). The
//! store is generated and imported by a child process, so the peak RSS printed is the search
//! side's own: store open, reindex, queries, HTTP.

mod commun;

use commun::{generer, importer_fichier, rss_mb, sessions};
use sofi::referentiel::Referentiels;
use sofi::search::index::jour;
use sofi::search::query::{Requete, Tri};
use sofi::search::{Config, Moteur};
use sofi::store::Store;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn du(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        du(&p)
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// The standard mix, as API query strings (HTTP) and as requests (in-process).
fn mix(today: i64) -> Vec<(&'static str, String, Requete)> {
    let mut out = Vec::new();
    let mut r = |kind: &'static str, qs: &str, f: &dyn Fn(&mut Requete)| {
        let mut req = Requete::new(today, 20);
        f(&mut req);
        out.push((kind, qs.to_string(), req));
    };
    for w in [
        "comptabilite",
        "anglais",
        "soudure",
        "cuisine",
        "bureautique",
        "vente",
    ] {
        r("mot", &format!("q={w}"), &|q| q.q = w.into());
        r("mot+departement", &format!("q={w}&departement=44"), &|q| {
            q.q = w.into();
            q.departements = vec![44];
        });
        r(
            "mot+30km+dates",
            &format!("q={w}&commune=49007&rayon=30&debut_min=2027-01-01&debut_max=2027-06-30"),
            &|q| {
                q.q = w.into();
                q.centre = Some((47.47662, -0.55616));
                q.rayon_km = 30.0;
                q.debut_min = Some(jour(jiff::civil::date(2027, 1, 1)));
                q.debut_max = Some(jour(jiff::civil::date(2027, 6, 30)));
            },
        );
    }
    r("facettes seules", "departement=85", &|q| {
        q.departements = vec![85]
    });
    r("facettes seules", "financeur=2", &|q| {
        q.financeurs = vec![2]
    });
    r("pagination", "q=formation&page=3", &|q| {
        q.q = "formation".into();
        q.page = 3;
    });
    r("tri date", "q=gestion&tri=date", &|q| {
        q.q = "gestion".into();
        q.tri = Tri::Date;
    });
    out
}

fn http_get(stream: &mut BufReader<TcpStream>, path: &str) -> usize {
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    stream.get_mut().write_all(req.as_bytes()).unwrap();
    let mut len = 0;
    let mut line = String::new();
    loop {
        line.clear();
        stream.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; len];
    stream.read_exact(&mut body).unwrap();
    len
}

fn main() {
    let sessions = sessions();
    let today = jiff::Zoned::now().date();
    // Phase 1, in a child process so that its memory is not counted as the search's:
    // generate the offer and import it into a store.
    if let Ok(dir) = std::env::var("SOFI_BENCH_IMPORT") {
        let dir = std::path::PathBuf::from(dir);
        let refs = Referentiels::charger().unwrap();
        let file = dir.join("offre.xml");
        generer(&refs, sessions, today, &file);
        let store = Store::open(&dir.join("data")).unwrap();
        importer_fichier(&store, &refs, &file);
        std::fs::remove_file(&file).unwrap();
        return;
    }
    // As `sofi serve` does; `SOFI_THP=1` keeps transparent huge pages, to compare.
    if std::env::var_os("SOFI_THP").is_none() {
        sofi::pages_normales();
    }
    if std::env::var("SOFI_BENCH_PURGE").is_ok() {
        sofi::reglage_allocateur();
    }
    // `SOFI_BENCH_GARDER=DIR` keeps the generated store in DIR and reuses it next time (for
    // profiling runs; the offer's dates are then those of the first run).
    let garder = std::env::var_os("SOFI_BENCH_GARDER").map(std::path::PathBuf::from);
    let dir = garder.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("sofi-search-bench-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).unwrap();
    if !(garder.is_some() && dir.join("data").exists()) {
        let st = std::process::Command::new(std::env::current_exe().unwrap())
            .env("SOFI_BENCH_IMPORT", &dir)
            .status()
            .unwrap();
        assert!(st.success());
    }
    let refs = Arc::new(Referentiels::charger().unwrap());
    let store = Store::open(&dir.join("data")).unwrap();
    let rss0 = rss_mb("VmRSS:");
    let config = Arc::new(Config::charger(None).unwrap());
    let (moteur, _) = Moteur::ouvrir(&dir.join("data/index"), config, refs.clone()).unwrap();
    // Query understanding's tables, as `sofi serve` builds them at start.
    moteur.lexique();
    let t0 = Instant::now();
    // `SOFI_BENCH_SANS_REINDEX=1` (with `SOFI_BENCH_GARDER`) reuses an up-to-date index.
    let n = if std::env::var_os("SOFI_BENCH_SANS_REINDEX").is_some()
        && moteur.indexed_seq() == store.compteurs().unwrap().journal_seq
        && moteur.doc_count() > 0
    {
        moteur.doc_count()
    } else {
        moteur.reindex(&store).unwrap()
    };
    let (groupes, segments) = moteur.groups_and_segments();
    println!(
        "sofi search bench, {sessions} sessions: reindex {n} documents ({groupes} groups) in {:.1} s ({segments} segment(s)), index {:.0} MB on disk, RSS {:.0} MB (before {rss0:.0} MB, peak {:.0} MB)",
        t0.elapsed().as_secs_f64(),
        du(&dir.join("data/index")) as f64 / 1e6,
        rss_mb("VmRSS:"),
        rss_mb("VmHWM:")
    );
    for v in moteur.describe_views() {
        println!("  {v}");
    }
    // The reindex leaves ~200 MB (at 1M) of freshly written index for the kernel to write
    // back; queries timed during that writeback measure the disk, not the search.
    let t_sync = Instant::now();
    // SAFETY: sync(2) takes no argument and cannot fail.
    unsafe { libc::sync() };
    println!(
        "  (sync after the reindex: {:.1} s)",
        t_sync.elapsed().as_secs_f64()
    );
    let today_j = jour(today);
    let mut mix = mix(today_j);
    // `SOFI_BENCH_KIND=…` keeps one kind of query (for profiling).
    if let Ok(k) = std::env::var("SOFI_BENCH_KIND") {
        mix.retain(|(kind, _, _)| *kind == k);
    }
    // `SOFI_BENCH_QS=…` keeps one query string.
    if let Ok(q) = std::env::var("SOFI_BENCH_QS") {
        mix.retain(|(_, qs, _)| *qs == q);
    }
    // `SOFI_BENCH_TOTAUX=1`: each query's total and time, once (to see what costs what).
    if std::env::var_os("SOFI_BENCH_TOTAUX").is_some() {
        for (kind, qs, req) in &mix {
            let t = Instant::now();
            let rep = moteur.rechercher(req).unwrap();
            println!(
                "  {kind:<18} {qs:<70} {:>7} hits {:7.2} ms",
                rep.total,
                t.elapsed().as_secs_f64() * 1e3
            );
        }
    }
    // Server-side latency per kind.
    let mut all = Vec::new();
    let mut kinds: Vec<(&str, Vec<f64>)> = Vec::new();
    let rounds: usize = std::env::var("SOFI_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    // `SOFI_BENCH_DETAIL=1`: p50 and p99 per query string rather than per kind.
    let detail = std::env::var_os("SOFI_BENCH_DETAIL").is_some();
    for _ in 0..rounds {
        for (kind, qs, req) in &mix {
            let t = Instant::now();
            std::hint::black_box(moteur.rechercher(req).unwrap());
            let ms = t.elapsed().as_secs_f64() * 1e3;
            all.push(ms);
            let kind: &str = if detail { qs } else { kind };
            match kinds.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, v)) => v.push(ms),
                None => kinds.push((kind, vec![ms])),
            }
        }
    }
    let mut sug = Vec::new();
    for _ in 0..50 {
        for q in ["compta", "angl", "soud", "nant", "cuis"] {
            let t = Instant::now();
            std::hint::black_box(moteur.suggest(q, 8).unwrap());
            sug.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    // Query understanding alone, on the judged set's queries (as typed).
    let jeu = sofi::pertinence::lire(sofi::pertinence::JEU).unwrap();
    let synonymes = moteur.config().synonymes.clone();
    let mut comp = Vec::new();
    for _ in 0..20 {
        for c in &jeu {
            let t = Instant::now();
            std::hint::black_box(moteur.lexique().comprendre(
                moteur.refs(),
                &c.q,
                &[],
                Default::default(),
                30.0,
                &synonymes,
            ));
            comp.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    for (k, v) in kinds.iter_mut() {
        println!(
            "  {k:<18} p50 {:6.2} ms   p99 {:6.2} ms",
            pct(v, 0.5),
            pct(v, 0.99)
        );
    }
    println!(
        "  {:<18} p50 {:6.2} ms   p99 {:6.2} ms",
        "suggestions",
        pct(&mut sug, 0.5),
        pct(&mut sug, 0.99)
    );
    println!(
        "  {:<18} p50 {:6.1} µs   p99 {:6.1} µs   max {:6.1} µs",
        "compréhension",
        pct(&mut comp, 0.5),
        pct(&mut comp, 0.99),
        comp.iter().cloned().fold(0.0, f64::max)
    );
    println!(
        "  {:<18} p50 {:6.2} ms   p99 {:6.2} ms   mean {:6.2} ms",
        "mix",
        pct(&mut all, 0.5),
        pct(&mut all, 0.99),
        all.iter().sum::<f64>() / all.len() as f64
    );
    // `SOFI_BENCH_SANS_HTTP=1`: in-process figures only (for quick A/B runs).
    if std::env::var_os("SOFI_BENCH_SANS_HTTP").is_some() {
        return;
    }
    // HTTP throughput on loopback.
    let app = Arc::new(
        sofi::http::App::new(
            store.clone(),
            refs.clone(),
            "bench".into(),
            1 << 30,
            Some(Arc::new(moteur)),
            sofi::http::Limits::default(),
        )
        // One client address makes every request: no anonymous quota in the way (the layer
        // still runs and counts usage).
        .with_partenaires(sofi::http::partenaires::Reglages {
            anonyme_par_minute: u32::MAX,
            anonyme_par_jour: u32::MAX,
            flux_anonymes: true,
        }),
    );
    // As `sofi serve` logs: one line per request, formatted (then thrown away), so that the
    // HTTP figures include what a request's log line costs.
    if std::env::var_os("SOFI_BENCH_SANS_JOURNAL").is_none() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info,tantivy=warn"))
            .with_ansi(false)
            .with_writer(std::io::sink)
            .try_init();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(8)
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    rt.spawn(sofi::http::serve(listener, app, async {
        let _ = stop_rx.await;
    }));
    let paths: Arc<Vec<String>> = Arc::new(
        mix.iter()
            .map(|(_, qs, _)| format!("/api/v1/recherche?{qs}"))
            .collect(),
    );
    for conc in [1, 16] {
        let dur = Duration::from_secs(5);
        let t0 = Instant::now();
        let handles: Vec<_> = (0..conc)
            .map(|i| {
                let paths = paths.clone();
                std::thread::spawn(move || {
                    let c = TcpStream::connect(addr).unwrap();
                    c.set_nodelay(true).unwrap();
                    let mut s = BufReader::new(c);
                    let (mut n, mut octets) = (0u64, 0usize);
                    let mut k = i;
                    while t0.elapsed() < dur {
                        octets += http_get(&mut s, &paths[k % paths.len()]);
                        k += 1;
                        n += 1;
                    }
                    (n, octets)
                })
            })
            .collect();
        let (total, octets) = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        println!(
            "  HTTP concurrency {conc:>2}: {:.0} req/s ({:.1} KB of JSON per response)",
            total as f64 / t0.elapsed().as_secs_f64(),
            octets as f64 / total as f64 / 1e3
        );
    }
    // The results page (HTML), timed as its client sees it on loopback, over the same mix.
    let mut pages = Vec::new();
    let mut poids = Vec::new();
    {
        let c = TcpStream::connect(addr).unwrap();
        c.set_nodelay(true).unwrap();
        let mut s = BufReader::new(c);
        for _ in 0..rounds {
            for (_, qs, _) in &mix {
                let t = Instant::now();
                poids.push(http_get(&mut s, &format!("/recherche?{qs}")));
                pages.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        let statique = http_get(&mut s, "/")
            + http_get(&mut s, "/static/site.css")
            + http_get(&mut s, "/static/site.js");
        println!(
            "  results page       p50 {:6.2} ms   p99 {:6.2} ms   home + largest results page + CSS + JS {:.0} KB",
            pct(&mut pages, 0.5),
            pct(&mut pages, 0.99),
            (statique + poids.iter().max().copied().unwrap_or(0)) as f64 / 1e3
        );
    }
    println!(
        "  peak RSS {:.0} MB (now {:.0} MB: {:.0} MB of heap, {:.0} MB of mapped index and binary)",
        rss_mb("VmHWM:"),
        rss_mb("VmRSS:"),
        rss_mb("RssAnon:"),
        rss_mb("RssFile:")
    );
    let _ = stop_tx.send(());
    drop(rt);
    if garder.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
