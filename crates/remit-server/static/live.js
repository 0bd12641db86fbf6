// Keeps the region marked data-live current: when something it shows changes (an escalation, a set, a task, a patient
// come or gone), fetch this page again and swap the region in place, without navigating away or losing what is being
// typed elsewhere; a region being typed into (a review note, say) is left as it is until the next change after the
// typing. A stream that drops and comes back (the server restarted, another took over) reads the page again
// too, since news may have been missed meanwhile. When the stream ends for good (signed out, too many live pages
// open), the page says so at its top rather than go quietly stale.
(function () {
  if (!window.EventSource) return;
  var source = new EventSource("/events");
  var opened = false;
  // Whether someone is typing in `el`: the focus is in one of its fields, or one holds what they typed.
  function typing(el) {
    var a = document.activeElement;
    if (a && a !== document.body && el.contains(a) && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName)) return true;
    return Array.prototype.some.call(el.querySelectorAll("textarea, input:not([type=hidden])"), function (f) {
      return f.type === "checkbox" || f.type === "radio" ? f.checked !== f.defaultChecked : f.value !== f.defaultValue;
    });
  }
  function refresh() {
    // In the background: a change elsewhere is not this person's activity, and does not keep the session open.
    fetch(location.href, {credentials: "same-origin", headers: {"X-Remit-Background": "1"}}).then(function (r) { return r.text(); }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html");
      document.querySelectorAll("[data-live]").forEach(function (el) {
        var next = fresh.getElementById(el.id);
        if (next && !typing(el)) el.innerHTML = next.innerHTML;
      });
    });
    if (window.remit && window.remit.refreshInbox) window.remit.refreshInbox();
  }
  source.addEventListener("escalation", refresh);
  source.addEventListener("change", refresh);
  source.addEventListener("open", function () {
    if (opened) refresh();
    opened = true;
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
