// rising's form page script. The page works without it; with it, the form is sent as JSON and its
// errors and thank-you appear without a reload, the share link gets a copy button, and inside the
// embed's iframe the page tells embed.js its height. Every word comes from the page's data-
// attributes. Same origin only; sends no cookies, stores nothing.
(() => {
  'use strict';
  const framed = window.parent !== window;

  const postHeight = () => {
    if (!framed) return;
    // The body, not the document: the document is never shorter than the iframe, so it could not
    // shrink after the form is replaced by the (shorter) thank-you.
    const height = Math.ceil(document.body.getBoundingClientRect().height);
    window.parent.postMessage({ type: 'rising:height', height }, '*');
  };

  const make = (tag, attributes, text) => {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  };

  const wireCopy = (button, input, copied) => {
    button.hidden = false;
    input.addEventListener('focus', () => input.select());
    button.addEventListener('click', async () => {
      let done = false;
      try {
        await navigator.clipboard.writeText(input.value);
        done = true;
      } catch (_) {
        input.focus();
        input.select();
        try {
          done = document.execCommand('copy');
        } catch (_) {
          done = false;
        }
      }
      if (done) button.textContent = copied;
    });
  };

  const thanks = document.getElementById('rising-thanks');
  const copy = document.getElementById('rising-copy');
  const share = document.getElementById('rising-share');
  if (thanks && copy && share) wireCopy(copy, share, thanks.dataset.copied);

  const form = document.getElementById('rising-form');
  if (form) enhance(form);

  if (framed) {
    window.addEventListener('load', postHeight);
    if (window.ResizeObserver) new ResizeObserver(postHeight).observe(document.body);
    postHeight();
  }

  function enhance(form) {
    const words = form.dataset;
    const summary = document.getElementById('rising-errors');
    const button = form.querySelector('button[type=submit]');
    const label = button.textContent;
    let busy = false;

    // Our messages, in the page's language, instead of the browser's bubbles.
    form.noValidate = true;
    if (!summary.hidden) summary.focus();

    summary.addEventListener('click', (event) => {
      const link = event.target.closest('a[href^="#"]');
      const field = link && document.getElementById(link.getAttribute('href').slice(1));
      if (!field) return;
      event.preventDefault();
      field.focus();
    });

    const describe = (field, invalid) => {
      const id = `${field.id}-error`;
      const ids = (field.getAttribute('aria-describedby') || '').split(/\s+/).filter((x) => x && x !== id);
      if (invalid) ids.push(id);
      if (ids.length) field.setAttribute('aria-describedby', ids.join(' '));
      else field.removeAttribute('aria-describedby');
      if (invalid) field.setAttribute('aria-invalid', 'true');
      else field.removeAttribute('aria-invalid');
    };

    const clear = () => {
      for (const p of form.querySelectorAll('.error')) {
        p.textContent = '';
        p.hidden = true;
      }
      for (const field of form.querySelectorAll('[aria-invalid]')) describe(field, false);
      summary.textContent = '';
      summary.hidden = true;
    };

    const showSummary = (nodes) => {
      summary.append(...nodes);
      summary.hidden = false;
      summary.focus();
    };

    const fieldErrors = (errors) => {
      const list = make('ul');
      for (const { field, message } of errors) {
        const input = field && document.getElementById(field);
        const slot = field && document.getElementById(`${field}-error`);
        const item = make('li');
        if (input && slot) {
          slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
          slot.hidden = false;
          describe(input, true);
          item.append(make('a', { href: `#${field}` }, message));
        } else {
          item.textContent = message;
        }
        list.append(item);
      }
      showSummary([make('p', null, words.summary.replace('{count}', errors.length)), list]);
    };

    const done = (body) => {
      const box = make('div', { id: 'rising-thanks', role: 'status', tabindex: '-1' });
      box.append(make('h2', null, words.thanks));
      for (const line of body.lines || []) box.append(make('p', null, String(line)));
      if (body.share_url) {
        const field = make('div', { class: 'field' });
        const row = make('div', { class: 'share' });
        const input = make('input', { class: 'text', type: 'text', id: 'rising-share', readonly: '' });
        input.value = body.share_url;
        const button = make('button', { type: 'button', id: 'rising-copy' }, words.copy);
        row.append(input, button);
        field.append(make('label', { for: 'rising-share' }, words.share), row);
        box.append(field);
        wireCopy(button, input, words.copied);
      }
      form.replaceWith(box);
      box.focus();
    };

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (busy) return;
      busy = true;
      button.disabled = true;
      button.textContent = words.sending;

      // The same submission_id on every try: a retry or a second click never registers twice.
      const data = {};
      for (const field of form.elements) {
        if (!field.name) continue;
        data[field.name] = field.type === 'checkbox' ? field.checked : field.value;
      }
      let response = null;
      let body = {};
      try {
        response = await fetch(words.registerUrl, {
          method: 'POST',
          credentials: 'omit',
          cache: 'no-store',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify(data),
        });
        body = (await response.json().catch(() => null)) || {};
      } catch (_) {
        response = null;
      }

      busy = false;
      button.disabled = false;
      button.textContent = label;
      clear();
      if (response && response.ok) {
        done(body);
      } else if (response && response.status === 422 && Array.isArray(body.errors) && body.errors.length) {
        fieldErrors(body.errors);
      } else {
        const message = response ? body.message || words.unavailable : words.network;
        showSummary([make('p', null, message)]);
      }
      postHeight();
    });
  }
})();
