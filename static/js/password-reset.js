// The password-reset link carries its code after "#": browsers never send that part to a server, so
// it is in no access log. This script, on the page the link opens, takes the code out of the address
// bar (and so out of the history and of the Referer of anything the page loads), then posts it with
// the page's CSRF token; the portal keeps it in the session and sends the browser on to the form to
// set the password, whose URL holds no secret. Without JavaScript the page asks for the code, which
// the mail gives too. A file of its own, not inline: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";
  var form = document.getElementById("reset-code-form");
  var code = window.location.hash.replace(/^#/, "");
  if (!form || !code) {
    return;
  }
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
  try {
    code = decodeURIComponent(code);
  } catch (error) {
    // Not percent-encoded after all: post it as it came, the portal says if it is no good.
  }
  form.elements.code.value = code;
  form.setAttribute("aria-busy", "true");
  form.submit();
}());
