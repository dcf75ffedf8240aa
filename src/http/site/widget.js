// Sofi partner widget. On the partner's page:
//   <script src="https://HOST/widget.js" async></script>
//   <div data-sofi-recherche data-formacode="31734" data-departement="44"></div>
// Each element gets a search box and results in a shadow root (no style leaks either way),
// with the data-* filters forced on every search. Offer text is set with textContent only.
(function () {
  "use strict";
  var script = document.currentScript;
  var origin = script && script.src ? new URL(script.src).origin : location.origin;
  var FORCES = ["formacode", "departement", "commune", "rayon", "financeur", "public", "certifiante", "niveau", "a_distance", "organisme", "voie", "rome", "nsf"];
  var CSS = [
    ":host{all:initial;display:block;font-family:system-ui,sans-serif;color:#1b1b1b;line-height:1.45}",
    "*{box-sizing:border-box}",
    "form{display:flex;flex-wrap:wrap;gap:.5rem;margin-bottom:.75rem}",
    "label{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}",
    "input{flex:1 1 12rem;font:inherit;padding:.5rem;border:1px solid #6b6b6b;border-radius:.25rem;min-height:2.75rem}",
    "button{font:inherit;padding:.5rem 1rem;background:#005a9c;color:#fff;border:0;border-radius:.25rem;min-height:2.75rem;cursor:pointer}",
    ":focus-visible{outline:3px solid #b34700;outline-offset:2px}",
    "ol{list-style:none;margin:0;padding:0}",
    "li{border:1px solid #ccc;border-radius:.4rem;padding:.6rem .8rem;margin:.5rem 0}",
    "a{color:#00497f;font-weight:600}",
    ".meta{font-size:.9rem;color:#4a4a4a;margin:.2rem 0 0}",
    ".total{font-weight:600;margin:.25rem 0}",
    ".nav{display:flex;gap:.5rem;margin-top:.5rem}",
    ".erreur{color:#b3261e}"
  ].join("");

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function dateFr(iso) {
    if (!iso) return "";
    var p = iso.split("-");
    return p[2] + "/" + p[1] + "/" + p[0];
  }

  function monter(hote) {
    if (hote.shadowRoot || hote.__sofi) return;
    hote.__sofi = true;
    var racine = hote.attachShadow({ mode: "open" });
    var style = el("style");
    style.textContent = CSS;
    racine.appendChild(style);
    var id = "sofi-q-" + Math.random().toString(36).slice(2);
    var form = el("form");
    form.setAttribute("role", "search");
    var label = el("label", null, "Rechercher une formation");
    label.htmlFor = id;
    var input = el("input");
    input.type = "search";
    input.id = id;
    input.placeholder = hote.getAttribute("data-placeholder") || "Métier, formation, mot-clé…";
    var bouton = el("button", null, "Rechercher");
    bouton.type = "submit";
    form.appendChild(label); form.appendChild(input); form.appendChild(bouton);
    var etat = el("p", "total");
    etat.setAttribute("aria-live", "polite");
    var liste = el("ol");
    var nav = el("div", "nav");
    racine.appendChild(form); racine.appendChild(etat); racine.appendChild(liste); racine.appendChild(nav);
    var page = 1;
    input.value = hote.getAttribute("data-q") || "";

    function chercher() {
      var p = new URLSearchParams();
      if (input.value.trim()) p.set("q", input.value.trim());
      FORCES.forEach(function (k) {
        var v = hote.getAttribute("data-" + k.replace("_", "-"));
        if (v) v.split(",").forEach(function (x) { if (x.trim()) p.append(k, x.trim()); });
      });
      p.set("par_page", hote.getAttribute("data-par-page") || "10");
      p.set("page", String(page));
      etat.textContent = "Recherche…";
      var cle = hote.getAttribute("data-cle");
      fetch(origin + "/api/v1/recherche?" + p.toString(), cle ? { headers: { "X-Sofi-Cle": cle } } : {})
        .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
        .then(function (x) {
          if (!x.ok) throw new Error(x.j && x.j.erreur ? x.j.erreur.message : "erreur");
          afficher(x.j);
        })
        .catch(function (e) {
          liste.textContent = ""; nav.textContent = "";
          etat.className = "total erreur";
          etat.textContent = "La recherche n'a pas abouti : " + e.message;
        });
    }

    function afficher(j) {
      etat.className = "total";
      etat.textContent = j.total === 0 ? "Aucune formation" : j.total + (j.total > 1 ? " formations" : " formation");
      liste.textContent = "";
      j.resultats.forEach(function (r) {
        var li = el("li");
        var a = el("a", null, r.intitule);
        a.href = origin + "/formation/" + encodeURIComponent(r.formation_numero);
        a.target = "_top";
        li.appendChild(a);
        var lieu = r.a_distance ? "À distance" : (r.commune_nom || "") + (r.departement ? " (" + r.departement + ")" : "");
        li.appendChild(el("p", "meta", r.organisme + (lieu ? " · " + lieu : "")));
        var s = r.prochaines_sessions[0];
        if (s && s.debut) {
          li.appendChild(el("p", "meta", "Prochaine session : " + dateFr(s.debut) + (r.autres_sessions > 0 ? " (+" + r.autres_sessions + " autres)" : "")));
        }
        liste.appendChild(li);
      });
      nav.textContent = "";
      var pages = Math.ceil(j.total / j.par_page);
      if (page > 1) nav.appendChild(bouttonPage("Précédente", page - 1));
      if (page < pages) nav.appendChild(bouttonPage("Suivante", page + 1));
    }

    function bouttonPage(texte, n) {
      var b = el("button", null, texte);
      b.type = "button";
      b.addEventListener("click", function () { page = n; chercher(); });
      return b;
    }

    form.addEventListener("submit", function (e) { e.preventDefault(); page = 1; chercher(); });
    chercher();
  }

  function tout() { document.querySelectorAll("[data-sofi-recherche]").forEach(monter); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", tout);
  else tout();
})();
