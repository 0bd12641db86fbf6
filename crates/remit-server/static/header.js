// Shows in the header, and at the start of the page's title, how many escalations wait for the signed-in person's
// acknowledgement. Live pages ask again whenever an escalation changes (remit.refreshInbox); when the number rises,
// a tone sounds and, where the person has allowed it, the browser shows a notification (naming the place and bed,
// not the patient, since it may show over other windows). document.body.dataset.alerts counts the alerts raised.
(function () {
  var base = document.title.replace(/^\(\d+\) /, "");
  var known = null;
  var audio = null;

  function tone() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    audio = audio || new Context();
    var osc = audio.createOscillator();
    var gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.2;
    osc.connect(gain);
    gain.connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.5);
  }

  function raise(e) {
    document.body.dataset.alerts = String(Number(document.body.dataset.alerts || 0) + 1);
    try { tone(); } catch (_) { /* no sound where the browser allows none */ }
    if (e && window.Notification && Notification.permission === "granted") {
      var where = e.place + (e.bed ? ", bed " + e.bed : "");
      var score = e.score === null || e.score === undefined ? "no NEWS2" : "NEWS2 " + e.score;
      new Notification("New escalation: " + e.level, {body: score + " — " + where, tag: "escalation-" + e.id});
    }
  }

  function refresh() {
    return fetch("/api/inbox", {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (inbox) {
        if (!inbox) return;
        var n = inbox.to_acknowledge;
        var badge = document.getElementById("inbox-count");
        if (badge) {
          badge.textContent = n > 0 ? String(n) : "";
          badge.hidden = n === 0;
        }
        document.title = (n > 0 ? "(" + n + ") " : "") + base;
        if (known !== null && n > known) {
          raise(inbox.escalations.filter(function (e) { return e.state === "open"; })[0]);
        }
        known = n;
      })
      .catch(function () { /* the header keeps its last number */ });
  }

  window.remit = window.remit || {};
  window.remit.refreshInbox = refresh;

  var enable = document.getElementById("enable-alerts");
  if (enable) {
    enable.hidden = false;
    enable.addEventListener("click", function () {
      try { tone(); } catch (_) { /* sound stays off */ }
      if (window.Notification && Notification.permission === "default") Notification.requestPermission();
      enable.textContent = "Alerts are on for this page";
      enable.disabled = true;
    });
  }
  refresh();
})();
