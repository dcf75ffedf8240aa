//! Export bench: a store of N generated sessions, then `export` of the whole diffusable offer.
//!
//! `cargo bench --bench export` (N = 100,000; `SOFI_BENCH_SESSIONS=1000000` for 1M). The export
//! runs in a child process so its peak RSS is its own; idle RSS (store opened, référentiels
//! loaded) is reported beside it.

use sofi::diffusion::{ecrire_flux, Filtres};
use sofi::generate::{Generateur, Parametres};
use sofi::import::{importer, Options};
use sofi::lheo::open_input;
use sofi::referentiel::Referentiels;
use sofi::store::Store;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rss_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Counts bytes, writes nowhere: measures the export itself, not the disk.
struct Sink(u64);
impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() {
    sofi::reglage_allocateur();
    let sessions: u64 = std::env::var("SOFI_BENCH_SESSIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let dir = PathBuf::from(std::env::var("SOFI_BENCH_DIR").unwrap_or_else(|_| {
        std::env::temp_dir()
            .join(format!("sofi-export-bench-{}", std::process::id()))
            .to_string_lossy()
            .into_owned()
    }));
    let store_dir = dir.join("store");
    if std::env::var("SOFI_BENCH_PHASE").as_deref() == Ok("export") {
        let refs = Referentiels::charger().unwrap();
        let store = Store::open(&store_dir).unwrap();
        let idle = rss_mb("VmRSS:");
        for gzip in [false, true] {
            let t0 = Instant::now();
            let (bilan, n) = if gzip {
                let gz = flate2::write::GzEncoder::new(Sink(0), flate2::Compression::fast());
                let (b, gz) =
                    ecrire_flux(&store, &refs, None, &Filtres::default(), gz, &mut |_| {}).unwrap();
                (b, gz.finish().unwrap().0)
            } else {
                let (b, s) = ecrire_flux(
                    &store,
                    &refs,
                    None,
                    &Filtres::default(),
                    Sink(0),
                    &mut |_| {},
                )
                .unwrap();
                (b, s.0)
            };
            let dt = t0.elapsed().as_secs_f64();
            println!(
                "export{}  {dt:7.2} s   {} offers   {:.1} MB written   {:.1} MB/s   idle RSS {idle:.0} MB, peak RSS {:.0} MB",
                if gzip { " gzip" } else { "     " },
                bilan.offres,
                n as f64 / 1e6,
                n as f64 / 1e6 / dt,
                rss_mb("VmHWM:")
            );
        }
        return;
    }
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("offre.xml");
    let refs = Referentiels::charger().unwrap();
    let t0 = Instant::now();
    Generateur::new(
        &refs,
        Parametres {
            sessions,
            seed: 1,
            date_base: jiff::civil::date(2027, 3, 1),
        },
    )
    .ecrire(std::io::BufWriter::with_capacity(
        256 * 1024,
        std::fs::File::create(&file).unwrap(),
    ))
    .unwrap();
    println!(
        "sofi export bench, {sessions} sessions (generated in {:.1} s)",
        t0.elapsed().as_secs_f64()
    );
    let t0 = Instant::now();
    {
        let store = Store::open(&store_dir).unwrap();
        let r = importer(
            open_input(&file).unwrap(),
            &refs,
            &Options {
                store: Some(&store),
                source: "bench".into(),
                remplacer: false,
            },
            &|_| {},
        )
        .unwrap();
        store.flush().unwrap();
        let dt = t0.elapsed().as_secs_f64();
        let mb = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
        println!(
            "import   {dt:7.2} s   {} offers stored   {:.1} MB/s   peak RSS (generate + import) {:.0} MB",
            r.stockees,
            mb / dt,
            rss_mb("VmHWM:")
        );
    }
    std::fs::remove_file(&file).unwrap();
    let st = Command::new(std::env::current_exe().unwrap())
        .env("SOFI_BENCH_PHASE", "export")
        .env("SOFI_BENCH_DIR", &dir)
        .status()
        .unwrap();
    assert!(st.success());
    let _ = std::fs::remove_dir_all(&dir);
}
