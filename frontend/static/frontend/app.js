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

/* The words of the choice made in FORM's field NAME: the chosen option's or checked radio's
   data-words, else its text. */
function chosenWords(form, name) {
  var field = form.elements[name];
  if (!field) return "";
  var chosen = field.tagName === "SELECT" ? field.options[field.selectedIndex]
    : form.querySelector('input[name="' + name + '"]:checked');
  if (!chosen) return "";
  return chosen.dataset.words || chosen.textContent.trim();
}

/* The question a form asks before it is sent: its data-confirm, or (when the question depends on
   what is chosen) the data-confirm of its checked radio button; {NAME} in it stands for the words
   of the choice made in the form's field NAME. None: sent at once. */
function confirmQuestion(form) {
  var radio = form.querySelector("input[type=radio][data-confirm]:checked");
  var question = form.dataset.confirm || (radio && radio.dataset.confirm);
  if (!question) return "";
  return question.replace(/\{([\w-]+)\}/g, function (_, name) { return chosenWords(form, name); });
}

/* A form with data-busy="WORDS" says WORDS beside its submit button once sent and disables the
   button, so a long request (onboarding a firm migrates its schema) is not sent twice. A form with
   a question (confirmQuestion) asks it first and is sent only on OK; without this script the form
   is sent as it is. */
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = confirmQuestion(form);
  if (question && !window.confirm(question)) {
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
