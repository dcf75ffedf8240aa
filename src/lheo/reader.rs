//! Streaming LHÉO reader: yields one offer at a time, in constant memory whatever the file size.
//!
//! quick-xml walks the document; each `<formation>` is gathered into a small positioned tree
//! ([`XNode`]) and then decoded into the model by [`super::decode`]. Only the current formation
//! is ever held in memory. Malformed XML is fatal (nothing after it can be trusted); a bad value
//! inside a well-formed formation only affects that formation.

use super::decode::decode_formation;
use super::{LheoError, Version};
use crate::model::Formation;
use crate::rules::Constat;
use quick_xml::events::Event;
use std::borrow::Cow;
use std::io::{self, BufRead, Read};

/// Longest text accepted in one element (LHÉO's longest field is 3,000 characters).
pub const MAX_TEXT: usize = 64 * 1024;
/// Deepest nesting accepted inside a formation (the schema needs about 12).
pub const MAX_DEPTH: usize = 48;
/// Most elements accepted in one formation.
pub const MAX_NODES: usize = 200_000;

/// An element read from the file, with where it starts.
#[derive(Debug, Default)]
pub struct XNode {
    pub name: Cow<'static, str>,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<XNode>,
    /// Byte offset of its start tag (turned into line:column only when a finding needs it).
    pub pos: u64,
    /// Text past [`MAX_TEXT`] was dropped.
    pub trop_long: bool,
}

impl XNode {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One offer as read: decoded formation plus what the reader noticed (bad numbers, unknown
/// elements, over-long text, …). The rules add their own findings later.
#[derive(Debug)]
pub struct OffreLue {
    pub formation: Formation,
    pub constats: Vec<Constat>,
    pub ligne: u32,
    pub colonne: u32,
}

/// Buffers the input for quick-xml and records where lines start, so byte offsets become
/// line:column. Newlines are found once per 256 KiB refill (memchr), not per event.
struct LineTracker<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    filled: usize,
    /// Absolute offset of `buf[0]`.
    buf_start: u64,
    /// Offsets of the `\n` bytes read and not yet forgotten.
    newlines: Vec<u64>,
    forgotten_lines: u32,
}

impl<R: Read> LineTracker<R> {
    fn new(inner: R) -> Self {
        LineTracker {
            inner,
            buf: vec![0; 256 * 1024].into_boxed_slice(),
            pos: 0,
            filled: 0,
            buf_start: 0,
            newlines: Vec::with_capacity(16 * 1024),
            forgotten_lines: 0,
        }
    }

    fn line_col(&self, offset: u64) -> (u32, u32) {
        let idx = self.newlines.partition_point(|&n| n < offset);
        let line = self.forgotten_lines as usize + idx + 1;
        let line_start = if idx > 0 {
            self.newlines[idx - 1] + 1
        } else {
            0
        };
        (line as u32, (offset.saturating_sub(line_start) + 1) as u32)
    }

    /// Drops newline offsets before `offset`, keeping the one before it for column numbers.
    fn forget_before(&mut self, offset: u64) {
        let k = self
            .newlines
            .partition_point(|&n| n < offset)
            .saturating_sub(1);
        // Compacted in bulk, only once enough is forgotten.
        if k > 8 * 1024 {
            self.newlines.drain(..k);
            self.forgotten_lines += k as u32;
        }
    }
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for LineTracker<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.filled {
            self.buf_start += self.filled as u64;
            self.pos = 0;
            self.filled = 0;
            let n = loop {
                match self.inner.read(&mut self.buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            self.filled = n;
            let base = self.buf_start;
            self.newlines
                .extend(memchr::memchr_iter(b'\n', &self.buf[..n]).map(|i| base + i as u64));
        }
        Ok(&self.buf[self.pos..self.filled])
    }
    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.filled);
    }
}

#[derive(PartialEq)]
enum State {
    BeforeRoot,
    InRoot,
    InOffres,
    Done,
}

