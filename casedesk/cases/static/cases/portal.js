// The new-case form: the critical-only questions show while Critical is chosen.
// Progressive: without this script every field is visible and the server checks them.
(function () {
  "use strict";
  var form = document.getElementById("new-case");
  if (!form) return;
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
