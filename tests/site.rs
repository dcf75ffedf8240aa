//! The public site and the partner widget in real headless Chromium (Debian's `chromium` and
//! `chromedriver`), driven with fantoccini against a real server on loopback: search with a
//! picked suggestion, a facet, paging, an offer and back, keyboard-only navigation, the widget
//! on a page of another origin, a hostile title shown as text everywhere, no console errors.
//! Screenshots go to `target/screenshots/` for review.

mod common;

use common::navigateur::*;
use common::*;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::Locator;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;

const HOSTILE: &str = "<script>alert(1)</script>";

/// A partner's page on another origin (another port), embedding the widget.
fn page_partenaire(sofi: String) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let corps = format!(
                r#"<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Partenaire</title><link rel="icon" href="data:,">
<style>li {{ color: rgb(255, 0, 0); }} button {{ background: rgb(0, 128, 0); }}</style></head>
<body><h1>Le site d'un partenaire</h1><ul><li id="dehors">texte du partenaire</li></ul><button id="bouton-partenaire">Bouton du partenaire</button>
<div id="w1" data-sofi-recherche data-departement="44"></div>
<div id="w2" data-sofi-recherche data-q="alert"></div>
<script src="{sofi}/widget.js" async></script></body></html>"#
            );
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{corps}",
                corps.len()
            );
        }
    });
    port
}