/// Iterator over the offers of one LHÉO document.
pub struct LheoReader<R: Read> {
    xml: quick_xml::Reader<LineTracker<R>>,
    buf: Vec<u8>,
    state: State,
    depth_outside: usize,
    /// Inside `lheo/extras[@info="suppressions"]`.
    dans_suppressions: bool,
    suppressions: Vec<String>,
    version: Option<Version>,
    fini: bool,
    formations_vues: u64,
}

impl<R: Read> LheoReader<R> {
    pub fn new(input: R) -> Self {
        let tracker = LineTracker::new(input);
        let mut xml = quick_xml::Reader::from_reader(tracker);
        let cfg = xml.config_mut();
        cfg.expand_empty_elements = true;
        // Indentation between elements never reaches us; texts are trimmed anyway.
        cfg.trim_text(true);
        cfg.check_end_names = true;
        LheoReader {
            xml,
            buf: Vec::with_capacity(64 * 1024),
            state: State::BeforeRoot,
            depth_outside: 0,
            dans_suppressions: false,
            suppressions: Vec::new(),
            version: None,
            fini: false,
            formations_vues: 0,
        }
    }

    /// Takes the numeros listed as deleted by an incremental feed, once the document is read.
    pub fn prendre_suppressions(&mut self) -> Vec<String> {
        std::mem::take(&mut self.suppressions)
    }

    /// The LHÉO version announced by the root namespace, once the root is read.
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    fn fatal(&self, offset: u64, message: String, chemin: &str, numero: Option<&str>) -> LheoError {
        let (ligne, colonne) = self.xml.get_ref().line_col(offset);
        LheoError::Syntaxe {
            ligne,
            colonne,
            chemin: chemin.to_string(),
            numero: numero.map(str::to_string),
            message,
        }
    }

    fn xml_error(&self, e: quick_xml::Error, chemin: &str, numero: Option<&str>) -> LheoError {
        let offset = self.xml.error_position();
        let message = match &e {
            quick_xml::Error::Io(io) => format!("lecture impossible : {io}"),
            // Every syntax error but a bad `<!` construct means the input ended inside markup.
            quick_xml::Error::Syntax(s @ quick_xml::errors::SyntaxError::InvalidBangMarkup) => {
                format!("XML mal formé : {s}")
            }
            quick_xml::Error::Syntax(s) => {
                format!("fichier tronqué : fin du fichier au milieu d'une balise ({s})")
            }
            quick_xml::Error::IllFormed(s) => format!("XML mal formé : {s}"),
            quick_xml::Error::Encoding(_) => "contenu qui n'est pas de l'UTF-8 valide".to_string(),
            other => format!("XML mal formé : {other}"),
        };
        self.fatal(offset, message, chemin, numero)
    }

    /// Next offer, `None` at the end, or a fatal error after which the reader stops.
    pub fn next_offre(&mut self) -> Option<Result<OffreLue, LheoError>> {
        if self.fini {
            return None;
        }
        let r = self.advance();
        if matches!(r, None | Some(Err(_))) {
            self.fini = true;
        }
        r
    }

