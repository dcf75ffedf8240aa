//! Parses a LHÉO file without storing it: `cargo run --release --example parse_only -- FILE`.
//! Handy for profiling the reader alone. With `--decoupe`, only the first stage runs (the
//! document walk that cuts the file into formations), to see how the two stages balance.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let decoupe = args.iter().any(|a| a == "--decoupe");
    let path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .expect("usage: parse_only [--decoupe] FILE");
    let t0 = std::time::Instant::now();
    let input = sofi::lheo::open_input(std::path::Path::new(&path)).expect("readable file");
    let (mut n, mut s) = (0u64, 0u64);
    if decoupe {
        let mut d = sofi::lheo::reader::Decoupeur::new(input.reader);
        while let Some(b) = d.next_tape() {
            b.expect("well-formed file");
            n += 1;
        }
    } else {
        for o in sofi::lheo::reader::lire_en_parallele(input.reader) {
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
    }
    let dt = t0.elapsed().as_secs_f64();
    let mb = input.lus.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e6;
    println!(
        "{n} formations, {s} sessions, {mb:.1} MB in {dt:.2} s: {:.1} MB/s",
        mb / dt
    );
}
