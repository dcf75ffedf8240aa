//! Sofi collects, checks and diffuses the vocational training offer of a French region.
//!
//! Layout (data flows top to bottom):
//! - [`lheo`]: LHÉO 2.2/2.3 streaming reader and 2.3 writer;
//! - [`model`]: the F-A-S-D offer model (Formation, Action, Session, Dispositif, Organisme);
//! - [`referentiel`]: Formacode, Certif Info / RNCP, communes, LHÉO code tables;
//! - [`rules`]: règles de gestion → [`rules::Verdict`], with the diffusion decision;
//! - [`store`]: sled trees, bincode records, the journal;
//! - [`import`]: the pipeline file → rules → store shared by every way in;
//! - [`diffusion`]: LHÉO 2.3 feeds (full, incremental with deletions, partner filters);
//! - [`inbox`]: files dropped in `DATA_DIR/inbox/` are imported by the running server;
//! - [`generate`]: the deterministic demo/bench offer generator;
//! - [`http`]: the hyper server.

pub mod diffusion;
pub mod generate;
pub mod http;
pub mod import;
pub mod inbox;
pub mod lheo;
pub mod model;
pub mod referentiel;
pub mod rules;
pub mod store;