    fn advance(&mut self) -> Option<Result<OffreLue, LheoError>> {
        loop {
            self.buf.clear();
            let start = self.xml.buffer_position();
            let ev = match self.xml.read_event_into(&mut self.buf) {
                Ok(ev) => ev.into_owned(),
                Err(e) => return Some(Err(self.xml_error(e, self.chemin_hors_offre(), None))),
            };
            match ev {
                Event::Decl(d) => {
                    if let Some(Ok(enc)) = d.encoding() {
                        let enc = String::from_utf8_lossy(&enc).to_ascii_lowercase();
                        if enc != "utf-8" && enc != "utf8" {
                            return Some(Err(self.fatal(
                                start,
                                format!("encodage « {enc} » déclaré : seul l'UTF-8 est lu ici"),
                                "",
                                None,
                            )));
                        }
                    }
                }
                Event::Start(e) => {
                    let name = local(e.name().as_ref());
                    match self.state {
                        State::BeforeRoot => {
                            if name != "lheo" {
                                return Some(Err(self.fatal(
                                    start,
                                    format!("racine <{name}> : un flux d'offres LHÉO commence par <lheo>"),
                                    &name,
                                    None,
                                )));
                            }
                            for a in e.attributes().flatten() {
                                if a.key.as_ref() == b"xmlns" {
                                    let ns = String::from_utf8_lossy(&a.value).to_string();
                                    self.version = Version::from_namespace(&ns);
                                    if self.version.is_none() {
                                        return Some(Err(self.fatal(
                                            start,
                                            format!("espace de noms « {ns} » inconnu : attendu http://lheo.gouv.fr/2.3 ou http://www.lheo.org/2.2"),
                                            "lheo",
                                            None,
                                        )));
                                    }
                                }
                            }
                            self.state = State::InRoot;
                        }
                        State::InRoot if name == "offres" && self.depth_outside == 0 => {
                            self.state = State::InOffres;
                        }
                        State::InOffres if name == "formation" && self.depth_outside == 0 => {
                            return Some(self.read_formation(e, start));
                        }
                        State::Done => {
                            return Some(Err(self.fatal(
                                start,
                                format!("élément <{name}> après la fin du document"),
                                "",
                                None,
                            )))
                        }
                        _ => {
                            // `extras` of lheo/offres and anything unknown: skipped, except
                            // the deletions of an incremental Sofi feed (see `diffusion`).
                            let info = e
                                .try_get_attribute("info")
                                .ok()
                                .flatten()
                                .map(|a| a.value.into_owned());
                            if self.state == State::InRoot
                                && self.depth_outside == 0
                                && name == "extras"
                                && info.as_deref() == Some(b"suppressions")
                            {
                                self.dans_suppressions = true;
                            } else if self.dans_suppressions
                                && name == "extra"
                                && info.as_deref() == Some(b"formation")
                            {
                                if let Ok(Some(n)) = e.try_get_attribute("numero") {
                                    if let Ok(v) = n.unescape_value() {
                                        self.suppressions.push(v.into_owned());
                                    }
                                }
                            }
                            self.depth_outside += 1;
                        }
                    }
                }
                Event::End(e) => {
                    if self.depth_outside > 0 {
                        self.depth_outside -= 1;
                        if self.depth_outside == 0 {
                            self.dans_suppressions = false;
                        }
                    } else {
                        let name = local(e.name().as_ref());
                        match (&self.state, name.as_str()) {
                            (State::InOffres, "offres") => self.state = State::InRoot,
                            (State::InRoot, "lheo") => self.state = State::Done,
                            _ => {}
                        }
                    }
                }
                Event::Text(t)
                    if self.state == State::BeforeRoot
                        && t.iter().any(|b| !b.is_ascii_whitespace()) =>
                {
                    return Some(Err(self.fatal(
                        start,
                        "texte avant l'élément racine : ce n'est pas un document XML LHÉO".into(),
                        "",
                        None,
                    )));
                }
                Event::Eof => {
                    return match self.state {
                        State::Done => None,
                        State::BeforeRoot => Some(Err(self.fatal(
                            start,
                            "document vide : aucun élément <lheo>".into(),
                            "",
                            None,
                        ))),
                        _ => Some(Err(self.fatal(
                            start,
                            "fichier tronqué : fin du fichier avant </lheo>".into(),
                            self.chemin_hors_offre(),
                            None,
                        ))),
                    };
                }
                _ => {}
            }
        }
    }

