/*
 * The invitation link is /invite/#CODE: browsers never send a URL's fragment to a server, so the code stays
 * out of access logs, proxies and Referer headers. This script, served from the portal's own static files
 * (no inline script: the Content-Security-Policy allows 'self' only), takes the code from the address bar,
 * removes it there (history, bookmarks, shared screens), and submits the page's form, which carries the
 * CSRF token. Without JavaScript the person pastes the code into the same form.
 */
(function () {
  "use strict";
  var form = document.getElementById("invite-code-form");
  var code = window.location.hash.replace(/^#/, "");
  if (!form || !code) {
    return;
  }
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
  try {
    code = decodeURIComponent(code);
  } catch (error) {
    // A mangled fragment: post it as it is, the portal answers that the link is not valid.
  }
  form.elements.namedItem("code").value = code;
  // The prototype's submit: a control named "submit" would shadow form.submit.
  HTMLFormElement.prototype.submit.call(form);
})();
