//! Highlights: the best fragment of a stored text around the query's terms, as HTML whose
//! only markup is `<b>`.
//!
//! The same choice as tantivy's `SnippetGenerator` (fragments of at most 150 characters
//! cut at word starts, each scored by the sum of its matching words' `1 / (1 + doc_freq)`,
//! the best one kept, the earliest on ties), without its costs: it cloned the analyzer and
//! lower-cased each word into a new string, ~6 µs per text, a quarter of a light query's
//! time at 1M sessions for 40 texts a page.

use rustc_hash::FxHashMap;
use tantivy::query::Query;
use tantivy::schema::Field;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Score, Searcher};

/// Longest fragment, in bytes of the stored text (tantivy's default).
const LONGUEUR_MAX: usize = 150;

/// The query's terms in one field, with their weights.
pub struct Surligneur {
    termes: FxHashMap<String, Score>,
    analyseur: TextAnalyzer,
}

impl Surligneur {
    /// The terms `query` looks for in `champ`; rarer terms weigh more.
    pub fn new(
        searcher: &Searcher,
        query: &dyn Query,
        champ: Field,
        analyseur: TextAnalyzer,
    ) -> tantivy::Result<Self> {
        let mut termes_q = Vec::new();
        query.query_terms(&mut |t, _| {
            if t.field() == champ {
                termes_q.push(t.clone());
            }
        });
        let mut termes = FxHashMap::default();
        for t in termes_q {
            let Some(texte) = t.value().as_str().map(str::to_string) else {
                continue;
            };
            if termes.contains_key(&texte) {
                continue;
            }
            let n = searcher.doc_freq(&t)?;
            if n > 0 {
                termes.insert(texte, 1.0 / (1.0 + n as Score));
            }
        }
        Ok(Surligneur { termes, analyseur })
    }

    /// The best fragment of `texte` with its matching words in `<b>`, escaped; `None`
    /// when no word matches.
    pub fn extrait(&mut self, texte: &str) -> Option<String> {
        if self.termes.is_empty() {
            return None;
        }
        let texte = texte.trim();
        let mut courant = Fragment::depuis(0);
        let mut meilleur: Option<Fragment> = None;
        let mut garder = |f: &mut Fragment, debut: usize| {
            let f = std::mem::replace(f, Fragment::depuis(debut));
            if f.score > 0.0 && meilleur.as_ref().is_none_or(|m| f.score > m.score) {
                meilleur = Some(f);
            }
        };
        let mut flux = self.analyseur.token_stream(texte);
        while let Some(t) = flux.next() {
            if t.offset_to - courant.debut > LONGUEUR_MAX {
                garder(&mut courant, t.offset_from);
            }
            courant.fin = t.offset_to;
            if let Some(s) = self.termes.get(t.text.as_str()) {
                courant.score += s;
                courant.surlignes.push((t.offset_from, t.offset_to));
            }
        }
        garder(&mut courant, texte.len());
        let Fragment {
            debut,
            fin,
            surlignes,
            ..
        } = meilleur?;
        let mut html = String::with_capacity(fin - debut + 7 * surlignes.len());
        let mut depuis = debut;
        for (a, b) in surlignes {
            echapper(&texte[depuis..a], &mut html);
            html.push_str("<b>");
            echapper(&texte[a..b], &mut html);
            html.push_str("</b>");
            depuis = b;
        }
        echapper(&texte[depuis..fin], &mut html);
        Some(html)
    }
}

/// A candidate fragment: its score, its byte range and its matching words' ranges.
struct Fragment {
    score: Score,
    debut: usize,
    fin: usize,
    surlignes: Vec<(usize, usize)>,
}

impl Fragment {
    fn depuis(debut: usize) -> Self {
        Fragment {
            score: 0.0,
            debut,
            fin: debut,
            surlignes: Vec::new(),
        }
    }
}

/// Appends `s` with `& < > " '` escaped, as tantivy's snippets do (maud's `Escaper` leaves
/// `'` as it is, and the test compares with tantivy's output).
fn echapper(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::query::QueryParser;
    use tantivy::schema::{IndexRecordOption, Schema, TextFieldIndexing, TextOptions};
    use tantivy::{doc, Index};

    /// Same fragments and highlights as tantivy's `SnippetGenerator`, on texts with one,
    /// several and no fragments, markup to escape, accents and plurals.
    #[test]
    fn same_excerpts_as_tantivy() {
        let mut b = Schema::builder();
        let texte = b.add_text_field(
            "texte",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("fr")
                    .set_index_option(IndexRecordOption::WithFreqs),
            ),
        );
        let index = Index::create_in_ram(b.build());
        index
            .tokenizers()
            .register("fr", crate::search::analyse::analyseur(&["de".into()]));
        let textes = [
            "Anglais professionnel",
            "Préparer le TOEIC <anglais> & l'\"oral\" : révisions d'ANGLAIS.",
            &"Un long programme de formation en comptabilité et gestion. ".repeat(8),
            &format!(
                "{} puis l'électricité, enfin la comptabilité analytique.",
                "Texte sans rapport aucun. ".repeat(10)
            ),
            "Rien à voir ici.",
            "",
        ];
        let mut w = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for t in textes {
            w.add_document(doc!(texte => t)).unwrap();
        }
        w.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let parser = QueryParser::for_index(&index, vec![texte]);
        let mut surlignes = 0;
        for q in ["anglais", "comptabilités électricité", "gestion formation"] {
            let query = parser.parse_query(q).unwrap();
            let tantivy =
                tantivy::snippet::SnippetGenerator::create(&searcher, &*query, texte).unwrap();
            let an = index.tokenizers().get("fr").unwrap();
            let mut nous = Surligneur::new(&searcher, &*query, texte, an).unwrap();
            for t in textes {
                let s = tantivy.snippet(t.trim());
                let attendu = (!s.highlighted().is_empty()).then(|| s.to_html());
                surlignes += attendu.is_some() as usize;
                assert_eq!(nous.extrait(t), attendu, "{q:?} in {t:?}");
            }
        }
        assert_eq!(surlignes, 5);
    }
}
