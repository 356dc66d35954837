// The Upload Codes screen without a manual reload: while the table of
// requests says data-poll="true" (a request on it is still pending), fetch
// the table again every 2 s and swap it in. Keyboard focus and open error
// lists survive the swap; status changes are read out by the polite live
// region. Also: confirm() before Delete, and a busy Upload button.
(function () {
  "use strict";

  var INTERVAL_MS = 2000;
  var MAX_FAILURES = 5;
  var failures = 0;

  function table() {
    return document.getElementById("requests");
  }

  function say(message) {
    var live = document.getElementById("requests-live");
    if (live) live.textContent = message;
  }

  function rowsById(root) {
    var rows = {};
    root.querySelectorAll("tr[data-upload-id]").forEach(function (row) {
      rows[row.getAttribute("data-upload-id")] = row;
    });
    return rows;
  }

  function changes(before, after) {
    var old = rowsById(before), messages = [];
    Object.entries(rowsById(after)).forEach(function (entry) {
      var previous = old[entry[0]];
      if (previous && previous.getAttribute("data-status") !== entry[1].getAttribute("data-status")) {
        messages.push(entry[1].getAttribute("data-announce"));
      }
    });
    return messages;
  }

  // What has focus inside the table, as a key that names it in the fresh copy.
  function focusKey(root) {
    var active = document.activeElement;
    if (!active || !root.contains(active)) return null;
    var keyed = active.closest("[data-focus]");
    return keyed ? keyed.getAttribute("data-focus") : "table";
  }

  function restoreFocus(root, key) {
    if (key === null) return;
    var target = root.querySelector('[data-focus="' + key + '"]') || root.querySelector('[data-focus="table"]');
    // The control is gone (a queued request started processing: no Delete
    // any more): the table itself keeps focus rather than the page body.
    if (target) target.focus({ preventScroll: true });
  }

  function swap(html) {
    var current = table();
    var template = document.createElement("template");
    template.innerHTML = html;
    var fresh = template.content.getElementById("requests");
    if (!current || !fresh) return false;
    var key = focusKey(current);
    current.querySelectorAll("details[open]").forEach(function (details) {
      var twin = details.id && fresh.querySelector("#" + CSS.escape(details.id));
      if (twin) twin.open = true;
    });
    var messages = changes(current, fresh);
    current.replaceWith(fresh);
    restoreFocus(fresh, key);
    if (messages.length) say(messages.join(" "));
    return true;
  }

  function refresh() {
    var root = table();
    if (!root || root.getAttribute("data-poll") !== "true") return;
    if (document.hidden) return schedule();
    fetch(root.getAttribute("data-src"), { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.redirected) {  // to the login page: the session ended
          say("You were logged out, so the list of requests stopped updating. Reload the page to log in.");
          return null;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        if (html === null) return;
        failures = 0;
        if (swap(html)) schedule();
      })
      .catch(function () {
        failures += 1;
        if (failures < MAX_FAILURES) return schedule();
        say("The list of requests stopped updating. Reload the page to see their status.");
      });
  }

  // One timer at a time: upload.js asks again when it swaps in a new page
  // (after a file is sent, polling that had stopped must start anew).
  var timer = null;
  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, INTERVAL_MS);
  }
  document.addEventListener("uploads:replaced", schedule);

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    // A second click while a file is on its way would upload it twice.
    if (form.getAttribute("aria-busy") === "true" || (question && !window.confirm(question))) {
      event.preventDefault();
      return;
    }
    var button = form.querySelector("button[data-busy-text]");
    if (button) {
      button.setAttribute("data-idle-text", button.textContent);
      button.textContent = button.getAttribute("data-busy-text");
      form.setAttribute("aria-busy", "true");
    }
  });

  // Back to this page from the browser's cache: the upload is over.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[aria-busy]").forEach(function (form) {
      form.removeAttribute("aria-busy");
      var button = form.querySelector("button[data-idle-text]");
      if (button) button.textContent = button.getAttribute("data-idle-text");
    });
  });

  schedule();
})();