    fn chemin_hors_offre(&self) -> &'static str {
        match self.state {
            State::BeforeRoot => "",
            State::InRoot => "lheo",
            State::InOffres => "lheo/offres",
            State::Done => "lheo",
        }
    }

    /// Reads one `<formation>` subtree. Well-formedness errors are fatal; content problems
    /// become findings on the offer.
    fn read_formation(
        &mut self,
        start: quick_xml::events::BytesStart<'static>,
        offset: u64,
    ) -> Result<OffreLue, LheoError> {
        self.formations_vues += 1;
        self.xml.get_mut().forget_before(offset);
        let (ligne, colonne) = self.xml.get_ref().line_col(offset);
        let mut constats = Vec::new();
        let root = self.open_node(&start, offset, &mut constats);
        let numero = root.attr("numero").map(str::to_string);
        let mut stack: Vec<XNode> = vec![root];
        let mut nodes = 1usize;
        // The event buffer is taken out of `self` so events can borrow it while `self` is used.
        let mut buf = std::mem::take(&mut self.buf);
        let result = loop {
            buf.clear();
            let ev_offset = self.xml.buffer_position();
            let ev = match self.xml.read_event_into(&mut buf) {
                Ok(ev) => ev,
                Err(e) => {
                    let chemin = path_of(&stack);
                    break Err(self.xml_error(e, &chemin, numero.as_deref()));
                }
            };
            match ev {
                Event::Start(e) => {
                    nodes += 1;
                    if stack.len() >= MAX_DEPTH || nodes > MAX_NODES {
                        let chemin = path_of(&stack);
                        break Err(self.fatal(
                            ev_offset,
                            format!(
                                "formation trop grande ou trop imbriquée (plus de {MAX_DEPTH} niveaux ou {MAX_NODES} éléments)"
                            ),
                            &chemin,
                            numero.as_deref(),
                        ));
                    }
                    let node = self.open_node(&e, ev_offset, &mut constats);
                    stack.push(node);
                }
                Event::End(_) => {
                    let node = stack.pop().expect("stack holds the open formation");
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => {
                            let tracker = self.xml.get_ref();
                            let (formation, mut c) =
                                decode_formation(node, &|o| tracker.line_col(o));
                            constats.append(&mut c);
                            break Ok(OffreLue {
                                formation,
                                constats,
                                ligne,
                                colonne,
                            });
                        }
                    }
                }
                Event::Text(t) => match t.unescape() {
                    Ok(s) => self.push_text(&mut stack, &s, &mut constats),
                    Err(e) => {
                        let (l, c) = self.xml.get_ref().line_col(ev_offset);
                        let msg = match e {
                                quick_xml::Error::Encoding(_) => {
                                    "texte qui n'est pas de l'UTF-8 valide".to_string()
                                }
                                quick_xml::Error::Escape(e) => format!(
                                    "entité ou caractère échappé non reconnu ({e}) ; les entités de DTD ne sont pas développées"
                                ),
                                other => other.to_string(),
                            };
                        constats.push(
                            Constat::bloquant("texte-illisible", path_of(&stack), msg).at(l, c),
                        );
                    }
                },
                Event::CData(c) => match std::str::from_utf8(c.as_ref()) {
                    Ok(s) => self.push_text(&mut stack, s, &mut constats),
                    Err(_) => {
                        let (l, col) = self.xml.get_ref().line_col(ev_offset);
                        constats.push(
                            Constat::bloquant(
                                "texte-illisible",
                                path_of(&stack),
                                "CDATA qui n'est pas de l'UTF-8 valide",
                            )
                            .at(l, col),
                        );
                    }
                },
                Event::Eof => {
                    let chemin = path_of(&stack);
                    break Err(self.fatal(
                        ev_offset,
                        "fichier tronqué : fin du fichier au milieu de la formation".into(),
                        &chemin,
                        numero.as_deref(),
                    ));
                }
                _ => {}
            }
        };
        self.buf = buf;
        result
    }

    /// Appends text to the open element; past [`MAX_TEXT`] the rest is dropped and the offer
    /// gets one blocking finding, so a 100 MB text node never grows the tree.
    fn push_text(&self, stack: &mut [XNode], s: &str, constats: &mut Vec<Constat>) {
        let Some(node) = stack.last() else { return };
        if node.trop_long || (node.text.is_empty() && s.bytes().all(|b| b.is_ascii_whitespace())) {
            // Indentation between elements: nothing to keep.
            return;
        }
        if node.text.len() + s.len() > MAX_TEXT {
            let chemin = path_of(stack);
            let node = stack.last_mut().expect("checked above");
            node.trop_long = true;
            constats.push(
                Constat::bloquant(
                    "texte-trop-long",
                    chemin,
                    format!("texte de plus de {MAX_TEXT} octets"),
                )
                .at_pos(self.xml.get_ref().line_col(node.pos)),
            );
        } else if let Some(node) = stack.last_mut() {
            node.text.push_str(s);
        }
    }

    fn open_node(
        &self,
        e: &quick_xml::events::BytesStart<'_>,
        offset: u64,
        constats: &mut Vec<Constat>,
    ) -> XNode {
        let name = nom_element(e.name().as_ref());
        let at = || self.xml.get_ref().line_col(offset);
        let mut attrs = Vec::new();
        for a in e.attributes().with_checks(false) {
            match a {
                Ok(a) => {
                    let key = local(a.key.local_name().as_ref());
                    if a.key.as_ref().starts_with(b"xmlns") {
                        continue;
                    }
                    match a.unescape_value() {
                        Ok(v) => attrs.push((key, v.into_owned())),
                        Err(_) => constats.push(
                            Constat::bloquant(
                                "attribut-illisible",
                                format!("{name}/@{key}"),
                                "valeur d'attribut illisible (entité inconnue ou UTF-8 invalide)",
                            )
                            .at_pos(at()),
                        ),
                    }
                }
                Err(err) => constats.push(
                    Constat::bloquant("attribut-illisible", name.to_string(), err.to_string())
                        .at_pos(at()),
                ),
            }
        }
        XNode {
            name,
            attrs,
            text: String::new(),
            children: Vec::new(),
            pos: offset,
            trop_long: false,
        }
    }
}

