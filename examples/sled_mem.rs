//! Where the memory of a bare process goes: `cargo run --release --example sled_mem -- DIR`
//! prints VmRSS/VmHWM after opening a store in DIR (an empty one or `var/store`), after
//! counting its offers (a full scan), and after loading the référentiels. `SOFI_THP=1`
//! leaves transparent huge pages on, to see what [`sofi::pages_normales`] saves.
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
    let dir = std::env::args().nth(1).expect("usage: sled_mem DIR");
    println!("start            {}", rss());
    let db = sled::Config::new()
        .path(&dir)
        .cache_capacity(16 << 20)
        .open()
        .expect("a sled store");
    println!("opened           {}", rss());
    let n = db.open_tree("offres").map(|t| t.len()).unwrap_or(0);
    println!("{n:7} offers    {}", rss());
    if std::env::var_os("SOFI_DEUX").is_some() {
        let n = db.open_tree("offres").map(|t| t.len()).unwrap_or(0);
        println!("{n:7} again     {}", rss());
        let t = db.open_tree("offres").unwrap();
        let mut octets = 0usize;
        for kv in t.iter() {
            octets += kv.unwrap().1.len();
        }
        println!("values {octets} B  {}", rss());
    }
    let refs = sofi::referentiel::Referentiels::charger().expect("référentiels");
    println!(
        "référentiels     {} ({} communes)",
        rss(),
        refs.communes.len()
    );
}
