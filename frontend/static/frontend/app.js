/* Small behaviours without inline scripts. A checkbox with data-select-all="NAME" ticks or clears
   every checkbox named NAME in its form. */
document.addEventListener("change", function (event) {
  var all = event.target.closest("[data-select-all]");
  if (!all) return;
  all.form.querySelectorAll('input[type=checkbox][name="' + all.dataset.selectAll + '"]').forEach(function (box) {
    box.checked = all.checked;
  });
});

/* A button with data-add-row="NAME" (hidden until this script runs: without it the form keeps its
   rows) adds a copy of the last row of [data-rows="NAME"], emptied, its ids and labels numbered on;
   at data-max rows it hides itself (the server refuses more). */
document.querySelectorAll("[data-add-row]").forEach(function (button) { button.hidden = false; });
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-add-row]");
  if (!button) return;
  var rows = document.querySelector('[data-rows="' + button.dataset.addRow + '"]');
  var n = rows.children.length + 1;
  var row = rows.lastElementChild.cloneNode(true);
  var renumber = function (value) { return value.replace(/-\d+$/, "-" + n); };
  row.querySelectorAll("[id]").forEach(function (el) { el.id = renumber(el.id); });
  row.querySelectorAll("label[for]").forEach(function (el) { el.htmlFor = renumber(el.htmlFor); });
  row.querySelectorAll("input").forEach(function (el) { el.value = ""; });
  row.querySelectorAll("select").forEach(function (el) { el.selectedIndex = 0; });
  rows.appendChild(row);
  row.querySelector("select, input").focus();
  if (n >= Number(button.dataset.max || 20)) button.hidden = true;
});

/* A form with data-busy="WORDS" says WORDS beside its submit button once sent and disables the
   button, so a long request (onboarding a firm migrates its schema) is not sent twice. A form with
   data-confirm="QUESTION" asks it first and is sent only on OK. */
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  if (!form.dataset.busy) return;
  var button = event.submitter || form.querySelector("button[type=submit], button:not([type])");
  if (button) {
    setTimeout(function () { button.disabled = true; }, 0);  // after the browser has taken its value
  }
  var note = form.querySelector("[data-busy-note]");
  if (note) { note.textContent = form.dataset.busy; note.hidden = false; }
});
