// Small form behaviours without inline handlers (the CSP allows no inline script).
document.querySelectorAll("select[data-autosubmit]").forEach((s) => {
  s.addEventListener("change", () => s.form.submit());
});
