//! Sofi collects, checks and diffuses the vocational training offer of a French region.
//!
//! Layout (data flows top to bottom):
//! - [`limits`]: every fixed limit and default, documented in one place;
//! - [`lheo`]: LHÉO 2.2/2.3 streaming reader and 2.3 writer;
//! - [`model`]: the F-A-S-D offer model (Formation, Action, Session, Dispositif, Organisme);
//! - [`referentiel`]: Formacode, Certif Info / RNCP, communes, LHÉO code tables;
//! - [`rules`]: règles de gestion → [`rules::Verdict`], with the diffusion decision;
//! - [`accounts`], [`saisie`], [`politique`]: people and their secrets, what organisations
//!   type in the forms, which of their changes go online without staff;
//! - [`store`]: sled trees, bincode records, the body file, the journal;
//! - [`import`]: the pipeline file → rules → store shared by every way in;
//! - [`diffusion`]: LHÉO 2.3 feeds (full, incremental with deletions, partner filters);
//! - [`search`]: the tantivy index derived from the store, French analysis, the search pass,
//!   facets, suggestions;
//! - [`inbox`]: files dropped in `DATA_DIR/inbox/` are imported by the running server;
//! - [`generate`]: the deterministic demo/bench offer generator;
//! - [`http`]: the web layer, one way: state and answers at the bottom, then the JSON API,
//!   the feeds, the writes and the public site ([`http::site`]) as sibling route modules,
//!   the route table and the server on top.

pub mod accounts;
pub mod configuration;
pub mod diffusion;
pub mod generate;
pub mod http;
pub mod import;
pub mod inbox;
pub mod lheo;
pub mod limits;
pub mod model;
pub mod pertinence;
pub mod politique;
pub mod referentiel;
pub mod rules;
pub mod saisie;
pub mod search;
pub mod store;
pub mod suivi;
pub mod vidage;

/// `mi_option_purge_delay`: its index in the `mi_option_e` enum of mimalloc 2.x and 3.x.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// For binaries using mimalloc as their global allocator: return freed memory at once.
///
/// mimalloc keeps freed pages 10 ms before returning them; an import allocates on the reader
/// thread and frees on the store thread, and that retention alone was ~20 MB of peak RSS per
/// 100k sessions, for about 15 % of import speed.
pub fn reglage_allocateur() {
    pages_normales();
    // SAFETY: sets a plain integer option of the allocator; no memory is touched.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}

/// No transparent huge pages for this process, but where it asks for them: call first thing
/// in `main`.
///
/// mimalloc commits its arena eagerly; with THP the kernel backs every touched spot of it
/// with a 2 MiB page, and an empty store opened already weighed 38 MB of RSS instead of 7
/// (measured with `examples/sled_mem.rs`). mimalloc is built not to advise huge pages
/// (`no_thp`), and this keeps a system set to "always" from giving them anyway. The search
/// views do ask for them (`search::vue`): their big arrays are read at scattered places.
/// Linux before 6.18 has no "except advised": THP is then off for the whole process.
pub fn pages_normales() {
    /// `PR_THP_DISABLE_EXCEPT_ADVISED` (linux/prctl.h, 6.18).
    const SAUF_CONSEILLEES: libc::c_ulong = 1 << 1;
    // SAFETY: a process flag for future page faults; no memory is touched. On a kernel
    // without it the call fails and nothing changes.
    unsafe {
        if libc::prctl(libc::PR_SET_THP_DISABLE, 1, SAUF_CONSEILLEES, 0, 0) != 0 {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
}
