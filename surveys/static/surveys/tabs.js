// A survey's admin page in tabs (templates/admin/surveys/survey/change_form.html). Every part carries a
// class hub-tab-<name>; the tab with the first error opens first, else Triggers. Without this script
// every part shows, one after another.
document.addEventListener("DOMContentLoaded", () => {
  const nav = document.querySelector(".hub-tabs");
  if (!nav) return;
  const buttons = [...nav.querySelectorAll("button[data-tab]")];
  const parts = (tab) => [...document.querySelectorAll(`.hub-tab-${tab}`)];
  const show = (tab) => {
    buttons.forEach((button) => {
      const on = button.dataset.tab === tab;
      button.setAttribute("aria-selected", on ? "true" : "false");
      button.classList.toggle("hub-tab-active", on);
      parts(button.dataset.tab).forEach((part) => { part.hidden = !on; });
    });
  };
  buttons.forEach((button) => button.addEventListener("click", () => show(button.dataset.tab)));
  const withError = buttons.find((button) =>
    parts(button.dataset.tab).some((part) => part.querySelector(".errorlist, .errors")));
  nav.setAttribute("role", "tablist");
  buttons.forEach((button) => button.setAttribute("role", "tab"));
  nav.hidden = false;
  show((withError || buttons[0]).dataset.tab);
});
