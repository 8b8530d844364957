// The new-case form: the critical-only questions show while Critical is chosen, and the
// submit button is disabled once pressed (the form's hidden token already makes a second
// post show the first post's case; this spares the customer the wait and the doubt).
// Progressive: without this script every field is visible and the server checks them.
(function () {
  "use strict";
  var form = document.getElementById("new-case");
  if (!form) return;

  var buttons = form.querySelectorAll("button[data-once]");
  form.addEventListener("submit", function () {
    // After the browser has taken this submission: a disabled button's name/value
    // would not be posted, and the form must still go out.
    window.setTimeout(function () {
      for (var i = 0; i < buttons.length; i++) {
        buttons[i].disabled = true;
        buttons[i].setAttribute("aria-busy", "true");
      }
    }, 0);
  });
  // Back from the next page (the browser's page cache keeps the disabled state).
  window.addEventListener("pageshow", function () {
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].disabled = false;
      buttons[i].removeAttribute("aria-busy");
    }
  });

  var details = form.querySelector("[data-critical-details]");
  var radios = form.querySelectorAll("input[name=priority]");
  if (!details || !radios.length) return;
  function update() {
    var chosen = form.querySelector("input[name=priority]:checked");
    details.hidden = !(chosen && chosen.hasAttribute("data-critical"));
  }
  for (var i = 0; i < radios.length; i++) radios[i].addEventListener("change", update);
  update();
})();
