// The console's one script. Every page works without it; it only adds:
// live updates of the parts of a page marked `data-live` (read again from
// the server when the event stream says a job moved, at most once a second),
// select-all checkboxes, and confirmations before destructive forms.
"use strict";

(function () {
  // Select-all: a checkbox with data-select-all="NAME" sets every checkbox
  // named NAME in its form.
  document.addEventListener("change", function (ev) {
    var all = ev.target.closest("input[data-select-all]");
    if (!all) return;
    var boxes = all.form.querySelectorAll('input[type="checkbox"][name="' + all.dataset.selectAll + '"]');
    boxes.forEach(function (b) { b.checked = all.checked; });
  });

  // Confirmations: a form with data-confirm="question" asks first.
  document.addEventListener("submit", function (ev) {
    var q = ev.target.getAttribute("data-confirm");
    if (q && !window.confirm(q)) ev.preventDefault();
  });

  // Live parts: read this page again and put its new live parts in place.
  var live = document.querySelectorAll("[data-live][id]");
  if (live.length === 0 || !window.EventSource) return;
  var pending = false, last = 0;
  function refresh() {
    pending = false;
    last = Date.now();
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live][id]").forEach(function (el) {
          var fresh = doc.getElementById(el.id);
          if (fresh) el.innerHTML = fresh.innerHTML;
        });
      })
      .catch(function () {});
  }
  function soon() {
    if (pending) return;
    pending = true;
    setTimeout(refresh, Math.max(0, 1000 - (Date.now() - last)));
  }
  var events = null;
  function listen() {
    events = new EventSource("/console/events");
    ["job", "progress", "element", "alarm", "lagged"].forEach(function (name) {
      events.addEventListener(name, soon);
    });
  }
  listen();
  // A page left, even one the browser keeps to go back to, closes its
  // stream: over HTTP/1.1 a browser opens at most six connections to a
  // server, and six kept streams would stall the next page. Back on it,
  // it listens again and reads what it missed.
  window.addEventListener("pagehide", function () {
    if (events) events.close();
    events = null;
  });
  window.addEventListener("pageshow", function (ev) {
    if (ev.persisted && !events) {
      listen();
      soon();
    }
  });
  document.documentElement.dataset.live = "on";
})();
