// Keeps the region marked data-live current: when an escalation changes, fetch this page again and swap the region
// in place, without navigating away or losing what is being typed elsewhere. When the stream ends for good (signed
// out, too many live pages open, the server gone), the page says so at its top rather than go quietly stale.
(function () {
  if (!window.EventSource) return;
  var source = new EventSource("/events");
  source.addEventListener("escalation", function () {
    // In the background: an escalation elsewhere is not this person's activity, and does not keep the session open.
    fetch(location.href, {credentials: "same-origin", headers: {"X-Remit-Background": "1"}}).then(function (r) { return r.text(); }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html");
      document.querySelectorAll("[data-live]").forEach(function (el) {
        var next = fresh.getElementById(el.id);
        if (next) el.innerHTML = next.innerHTML;
      });
    });
    if (window.remit && window.remit.refreshInbox) window.remit.refreshInbox();
  });
  source.addEventListener("error", function () {
    if (source.readyState !== EventSource.CLOSED || document.getElementById("live-stopped")) return;
    var note = document.createElement("p");
    note.id = "live-stopped";
    note.className = "error";
    note.setAttribute("role", "alert");
    note.textContent = "This page has stopped updating itself: reload it to see new escalations.";
    var main = document.querySelector("main");
    if (main) main.insertBefore(note, main.firstChild);
  });
})();
