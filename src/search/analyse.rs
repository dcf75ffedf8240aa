//! French analysis: case and accent folding (unicode-normalization), word splitting on
//! anything not a letter or digit (so `aide-soignant` = `aide soignant` and `l'électricité`
//! gives `l` + `electricite`, the elided `l` then being a stop word), stop words, and the
//! Snowball French stemmer (plurals, most feminine forms).

use tantivy::tokenizer::{
    Language, Stemmer, StopWordFilter, TextAnalyzer, Token, TokenStream, Tokenizer,
};
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
#[derive(Clone, Default)]
pub struct TokeniseurFr {
    tokens: Vec<Token>,
}

pub struct Flux<'a> {
    tokens: &'a [Token],
    i: usize,
    courant: Token,
}

impl TokenStream for Flux<'_> {
    fn advance(&mut self) -> bool {
        if self.i < self.tokens.len() {
            self.courant = self.tokens[self.i].clone();
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn token(&self) -> &Token {
        &self.courant
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.courant
    }
}

impl Tokenizer for TokeniseurFr {
    type TokenStream<'a> = Flux<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Flux<'a> {
        self.tokens.clear();
        let mut mot = String::new();
        let mut debut = 0;
        let mut pli = String::with_capacity(4);
        let mut position = 0;
        for (i, c) in text.char_indices() {
            pli.clear();
            plier_char(c, &mut pli);
            let lettre = !pli.is_empty() && pli.chars().all(char::is_alphanumeric);
            if lettre {
                if mot.is_empty() {
                    debut = i;
                }
                mot.push_str(&pli);
            } else if !mot.is_empty() {
                self.tokens.push(Token {
                    offset_from: debut,
                    offset_to: i,
                    position,
                    text: std::mem::take(&mut mot),
                    position_length: 1,
                });
                position += 1;
            }
        }
        if !mot.is_empty() {
            self.tokens.push(Token {
                offset_from: debut,
                offset_to: text.len(),
                position,
                text: mot,
                position_length: 1,
            });
        }
        Flux {
            tokens: &self.tokens,
            i: 0,
            courant: Token::default(),
        }
    }
}

/// The analyzer registered as `fr`.
pub fn analyseur(mots_vides: &[String]) -> TextAnalyzer {
    TextAnalyzer::builder(TokeniseurFr::default())
        .filter(StopWordFilter::remove(mots_vides.to_vec()))
        .filter(Stemmer::new(Language::French))
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
