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
})();
