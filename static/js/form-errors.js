// A form shown again with errors: each error is tied to its field (aria-describedby, aria-invalid) and the
// first field in error gets the focus, so a keyboard or screen-reader user lands where the fix is needed.
// Templates mark an error with data-error-for="<the field's id>" and an id of its own. A file of its own:
// the Content-Security-Policy runs no inline script.
(function () {
  var first = null;
  document.querySelectorAll("[data-error-for]").forEach(function (error) {
    var field = document.getElementById(error.dataset.errorFor);
    if (!field || !error.id) {
      return;
    }
    var described = (field.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (described.indexOf(error.id) < 0) {
      described.push(error.id);
    }
    field.setAttribute("aria-describedby", described.join(" "));
    field.setAttribute("aria-invalid", "true");
    if (!first) {
      first = field;
    }
  });
  if (first) {
    first.focus();
  }
})();
