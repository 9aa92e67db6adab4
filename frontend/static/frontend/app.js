/* Small behaviours without inline scripts. A checkbox with data-select-all="NAME" ticks or clears
   every checkbox named NAME in its form. */
document.addEventListener("change", function (event) {
  var all = event.target.closest("[data-select-all]");
  if (!all) return;
  all.form.querySelectorAll('input[type=checkbox][name="' + all.dataset.selectAll + '"]').forEach(function (box) {
    box.checked = all.checked;
  });
});
