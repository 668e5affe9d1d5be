// The request form: "Use <primary>" (data-use, in a row's directory check) puts the suggested primary
// address in that row's email box and checks it again through htmx. A file of its own rather than an
// onclick attribute: the Content-Security-Policy runs no inline script. Listening on the document
// also covers the buttons htmx swaps in after the page loaded.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-use]");
  if (!button) {
    return;
  }
  var input = button.closest(".person-row").querySelector('input[type="email"]');
  input.value = button.dataset.use;
  htmx.trigger(input, "change");
});
