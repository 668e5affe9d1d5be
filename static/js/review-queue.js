// The review queue: a "choose all" box ticks or clears every item box it names (data-choose-all="item").
// A file of its own rather than an onclick attribute: the Content-Security-Policy runs no inline script.
document.addEventListener("change", function (event) {
  var all = event.target.closest("input[data-choose-all]");
  if (!all) {
    return;
  }
  all.form.querySelectorAll('input[type="checkbox"][name="' + all.dataset.chooseAll + '"]').forEach(function (box) {
    box.checked = all.checked;
  });
});
