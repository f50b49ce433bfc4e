// Progressive enhancement: every form also works without JavaScript.

// The email's score link opens the page with that score ready to send (a GET records nothing, as mail
// scanners open every link): send it at once, so one click in the email is the answer.
(function () {
  var form = document.querySelector("form[data-send-on-load]");
  if (!form) return;
  var hint = document.getElementById("confirm-hint");
  if (hint && hint.dataset.sending) hint.textContent = hint.dataset.sending;
  // Sent while the page is still loading, the form's answer replaces this page in the history
  // (HTML's navigation rules), so going back later does not send the link's score again.
  if (form.requestSubmit) form.requestSubmit();
  else form.submit();
})();

// When the person changes their score, ask the follow-up question of the new band (0-6, 7-8, 9-10).
// Without JavaScript the question follows on reload.
document.addEventListener("change", function (event) {
  var input = event.target;
  var label = document.getElementById("followup-label");
  if (!label || input.name !== "rating") return;
  var score = Number(input.value);
  var band = score >= 9 ? "promoter" : score >= 7 ? "passive" : "detractor";
  label.textContent = label.dataset[band];
  // A comment written for another band's question: say so under the new question (keep or change it).
  var earlier = document.getElementById("comment-earlier");
  if (earlier) earlier.hidden = earlier.dataset.band === band;
});