fn donnees() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let g = tmp.path().join("g.xml");
    generate(3000, 11, &g);
    // One offer with a hostile title (escaped in the XML, so real text `<script>…`).
    let xml = std::fs::read_to_string(&g).unwrap();
    let debut = xml.find("<intitule-formation>").unwrap();
    let fin = xml[debut..].find("</intitule-formation>").unwrap() + debut;
    let xml = format!(
        "{}<intitule-formation>&lt;script&gt;alert(1)&lt;/script&gt;{}",
        &xml[..debut],
        &xml[fin..]
    );
    std::fs::write(&g, xml).unwrap();
    let d = tmp.path().join("data");
    let (code, _) = import(&d, &[&g], &[]);
    assert_eq!(code, 0);
    (tmp, d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_and_widget_in_a_real_browser() {
    let (tmp, d) = donnees();
    let server = Server::start(&d, false);
    let base = server.url("");
    let base = base.trim_end_matches('/').to_string();
    let (_pilote, port) = chromedriver();
    let c = navigateur(port, &tmp.path().join("profil")).await;

    // Home, then a query typed and a suggestion picked with the keyboard.
    c.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(
        js(&c, "return document.documentElement.lang").await,
        json!("fr")
    );
    capture(&c, "accueil").await;
    let q = c.find(Locator::Id("q")).await.unwrap();
    q.send_keys("compta").await.unwrap();
    attendre_elements(
        &c,
        "suggestions",
        "return document.querySelectorAll('#q-liste li').length",
    )
    .await;
    q.send_keys("\u{E015}\u{E007}").await.unwrap(); // ArrowDown, Enter: pick the first
    let choisi = q.prop("value").await.unwrap().unwrap_or_default();
    assert_ne!(choisi, "compta", "a suggestion replaced the typed text");
    assert!(!choisi.is_empty());
    cliquer(&c, "form.recherche button[type=submit]").await;
    attendre_url(&c, "/recherche").await;
    let titre = c.find(Locator::Id("nb-resultats")).await.unwrap();
    assert!(titre.text().await.unwrap().contains("formation"));

    // A facet: the first département.
    cliquer(&c, "details.facette a.valeur[href*='departement=']").await;
    attendre_url(&c, "departement=").await;
    c.find(Locator::Css(
        "details.facette a.valeur[aria-pressed='true']",
    ))
    .await
    .expect("the chosen département is shown as selected");

    // Paging on a broad query.
    c.goto(&format!("{base}/recherche?q=formation"))
        .await
        .unwrap();
    capture(&c, "resultats").await;
    cliquer(&c, "a[rel=next]").await;
    attendre_url(&c, "page=2").await;
    let deuxieme = c
        .find(Locator::Css(".resultat h3 a"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!deuxieme.is_empty());

    // An offer, its JSON-LD, then back to the results.
    cliquer(&c, ".resultat h3 a").await;
    attendre_url(&c, "/formation/").await;
    let ld = js(
        &c,
        "return JSON.parse(document.querySelector('script[type=\"application/ld+json\"]').textContent)",
    )
    .await;
    assert_eq!(ld["@type"], "Course");
    assert!(ld["hasCourseInstance"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
    capture(&c, "offre").await;
    c.back().await.unwrap();
    attendre_url(&c, "/recherche").await;

    // Apprenticeship: the voie facet, an offer with its rhythm, its establishment's page.
    c.goto(&format!("{base}/recherche?q=")).await.unwrap();
    js(
        &c,
        "document.querySelectorAll('details.facette').forEach(d => d.open = true); return 1",
    )
    .await;
    cliquer(&c, "details.facette a.valeur[href*='voie=apprentissage']").await;
    attendre_url(&c, "voie=apprentissage").await;
    cliquer(&c, ".resultat h3 a").await;
    attendre_url(&c, "/formation/").await;
    let texte = js(
        &c,
        "return document.querySelector('article.offre').innerText",
    )
    .await;
    let texte = texte.as_str().unwrap_or_default().to_string();
    assert!(
        texte.contains("Contrat d'apprentissage")
            && texte.contains("en entreprise")
            && texte.contains("Admission"),
        "{texte}"
    );
    capture(&c, "offre-apprentissage").await;
    cliquer(&c, "a[href^='/organisme/']").await;
    attendre_url(&c, "/organisme/").await;
    let texte = js(
        &c,
        "return document.querySelector('article.organisme').innerText",
    )
    .await;
    let texte = texte.as_str().unwrap_or_default().to_string();
    assert!(
        texte.contains("UAI") && texte.contains("Formations diffusées"),
        "{texte}"
    );
    capture(&c, "organisme").await;

    // Keyboard only: Tab from the top reaches a result link.
    c.goto(&format!("{base}/recherche?q=formation"))
        .await
        .unwrap();
    let mut atteint = false;
    for _ in 0..120 {
        // Tab pressed on the page, as a person does: sent to an element instead, WebDriver
        // first focuses that element, which in a date field means its first segment again,
        // and Chromium 156 then never leaves the field.
        let tab = KeyActions::new("clavier".into())
            .then(KeyAction::Down { value: '\u{E004}' })
            .then(KeyAction::Up { value: '\u{E004}' });
        c.perform_actions(tab).await.unwrap();
        if js(
            &c,
            "return !!(document.activeElement && document.activeElement.closest('.resultat'))",
        )
        .await
            == json!(true)
        {
            atteint = true;
            break;
        }
    }
    assert!(atteint, "Tab never reached a result");
    let contour = js(
        &c,
        "return getComputedStyle(document.activeElement).outlineStyle",
    )
    .await;
    assert_ne!(contour, json!("none"), "focus is visible");

    // The hostile title is text on the results and the offer page.
    c.goto(&format!("{base}/recherche?q=alert")).await.unwrap();
    let lien = c.find(Locator::Css(".resultat h3 a")).await.unwrap();
    assert_eq!(lien.text().await.unwrap(), HOSTILE);
    lien.click().await.unwrap();
    attendre_url(&c, "/formation/").await;
    assert_eq!(
        c.find(Locator::Css("h1"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        HOSTILE
    );
    assert_eq!(
        js(
            &c,
            "return document.querySelectorAll('script:not([src]):not([type])').length"
        )
        .await,
        json!(0)
    );

    // Statistics: three server-drawn charts.
    c.goto(&format!("{base}/statistiques")).await.unwrap();
    assert_eq!(
        js(
            &c,
            "return document.querySelectorAll('figure svg rect').length > 10"
        )
        .await,
        json!(true)
    );
    capture(&c, "statistiques").await;
    // No label is clipped, on a wide screen or a phone.
    const ROGNES: &str = "const out = []; document.querySelectorAll('figure svg').forEach(s => { \
        const b = s.getBoundingClientRect(); s.querySelectorAll('text').forEach(t => { \
        const r = t.getBoundingClientRect(); \
        if (r.left < b.left - 0.5 || r.right > b.right + 0.5) out.push(t.textContent); }); }); return out;";
    assert_eq!(js(&c, ROGNES).await, json!([]), "labels clipped at 1280 px");
    c.set_window_size(375, 740).await.unwrap();
    c.refresh().await.unwrap();
    assert_eq!(js(&c, ROGNES).await, json!([]), "labels clipped at 375 px");
    capture(&c, "statistiques-375").await;
    c.set_window_size(1280, 1000).await.unwrap();

    // Usable at 320 px: nothing wider than the viewport.
    c.set_window_size(320, 800).await.unwrap();
    c.goto(&format!("{base}/recherche?q=formation"))
        .await
        .unwrap();
    let (largeur, vue) = (
        js(&c, "return document.documentElement.scrollWidth").await,
        js(&c, "return window.innerWidth").await,
    );
    assert!(
        largeur.as_u64() <= vue.as_u64(),
        "horizontal scroll at 320 px: {largeur} > {vue}"
    );
    capture(&c, "resultats-320").await;

    // On a phone (375 px): the first result, with what one decides on, is on the first
    // screen; the facets come after, folded.
    c.set_window_size(375, 740).await.unwrap();
    c.goto(&format!("{base}/recherche?q=comptabilit%C3%A9"))
        .await
        .unwrap();
    let premier = js(
        &c,
        "const r = document.querySelector('li.resultat'); const b = r.getBoundingClientRect(); \
         return [b.top, window.innerHeight, !!r.querySelector('p.decision'), \
                 document.querySelector('details.panneau').open, \
                 document.querySelector('aside.facettes').getBoundingClientRect().top > b.top]",
    )
    .await;
    let v = premier.as_array().unwrap();
    assert!(
        v[0].as_f64().unwrap() < v[1].as_f64().unwrap(),
        "first result below the first screen at 375 px: {premier}"
    );
    assert_eq!(v[2], json!(true), "no decision line on the card");
    assert_eq!(v[3], json!(false), "the facets are not folded on a phone");
    assert_eq!(v[4], json!(true), "the facets come before the results");
    capture(&c, "resultats-375").await;
    c.set_window_size(1280, 1000).await.unwrap();

    let erreurs = erreurs_console(&c).await;
    assert!(
        erreurs.is_empty(),
        "console errors on the site: {erreurs:?}"
    );

    // The widget on another origin: results, links back, forced filter, no style leaks,
    // the hostile title as text.
    let partenaire = page_partenaire(base.clone());
    c.goto(&format!("http://127.0.0.1:{partenaire}/"))
        .await
        .unwrap();
    attendre_elements(&c, "widget results", "const h = document.getElementById('w1'); return h && h.shadowRoot ? h.shadowRoot.querySelectorAll('ol li').length : 0").await;
    let href = js(
        &c,
        "return document.getElementById('w1').shadowRoot.querySelector('ol li a').href",
    )
    .await;
    assert!(
        href.as_str()
            .unwrap()
            .starts_with(&format!("{base}/formation/")),
        "{href}"
    );
    let meta = js(
        &c,
        "return Array.from(document.getElementById('w1').shadowRoot.querySelectorAll('.meta')).map(e => e.textContent).join('|')",
    )
    .await;
    assert!(
        meta.as_str().unwrap().contains("(44)") || meta.as_str().unwrap().contains("distance"),
        "forced département 44: {meta}"
    );
    assert_ne!(
        js(&c, "return getComputedStyle(document.getElementById('w1').shadowRoot.querySelector('ol li')).color").await,
        json!("rgb(255, 0, 0)"),
        "the page's styles leak into the widget"
    );
    assert_eq!(
        js(
            &c,
            "return getComputedStyle(document.getElementById('dehors')).color"
        )
        .await,
        json!("rgb(255, 0, 0)")
    );
    assert_eq!(
        js(
            &c,
            "return getComputedStyle(document.getElementById('bouton-partenaire')).backgroundColor"
        )
        .await,
        json!("rgb(0, 128, 0)"),
        "the widget's styles leak into the page"
    );
    attendre_elements(&c, "the hostile widget search", "const h = document.getElementById('w2'); return h && h.shadowRoot ? h.shadowRoot.querySelectorAll('ol li a').length : 0").await;
    assert_eq!(
        js(
            &c,
            "return document.getElementById('w2').shadowRoot.querySelector('ol li a').textContent"
        )
        .await,
        json!(HOSTILE)
    );
    assert_eq!(
        js(
            &c,
            "return document.getElementById('w2').shadowRoot.querySelectorAll('script').length"
        )
        .await,
        json!(0)
    );
    capture(&c, "widget").await;
    let erreurs = erreurs_console(&c).await;
    assert!(
        erreurs.is_empty(),
        "console errors with the widget: {erreurs:?}"
    );
    c.close().await.unwrap();
}

/// Home and results pages, with their CSS and JS, weigh under 100 KB; hostile query strings
/// on the results page are a page naming the problem, never a 5xx.
#[test]
fn page_weight_under_100_kb_and_hostile_queries() {
    let (_tmp, d) = donnees();
    let server = Server::start(&d, false);
    let poids = |p: &str| {
        let (s, r) = call(ureq::get(&server.url(p)), None);
        assert_eq!(s, 200, "{p}");
        bytes(r).len()
    };
    let total = poids("/")
        + poids("/recherche?q=formation")
        + poids("/static/site.css")
        + poids("/static/site.js");
    assert!(total < 100_000, "home + results + CSS + JS = {total} bytes");
    for (q, attendu) in [
        ("debut_min=2027-13-01", 400),
        // A place a person typed is never an error page: the search runs without it, saying so.
        ("commune=Nulle-Part-Sur-Mer&rayon=30", 200),
        ("commune=Angers&rayon=20&q=soudure", 200),
        ("q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", 200),
        ("q=%00%01%02", 200),
    ] {
        let (s, r) = call(ureq::get(&server.url(&format!("/recherche?{q}"))), None);
        assert_eq!(s, attendu, "{q}");
        let page = r.into_string().unwrap();
        assert!(!page.contains("<script>alert"), "{q}: unescaped");
        if s == 400 {
            assert!(page.contains("role=\"alert\""), "{q}: the problem is shown");
        }
    }
    let beaucoup = "commune=Xyz&".repeat(200);
    let (s, _) = call(
        ureq::get(&server.url(&format!("/recherche?{beaucoup}"))),
        None,
    );
    assert_eq!(s, 400);
}
