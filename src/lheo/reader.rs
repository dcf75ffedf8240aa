//! Streaming LHÉO reader: yields one offer at a time, in constant memory whatever the file size.
//!
//! Two stages, which can run on two threads ([`lire_en_parallele`]):
//! 1. [`Decoupeur`] walks the document with quick-xml, checks that it is well-formed and
//!    within the size limits, and copies each `<formation>`'s events onto a flat [`Tape`]
//!    (raw start tags and raw texts, no tree, no allocation per element);
//! 2. [`decoder`] turns a bande into a small positioned tree ([`XNode`]): attributes parsed,
//!    texts unescaped; then [`super::decode`] maps the tree onto the model.
//!
//! Only the current formation is ever held in memory (a few in flight between the stages).
//! Malformed XML is fatal (nothing after it can be trusted); a bad value inside a well-formed
//! formation only affects that formation.
//!
//! (One file past 600 lines: the first stage and the decoder share the tape's private
//! layout, `Evt` and `Tape`; line tracking and the threads are in `reader/`.)

mod lines;
mod parallel;

use super::decode::decode_formation;
use super::elements::{attribut_connu, local, nom_element};
use super::{LheoError, Version};
use crate::model::Formation;
use crate::rules::Constat;
use lines::*;
pub use parallel::*;
use quick_xml::events::{BytesStart, Event};
use std::borrow::Cow;
use std::io::{self, BufRead, Read};
use std::sync::mpsc::{Receiver, SyncSender};

pub use crate::limits::{MAX_ATTRIBUTES, MAX_BYTES, MAX_DEPTH, MAX_NODES, MAX_TEXT, MAX_TOKEN};

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

/// One `resume-offre` of a `lheo-index` document: a summary pointing at a full offer.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ResumeOffre {
    pub numero: String,
    /// Last change of the offer it summarises (`AAAAMMJJ`).
    pub datemaj: Option<String>,
    /// Where the full offer is: a file (`file`) or an address (`href`).
    pub file: Option<String>,
    pub href: Option<String>,
}

