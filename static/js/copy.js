// Copy buttons: <button data-copy-target="input-id" data-copied-text="Copied!">.
// Works without inline script so the Content-Security-Policy can stay strict.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const input = document.getElementById(button.dataset.copyTarget);
  if (!input) return;
  const original = button.textContent;
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    // Older browsers and plain-http pages without the Clipboard API: select and copy.
    input.select();
    document.execCommand("copy");
  }
  button.textContent = button.dataset.copiedText || original;
  setTimeout(() => { button.textContent = original; }, 2000);
});
