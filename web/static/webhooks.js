// The Webhooks screens: a Copy button beside a new signing secret (the page
// works without script: the field selects itself when focused, so that one
// Ctrl+C copies all of it).
(function () {
  "use strict";

  document.addEventListener("focusin", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-copy")) event.target.select();
  });

  document.querySelectorAll("[data-copy-row]").forEach(function (row) {
    var button = row.querySelector("[data-copy-target]");
    var status = row.querySelector("[data-copy-status]");
    var field = document.getElementById(button.getAttribute("data-copy-target"));
    row.hidden = false;
    button.addEventListener("click", function () {
      field.select();
      // The Clipboard API needs a secure context; elsewhere the selection is left for Ctrl+C.
      var copying = navigator.clipboard ? navigator.clipboard.writeText(field.value) : Promise.reject();
      copying.then(
        function () { status.textContent = "Copied. Paste it into your receiver's configuration."; },
        function () { status.textContent = "Selected: press Ctrl+C (⌘C on a Mac) to copy it."; }
      );
    });
  });
})();