impl<R: Read> Iterator for LheoReader<R> {
    type Item = Result<OffreLue, LheoError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_offre()
    }
}

/// Every element name of the LHÉO 2.3 schema, sorted by bytes: known names are not allocated.
static NOMS: &[&str] = &[
    "SIRET",
    "SIRET-formateur",
    "SIRET-lieu-formation",
    "SIRET-organisme-formation",
    "a-distance",
    "acces-handicapes",
    "action",
    "adresse",
    "adresse-information",
    "adresse-inscription",
    "alternance",
    "annee-cycle",
    "bloc-competences",
    "blocs-competences",
    "capacite-cumulee",
    "capacite-simultanee",
    "certifiante",
    "certification",
    "civilite",
    "code-CERTIFINFO",
    "code-CPF",
    "code-ELU",
    "code-FORMACODE",
    "code-INSEE-canton",
    "code-INSEE-commune",
    "code-NSF",
    "code-RNCP",
    "code-ROME",
    "code-RS",
    "code-UAI",
    "code-UAI-formateur",
    "code-UAI-lieu-formation",
    "code-UAI-organisme-formation",
    "code-bloc",
    "code-financeur",
    "code-modalite-pedagogique",
    "code-niveau-entree",
    "code-niveau-sortie",
    "code-perimetre-recrutement",
    "code-public-vise",
    "code-type-formation",
    "codepostal",
    "commentaire",
    "conditions-specifiques",
    "contact-formateur",
    "contact-formation",
    "contact-formation-resume",
    "contact-organisme",
    "contact-session",
    "contenu-formation",
    "conventionnement",
    "coordonnees",
    "coordonnees-organisme",
    "courriel",
    "cout-indicatif-equipement",
    "cycle",
    "date",
    "date-information",
    "debut",
    "denomination",
    "departement",
    "detail-conditions-prise-en-charge",
    "domaine-formation",
    "duree-conventionnee",
    "duree-cycle",
    "duree-indicative",
    "effectif-minimal",
    "enseignement",
    "equipement",
    "etat-recrutement",
    "extra",
    "extras",
    "fax",
    "fin",
    "formation",
    "frais-restants",
    "geolocalisation",
    "hebergement",
    "heure-debut",
    "heure-fin",
    "identifiant-module",
    "info-public-vise",
    "infos-perimetre-recrutement",
    "intitule-formation",
    "langue-formation",
    "latitude",
    "lheo",
    "lheo-index",
    "lheo-plus",
    "libelle-bloc",
    "libelle-enseignement",
    "lieu-de-formation",
    "ligne",
    "longitude",
    "modalite-recrutement",
    "modalites-alternance",
    "modalites-enseignement",
    "modalites-entrees-sorties",
    "modalites-inscription",
    "modalites-pedagogiques",
    "modalites-recrutement",
    "modules-prerequis",
    "nb-places",
    "nb-places-financees",
    "niveau-entree-obligatoire",
    "nom",
    "nom-organisme",
    "nombre-heures-centre",
    "nombre-heures-entreprise",
    "nombre-heures-total",
    "numero-activite",
    "numtel",
    "objectif-formation",
    "objectif-general-formation",
    "obligatoire",
    "offres",
    "organisme-financeur",
    "organisme-formateur",
    "organisme-formation-responsable",
    "parcours-de-formation",
    "pays",
    "periode",
    "periode-inscription",
    "portable",
    "positionnement",
    "potentiel",
    "prenom",
    "prise-en-charge-frais-possible",
    "prix-horaire-TTC",
    "prix-total-TTC",
    "raison-sociale",
    "raison-sociale-formateur",
    "recrutement",
    "reference-certification",
    "reference-code-CERTIFINFO",
    "reference-code-FORMACODE",
    "reference-code-RNCP",
    "reference-code-RS",
    "reference-module",
    "region",
    "renseignements-specifiques",
    "restauration",
    "resultats-attendus",
    "resume-offre",
    "resume-organisme",
    "resumes-offres",
    "resumes-organismes",
    "rythme-alternance",
    "rythme-formation",
    "session",
    "sous-module",
    "sous-modules",
    "telfixe",
    "transport",
    "type-alternance",
    "type-contact",
    "type-cycle",
    "type-enseignement",
    "type-equipement",
    "type-module",
    "unite-rythme-alternance",
    "unites-centre",
    "unites-entreprise",
    "url-action",
    "url-formation",
    "url-session",
    "urlweb",
    "validation-blocs",
    "ville",
    "web",
];

