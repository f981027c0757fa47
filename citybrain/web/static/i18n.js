// Messages for the page's scripts in the page's language: the server puts the catalogue of
// the request's language in a JSON block (web/i18n.js_messages); `_()` is also the keyword
// Babel extracts from these files (babel.cfg), so a script's strings are in the same .po.
(function () {
  "use strict";
  const block = document.getElementById("citybrain-i18n");
  const messages = block ? JSON.parse(block.textContent) : {};
  // _("{n} open", {n: 3}): the translation, with {name} placeholders filled in.
  window._ = (msgid, params) => {
    const text = messages[msgid] || msgid;
    return params ? text.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m)) : text;
  };
  window.citybrainLang = document.documentElement.lang;
})();
