// Screens that follow pending requests without a manual reload: the Upload
// Codes screen's table of requests and the page of one request. While the
// region marked data-poll says "true" (a request in it is still pending),
// fetch its data-src again every 2 s and swap it in. Keyboard focus and open
// error lists survive the swap; each [data-upload-id] whose data-status
// changed has its data-announce read out by the polite live region
// ([data-poll-live]). Also, on every page that loads it (the Allocations tab
// too): confirm() before a form with data-confirm, and a busy submit button.
(function () {
  "use strict";

  var INTERVAL_MS = 2000;
  var MAX_FAILURES = 5;
  var failures = 0;

  function region() {
    return document.querySelector("[data-poll][data-src]");
  }

  function say(message) {
    var live = document.querySelector("[data-poll-live]");
    if (live) live.textContent = message;
  }

  // The requests in a region (the region itself may be one), by id.
  function rowsById(root) {
    var rows = {};
    [root].concat(Array.from(root.querySelectorAll("[data-upload-id]"))).forEach(function (row) {
      if (row.hasAttribute("data-upload-id")) rows[row.getAttribute("data-upload-id")] = row;
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

  // What has focus inside the region, as a key that names it in the fresh
  // copy ("" for a control without one).
  function focusKey(root) {
    var active = document.activeElement;
    if (!active || !root.contains(active)) return null;
    var keyed = active.closest("[data-focus]");
    return keyed && root.contains(keyed) ? keyed.getAttribute("data-focus") : "";
  }

  function restoreFocus(root, key) {
    if (key === null) return;
    var target = (key && root.querySelector('[data-focus="' + CSS.escape(key) + '"]')) ||
      root.querySelector("[data-focus-fallback]");
    // The control is gone (a queued request started processing: no Delete
    // any more): the region's fallback keeps focus rather than the page body.
    if (target) target.focus({ preventScroll: true });
  }

  function swap(html) {
    var current = region();
    var template = document.createElement("template");
    template.innerHTML = html;
    var fresh = current && template.content.getElementById(current.id);
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
    var root = region();
    if (!root || root.getAttribute("data-poll") !== "true") return;
    if (document.hidden) return schedule();
    fetch(root.getAttribute("data-src"), { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.redirected) {  // to the login page: the session ended
          say("You were logged out, so this page stopped updating. Reload the page to log in.");
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
        say("This page stopped updating. Reload the page to see the latest status.");
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