/// [`NOMS`] indexed by a cheap hash of the name (length, first and last bytes); most slots
/// hold one name, so a lookup is usually one comparison.
static INDEX_NOMS: std::sync::LazyLock<Vec<Vec<u8>>> = std::sync::LazyLock::new(|| {
    let mut t = vec![Vec::new(); 512];
    for (i, n) in NOMS.iter().enumerate() {
        t[slot(n.as_bytes())].push(i as u8);
    }
    t
});

fn slot(b: &[u8]) -> usize {
    match b {
        [] => 0,
        [f, .., l] => (b.len() * 37 + *f as usize * 7 + *l as usize * 3) % 512,
        [f] => (37 + *f as usize * 10) % 512,
    }
}

/// An element name: borrowed from [`NOMS`] when known.
fn nom_element(name: &[u8]) -> Cow<'static, str> {
    let local = match memchr::memrchr(b':', name) {
        Some(i) => &name[i + 1..],
        None => name,
    };
    for &i in &INDEX_NOMS[slot(local)] {
        let n = NOMS[i as usize];
        if n.as_bytes() == local {
            return Cow::Borrowed(n);
        }
    }
    Cow::Owned(String::from_utf8_lossy(local).into_owned())
}

fn local(name: &[u8]) -> String {
    let local = match memchr::memrchr(b':', name) {
        Some(i) => &name[i + 1..],
        None => name,
    };
    match std::str::from_utf8(local) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(local).into_owned(),
    }
}

fn path_of(stack: &[XNode]) -> String {
    let mut s = String::new();
    for n in stack {
        if !s.is_empty() {
            s.push('/');
        }
        s.push_str(&n.name);
        if let Some(num) = n.attr("numero").filter(|v| !v.is_empty()) {
            s.push('[');
            s.push_str(num);
            s.push(']');
        }
    }
    s
}
