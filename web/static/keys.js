// The API keys page: confirm() before Revoke (the page must stay usable
// without script, so the server asks nothing), and select the new key when
// its field is focused, so that one Ctrl+C copies all of it.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-copy")) event.target.select();
  });
})();
