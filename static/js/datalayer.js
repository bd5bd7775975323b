// Pushes the site's analytics events onto Google Tag Manager's dataLayer. The events come from a
// JSON data block the server renders (<script type="application/json" id="datalayer-events">),
// which browsers never execute, so the Content-Security-Policy needs no exception for it.
(function () {
  const block = document.getElementById("datalayer-events");
  if (!block) return;
  let events = [];
  try {
    events = JSON.parse(block.textContent);
  } catch {
    return;
  }
  window.dataLayer = window.dataLayer || [];
  for (const event of events) window.dataLayer.push(event);
})();
