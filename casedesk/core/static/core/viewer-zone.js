// Tell the server the viewer's time zone, so pages show times in it
// (casedesk.core.middleware); it takes effect from the next page on.
(function () {
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  // Zone names are letters, digits, "/", "_", "+" and "-": all safe in a cookie as they are.
  if (!zone || !/^[A-Za-z0-9_+\-\/]+$/.test(zone)) { return; }
  var match = document.cookie.match(/(?:^|;\s*)casedesk_tz=([^;]*)/);
  var current = match ? match[1] : null;
  if (current === zone) { return; }
  document.cookie = "casedesk_tz=" + zone +
    "; path=/; max-age=31536000; SameSite=Lax" + (location.protocol === "https:" ? "; Secure" : "");
})();
