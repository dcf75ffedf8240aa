//! What the store keeps and how: the offer's record in sled, its body, the journal entry, the
//! organisme summary, the counters; bincode encoding and the keys' byte layout.

use super::*;

/// What sled keeps per offer: where its body is, and what the indexes and counters need,
/// so that updates and deletions never read bodies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct OfferRecord {
    /// Generation of the body file it is in (see `Store::compact`).
    pub(super) gen: u64,
    /// Offset of the body's record in that file.
    pub(super) pos: u64,
    /// Length of its LZ4 payload (the record is this plus a 4-byte length).
    pub(super) len: u32,
    /// xxh3-128 of the body's bincode: an unchanged offer is recognised without reading it.
    pub(super) empreinte: u128,
    pub(super) source: String,
    pub(super) recue_le: i64,
    pub(super) verifiee_le: i64,
    pub(super) modifiee_le: i64,
    pub(super) diffusee_le: Option<i64>,
    pub(super) seq: u64,
    pub(super) siret: String,
    pub(super) actions: u64,
    pub(super) sessions: u64,
    pub(super) diffusable: bool,
}

/// An offer's body as written (borrowed) and read (owned): same bincode.
#[derive(Serialize)]
pub(super) struct StoredBodyRef<'a> {
    pub(super) formation: &'a Formation,
    pub(super) verdict: &'a Verdict,
}

#[derive(Deserialize)]
pub(super) struct StoredBody {
    pub(super) formation: Formation,
    pub(super) verdict: Verdict,
}

/// An offer as stored, with its verdict and its life dates (Unix milliseconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OffreStockee {
    pub formation: Formation,
    pub verdict: Verdict,
    /// Where it came from (import source name, e.g. the file name).
    pub source: String,
    /// First received.
    pub recue_le: i64,
    /// Last checked (the rules ran on this version).
    pub verifiee_le: i64,
    /// Last changed.
    pub modifiee_le: i64,
    /// First time it was diffusable.
    pub diffusee_le: Option<i64>,
    /// Journal sequence number of its last change.
    pub seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    /// Created or changed.
    Ecriture,
    /// Deleted on request.
    Suppression,
    /// Withdrawn because a full feed of its source no longer had it.
    Retrait,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntreeJournal {
    pub seq: u64,
    pub numero: String,
    pub operation: Operation,
    pub horodatage: i64,
}

/// What a training organisation looks like across its offers (last written wins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganismeResume {
    pub siret: String,
    pub numero_activite: String,
    pub raison_sociale: String,
    pub nom: String,
    pub ville: String,
    pub formacodes: Vec<String>,
    /// Secondary sites: the places (INSEE code, else postal code + town) where its actions run,
    /// accumulated over its offers; the main site is `ville`.
    pub sites: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compteurs {
    pub formations: u64,
    pub actions: u64,
    pub sessions: u64,
    pub diffusables: u64,
    pub journal_seq: u64,
    pub organismes: u64,
    /// Offers received but never diffused (entries of the `attente` tree).
    pub en_attente: u64,
    /// Bytes of the body file no fiche points at any more (replaced or deleted bodies).
    pub octets_morts: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ecrit {
    Cree,
    Modifie,
    Inchange,
}

pub(super) fn cfg() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// bincode, then LZ4: offers shrink about 4×, and so do the sled nodes that hold them, on
/// disk and in sled's cache (whose memory is what bounds an import's or export's RSS).
pub fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    Ok(lz4_flex::compress_prepend_size(&raw_bincode(v)?))
}

pub(super) fn raw_bincode<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    bincode::serde::encode_to_vec(v, cfg()).map_err(|e| StoreError::Encodage(e.to_string()))
}

pub fn decode<T: DeserializeOwned>(b: &[u8]) -> Result<T, StoreError> {
    let raw =
        lz4_flex::decompress_size_prepended(b).map_err(|e| StoreError::Encodage(e.to_string()))?;
    bincode::serde::decode_from_slice(&raw, cfg())
        .map(|(v, _)| v)
        .map_err(|e| StoreError::Encodage(e.to_string()))
}

pub(super) fn key2(a: &str, b: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + b.len() + 1);
    k.extend_from_slice(a.as_bytes());
    k.push(0);
    k.extend_from_slice(b.as_bytes());
    k
}

pub(super) fn key_maj(t: i64, numero: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + numero.len());
    k.extend_from_slice(&(t as u64).to_be_bytes());
    k.extend_from_slice(numero.as_bytes());
    k
}

pub(super) fn counts(f: &Formation, v: &Verdict) -> (u64, u64, u64) {
    (
        f.actions.len() as u64,
        f.sessions().count() as u64,
        v.diffusable() as u64,
    )
}
