//! Every documented limit and default of the product, in one place: what a file, a request or
//! a search may hold, and why that much. Settings an operator changes (connections, upload
//! size, timeouts) are `sofi serve` options; these are not.

// ---- LHÉO input (the streaming reader) ----

/// Longest text accepted in one element, as written in the file (LHÉO's longest field is
/// 3,000 characters).
pub const MAX_TEXT: usize = 64 * 1024;
/// Deepest nesting accepted inside a formation (the schema needs about 12).
pub const MAX_DEPTH: usize = 48;
/// Most elements accepted in one formation.
pub const MAX_NODES: usize = 200_000;
/// Most bytes of tags and texts kept for one formation (real ones weigh a few tens of KB).
pub const MAX_BYTES: usize = 64 * 1024 * 1024;
/// Longest run of bytes without a `<` or `>`: quick-xml holds a whole text node or tag in
/// memory before handing it over, so a 100 MB text node is refused here, as the bytes
/// arrive, instead of growing the process by its size.
pub const MAX_TOKEN: u64 = 4 * 1024 * 1024;
/// Attributes on one element: more is an attack (quick-xml's duplicate check is quadratic).
pub const MAX_ATTRIBUTES: usize = 256;

// ---- HTTP requests ----

/// Longest URI (path and query) served: no page or API call needs more.
pub const MAX_URI: usize = 16 << 10;
/// Largest body a read route (search, pages, feeds, health) accepts: they take none.
pub const MAX_READ_BODY: usize = 16 << 10;
/// Pairs in one query string: the widest real search uses about twenty.
pub const MAX_PARAMS: usize = 64;
/// Longest value of one query parameter, trimmed.
pub const MAX_PARAM_LEN: usize = 500;
/// Longest suggestion prefix (`/api/v1/suggestions?q=`), in characters.
pub const MAX_SUGGEST_LEN: usize = 100;
/// How much of a refused upload is read and dropped before answering, so the client reads
/// the refusal instead of a connection reset.
pub const DRAIN_MAX: u64 = 64 << 20;
/// Largest LHÉO file an organisation deposits in its space (form or API): read whole before
/// it is checked, so bounded well below `--limite-import`; one organisation's offer is a few
/// megabytes.
pub const MAX_DEPOT: usize = 64 << 20;
/// Largest form body of the back-office (a formation's texts are a few times 3,000
/// characters).
pub const MAX_FORM: usize = 256 << 10;
/// Largest JSON body of an offer through the organisations' API.
pub const MAX_JSON: usize = 1 << 20;
/// How long an upload waits for one of the upload places before its 503.
pub const UPLOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

// ---- Search ----

/// Last page number a search may ask for.
pub const MAX_PAGE: usize = 10_000;
/// Largest radius of a place search, in km (also the bound of index-config's default).
pub const MAX_RADIUS_KM: f64 = 500.0;
/// Default radius of a place search, in km, when index-config does not set one.
pub const DEFAULT_RADIUS_KM: f64 = 30.0;
/// "Anywhere on Earth": the radius of a distance sort that does not narrow to a radius.
pub const ANYWHERE_RADIUS_KM: f64 = 20_000.0;
