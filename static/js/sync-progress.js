// A running sync's admin page: its progress line (#sync-progress, a polite live region) is brought up to date
// every few seconds in place, without reloading the page (a timed reload would move a keyboard or screen-reader
// user back to the top, and cannot be paused); once the run has ended, the page is reloaded once to show its
// outcome. A file of its own: the Content-Security-Policy runs no inline script.
(function () {
  var progress = document.getElementById("sync-progress");
  if (!progress) {
    return;
  }
  var every = parseInt(progress.dataset.every || "2", 10) * 1000;
  function update() {
    fetch(window.location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("sync-progress");
        if (!fresh) {
          window.location.reload();  // the run has ended: show how
          return;
        }
        if (fresh.textContent !== progress.textContent) {
          progress.textContent = fresh.textContent;
        }
        window.setTimeout(update, every);
      })
      .catch(function () { window.setTimeout(update, every * 2); });
  }
  window.setTimeout(update, every);
})();
