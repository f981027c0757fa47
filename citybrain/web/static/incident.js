// Camera frames on the incident page and the camera wall. A strip thumbnail shows its frame
// in the large view (without scripts it is a plain link to the frame). A frame no longer
// retained in the stream says so instead of showing a broken image.
(function () {
  "use strict";
  const big = document.getElementById("frame-big");
  const gone = _("frame no longer retained");
  const replace = (img) => img.replaceWith(Object.assign(document.createElement("em"), { textContent: gone }));
  document.querySelectorAll("#frames img, .wall img").forEach((img) => {
    if (img.complete && img.naturalWidth === 0 && img.getAttribute("loading") !== "lazy") replace(img);
    else img.addEventListener("error", () => replace(img));
  });
  if (!big) return;
  document.querySelectorAll("#frames .strip a").forEach((a) => a.addEventListener("click", (ev) => {
    ev.preventDefault();
    big.src = a.href;
    document.querySelectorAll("#frames .strip a").forEach((x) => x.removeAttribute("aria-current"));
    a.setAttribute("aria-current", "true");
  }));
})();