/// What a document said besides its offers, known once it is read to its end.
#[derive(Debug, Default)]
pub struct FinDocument {
    /// Numeros listed as deleted by an incremental Sofi feed.
    pub suppressions: Vec<String>,
    /// A `lheo-index` document: its summaries, and how many `resume-organisme` it holds.
    pub index: Option<(Vec<ResumeOffre>, u64)>,
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

/// The error for a start tag with more than [`MAX_ATTRIBUTES`] attributes. Counted only
/// when the tag holds that many `=`, so ordinary tags cost one `memchr` pass.
fn attributs_demesures(e: &BytesStart) -> Option<String> {
    let trop = memchr::memchr_iter(b'=', e.attributes_raw())
        .nth(MAX_ATTRIBUTES)
        .is_some()
        && e.attributes()
            .with_checks(false)
            .nth(MAX_ATTRIBUTES)
            .is_some();
    trop.then(|| {
        format!(
            "plus de {MAX_ATTRIBUTES} attributs sur <{}>",
            local(e.name().as_ref())
        )
    })
}

#[derive(PartialEq)]
enum State {
    BeforeRoot,
    /// Inside `<lheo-plus>`, outside its `<lheo>` (what Sofi writes when a feed has no
    /// formation: see `LheoWriter`).
    InPlus,
    /// Inside `<lheo-index>`: summaries, no offer (see [`ResumeOffre`]).
    InIndex,
    InRoot,
    InOffres,
    Done,
}

/// One event of a formation, its bytes on [`Tape::octets`] right after the previous one's.
#[derive(Debug, Clone, Copy)]
enum Evt {
    /// A start tag: name then raw attributes; `nom` is the name's length.
    Debut {
        pos: u64,
        fin: u32,
        nom: u32,
    },
    Fin,
    /// Raw (escaped) text.
    Texte {
        pos: u64,
        fin: u32,
    },
    CData {
        pos: u64,
        fin: u32,
    },
    /// The open element's text went past [`MAX_TEXT`]: the rest was dropped.
    TropLong,
}

/// One `<formation>` as the first stage hands it over: well-formed, within the limits, its
/// events on a flat tape, with the line starts needed to locate findings.
#[derive(Debug)]
pub struct Tape {
    octets: Vec<u8>,
    evts: Vec<Evt>,
    lignes: Lignes,
    ligne: u32,
    colonne: u32,
}

/// An open element while tokenizing: where its start tag is on the tape, the text it holds.
struct Ouvert {
    /// Its start tag on the tape.
    tag: std::ops::Range<usize>,
    nom: usize,
    texte: usize,
    trop_long: bool,
}

/// First stage: the document walk. Yields each formation as a [`Tape`].
pub struct Decoupeur<R: Read> {
    xml: quick_xml::Reader<LineTracker<R>>,
    buf: Vec<u8>,
    state: State,
    depth_outside: usize,
    /// Inside `lheo/extras[@info="suppressions"]`.
    dans_suppressions: bool,
    suppressions: Vec<String>,
    /// The `<lheo>` being read is inside a `<lheo-plus>`.
    plus: bool,
    /// Read from a `lheo-index`: summaries and the number of `resume-organisme`.
    resumes: Option<(Vec<ResumeOffre>, u64)>,
    version: Option<Version>,
    fini: bool,
    /// Sizes of the last bande, to allocate the next one once.
    capacites: (usize, usize),
}

impl<R: Read> Decoupeur<R> {
    pub fn new(input: R) -> Self {
        let tracker = LineTracker::new(input);
        let mut xml = quick_xml::Reader::from_reader(tracker);
        let cfg = xml.config_mut();
        cfg.expand_empty_elements = true;
        // Not trimmed by quick-xml: the indentation before a tag comes as its own text event,
        // so the position before a start tag is its `<`, the one findings report.
        cfg.trim_text(false);
        cfg.check_end_names = true;
        Decoupeur {
            xml,
            buf: Vec::with_capacity(64 * 1024),
            state: State::BeforeRoot,
            depth_outside: 0,
            dans_suppressions: false,
            suppressions: Vec::new(),
            plus: false,
            resumes: None,
            version: None,
            fini: false,
            capacites: (16 * 1024, 1024),
        }
    }

    /// Takes what the document said besides its offers, once it is read.
    pub fn prendre_fin(&mut self) -> FinDocument {
        FinDocument {
            suppressions: std::mem::take(&mut self.suppressions),
            index: self.resumes.take(),
        }
    }

