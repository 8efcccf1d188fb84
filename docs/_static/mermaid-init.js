// Draw the page's diagrams (<pre class="mermaid">) with the vendored mermaid.min.js,
// in mermaid's dark theme when the page is dark (Furo's switch, or the system's).
document.addEventListener("DOMContentLoaded", () => {
  const chosen = document.body.dataset.theme; // Furo: "auto", "light" or "dark"
  const dark =
    chosen === "dark" ||
    (chosen !== "light" && window.matchMedia("(prefers-color-scheme: dark)").matches);
  mermaid.initialize({ startOnLoad: false, theme: dark ? "dark" : "default" });
  mermaid.run({ querySelector: "pre.mermaid" });
});
