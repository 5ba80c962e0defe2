// rising's embed: <script src="{BASE}/embed.js" data-gathering="{ID}" async></script>
// puts the registration form in an iframe right after the script tag: the RSVP form for a gathering,
// a training's (data-training="{ID}") or, without either, the campaign-wide sign-up. Optional:
// data-lang="es", data-font="Georgia", data-color="#0b5394", data-title (the iframe's title).
// The form lives on our origin, so the page's CSS and scripts and ours never meet; this script
// reads no cookies and adds no globals. The iframe's height follows the form (postMessage).
(() => {
  'use strict';
  const EMBED = /\/embed\.js(?:[?#].*)?$/;
  const usable = (s) => s && EMBED.test(s.src) && !s.hasAttribute('data-rising-done');

  let script = document.currentScript;
  if (!usable(script)) {
    const scripts = document.querySelectorAll('script[src]');
    script = null;
    for (let i = scripts.length - 1; i >= 0 && !script; i--) {
      if (usable(scripts[i])) script = scripts[i];
    }
  }
  if (!script) return;
  script.setAttribute('data-rising-done', '');

  const base = script.src.replace(EMBED, '');
  const origin = new URL(base).origin;
  const data = script.dataset;

  let path = '/join';
  if (data.gathering) path = `/g/${encodeURIComponent(data.gathering)}`;
  else if (data.training) path = `/t/${encodeURIComponent(data.training)}`;

  const query = new URLSearchParams({ embed: '1' });
  if (data.lang) query.set('lang', data.lang);
  if (data.font) query.set('font', data.font);
  if (data.color) query.set('color', data.color);
  // A personal "bring a friend" link to the host page carries ?ref=<code>. Other sites use `ref`
  // for their own purposes, so only a code of our shape is passed on.
  const ref = new URLSearchParams(window.location.search).get('ref');
  if (ref && /^[A-Za-z2-7]{10}$/.test(ref)) query.set('ref', ref);

  const frame = document.createElement('iframe');
  frame.src = `${base}${path}?${query}`;
  frame.title = data.title || 'Sign-up form';
  frame.setAttribute('style', 'display:block;width:100%;border:0;min-height:480px');
  frame.setAttribute('allow', 'clipboard-write');

  window.addEventListener('message', (event) => {
    if (event.origin !== origin || event.source !== frame.contentWindow) return;
    const message = event.data;
    if (!message || message.type !== 'rising:height') return;
    const height = Number(message.height);
    if (!Number.isFinite(height)) return;
    // The form now says how tall it is: no more guessing.
    frame.style.minHeight = '0';
    frame.style.height = `${Math.round(Math.min(5000, Math.max(200, height)))}px`;
  });

  const place = () => {
    const parent = script.parentNode;
    if (parent && parent !== document.head) parent.insertBefore(frame, script.nextSibling);
    else document.body.appendChild(frame);
  };
  if (script.parentNode === document.head && !document.body) {
    document.addEventListener('DOMContentLoaded', place);
  } else {
    place();
  }
})();
