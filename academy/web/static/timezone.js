// Preselect the browser's time zone on the sign-up form, unless the learner already chose one.
(function () {
  var select = document.getElementById("timezone");
  if (!select || select.dataset.touched) return;
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone || select.value !== "UTC") return;
  for (var i = 0; i < select.options.length; i++) {
    if (select.options[i].value === zone) { select.value = zone; return; }
  }
})();
