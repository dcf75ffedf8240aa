// Suggestions as you type, for the "what" and "where" fields: a listbox under the field,
// arrows to move, Enter to pick, Escape to close. Without JavaScript the form works as is.
(function () {
  "use strict";
  function attach(input) {
    var kind = input.getAttribute("data-suggestions");
    var list = document.getElementById(input.getAttribute("aria-controls"));
    var items = [], active = -1, timer = null, seq = 0;
    function close() {
      list.hidden = true; list.textContent = ""; items = []; active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }
    function mark() {
      items.forEach(function (li, i) { li.setAttribute("aria-selected", i === active ? "true" : "false"); });
      if (active >= 0) input.setAttribute("aria-activedescendant", items[active].id);
    }
    function pick(s) {
      input.value = s.libelle;
      close();
      input.focus();
    }
    function show(data) {
      list.textContent = "";
      items = [];
      data.forEach(function (s, i) {
        var li = document.createElement("li");
        li.id = input.id + "-s" + i;
        li.setAttribute("role", "option");
        li.textContent = s.libelle;
        var t = document.createElement("span");
        t.className = "type";
        t.textContent = s.type === "formacode" ? " — domaine" : s.type === "commune" ? " — commune" : "";
        li.appendChild(t);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(s); });
        list.appendChild(li);
        items.push(li);
        li._s = s;
      });
      active = -1;
      list.hidden = items.length === 0;
      input.setAttribute("aria-expanded", items.length ? "true" : "false");
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value.trim();
      if (q.length < 2) { close(); return; }
      timer = setTimeout(function () {
        var n = ++seq;
        fetch("/api/v1/suggestions?q=" + encodeURIComponent(q))
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (data) {
            if (n !== seq) return;
            data = data.filter(function (s) { return kind === "commune" ? s.type === "commune" : s.type !== "commune"; });
            show(data.slice(0, 8));
          })
          .catch(function () { close(); });
      }, 120);
    });
    input.addEventListener("keydown", function (e) {
      if (list.hidden) return;
      if (e.key === "ArrowDown") { active = (active + 1) % items.length; mark(); e.preventDefault(); }
      else if (e.key === "ArrowUp") { active = (active - 1 + items.length) % items.length; mark(); e.preventDefault(); }
      else if (e.key === "Enter" && active >= 0) { pick(items[active]._s); e.preventDefault(); }
      else if (e.key === "Escape") { close(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }
  document.querySelectorAll("[data-suggestions]").forEach(attach);
})();

// On a phone the facets (after the results) start folded: the results are what one came for.
(function () {
  "use strict";
  if (window.matchMedia && window.matchMedia("(max-width: 55.99rem)").matches) {
    document.querySelectorAll("details.panneau").forEach(function (d) { d.open = false; });
  }
})();

// On a phone the dates start folded too, unless one is set.
(function () {
  "use strict";
  if (!(window.matchMedia && window.matchMedia("(max-width: 39.99rem)").matches)) return;
  document.querySelectorAll("details.criteres").forEach(function (d) {
    var pris = Array.prototype.some.call(d.querySelectorAll("input"), function (i) { return i.value; });
    if (!pris) d.open = false;
  });
})();
