// Shows in the header, and at the start of the page's title, how many escalations wait for the signed-in person's
// acknowledgement. Live pages ask again whenever an escalation changes (live.js calls remit.refreshInbox), the
// others every so often (20 seconds unless set otherwise); when the number rises,
// a tone sounds and, where the person has allowed it, the browser shows a notification (naming the place and bed,
// not the patient, since it may show over other windows). document.body.dataset.alerts counts the alerts raised.
(function () {
  var base = document.title.replace(/^\(\d+\) /, "");
  var known = null;
  var seen = null;
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
      new Notification("New escalation: " + e.level, {body: score + " — " + where, tag: "remit-escalation-" + e.id});
    }
  }

  // Asked in the background (X-Remit-Background): not activity, so the session's idle clock does not move. Each
  // asking is numbered and only the newest answer counts, so an alert is never raised twice by answers arriving out
  // of order.
  var asked = 0;
  function refresh() {
    var mine = ++asked;
    return fetch("/api/inbox", {credentials: "same-origin",
                                headers: {"Accept": "application/json", "X-Remit-Background": "1"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (inbox) {
        if (!inbox || mine !== asked) return;
        var n = inbox.to_acknowledge;
        var badge = document.getElementById("inbox-count");
        if (badge) {
          badge.textContent = n > 0 ? String(n) : "";
          badge.hidden = n === 0;
        }
        document.title = (n > 0 ? "(" + n + ") " : "") + base;
        // Alerted for an escalation newly waiting for acknowledgement (new, or raised again): the first such, most
        // urgent first.
        var open = inbox.escalations.filter(function (e) { return e.state === "open"; });
        var ids = open.map(function (e) { return e.id + "@" + e.raised_at + "@" + e.score; });
        if (seen !== null) {
          var fresh = open.filter(function (e, i) { return seen.indexOf(ids[i]) < 0; });
          if (fresh.length > 0 && n >= known) raise(fresh[0]);
        }
        seen = ids;
        known = n;
      })
      .catch(function () { /* the header keeps its last number */ });
  }

  // A chart wider than the screen opens scrolled to its newest set (outlined), which is what is looked for.
  document.querySelectorAll(".chart").forEach(function (chart) {
    var newest = chart.querySelector("[data-newest]");
    if (!newest) return;
    var right = newest.getBoundingClientRect().right - chart.getBoundingClientRect().left + chart.scrollLeft;
    chart.scrollLeft = Math.max(0, right - chart.clientWidth + 8);
  });

  window.remit = window.remit || {};
  window.remit.refreshInbox = refresh;
  // A page that does not update itself (live.js does, and asks again itself) still hears of escalations: a nurse
  // typing a set or reading her competencies is alerted as on the board. It asks every so often rather than hold
  // a stream open, which would take one of the few connections a browser keeps to remit for every tab.
  var every = document.getElementById("session");
  every = every ? Number(every.dataset.poll) || 20 : 20;
  if (!document.querySelector("[data-live]")) setInterval(refresh, every * 1000);

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

  // A session ends after a while without a request (patients' records on a shared ward PC). Before it does, the page
  // says so and offers to stay signed in; once it has, it says so and offers to sign in again and come back here.
  // What a form held is kept by the form's own script (record.js), so nothing typed is lost.
  var session = document.getElementById("session");
  var idle = session ? Number(session.dataset.idle) : 0;
  var signOut = document.getElementById("sign-out");
  if (signOut) signOut.addEventListener("submit", function () { try { sessionStorage.clear(); } catch (_) {} });
  if (idle > 0) {
    var warnBefore = Math.min(120, idle / 4);
    var warnTimer = null, endTimer = null;
    var banner = document.createElement("div");
    banner.id = "session-warning";
    banner.className = "error";
    banner.setAttribute("role", "alert");
    banner.hidden = true;
    var words = document.createElement("p");
    var stay = document.createElement("button");
    stay.type = "button";
    stay.textContent = "Stay signed in";
    var again = document.createElement("a");
    again.textContent = "Sign in again and come back to this page";
    again.hidden = true;
    banner.appendChild(words);
    banner.appendChild(stay);
    banner.appendChild(again);
    var main = document.querySelector("main");
    if (main) main.insertBefore(banner, main.firstChild);
    var back = document.querySelector("[data-return]");
    var over = false;
    function ended() {
      over = true;
      // Signed out for real, so that what the page says is so: the session is ended on the server.
      var csrf = signOut ? signOut.querySelector("[name=csrf]") : null;
      if (csrf) {
        fetchOwn("/logout", {method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/x-www-form-urlencoded"},
          body: "csrf=" + encodeURIComponent(csrf.value)}).catch(function () {});
      }
      clearTimeout(warnTimer);
      clearTimeout(endTimer);
      words.textContent = "You have been signed out after " + Math.round(idle / 60) +
        " minutes without activity. Anything typed on this page is kept for when you are back.";
      stay.hidden = true;
      var page = back ? back.getAttribute("data-return") : location.pathname + location.search;
      again.href = "/login?next=" + encodeURIComponent(page);
      again.hidden = false;
      banner.hidden = false;
    }
    function arm() {
      clearTimeout(warnTimer);
      clearTimeout(endTimer);
      banner.hidden = true;
      warnTimer = setTimeout(function () {
        words.textContent = "For patients' privacy you will be signed out in " + Math.round(warnBefore) +
          " seconds without activity.";
        stay.hidden = false;
        again.hidden = true;
        banner.hidden = false;
      }, (idle - warnBefore) * 1000);
      endTimer = setTimeout(ended, idle * 1000);
    }
    stay.addEventListener("click", function () {
      fetch("/api/inbox", {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { if (!r.ok) ended(); })
        .catch(function () { /* the warning stays */ });
    });
    // Every request the page makes of remit moves the session's idle clock on the server, but for those it makes in
    // the background: the countdown here starts again with each one that succeeds, so that the page and the server
    // agree.
    var fetchOwn = window.fetch.bind(window);
    window.fetch = function (input, init) {
      var background = !!(init && init.headers && init.headers["X-Remit-Background"]);
      return fetchOwn(input, init).then(function (r) {
        if (r.ok && !over && !background) arm();
        return r;
      });
    };
    arm();
  }
})();
