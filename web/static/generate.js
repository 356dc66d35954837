// The Generate codes tab: an example of the format and its strength, shown
// as the fields change. The example is made here, from the browser's own
// source of randomness, to show the layout: it is never a stored code, and
// the server makes the real codes from its own (docs/product.md#generation-requests).
(function () {
  "use strict";

  var MIN_BITS = 40;

  function field(id) { return document.getElementById(id); }

  // Uniform over the alphabet: random bytes past the largest multiple of its
  // size are drawn again, as the server does, so no character is favoured.
  function randomCharacters(alphabet, count) {
    var limit = 256 - (256 % alphabet.length), made = "", bytes = new Uint8Array(count * 2 + 16);
    while (made.length < count) {
      window.crypto.getRandomValues(bytes);
      for (var i = 0; i < bytes.length && made.length < count; i++) {
        if (bytes[i] < limit) made += alphabet.charAt(bytes[i] % alphabet.length);
      }
    }
    return made;
  }

  function wholeNumber(text) { return /^\d+$/.test(text) ? parseInt(text, 10) : NaN; }

  function show() {
    var alphabet = field("alphabet").value.trim(), length = wholeNumber(field("length").value.trim());
    var group = wholeNumber(field("group").value.trim()), separator = field("separator").value;
    var prefix = field("prefix").value.trim(), suffix = field("suffix").value.trim();
    var code = field("example-code"), strength = field("example-strength");
    var distinct = new Set(alphabet.split("")).size === alphabet.length;
    if (!/^[A-Za-z0-9]{2,64}$/.test(alphabet) || !distinct || !(length >= 6 && length <= 64) || !(group >= 0)) {
      code.textContent = "—";
      strength.textContent = "Fill in the alphabet (2 to 64 different letters and digits), a length of 6 to 64 and a group size to see an example.";
      return;
    }
    var random = randomCharacters(alphabet, length), parts = [];
    for (var i = 0; i < length; i += group || length) parts.push(random.slice(i, i + (group || length)));
    code.textContent = prefix + parts.join(separator) + suffix;
    var bits = length * Math.log2(alphabet.length);
    strength.textContent = "Strength: " + bits.toFixed(1) + " bits of randomness" +
      (bits < MIN_BITS ? ", fewer than the " + MIN_BITS + " needed: make the codes longer." : ".");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = field("generate-form");
    if (!form || !window.crypto || !window.crypto.getRandomValues) return;
    field("format-example").hidden = false;
    form.addEventListener("input", show);
    form.addEventListener("change", show);
    show();
  });
})();
