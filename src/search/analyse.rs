//! French analysis: case and accent folding (unicode-normalization), word splitting on
//! anything not a letter or digit (so `aide-soignant` = `aide soignant` and `l'électricité`
//! gives `l` + `electricite`, the elided `l` then being a stop word), stop words, and the
//! Snowball French stemmer (plurals, most feminine forms).

use frostem::{Algorithm, Stemmer};
use rustc_hash::FxHashSet;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Lower case without accents: `ÉLECTRICITÉ` → `electricite`, `œuvre` → `oeuvre`.
pub fn plier(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        plier_char(c, &mut out);
    }
    out
}

fn plier_char(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    match c {
        'œ' | 'Œ' => out.push_str("oe"),
        'æ' | 'Æ' => out.push_str("ae"),
        'ß' => out.push_str("ss"),
        _ => {
            for d in c.nfd().filter(|d| !is_combining_mark(*d)) {
                out.extend(d.to_lowercase());
            }
        }
    }
}

/// Splits folded text into words; offsets point into the original text (for highlighting).
/// With an [`Analyse`] it also drops stop words and stems: one pass, no filter chain, and
/// each word's stem memoised, since stemming was most of the cost of indexing and of
/// highlighting.
///
/// The tokens of the last text are kept and overwritten by the next: their strings' buffers
/// are reused instead of one allocation per word.
#[derive(Clone, Default)]
pub struct TokeniseurFr {
    tokens: Vec<Token>,
    /// How many of `tokens` belong to the current text.
    n: usize,
    analyse: Option<Arc<Analyse>>,
}

/// Stop words (folded) of the `fr` analyzer (a fixed set: a fast unseeded hasher is fine).
pub struct Analyse {
    mots_vides: FxHashSet<String>,
}

thread_local! {
    static STEMMER: Stemmer = Stemmer::new(Algorithm::French);
    /// Stems already computed on this thread (cleared past a bound). Its keys come from
    /// queries too, so it keeps std's seeded hasher: no crafted words can make it slow.
    static RACINES: RefCell<HashMap<String, String>> = RefCell::new(HashMap::new());
}

/// Appends the stem of `mot` to `out`.
fn raciner(mot: &str, out: &mut String) {
    RACINES.with_borrow_mut(|m| {
        if let Some(r) = m.get(mot) {
            out.push_str(r);
            return;
        }
        let r = STEMMER.with(|s| s.stem(mot).into_owned());
        out.push_str(&r);
        if m.len() > 200_000 {
            m.clear();
        }
        m.insert(mot.to_string(), r);
    })
}

pub struct Flux<'a> {
    tokens: &'a mut [Token],
    /// One past the current token (0: before the first).
    suivant: usize,
    /// What `token` gives before the first `advance` (or for an empty text).
    vide: Token,
}

impl TokenStream for Flux<'_> {
    fn advance(&mut self) -> bool {
        if self.suivant < self.tokens.len() {
            self.suivant += 1;
            true
        } else {
            false
        }
    }
    fn token(&self) -> &Token {
        match self.suivant {
            0 => &self.vide,
            i => &self.tokens[i - 1],
        }
    }
    fn token_mut(&mut self) -> &mut Token {
        match self.suivant {
            0 => &mut self.vide,
            i => &mut self.tokens[i - 1],
        }
    }
}

impl TokeniseurFr {
    fn pousser(&mut self, mot: &mut String, debut: usize, fin: usize, position: &mut usize) {
        let p = *position;
        *position += 1;
        if let Some(a) = &self.analyse {
            if a.mots_vides.contains(mot.as_str()) {
                mot.clear();
                return;
            }
        }
        if self.n == self.tokens.len() {
            self.tokens.push(Token::default());
        }
        let t = &mut self.tokens[self.n];
        self.n += 1;
        t.offset_from = debut;
        t.offset_to = fin;
        t.position = p;
        t.position_length = 1;
        t.text.clear();
        match &self.analyse {
            Some(_) => raciner(mot, &mut t.text),
            None => t.text.push_str(mot),
        }
        mot.clear();
    }
}

impl Tokenizer for TokeniseurFr {
    type TokenStream<'a> = Flux<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Flux<'a> {
        self.n = 0;
        let mut mot = String::new();
        let mut debut = 0;
        let mut pli = String::with_capacity(4);
        let mut position = 0;
        for (i, c) in text.char_indices() {
            let lettre = if c.is_ascii() {
                let l = c.is_ascii_alphanumeric();
                if l {
                    if mot.is_empty() {
                        debut = i;
                    }
                    mot.push(c.to_ascii_lowercase());
                }
                l
            } else {
                pli.clear();
                plier_char(c, &mut pli);
                let l = !pli.is_empty() && pli.chars().all(char::is_alphanumeric);
                if l {
                    if mot.is_empty() {
                        debut = i;
                    }
                    mot.push_str(&pli);
                }
                l
            };
            if !lettre && !mot.is_empty() {
                self.pousser(&mut mot, debut, i, &mut position);
            }
        }
        if !mot.is_empty() {
            self.pousser(&mut mot, debut, text.len(), &mut position);
        }
        Flux {
            tokens: &mut self.tokens[..self.n],
            suivant: 0,
            vide: Token::default(),
        }
    }
}

/// The analyzer registered as `fr`.
pub fn analyseur(mots_vides: &[String]) -> TextAnalyzer {
    TextAnalyzer::builder(TokeniseurFr {
        tokens: Vec::new(),
        n: 0,
        analyse: Some(Arc::new(Analyse {
            mots_vides: mots_vides.iter().cloned().collect(),
        })),
    })
    .build()
}

/// Folded words of a text, before stop words and stemming (query parsing).
pub fn mots(text: &str) -> Vec<String> {
    let mut t = TokeniseurFr::default();
    let mut s = t.token_stream(text);
    let mut out = Vec::new();
    while s.advance() {
        out.push(s.token().text.clone());
    }
    out
}

/// The indexed forms of a text (stop words removed, stemmed).
pub fn termes(an: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut s = an.token_stream(text);
    let mut out = Vec::new();
    while s.advance() {
        out.push(s.token().text.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Vec<String> {
        termes(
            &mut analyseur(&["l".into(), "d".into(), "de".into(), "la".into()]),
            s,
        )
    }

    /// The reused token buffers give each text its own words, and asking for a token
    /// before the first (or of an empty text) is no error.
    #[test]
    fn successive_texts_and_empty_streams() {
        let mut an = analyseur(&["de".into()]);
        assert_eq!(
            termes(&mut an, "électricité de bâtiment"),
            ["electricit", "bat"]
        );
        assert_eq!(termes(&mut an, "soudure"), ["soudur"]);
        assert!(termes(&mut an, "").is_empty());
        let mut s = an.token_stream("");
        assert_eq!(s.token().text, "");
        assert!(!s.advance());
    }

    #[test]
    fn accents_case_elision_hyphens_plurals_feminine() {
        assert_eq!(t("électricité"), t("ELECTRICITE"));
        assert_eq!(t("l'électricité"), t("electricite"));
        assert_eq!(t("aide-soignant"), t("aide soignant"));
        assert_eq!(t("soignants"), t("soignant"));
        assert_eq!(t("vendeuse"), t("vendeuses"));
        assert_eq!(t("électricienne"), t("électricien"));
        assert_eq!(plier("Œuvre Ça"), "oeuvre ca");
    }
}
