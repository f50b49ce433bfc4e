// The dashboard's Copy buttons: copy the snippet named by data-target (a <pre>).
document.addEventListener("click", (event) => {
  const button = event.target.closest(".hub-copy-snippet");
  if (!button) return;
  const text = document.getElementById(button.dataset.target).textContent;
  const done = () => { button.textContent = "Copied"; setTimeout(() => { button.textContent = "Copy"; }, 1500); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done);
  } else {
    const box = document.createElement("textarea");
    box.value = text;
    document.body.appendChild(box);
    box.select();
    document.execCommand("copy");
    box.remove();
    done();
  }
});
