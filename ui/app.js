// Papers assistant: the page script. A click on a citation chip [n] opens and highlights the
// source card it points to; "copy" buttons copy their text; the ◐ button switches dark mode
// (remembered in this browser); the question box takes the focus on wide screens only (on a
// phone it would scroll the header away and open the keyboard); the chat follows the newest
// turn as it streams, unless the reader scrolled up (see followChat); on a phone a tapped
// library row scrolls its paper into view; a comparison table sorts by a clicked header.
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

  // A comparison table (the digest's papers side by side) sorts by the column whose header
  // is clicked: a cell that is a number by its value (the # column), any other alphabetically,
  // a cell the abstract did not fill ("not stated ...") last; a second click reverses it.
  function sortKey(cell) {
    if (cell.classList.contains("dim")) return null;
    const text = cell.textContent.trim();
    return /^-?\d+(?:\.\d+)?$/.test(text) ? parseFloat(text) : text.toLowerCase();
  }

  function sortTable(header) {
    const table = header.closest("table");
    const column = Number(header.dataset.sort);
    const down = header.getAttribute("aria-sort") !== "ascending";
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    rows.sort((a, b) => {
      const x = sortKey(a.cells[column]);
      const y = sortKey(b.cells[column]);
      if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
      let order;
      if (typeof x === "number" && typeof y === "number") order = x - y;
      else if (typeof x === typeof y) order = x.localeCompare(y);
      else order = typeof x === "number" ? -1 : 1;
      return down ? order : -order;
    });
    for (const row of rows) body.appendChild(row);
    for (const th of table.tHead.rows[0].cells) th.removeAttribute("aria-sort");
    header.setAttribute("aria-sort", down ? "ascending" : "descending");
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
      const star = target.closest("button[data-star]");
      if (star) {
        // ☆ on a source card: hand the paper's id to the app's hidden save field and button
        // (assistant/ui/app.py, "star-id" and "star-go"), which keeps it in "starred".
        event.preventDefault();
        const field = document.querySelector("#star-id textarea, #star-id input");
        const go = document.querySelector("#star-go");
        if (!field || !go) return;
        field.value = star.dataset.star;
        field.dispatchEvent(new Event("input", { bubbles: true }));
        setTimeout(() => go.click(), 50);
        star.textContent = "★";
        star.title = "Saved to starred";
        return;
      }
      const header = target.closest("table.compare th[data-sort]");
      if (header) {
        sortTable(header);
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

  // The chat follows the conversation: whenever it grows (a question, streamed words, the
  // checked answer, a restored chat) its scroll box goes to the bottom, so the newest turn's
  // last line is in view. A reader who scrolls up (more than FOLLOW_SLACK px from the bottom)
  // stays where they are until they scroll back down, or ask the next question.
  // Gradio scrolls its inner .bubble-wrap, but with a max_height and no height it is the
  // #chatbot block that scrolls (gradio 6.31): use whichever box actually scrolls.
  const FOLLOW_SLACK = 40;
  const follow = { on: true, ours: -1 };

  function chatBox() {
    const chat = document.getElementById("chatbot");
    if (!chat) return null;
    for (const el of [chat.querySelector(".bubble-wrap"), chat]) {
      if (!el || !el.clientHeight) continue;
      const overflow = getComputedStyle(el).overflowY;
      if ((overflow === "auto" || overflow === "scroll") && el.scrollHeight > el.clientHeight + 1)
        return el;
    }
    return null; // everything fits (or the tab is hidden): nothing to scroll
  }

  function fromBottom(box) {
    return box.scrollHeight - box.clientHeight - box.scrollTop;
  }

  function toBottom() {
    const box = follow.on && chatBox();
    if (!box) return;
    if (fromBottom(box) > 1) box.scrollTop = box.scrollHeight;
    follow.ours = box.scrollTop;
  }

  function onScroll(event) {
    const box = event.target;
    if (box !== chatBox()) return; // a code block's own scroll, a hidden tab
    if (Math.abs(box.scrollTop - follow.ours) < 2) return; // the scroll toBottom made
    follow.on = fromBottom(box) <= FOLLOW_SLACK;
    follow.ours = -1;
  }

  function followChat(chat) {
    if (chat.dataset.follows) return;
    chat.dataset.follows = "1";
    new MutationObserver(toBottom).observe(chat, {
      childList: true,
      subtree: true,
      characterData: true,
    });
    // Sizes change without a mutation too: the tab shown again, the window resized.
    const sized = new ResizeObserver(toBottom);
    sized.observe(chat);
    if (chat.firstElementChild) sized.observe(chat.firstElementChild);
    chat.addEventListener("scroll", onScroll, { capture: true, passive: true });
    toBottom();
  }

  // Asking a question means reading its answer: follow again.
  function asked() {
    follow.on = true;
    follow.ours = -1;
  }
  document.addEventListener(
    "click",
    (event) => {
      if (event.target.closest && event.target.closest("#send, #ask-paper")) asked();
    },
    true,
  );
  document.addEventListener(
    "keydown",
    (event) => {
      if (event.key === "Enter" && !event.shiftKey && event.target.closest?.("#question")) asked();
    },
    true,
  );

  // On a phone the paper opens below the whole table: a tapped row brings it into view.
  let tapped = 0;
  document.addEventListener(
    "click",
    (event) => {
      if (event.target.closest && event.target.closest("#library-table")) tapped = Date.now();
    },
    true,
  );
  function followPaper(paper) {
    if (paper.dataset.follows) return;
    paper.dataset.follows = "1";
    new MutationObserver(() => {
      if (Date.now() - tapped > 10000 || window.innerWidth >= 800) return;
      tapped = 0;
      paper.scrollIntoView({ behavior: "smooth", block: "start" });
    }).observe(paper, { childList: true, subtree: true, characterData: true });
  }

  // Gradio mounts the page after this script runs: wait for the question box.
  const started = Date.now();
  const ready = setInterval(() => {
    const box = document.querySelector("#question textarea");
    if (!box && Date.now() - started < 30000) return;
    clearInterval(ready);
    applyTheme(localStorage.getItem(THEME_KEY));
    if (box && window.innerWidth >= 800) box.focus({ preventScroll: true });
  }, 100);
  // The chat box, once mounted (and again should Gradio ever mount a new one).
  setInterval(() => {
    const chat = document.getElementById("chatbot");
    if (chat) followChat(chat);
    const paper = document.getElementById("paper");
    if (paper) followPaper(paper);
  }, 250);
})();
