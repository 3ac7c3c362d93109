// Good/bad buttons: POST the label, show what the warehouse stored. Text only (textContent),
// never HTML; while a pipeline run holds the warehouse the server waits for it, so "saving…" may last.
"use strict";
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-label]");
  if (!button) return;
  const box = button.closest("[data-signal-id]");
  const status = box.querySelector("[data-label-status]");
  const buttons = box.querySelectorAll("button[data-label]");
  buttons.forEach((b) => { b.disabled = true; });
  status.textContent = "saving…";
  try {
    const response = await fetch("/api/labels", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ signal_id: box.dataset.signalId, label: button.dataset.label }),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || response.statusText);
    box.dataset.label = answer.label;
    status.textContent = answer.label;
  } catch (error) {
    status.textContent = "not saved: " + error.message;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
});
