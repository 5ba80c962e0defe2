// rising's host pages: on the invite page, read a chosen contacts file (CSV or vCard) into the
// textarea, so the host can check it before the preview. The page works without this script
// (paste the contacts). Reads only the file the host picks; sends nothing anywhere.
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
