/*
 * A signed-in person who has not chosen a time zone gets this script (templates/_time_zone_note.html): it
 * proposes the browser's zone once, and the portal keeps it only while the person still has none (their
 * own choice on the security page always wins). Served from the portal's static files: the
 * Content-Security-Policy allows no inline script. The CSRF token rides on the script tag, since the
 * CSRF cookie is HttpOnly. The page already drawn stays as it is; the note says from when times change.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (error) {
    return;
  }
  if (!script || !zone || !window.fetch) {
    return;
  }
  // Once per browser tab: a zone the portal does not know is not proposed again on every page.
  try {
    if (window.sessionStorage.getItem("time-zone-proposed") === zone) {
      return;
    }
  } catch (error) {
    // Storage refused (a private window): proposing again is harmless.
  }
  var body = new URLSearchParams();
  body.set("time_zone", zone);
  window.fetch(script.dataset.url, {
    method: "POST",
    credentials: "same-origin",
    headers: {"X-CSRFToken": script.dataset.csrfToken, "X-Requested-With": "XMLHttpRequest"},
    body: body
  }).then(function (response) {
    return response.ok ? response.json() : null;
  }).then(function (answer) {
    if (!answer) {
      return;
    }
    try {
      window.sessionStorage.setItem("time-zone-proposed", zone);
    } catch (error) {
      // See above.
    }
    var note = document.getElementById("time-zone-note-text");
    if (answer.kept && note && script.dataset.keptText) {
      note.textContent = script.dataset.keptText.replace("%(zone)s", answer.time_zone);
    }
  }).catch(function () {
    // Not signed in any more, or offline: the next page proposes again.
  });
})();
