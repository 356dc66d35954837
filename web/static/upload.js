// The Upload Codes form, enhanced (without script it posts as a plain form):
// a file dropped anywhere on the drop zone fills its file input, and the
// form is sent with XMLHttpRequest, so that a progress bar (and a polite
// status line, at every quarter) shows how much of a large file has gone.
// The server responds as it does to the plain form: a 303 to the screen,
// whose page (with its notice) replaces this one's <main>.
(function () {
  "use strict";

  function zoneOf(event) {
    return event.target.closest ? event.target.closest("[data-drop-zone]") : null;
  }

  function choose(zone, files) {
    var input = zone.querySelector("input[type=file]");
    if (!input || !files || !files.length) return;
    var one = new DataTransfer();  // the input takes one file
    one.items.add(files[0]);
    input.files = one.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  document.addEventListener("change", function (event) {
    var zone = zoneOf(event);
    var chosen = zone && zone.querySelector(".drop-chosen");
    if (chosen && event.target.files) {
      chosen.textContent = event.target.files.length ? "Chosen: " + event.target.files[0].name : "";
    }
  });

  ["dragenter", "dragover"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var zone = zoneOf(event);
      if (!zone || !event.dataTransfer || Array.from(event.dataTransfer.types).indexOf("Files") < 0) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      zone.classList.add("drop-over");
    });
  });

  document.addEventListener("dragleave", function (event) {
    var zone = zoneOf(event);
    if (zone && !zone.contains(event.relatedTarget)) zone.classList.remove("drop-over");
  });

  document.addEventListener("drop", function (event) {
    var zone = zoneOf(event);
    if (!zone) return;
    event.preventDefault();
    zone.classList.remove("drop-over");
    choose(zone, event.dataTransfer && event.dataTransfer.files);
  });

  function reveal() {
    document.querySelectorAll("[data-drop-zone] .drop-hint").forEach(function (hint) {
      hint.hidden = false;
    });
  }

  function idle(form) {
    form.removeAttribute("aria-busy");
    var button = form.querySelector("button[data-idle-text]");
    if (button) button.textContent = button.getAttribute("data-idle-text");
  }

  function show(percent, status, announce) {
    var box = document.getElementById("upload-progress");
    var bar = document.getElementById("upload-progress-bar");
    var text = document.getElementById("upload-progress-text");
    if (box) box.hidden = false;
    if (bar) {
      bar.value = percent;
      bar.textContent = percent + "%";
    }
    if (text) text.textContent = percent + "%";
    if (announce && status) status.textContent = announce;
  }

  // The server's page, in place of this one (what the plain form post shows).
  function follow(xhr) {
    var here = new URL(window.location.href);
    var there = xhr.responseURL ? new URL(xhr.responseURL) : null;
    var fresh = there && there.pathname === here.pathname && xhr.status === 200
      ? new DOMParser().parseFromString(xhr.responseText, "text/html") : null;
    var main = fresh && fresh.getElementById("main");
    if (!main || !document.getElementById("main")) {
      window.location.assign(there ? there.href : here.href);  // the login page, an error page
      return;
    }
    document.getElementById("main").replaceWith(document.adoptNode(main));
    document.title = fresh.title;
    window.history.replaceState(null, "", there.href);
    reveal();
    document.dispatchEvent(new CustomEvent("uploads:replaced"));
    var notice = main.querySelector(".notice");
    (notice || main).setAttribute("tabindex", "-1");
    (notice || main).focus();
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    // uploads.js has already refused a second click while a file is going.
    if (event.defaultPrevented || !form.hasAttribute("data-upload-form")) return;
    if (!window.FormData || !window.DOMParser || !("upload" in new XMLHttpRequest())) return;
    event.preventDefault();
    form.setAttribute("aria-busy", "true");
    var status = document.getElementById("upload-status");
    var quarter = -1;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.onprogress = function (progress) {
      if (!progress.lengthComputable) return;
      var percent = Math.floor((progress.loaded / progress.total) * 100);
      var now = Math.floor(percent / 25);
      show(percent, status, now > quarter ? "Uploading: " + percent + "% sent." : null);
      quarter = Math.max(quarter, now);
    };
    xhr.upload.onload = function () {
      show(100, status, "The file is sent; waiting for the server's response.");
    };
    xhr.onload = function () {
      follow(xhr);
    };
    xhr.onerror = xhr.onabort = xhr.ontimeout = function () {
      idle(form);
      document.getElementById("upload-progress").hidden = true;
      if (status) status.textContent = "The upload failed: the connection to the server broke. Reload the page to see whether the request is listed before sending the file again.";
    };
    show(0, status, "Uploading: 0% sent.");
    quarter = 0;
    xhr.send(new FormData(form));  // the CSRF token is one of the form's fields
  });

  reveal();
})();
