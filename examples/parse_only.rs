//! Parses a LHÉO file without storing it: `cargo run --release --example parse_only -- FILE`.
//! Handy for profiling the reader alone.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let path = std::env::args().nth(1).expect("usage: parse_only FILE");
    let t0 = std::time::Instant::now();
    let input = sofi::lheo::open_input(std::path::Path::new(&path)).expect("readable file");
    let (mut n, mut s) = (0u64, 0u64);
    for o in sofi::lheo::LheoReader::new(input.reader) {
        match o {
            Ok(o) => {
                n += 1;
                s += o.formation.sessions().count() as u64;
            }
            Err(e) => {
                eprintln!("{e}");
                break;
            }
        }
    }
    let dt = t0.elapsed().as_secs_f64();
    let mb = input.lus.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e6;
    println!(
        "{n} formations, {s} sessions, {mb:.1} MB in {dt:.2} s: {:.1} MB/s",
        mb / dt
    );
}
