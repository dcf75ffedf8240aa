//! Where the memory of a bare process goes: `cargo run --release --example sled_mem -- DIR`
//! prints VmRSS/VmHWM after opening the store of data directory DIR (an empty one, or `var`),
//! after reading every offer (a full scan, as export and reindex do), and after loading the
//! référentiels. `SOFI_THP=1` leaves transparent huge pages on, to see what
//! [`sofi::pages_normales`] saves; `SOFI_CACHE_MO` sets sled's cache as for `sofi`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    if std::env::var_os("SOFI_THP").is_none() {
        sofi::pages_normales();
    }
    sofi::reglage_allocateur();
    let dir = std::env::args().nth(1).expect("usage: sled_mem DATA_DIR");
    println!("start            {}", rss());
    let store = sofi::store::Store::open(std::path::Path::new(&dir)).expect("a Sofi store");
    println!("opened           {}", rss());
    let n = store.offres().filter(Result::is_ok).count();
    println!("{n:7} offers    {}", rss());
    let refs = sofi::referentiel::Referentiels::charger().expect("référentiels");
    println!(
        "référentiels     {} ({} communes)",
        rss(),
        refs.communes.len()
    );
}
