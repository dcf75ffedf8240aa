//! Export bench: a store of N generated sessions, then `export` of the whole diffusable offer.
//!
//! `cargo bench --bench export` (N = 100,000; `SOFI_BENCH_SESSIONS=1000000` for 1M). The export
//! runs in a child process so its peak RSS is its own; idle RSS (store opened, référentiels
//! loaded) is reported beside it.

mod commun;

use commun::{generer, importer_fichier, rss_mb, sessions};
use sofi::diffusion::{ecrire_flux, Filtres};
use sofi::referentiel::Referentiels;
use sofi::store::Store;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let sessions = sessions();
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
    generer(&refs, sessions, jiff::civil::date(2027, 3, 1), &file);
    println!(
        "sofi export bench, {sessions} sessions (generated in {:.1} s)",
        t0.elapsed().as_secs_f64()
    );
    let t0 = Instant::now();
    {
        let store = Store::open(&store_dir).unwrap();
        let r = importer_fichier(&store, &refs, &file);
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
