/*
 * Passkeys and security keys (WebAuthn) in the browser: registering one (the passkeys page), giving the second
 * factor with one (the code step of sign-in), and signing in with one alone (the sign-in page). The options come
 * from the portal (django-otp-webauthn), the browser turns them into a ceremony (PublicKeyCredential's JSON
 * helpers), and the answer goes back as JSON; the portal checks it and says where to go next. Served from the
 * portal's static files (the Content-Security-Policy allows no inline script); the URLs, the CSRF token (the
 * cookie is HttpOnly) and the messages ride on the #passkey element.
 */
(function () {
  "use strict";
  var box = document.getElementById("passkey");
  if (!box) {
    return;
  }
  var button = document.getElementById("passkey-button");
  var status = document.getElementById("passkey-status");
  var data = box.dataset;
  var supported = window.PublicKeyCredential && window.fetch &&
    typeof window.PublicKeyCredential.parseCreationOptionsFromJSON === "function";

  function say(text) {
    status.textContent = text;
    status.className = text ? "error" : "";
  }

  if (!supported) {
    // The sign-in page keeps its passkey button hidden; elsewhere the person is told why nothing happens.
    if (data.unsupportedText) {
      say(data.unsupportedText);
      button.disabled = true;
    }
    return;
  }
  box.hidden = false;

  function post(url, body) {
    return window.fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": data.csrfToken},
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (!response.ok) {
          throw new Error(answer.detail || data.failedText);
        }
        return answer;
      });
    });
  }

  function ceremony(options) {
    if (data.mode === "register") {
      return navigator.credentials.create({
        publicKey: window.PublicKeyCredential.parseCreationOptionsFromJSON(options)
      });
    }
    return navigator.credentials.get({
      publicKey: window.PublicKeyCredential.parseRequestOptionsFromJSON(options)
    });
  }

  button.addEventListener("click", function () {
    say("");
    button.disabled = true;
    post(data.beginUrl).then(ceremony).then(function (credential) {
      var answer = credential.toJSON();
      if (data.mode === "register") {
        var name = document.getElementById("id_name");
        answer.name = name ? name.value : "";
      }
      return post(data.completeUrl, answer);
    }).then(function (result) {
      window.location.assign(result.redirect_url);
    }).catch(function (error) {
      // The browser's own refusals are DOMExceptions (cancelled, timed out, no matching passkey), in English:
      // the portal's words instead. The portal's answers carry a message of its own, in the person's language.
      if (error instanceof window.DOMException) {
        say(error.name === "NotAllowedError" || error.name === "AbortError" ? data.cancelledText : data.failedText);
      } else {
        say((error && error.message) || data.failedText);
      }
      button.disabled = false;
    });
  });
}());
