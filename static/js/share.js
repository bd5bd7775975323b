// Share buttons: <button data-share-url="…" data-share-text="…" hidden>, shown only where the Web
// Share API exists (phones: the system share sheet). The Telegram and WhatsApp links beside them
// work without it, and without JavaScript. A file, not inline script, so the CSP can stay strict.
for (const button of document.querySelectorAll("[data-share-url]")) {
  if (!navigator.share) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.share({ text: button.dataset.shareText, url: button.dataset.shareUrl });
    } catch {
      // The customer closed the share sheet: nothing to do.
    }
  });
}
