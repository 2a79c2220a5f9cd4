// Papers assistant: a click on a citation number [n] in an answer opens and highlights the
// source card it points to (cards sit beside the chat; earlier answers' cards are folded).
(() => {
  document.addEventListener(
    "click",
    (event) => {
      const link = event.target.closest && event.target.closest('a[href^="#src-"]');
      if (!link) return;
      const card = document.getElementById(link.getAttribute("href").slice(1));
      if (!card) return;
      event.preventDefault();
      event.stopPropagation();
      const folded = card.closest("details");
      if (folded) folded.open = true;
      card.scrollIntoView({ behavior: "smooth", block: "nearest" });
      card.classList.remove("flash");
      void card.offsetWidth; // restart the animation
      card.classList.add("flash");
    },
    true,
  );
})();