    /// The LHÉO version announced by the root namespace, once the root is read.
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    fn fatal(&self, offset: u64, message: String, chemin: &str, numero: Option<&str>) -> LheoError {
        let (ligne, colonne) = self.xml.get_ref().lignes.line_col(offset);
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

    /// Next formation, `None` at the end, or a fatal error after which the reader stops.
    pub fn next_tape(&mut self) -> Option<Result<Tape, LheoError>> {
        if self.fini {
            return None;
        }
        let r = self.advance();
        if matches!(r, None | Some(Err(_))) {
            self.fini = true;
        }
        r
    }

    fn advance(&mut self) -> Option<Result<Tape, LheoError>> {
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
                    if let Some(m) = attributs_demesures(&e) {
                        return Some(Err(self.fatal(start, m, self.chemin_hors_offre(), None)));
                    }
                    match self.state {
                        State::BeforeRoot => {
                            if name != "lheo" && name != "lheo-plus" && name != "lheo-index" {
                                return Some(Err(self.fatal(
                                    start,
                                    format!("racine <{name}> : un flux d'offres LHÉO commence par <lheo> (ou <lheo-plus>, <lheo-index>)"),
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
                            self.state = match name.as_str() {
                                "lheo-plus" => State::InPlus,
                                "lheo-index" => {
                                    self.resumes = Some((Vec::new(), 0));
                                    State::InIndex
                                }
                                _ => State::InRoot,
                            };
                        }
                        State::InPlus if name == "lheo" && self.depth_outside == 0 => {
                            self.plus = true;
                            self.state = State::InRoot;
                        }
                        // The lists of summaries are read through; each summary is taken
                        // from its attributes and its content skipped.
                        State::InIndex
                            if self.depth_outside == 0
                                && (name == "resumes-offres" || name == "resumes-organismes") => {}
                        State::InIndex => {
                            if self.depth_outside == 0 {
                                if let Some((resumes, organismes)) = &mut self.resumes {
                                    let attr = |k: &str| -> Option<String> {
                                        e.try_get_attribute(k)
                                            .ok()
                                            .flatten()
                                            .and_then(|a| a.unescape_value().ok())
                                            .map(|v| v.trim().to_string())
                                            .filter(|v| !v.is_empty())
                                    };
                                    match name.as_str() {
                                        "resume-offre" => resumes.push(ResumeOffre {
                                            numero: attr("numero").unwrap_or_default(),
                                            datemaj: attr("datemaj"),
                                            file: attr("file"),
                                            href: attr("href"),
                                        }),
                                        "resume-organisme" => *organismes += 1,
                                        _ => {}
                                    }
                                }
                            }
                            self.depth_outside += 1;
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
                            if matches!(self.state, State::InRoot | State::InPlus)
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
                            (State::InRoot, "lheo") if self.plus => self.state = State::InPlus,
                            (State::InRoot, "lheo")
                            | (State::InPlus, "lheo-plus")
                            | (State::InIndex, "lheo-index") => self.state = State::Done,
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
                            "document vide : aucun élément <lheo> ni <lheo-plus>".into(),
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
            State::InPlus => "lheo-plus",
            State::InIndex => "lheo-index",
            State::InRoot => "lheo",
            State::InOffres => "lheo/offres",
            State::Done => "lheo",
        }
    }

    /// Copies one `<formation>` onto a [`Tape`]. Well-formedness and size errors are fatal;
    /// everything about content is left to [`decoder`].
    fn read_formation(
        &mut self,
        start: BytesStart<'static>,
        offset: u64,
    ) -> Result<Tape, LheoError> {
        self.xml.get_mut().lignes.forget_before(offset);
        let (ligne, colonne) = self.xml.get_ref().lignes.line_col(offset);
        let mut tape = Tape {
            octets: Vec::with_capacity(self.capacites.0),
            evts: Vec::with_capacity(self.capacites.1),
            lignes: Lignes::default(),
            ligne,
            colonne,
        };
        let numero = start
            .try_get_attribute("numero")
            .ok()
            .flatten()
            .and_then(|a| a.unescape_value().ok().map(Cow::into_owned));
        let mut ouverts = vec![ouvrir(&mut tape, &start, offset)];
        let mut nodes = 1usize;
        // The event buffer is taken out of `self` so events can borrow it while `self` is used.
        let mut buf = std::mem::take(&mut self.buf);
        let result = loop {
            buf.clear();
            let ev_offset = self.xml.buffer_position();
            let ev = match self.xml.read_event_into(&mut buf) {
                Ok(ev) => ev,
                Err(e) => {
                    break Err(self.xml_error(e, &chemin(&tape, &ouverts), numero.as_deref()))
                }
            };
            match ev {
                Event::Start(e) => {
                    nodes += 1;
                    if let Some(m) = attributs_demesures(&e) {
                        let chemin = chemin(&tape, &ouverts);
                        break Err(self.fatal(ev_offset, m, &chemin, numero.as_deref()));
                    }
                    if ouverts.len() >= MAX_DEPTH
                        || nodes > MAX_NODES
                        || tape.octets.len() > MAX_BYTES
                    {
                        break Err(self.fatal(
                            ev_offset,
                            format!(
                                "formation trop grande ou trop imbriquée (plus de {MAX_DEPTH} niveaux, {MAX_NODES} éléments ou {} Mo)",
                                MAX_BYTES >> 20
                            ),
                            &chemin(&tape, &ouverts),
                            numero.as_deref(),
                        ));
                    }
                    ouverts.push(ouvrir(&mut tape, &e, ev_offset));
                }
                Event::End(_) => {
                    tape.evts.push(Evt::Fin);
                    ouverts.pop();
                    if ouverts.is_empty() {
                        tape.lignes = self.xml.get_ref().lignes.depuis(offset);
                        self.capacites = (tape.octets.len(), tape.evts.len());
                        break Ok(tape);
                    }
                }
                Event::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
                Event::Text(t) => texte(
                    &mut tape,
                    &mut ouverts,
                    &t,
                    |pos, fin| Evt::Texte { pos, fin },
                    ev_offset,
                ),
                Event::CData(c) => texte(
                    &mut tape,
                    &mut ouverts,
                    &c,
                    |pos, fin| Evt::CData { pos, fin },
                    ev_offset,
                ),
                Event::Eof => {
                    break Err(self.fatal(
                        ev_offset,
                        "fichier tronqué : fin du fichier au milieu de la formation".into(),
                        &chemin(&tape, &ouverts),
                        numero.as_deref(),
                    ));
                }
                _ => {}
            }
        };
        self.buf = buf;
        result
    }
}

/// Puts a start tag on the tape.
fn ouvrir(tape: &mut Tape, e: &BytesStart, pos: u64) -> Ouvert {
    let debut = tape.octets.len();
    tape.octets.extend_from_slice(e);
    let nom = e.name().as_ref().len();
    tape.evts.push(Evt::Debut {
        pos,
        fin: tape.octets.len() as u32,
        nom: nom as u32,
    });
    Ouvert {
        tag: debut..tape.octets.len(),
        nom,
        texte: 0,
        trop_long: false,
    }
}

/// Puts a text on the tape, unless its element already holds [`MAX_TEXT`] bytes: then the
/// rest is dropped, once marked, so a 100 MB text node never grows the tape.
fn texte(
    tape: &mut Tape,
    ouverts: &mut [Ouvert],
    brut: &[u8],
    evt: impl Fn(u64, u32) -> Evt,
    pos: u64,
) {
    let Some(o) = ouverts.last_mut() else { return };
    if o.trop_long {
        return;
    }
    if o.texte + brut.len() > MAX_TEXT {
        o.trop_long = true;
        tape.evts.push(Evt::TropLong);
        return;
    }
    o.texte += brut.len();
    tape.octets.extend_from_slice(brut);
    tape.evts.push(evt(pos, tape.octets.len() as u32));
}

/// `formation[numero]/action[numero]/…` of the open elements, for a fatal error.
fn chemin(tape: &Tape, ouverts: &[Ouvert]) -> String {
    let mut s = String::new();
    for o in ouverts {
        let brut = &tape.octets[o.tag.clone()];
        let nom = nom_element(&brut[..o.nom]);
        if !s.is_empty() {
            s.push('/');
        }
        s.push_str(&nom);
        let e = BytesStart::from_content(String::from_utf8_lossy(brut), o.nom);
        if let Some(num) = e
            .try_get_attribute("numero")
            .ok()
            .flatten()
            .and_then(|a| a.unescape_value().ok().map(Cow::into_owned))
            .filter(|v| !v.is_empty())
        {
            s.push('[');
            s.push_str(&num);
            s.push(']');
        }
    }
    s
}

/// Second stage: builds the formation's tree from its bande and decodes it. Every content
/// problem becomes a finding on the offer, located in the file.
pub fn decoder(tape: Tape) -> OffreLue {
    let lc = |o: u64| tape.lignes.line_col(o);
    let mut constats = Vec::new();
    let mut stack: Vec<XNode> = Vec::with_capacity(16);
    let mut racine = None;
    let mut a = 0usize;
    for ev in &tape.evts {
        match *ev {
            Evt::Debut { pos, fin, nom } => {
                let brut = &tape.octets[a..fin as usize];
                a = fin as usize;
                let node = open_node(brut, nom as usize, pos, &lc, &mut constats);
                let node = filtrer_attributs(node, &stack, &lc, &mut constats);
                stack.push(node);
            }
            Evt::Fin => {
                let node = stack.pop().expect("the tape is balanced");
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => racine = Some(node),
                }
            }
            Evt::Texte { pos, fin } => {
                let brut = &tape.octets[a..fin as usize];
                a = fin as usize;
                let texte = std::str::from_utf8(brut)
                    .map_err(|_| "texte qui n'est pas de l'UTF-8 valide".to_string())
                    .and_then(|s| {
                        quick_xml::escape::unescape(s).map_err(|e| {
                            format!("entité ou caractère échappé non reconnu ({e}) ; les entités de DTD ne sont pas développées")
                        })
                    })
                    .and_then(|s| permis(&s).map(|()| s));
                match texte {
                    Ok(s) => push_text(&mut stack, &s),
                    Err(msg) => constats.push(
                        Constat::bloquant("texte-illisible", path_of(&stack), msg).at_pos(lc(pos)),
                    ),
                }
            }
            Evt::CData { pos, fin } => {
                let brut = &tape.octets[a..fin as usize];
                a = fin as usize;
                let texte = std::str::from_utf8(brut)
                    .map_err(|_| "CDATA qui n'est pas de l'UTF-8 valide".to_string())
                    .and_then(|s| permis(s).map(|()| s));
                match texte {
                    Ok(s) => push_text(&mut stack, s),
                    Err(msg) => constats.push(
                        Constat::bloquant("texte-illisible", path_of(&stack), msg).at_pos(lc(pos)),
                    ),
                }
            }
            Evt::TropLong => {
                let chemin = path_of(&stack);
                if let Some(node) = stack.last_mut() {
                    node.trop_long = true;
                    constats.push(
                        Constat::bloquant(
                            "texte-trop-long",
                            chemin,
                            format!("texte de plus de {MAX_TEXT} octets"),
                        )
                        .at_pos(lc(node.pos)),
                    );
                }
            }
        }
    }
    let racine = racine.expect("a bande holds one whole formation");
    let (formation, mut c) = decode_formation(racine, &lc);
    constats.append(&mut c);
    OffreLue {
        formation,
        constats,
        ligne: tape.ligne,
        colonne: tape.colonne,
    }
}

/// Appends text to the open element (indentation between elements is not kept).
fn push_text(stack: &mut [XNode], s: &str) {
    if let Some(node) = stack.last_mut() {
        if node.text.is_empty() && s.bytes().all(|b| b.is_ascii_whitespace()) {
            return;
        }
        node.text.push_str(s);
    }
}

fn open_node(
    brut: &[u8],
    nom: usize,
    offset: u64,
    lc: &dyn Fn(u64) -> (u32, u32),
    constats: &mut Vec<Constat>,
) -> XNode {
    let name = nom_element(&brut[..nom]);
    let e = match std::str::from_utf8(brut) {
        Ok(s) => BytesStart::from_content(s, nom),
        Err(_) => {
            constats.push(
                Constat::bloquant(
                    "attribut-illisible",
                    name.to_string(),
                    "balise qui n'est pas de l'UTF-8 valide",
                )
                .at_pos(lc(offset)),
            );
            // The lossy copy may have changed the name's length.
            let tag = String::from_utf8_lossy(brut);
            let nom = tag
                .find(|c: char| c.is_ascii_whitespace())
                .unwrap_or(tag.len());
            BytesStart::from_content(tag, nom)
        }
    };
    let mut attrs = Vec::new();
    for a in e.attributes().with_checks(false) {
        match a {
            Ok(a) => {
                if a.key.as_ref().starts_with(b"xmlns") {
                    continue;
                }
                let key = local(a.key.local_name().as_ref());
                let valeur = a
                    .unescape_value()
                    .map_err(|_| {
                        "valeur d'attribut illisible (entité inconnue ou UTF-8 invalide)"
                            .to_string()
                    })
                    .and_then(|v| permis(&v).map(|()| v));
                match valeur {
                    Ok(v) => attrs.push((key, v.into_owned())),
                    Err(msg) => constats.push(
                        Constat::bloquant("attribut-illisible", format!("{name}/@{key}"), msg)
                            .at_pos(lc(offset)),
                    ),
                }
            }
            Err(err) => constats.push(
                Constat::bloquant("attribut-illisible", name.to_string(), err.to_string())
                    .at_pos(lc(offset)),
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

/// Refuses the characters XML 1.0 forbids in a document (C0 controls but tab, line feed and
/// carriage return; U+FFFE, U+FFFF), written raw or as a reference like `&#1;`: stored, they
/// would make every feed that carries the offer ill-formed for every partner. The error
/// names the first one.
fn permis(s: &str) -> Result<(), String> {
    // Every text passes here: eight bytes at a time, a word is suspect when it holds a byte
    // below 0x20 or an 0xEF (the lead byte of U+FFFx); only suspect words are looked into
    // (line ends and tabs are allowed). Byte by byte, this check cost ~10 % of parsing.
    const UNS: u64 = 0x0101_0101_0101_0101;
    const HAUTS: u64 = 0x8080_8080_8080_8080;
    let suspect = |x: u64| {
        let bas = x.wrapping_sub(UNS * 0x20) & !x & HAUTS;
        let y = x ^ (UNS * 0xEF);
        let ef = y.wrapping_sub(UNS) & !y & HAUTS;
        bas | ef != 0
    };
    let douteux = |b: &u8| (*b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || *b == 0xEF;
    let mots = s.as_bytes().chunks_exact(8);
    let reste = mots.remainder();
    let propre = mots
        .filter(|m| suspect(u64::from_le_bytes((*m).try_into().expect("8 bytes"))))
        .all(|m| !m.iter().any(douteux))
        && !reste.iter().any(douteux);
    if propre {
        return Ok(());
    }
    match s.chars().find(|&c| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}'
    }) {
        Some(c) => Err(format!(
            "caractère U+{:04X} interdit en XML 1.0 (caractère de contrôle) : à retirer du texte",
            c as u32
        )),
        None => Ok(()),
    }
}

/// Drops, with a warning, the attributes LHÉO does not know on this element: passed through,
/// they would make the feeds invalid. Inside `extra` (any content) everything is kept.
fn filtrer_attributs(
    mut node: XNode,
    ancetres: &[XNode],
    lc: &dyn Fn(u64) -> (u32, u32),
    constats: &mut Vec<Constat>,
) -> XNode {
    if ancetres.iter().any(|n| n.name == "extra") {
        return node;
    }
    // `id` and `idref` (xs:ID, xs:IDREF) point within one document: a feed merges offers
    // of many files, where two may use the same id, and some elements are rebuilt from the
    // model without theirs; an `idref` left pointing at nothing, or an id twice, would make
    // the feed invalid. They are dropped on reading (silently: they are valid LHÉO).
    node.attrs.retain(|(k, _)| k != "id" && k != "idref");
    if node
        .attrs
        .iter()
        .all(|(k, _)| attribut_connu(&node.name, k))
    {
        return node;
    }
    let (name, pos) = (node.name.clone(), node.pos);
    node.attrs.retain(|(k, _)| {
        let connu = attribut_connu(&name, k);
        if !connu {
            constats.push(
                Constat::avertissement(
                    "attribut-inconnu",
                    format!("{name}/@{k}"),
                    format!("attribut « {k} » inconnu de LHÉO sur <{name}> : ignoré"),
                )
                .at_pos(lc(pos)),
            );
        }
        connu
    });
    node
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

#[cfg(test)]
mod tests {
    #[test]
    fn forbidden_characters_are_found_wherever_they_are() {
        let propre = "Développeur web\tfull-stack\r\n(é, ç, œ, €, 中文, 🎓) ".repeat(3);
        assert!(super::permis(&propre).is_ok());
        for interdit in ['\u{1}', '\u{8}', '\u{B}', '\u{1F}', '\u{FFFE}', '\u{FFFF}'] {
            for i in 0..propre.chars().count() {
                let mut t: String = propre.chars().take(i).collect();
                t.push(interdit);
                t.extend(propre.chars().skip(i));
                let e = super::permis(&t).expect_err(&format!("{interdit:?} at {i}"));
                assert!(e.contains(&format!("U+{:04X}", interdit as u32)), "{e}");
            }
        }
        // U+FFFD and other U+EFxx..U+FFxx characters are allowed.
        assert!(super::permis("\u{FFFD}\u{F000}\u{FEFF}").is_ok());
    }

    use super::*;

    #[test]
    fn sauts_de_ligne_comme_memchr() {
        // Every byte value next to newlines, at every alignment.
        let mut data: Vec<u8> = (0..=255u8).collect();
        data.extend(b"\n\n\x0b\x09\n\x8a\n\xff\n");
        for debut in 0..9 {
            let chunk = &data[debut..];
            let mut vus = Vec::new();
            noter_sauts_de_ligne(chunk, 1000, &mut vus);
            let attendus: Vec<u64> = memchr::memchr_iter(b'\n', chunk)
                .map(|i| 1000 + i as u64)
                .collect();
            assert_eq!(vus, attendus);
        }
    }

    /// Formation `n`, its action's hours given as `heures`, one element per line.
    fn formation(n: u32, heures: &str) -> String {
        format!(
            "<formation numero=\"F{n}\">\n<intitule-formation>Soudage &amp; chaudronnerie {n}</intitule-formation>\n<action numero=\"A{n}\">\n<nombre-heures-centre>{heures}</nombre-heures-centre>\n<![CDATA[ignoré]]>\n</action>\n</formation>\n"
        )
    }

    fn document(formations: &[String]) -> String {
        format!(
            "<?xml version=\"1.0\"?>\n<lheo xmlns=\"http://lheo.gouv.fr/2.3\">\n<offres>\n{}</offres>\n</lheo>\n",
            formations.concat()
        )
    }

    #[test]
    fn constats_situes_dans_le_fichier_par_les_deux_lecteurs() {
        // 3,000 formations of 7 lines push the window past its compaction threshold.
        let mut fs: Vec<String> = (0..3000).map(|n| formation(n, "35")).collect();
        fs.push(formation(3000, "trente"));
        let doc = document(&fs);
        let seul: Vec<OffreLue> = LheoReader::new(doc.as_bytes())
            .map(Result::unwrap)
            .collect();
        let deux: Vec<OffreLue> = lire_en_parallele(std::io::Cursor::new(doc.clone()))
            .map(Result::unwrap)
            .collect();
        assert_eq!(format!("{seul:?}"), format!("{deux:?}"));
        let derniere = seul.last().unwrap();
        // Line 4 + 7 × 3000 for the formation, 3 lines further for the hours.
        assert_eq!((derniere.ligne, derniere.colonne), (4 + 7 * 3000, 1));
        let c = &derniere.constats[0];
        assert_eq!(c.code, "nombre-invalide");
        assert_eq!((c.ligne, c.colonne), (Some(4 + 7 * 3000 + 3), Some(1)));
        assert_eq!(derniere.formation.intitule, "Soudage & chaudronnerie 3000");
    }

    #[test]
    fn texte_trop_long_et_erreur_fatale_nomment_l_element() {
        let long = "x".repeat(MAX_TEXT + 1);
        let doc = document(&[formation(1, &long), formation(2, "35")]);
        let offres: Vec<_> = lire_en_parallele(std::io::Cursor::new(doc)).collect();
        let o = offres[0].as_ref().unwrap();
        assert_eq!(o.constats[0].code, "texte-trop-long");
        assert_eq!(
            o.constats[0].chemin,
            "formation[F1]/action[A1]/nombre-heures-centre"
        );
        assert!(offres[1].is_ok());

        let coupe = document(&[formation(1, "35")]).replace("</action>", "</actoin>");
        let mut r = lire_en_parallele(std::io::Cursor::new(coupe));
        let e = r.next().unwrap().unwrap_err().to_string();
        assert!(e.contains("formation[F1]/action[A1]"), "{e}");
        assert!(e.starts_with("9:"), "{e}");
        assert!(r.next().is_none());
    }
}
