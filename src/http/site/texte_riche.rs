//! LHÉO rich text as safe HTML. Feeds carry formatted texts HTML-escaped inside the XML
//! (`&lt;p&gt;…&lt;br /&gt;`), which a page would show as literal tags. This reads them with
//! an allow-list: paragraphs (`p`, `div`, line breaks between them), `br`, lists (`ul`, `ol`,
//! `li`), `b`/`strong` and `i`/`em` become the page's own elements; every other tag is
//! dropped, and every text is escaped by the template (nothing received is written raw).

use maud::{html, Markup};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    Normal,
    Fort,
    Accent,
}

#[derive(Debug, PartialEq)]
enum Morceau {
    Texte(String, Style),
    Saut,
}

#[derive(Debug, PartialEq)]
enum Bloc {
    Paragraphe(Vec<Morceau>),
    Liste(Vec<Vec<Morceau>>),
}

/// The handful of entities a text escaped once more may still hold.
fn entites(t: &str) -> String {
    if !t.contains('&') {
        return t.to_string();
    }
    let mut out = String::with_capacity(t.len());
    let mut reste = t;
    while let Some(i) = reste.find('&') {
        out.push_str(&reste[..i]);
        let apres = &reste[i..];
        let fin = apres.find(';').filter(|f| *f <= 10);
        let remplace = fin.and_then(|f| {
            let nom = &apres[1..f];
            let c = match nom {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                "eacute" => Some('é'),
                "egrave" => Some('è'),
                "agrave" => Some('à'),
                "ccedil" => Some('ç'),
                "ecirc" => Some('ê'),
                "rsquo" => Some('’'),
                _ => nom
                    .strip_prefix('#')
                    .and_then(|n| n.parse::<u32>().ok())
                    .and_then(char::from_u32)
                    .filter(|c| !c.is_control() || c.is_whitespace()),
            }?;
            Some((c, f))
        });
        match remplace {
            Some((c, f)) => {
                out.push(c);
                reste = &apres[f + 1..];
            }
            None => {
                out.push('&');
                reste = &apres[1..];
            }
        }
    }
    out.push_str(reste);
    out
}

fn lire(t: &str) -> Vec<Bloc> {
    let mut blocs = Vec::new();
    let mut courant: Vec<Morceau> = Vec::new();
    let mut liste: Option<Vec<Vec<Morceau>>> = None;
    let mut style = Style::Normal;
    // Ends the paragraph (or list item) being read.
    fn clore(
        courant: &mut Vec<Morceau>,
        liste: &mut Option<Vec<Vec<Morceau>>>,
        blocs: &mut Vec<Bloc>,
    ) {
        while matches!(courant.last(), Some(Morceau::Saut)) {
            courant.pop();
        }
        if courant.is_empty() {
            return;
        }
        let m = std::mem::take(courant);
        match liste {
            Some(l) => l.push(m),
            None => blocs.push(Bloc::Paragraphe(m)),
        }
    }
    let texte = |s: &str,
                 courant: &mut Vec<Morceau>,
                 liste: &mut Option<Vec<Vec<Morceau>>>,
                 blocs: &mut Vec<Bloc>,
                 style: Style| {
        // A line break in the text separates paragraphs, as before rich text was read.
        for (i, ligne) in s.split('\n').enumerate() {
            if i > 0 {
                clore(courant, liste, blocs);
            }
            let l = entites(ligne);
            let l = if courant.is_empty() {
                l.trim_start().to_string()
            } else {
                l
            };
            if !l.trim().is_empty() {
                courant.push(Morceau::Texte(l, style));
            }
        }
    };
    let mut reste = t;
    while let Some(i) = reste.find('<') {
        texte(&reste[..i], &mut courant, &mut liste, &mut blocs, style);
        let apres = &reste[i + 1..];
        // A tag starts with a letter or `/` (`3 < 4` is text), and ends soon.
        let debut_balise = apres.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/');
        let Some(fin) = apres.find('>').filter(|f| *f <= 200 && debut_balise) else {
            texte("<", &mut courant, &mut liste, &mut blocs, style);
            reste = apres;
            continue;
        };
        let balise = apres[..fin].trim();
        let fermante = balise.starts_with('/');
        let nom: String = balise
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match nom.as_str() {
            "br" => courant.push(Morceau::Saut),
            "p" | "div" => clore(&mut courant, &mut liste, &mut blocs),
            "ul" | "ol" => {
                clore(&mut courant, &mut liste, &mut blocs);
                if fermante {
                    if let Some(l) = liste.take() {
                        if !l.is_empty() {
                            blocs.push(Bloc::Liste(l));
                        }
                    }
                } else if liste.is_none() {
                    liste = Some(Vec::new());
                }
            }
            "li" => clore(&mut courant, &mut liste, &mut blocs),
            "b" | "strong" => style = if fermante { Style::Normal } else { Style::Fort },
            "i" | "em" => {
                style = if fermante {
                    Style::Normal
                } else {
                    Style::Accent
                }
            }
            _ => {}
        }
        reste = &apres[fin + 1..];
    }
    texte(reste, &mut courant, &mut liste, &mut blocs, style);
    clore(&mut courant, &mut liste, &mut blocs);
    if let Some(l) = liste.take() {
        if !l.is_empty() {
            blocs.push(Bloc::Liste(l));
        }
    }
    blocs
}

fn morceaux(m: &[Morceau]) -> Markup {
    html! {
        @for x in m {
            @match x {
                Morceau::Saut => br;
                Morceau::Texte(t, Style::Normal) => (t),
                Morceau::Texte(t, Style::Fort) => strong { (t) },
                Morceau::Texte(t, Style::Accent) => em { (t) },
            }
        }
    }
}

/// A LHÉO text as paragraphs and lists, its allowed formatting kept, the rest as text.
pub fn texte_riche(t: &str) -> Markup {
    html! {
        @for b in lire(t) {
            @match b {
                Bloc::Paragraphe(m) => p { (morceaux(&m)) },
                Bloc::Liste(items) => ul { @for m in &items { li { (morceaux(m)) } } },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_formatting_is_kept_and_nothing_else() {
        let h = texte_riche("<p>Souder <b>en sécurité</b>.</p><ul><li>TIG</li><li>MIG</li></ul>ligne 1<br />ligne 2").into_string();
        assert_eq!(
            h,
            "<p>Souder <strong>en sécurité</strong>.</p><ul><li>TIG</li><li>MIG</li></ul><p>ligne 1<br>ligne 2</p>"
        );
        let h = texte_riche("<script>alert(1)</script><img src=x onerror=alert(1)>a &lt; b &amp;eacute; <a href=\"javascript:x\">lien</a>").into_string();
        assert!(
            !h.contains("<script") && !h.contains("<img") && !h.contains("<a "),
            "{h}"
        );
        assert!(
            h.contains("alert(1)") && h.contains("lien"),
            "text stays, escaped: {h}"
        );
        assert_eq!(
            texte_riche("un\ndeux").into_string(),
            "<p>un</p><p>deux</p>"
        );
        assert_eq!(
            texte_riche("3 < 4 et 5 > 2").into_string(),
            "<p>3 &lt; 4 et 5 &gt; 2</p>"
        );
    }
}
