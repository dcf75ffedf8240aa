//! Import bench: generate N sessions, then parse alone, then parse + rules + store.
//!
//! `cargo bench --bench import` (N = 100,000; `SOFI_BENCH_SESSIONS` to change it). Each phase
//! runs in a child process of this binary so that its peak RSS (VmHWM) is its own.

mod commun;

use commun::{generer, importer_fichier, rss_mb, sessions};
use sofi::lheo::open_input;
use sofi::lheo::reader::lire_en_parallele;
use sofi::referentiel::Referentiels;
use sofi::store::Store;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn phase(name: &str, file: &Path, sessions: u64) {
    let size_mb = || {
        std::fs::metadata(file)
            .map(|m| m.len() as f64 / 1e6)
            .unwrap_or(0.0)
    };
    match name {
        "referentiels" => {
            let t0 = Instant::now();
            let r = Referentiels::charger().unwrap();
            let ms = t0.elapsed().as_secs_f64() * 1e3;
            println!(
                "referentiels   {ms:7.1} ms   ({} Formacodes, {} Certif Info, {} RNCP, {} communes)   peak RSS {:.0} MB",
                r.formacodes.len(),
                r.certifinfo.len(),
                r.rncp.len(),
                r.communes.len(),
                rss_mb("VmHWM:")
            );
        }
        "generate" => {
            let refs = Referentiels::charger().unwrap();
            let t0 = Instant::now();
            generer(&refs, sessions, jiff::civil::date(2027, 3, 1), file);
            let dt = t0.elapsed().as_secs_f64();
            println!(
                "generate       {dt:7.2} s    {:.1} MB   {:.1} MB/s   peak RSS {:.0} MB",
                size_mb(),
                size_mb() / dt,
                rss_mb("VmHWM:")
            );
        }
        "parse" => {
            let t0 = Instant::now();
            let input = open_input(file).unwrap();
            let mut n = 0u64;
            let mut s = 0u64;
            for o in lire_en_parallele(input.reader) {
                let o = o.unwrap();
                n += 1;
                s += o.formation.sessions().count() as u64;
            }
            let dt = t0.elapsed().as_secs_f64();
            println!(
                "parse          {dt:7.2} s    {n} formations, {s} sessions   {:.1} MB/s   {:.0} sessions/s   peak RSS {:.0} MB",
                size_mb() / dt,
                s as f64 / dt,
                rss_mb("VmHWM:")
            );
        }
        "import" => {
            let refs = Referentiels::charger().unwrap();
            let dir = file.with_extension("store");
            let _ = std::fs::remove_dir_all(&dir);
            let store = Store::open(&dir).unwrap();
            let t0 = Instant::now();
            let r = importer_fichier(&store, &refs, file);
            store.flush().unwrap();
            let dt = t0.elapsed().as_secs_f64();
            assert_eq!(r.rejetees, 0);
            println!(
                "import         {dt:7.2} s    {} stored   {:.1} MB/s   {:.0} sessions/s   peak RSS {:.0} MB",
                r.stockees,
                size_mb() / dt,
                r.sessions_lues as f64 / dt,
                rss_mb("VmHWM:")
            );
            let t0 = Instant::now();
            let r = importer_fichier(&store, &refs, file);
            let dt = t0.elapsed().as_secs_f64();
            println!(
                "re-import      {dt:7.2} s    {} unchanged   {:.1} MB/s   peak RSS {:.0} MB",
                r.inchangees,
                size_mb() / dt,
                rss_mb("VmHWM:")
            );
            drop(store);
            let _ = std::fs::remove_dir_all(&dir);
        }
        other => panic!("unknown phase {other}"),
    }
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    sofi::reglage_allocateur();
    let sessions = sessions();
    if let Ok(p) = std::env::var("SOFI_BENCH_PHASE") {
        let file = PathBuf::from(std::env::var("SOFI_BENCH_FILE").unwrap());
        phase(&p, &file, sessions);
        return;
    }
    let dir = std::env::temp_dir().join(format!("sofi-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("offre-{sessions}.xml"));
    println!(
        "sofi import bench, {sessions} sessions, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for p in ["referentiels", "generate", "parse", "import"] {
        let st = Command::new(std::env::current_exe().unwrap())
            .env("SOFI_BENCH_PHASE", p)
            .env("SOFI_BENCH_FILE", &file)
            .env("SOFI_BENCH_SESSIONS", sessions.to_string())
            .status()
            .unwrap();
        assert!(st.success(), "phase {p} failed");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
