// rising's host pages: on the invite page, read a chosen contacts file (CSV or vCard) into the
// textarea, so the host can check it before the preview; on the organizers' message templates page,
// count the segments of a typical invitation as the organizer types. The pages work without this
// script (the server counts when the wording is saved). Sends nothing anywhere.
(() => {
  'use strict';
  const field = document.getElementById('file-field');
  const input = document.getElementById('file');
  const area = document.getElementById('contacts');
  if (!field || !input || !area || !window.FileReader) return;
  field.hidden = false;
  input.addEventListener('change', () => {
    const file = input.files && input.files[0];
    if (!file || file.size > 512 * 1024) return;
    const reader = new FileReader();
    reader.onload = () => {
      area.value = String(reader.result || '');
      area.focus();
    };
    reader.readAsText(file);
  });
})();

(() => {
  'use strict';
  // GSM 03.38: the basic set (one septet each) and the extension table (two septets each).
  const BASIC = '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
    '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
  const EXTENSION = '\f^{}\\[~]|€';
  // The look-alikes the send worker replaces before sending (curly quotes, dashes, ellipsis, spaces).
  const LOOK_ALIKES = [[/[\u2018\u2019\u201A\u2032]/g, "'"], [/[\u201C\u201D\u201E\u2033]/g, '"'],
    [/[\u2013\u2014\u2212]/g, '-'], [/\u2026/g, '...'], [/[\u00A0\u2009\u202F]/g, ' ']];
  const size = (text) => {
    for (const [from, to] of LOOK_ALIKES) text = text.replace(from, to);
    const chars = Array.from(text);
    const gsm = chars.every((c) => BASIC.includes(c) || EXTENSION.includes(c));
    const units = gsm
      ? chars.reduce((n, c) => n + (EXTENSION.includes(c) ? 2 : 1), 0)
      : chars.reduce((n, c) => n + (c.length > 1 ? 2 : 1), 0);
    const [single, multi] = gsm ? [160, 153] : [70, 67];
    const segments = units === 0 ? 0 : units <= single ? 1 : Math.ceil(units / multi);
    return { gsm, units, segments };
  };
  for (const area of document.querySelectorAll('textarea[data-segments]')) {
    const out = document.getElementById(area.dataset.segments);
    if (!out) continue;
    const values = {};
    for (const line of (area.dataset.sample || '').split('\n')) {
      const at = line.indexOf('=');
      if (at > 0) values[line.slice(0, at)] = line.slice(at + 1);
    }
    const update = () => {
      const text = area.value.replace(/\{(\w+)\}/g, (all, name) => (name in values ? values[name] : all));
      const s = size(text.trim());
      out.textContent = (area.dataset.format || '')
        .replace('{segments}', String(s.segments))
        .replace('{encoding}', s.gsm ? area.dataset.gsm7 : area.dataset.ucs2)
        .replace('{units}', String(s.units));
    };
    area.addEventListener('input', update);
  }
})();
