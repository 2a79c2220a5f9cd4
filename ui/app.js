// Papers assistant: the page script. A click on a citation chip [n] opens and highlights the
// source card it points to; "copy" buttons copy their text; the ◐ button switches dark mode
// (remembered in this browser); the question box takes the focus on wide screens only (on a
// phone it would scroll the header away and open the keyboard).
(() => {
  const THEME_KEY = "papers-assistant-theme";

  function applyTheme(theme) {
    if (theme === "dark") document.body.classList.add("dark");
    else if (theme === "light") document.body.classList.remove("dark");
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    const area = document.createElement("textarea");
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
    return Promise.resolve();
  }

  document.addEventListener(
    "click",
    (event) => {
      const target = event.target;
      if (!target.closest) return;
      const toggle = target.closest("#theme-toggle");
      if (toggle) {
        const dark = !document.body.classList.contains("dark");
        applyTheme(dark ? "dark" : "light");
        localStorage.setItem(THEME_KEY, dark ? "dark" : "light");
        return;
      }
      const button = target.closest("button[data-copy]");
      if (button) {
        event.preventDefault();
        copy(button.dataset.copy).then(() => {
          const label = button.textContent;
          button.textContent = "copied";
          setTimeout(() => (button.textContent = label), 1200);
        });
        return;
      }
      const link = target.closest('a[href^="#src-"]');
      if (!link) return;
      const card = document.getElementById(link.getAttribute("href").slice(1));
      event.preventDefault();
      event.stopPropagation();
      if (!card) return;
      const folded = card.closest("details");
      if (folded) folded.open = true;
      const panel = card.closest("details.src-panel");
      if (panel) panel.open = true;
      card.scrollIntoView({ behavior: "smooth", block: "nearest" });
      card.classList.remove("flash");
      void card.offsetWidth; // restart the animation
      card.classList.add("flash");
    },
    true,
  );

  // Gradio mounts the page after this script runs: wait for the question box.
  const started = Date.now();
  const ready = setInterval(() => {
    const box = document.querySelector("#question textarea");
    if (!box && Date.now() - started < 30000) return;
    clearInterval(ready);
    applyTheme(localStorage.getItem(THEME_KEY));
    if (box && window.innerWidth >= 800) box.focus({ preventScroll: true });
  }, 100);
})();
