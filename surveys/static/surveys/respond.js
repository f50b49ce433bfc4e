// Progressive enhancement: when the person changes their score, ask the follow-up question of the new
// band (0-6, 7-8, 9-10). Without JavaScript the form works the same; the question follows on reload.
document.addEventListener("change", function (event) {
  var input = event.target;
  var label = document.getElementById("followup-label");
  if (!label || input.name !== "rating") return;
  var score = Number(input.value);
  var band = score >= 9 ? "promoter" : score >= 7 ? "passive" : "detractor";
  label.textContent = label.dataset[band];
});
