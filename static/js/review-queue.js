// The review queue: a "choose all" box ticks or clears every item box it names (data-choose-all="item"), and
// a button that decides everyone matching the filter asks first (data-confirm). A file of its own rather than
// onclick attributes: the Content-Security-Policy runs no inline script.
document.addEventListener("change", function (event) {
  var all = event.target.closest("input[data-choose-all]");
  if (!all) {
    return;
  }
  all.form.querySelectorAll('input[type="checkbox"][name="' + all.dataset.chooseAll + '"]').forEach(function (box) {
    box.checked = all.checked;
  });
});
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
  }
});
