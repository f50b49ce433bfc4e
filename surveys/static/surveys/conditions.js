// Trigger conditions (templates/admin/surveys/survey/conditions_widget.html): add and remove rows.
// Without this script a spare empty row is always there and emptying a row's first box removes it.
(() => {
  const renumber = (widget) => {
    const rows = widget.querySelectorAll("tr.hub-condition");
    rows.forEach((row, index) => {
      row.querySelectorAll("input, select").forEach((box) => {
        box.name = box.name.replace(/-\d+-(path|op|value)$/, `-${index}-$1`);
      });
    });
    widget.querySelector(".hub-conditions-count").value = rows.length;
  };
  const toggleValue = (row) => {
    const op = row.querySelector("select").value;
    const value = row.querySelector('input[name$="-value"]');
    value.disabled = op === "exists";
    value.placeholder = op === "in" ? "BE, NL" : op === "exists" ? "" : "pro";
  };
  document.addEventListener("click", (event) => {
    const add = event.target.closest(".hub-condition-add");
    const remove = event.target.closest(".hub-condition-remove");
    if (!add && !remove) return;
    const widget = event.target.closest(".hub-conditions");
    const body = widget.querySelector("tbody");
    if (add) {
      const row = body.querySelector("tr.hub-condition").cloneNode(true);
      row.querySelectorAll("input").forEach((box) => { box.value = ""; box.disabled = false; });
      row.querySelector("select").value = "equals";
      body.appendChild(row);
      renumber(widget);
      row.querySelector("input").focus();
    } else {
      const row = event.target.closest("tr.hub-condition");
      if (body.querySelectorAll("tr.hub-condition").length > 1) {
        row.remove();
      } else {
        row.querySelectorAll("input").forEach((box) => { box.value = ""; });
      }
      renumber(widget);
    }
  });
  document.addEventListener("change", (event) => {
    if (event.target.matches(".hub-condition select")) toggleValue(event.target.closest("tr"));
  });
  const ready = () => document.querySelectorAll("tr.hub-condition").forEach(toggleValue);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
