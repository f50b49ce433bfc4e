// Reveal and copy buttons for secrets shown on an admin change page (write keys).
document.addEventListener("click", (event) => {
  const button = event.target.closest(".hub-reveal, .hub-copy");
  if (!button) return;
  const input = button.closest(".hub-secret").querySelector(".hub-secret-value");
  if (button.classList.contains("hub-reveal")) {
    const hidden = input.type === "password";
    input.type = hidden ? "text" : "password";
    button.textContent = hidden ? "Hide" : "Show";
  } else {
    const done = () => { button.textContent = "Copied"; setTimeout(() => { button.textContent = "Copy"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done);
    } else {
      const type = input.type;
      input.type = "text";
      input.select();
      document.execCommand("copy");
      input.type = type;
      done();
    }
  }
});
