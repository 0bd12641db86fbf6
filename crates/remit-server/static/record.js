// The live NEWS2 score on the record form: the form names where to ask (data-score).
(function () {
  var form = document.getElementById("set-form"), out = document.getElementById("live-score");
  var csrf = form.querySelector("[name=csrf]").value;
  // Each request is numbered; an answer to anything but the newest is ignored, so a slow earlier reply can never
  // overwrite the score of what is typed now.
  var asked = 0;
  function set() {
    var v = function (id) { return document.getElementById(id).value.trim(); };
    var s = {on_oxygen: v("on_oxygen") === "yes"}, missing = [];
    [["respiration_rate", 0], ["spo2", 0], ["systolic_bp", 0], ["pulse", 0], ["temperature", 1]].forEach(function (f) {
      var absence = v(f[0] + "_absence");
      if (absence !== "") missing.push({parameter: f[0], absence: absence, reason: "not measured"});
      else if (v(f[0]) === "") missing.push({parameter: f[0], absence: "not-obtained", reason: "not yet entered"});
      else s[f[0]] = Number(v(f[0]));
    });
    if (v("consciousness") !== "") s.consciousness = v("consciousness");
    if (missing.length) s.missing = missing;
    return s;
  }
  function update() {
    var s = set(), mine = ++asked;
    if (!s.consciousness) { out.textContent = "Choose the level of consciousness (ACVPU) to see the score."; return; }
    fetch(form.getAttribute("data-score"), {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "x-csrf-token": csrf}, body: JSON.stringify(s)})
      .then(function (r) { return r.json(); }).catch(function () { return {error: "The score could not be worked out: check the connection."}; }).then(function (j) {
        if (mine !== asked) return;
        if (j.error) { out.textContent = j.error; return; }
        var score = j.total === null ? j.not_scored : "NEWS2 " + j.total + (j.complete ? "" : " so far") + " — " + j.risk_text;
        out.textContent = score + ". " + j.response + (j.sepsis ? " " + j.sepsis : "") + " Next set: " + j.frequency + ".";
        out.setAttribute("data-answered", String(mine));
      });
  }
  form.addEventListener("input", update);
  form.addEventListener("change", update);

  // What is typed is kept in this tab (sessionStorage: gone when the tab closes, and cleared at sign-out), with who
  // typed it and when, so that a session that ends mid-set loses nothing: the same person, signed in again within the
  // hour, finds the form filled back in. A draft is dropped once its form has been sent and its page says it was
  // saved (or the observations recorded as not done); never filled in for someone else, or after an hour.
  var key = "remit-draft " + (form.getAttribute("data-return") || form.getAttribute("action"));
  var sent = key + " sent";
  var session = document.getElementById("session");
  var user = session ? session.dataset.user : "";
  var fields = form.querySelectorAll("input:not([type=hidden]), select, textarea");
  function keep() {
    var values = {};
    fields.forEach(function (f) { values[f.name] = f.value; });
    try {
      sessionStorage.setItem(key, JSON.stringify({user: user, at: Date.now(), values: values}));
    } catch (_) { /* storage full or off: nothing kept */ }
  }
  document.addEventListener("submit", function (e) {
    if (e.target === form || e.target.id === "missed-form") sessionStorage.setItem(sent, "1");
  });
  var done = document.getElementById("saved") || document.getElementById("missed-recorded");
  if (done) {
    // Saved: the draft of the form that was sent goes, whichever form it was (a correction's page sends its reader
    // here once the correction is saved).
    for (var i = sessionStorage.length - 1; i >= 0; i--) {
      var k = sessionStorage.key(i);
      if (k && / sent$/.test(k)) {
        sessionStorage.removeItem(k.replace(/ sent$/, ""));
        sessionStorage.removeItem(k);
      }
    }
  }
  if (sessionStorage.getItem(key)) {
    sessionStorage.removeItem(sent);
    var kept = null;
    try { kept = JSON.parse(sessionStorage.getItem(key) || "null"); } catch (_) { kept = null; }
    var fresh = kept && kept.user === user && Date.now() - kept.at < 60 * 60 * 1000;
    if (kept && !fresh) sessionStorage.removeItem(key);
    // A new set's form comes blank; a correction's comes filled with the set as it stands, and what was typed over
    // it is what is kept.
    var blank = Array.prototype.every.call(fields, function (f) { return f.tagName === "SELECT" || f.value === ""; });
    var differs = fresh && Array.prototype.some.call(fields, function (f) {
      return kept.values[f.name] !== undefined && kept.values[f.name] !== f.value;
    });
    if (fresh && differs && (blank || form.hasAttribute("data-correcting"))) {
      fields.forEach(function (f) { if (kept.values[f.name] !== undefined) f.value = kept.values[f.name]; });
      var at = new Date(kept.at);
      var note = document.createElement("p");
      note.id = "draft-restored";
      note.className = "notice";
      note.setAttribute("role", "status");
      note.textContent = "What you typed at " + String(at.getHours()).padStart(2, "0") + ":" +
        String(at.getMinutes()).padStart(2, "0") + " is filled back in: check it, then save " +
        (form.hasAttribute("data-correcting") ? "the correction." : "the set.");
      form.parentNode.insertBefore(note, form);
      update();
    }
  }
  form.addEventListener("input", keep);
  form.addEventListener("change", keep);

  // The live score stays in view at the top while the form scrolls: a field that takes the focus is never left under
  // it (WCAG 2.2, focus not obscured), however tall the panel's words make it.
  form.addEventListener("focusin", function (e) {
    var field = e.target.getBoundingClientRect(), panel = out.getBoundingClientRect();
    if (panel.top <= 1 && field.top < panel.bottom) window.scrollBy(0, field.top - panel.bottom - 8);
  });

  // What was wrong is the first thing read: the error summary takes the focus.
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
})();
