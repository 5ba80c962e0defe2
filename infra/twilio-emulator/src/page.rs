//! The phone simulator page served at `GET /`.

pub const INDEX_HTML: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Twilio emulator – phone simulator</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1b1b1b; background: #f4f4f6; }
  body { margin: 0; }
  main { max-width: 34rem; margin: 0 auto; padding: 1rem; }
  h1 { font-size: 1.25rem; margin: 0 0 .75rem; }
  label { display: block; font-weight: 600; margin: .5rem 0 .25rem; }
  input, textarea, button { font: inherit; box-sizing: border-box; width: 100%; padding: .6rem; border-radius: .5rem; border: 1px solid #767676; }
  textarea { min-height: 4.5rem; resize: vertical; }
  button { background: #0b57d0; color: #fff; border: 0; margin-top: .5rem; cursor: pointer; }
  button:focus-visible, input:focus-visible, textarea:focus-visible { outline: 3px solid #f0a400; outline-offset: 2px; }
  .row { display: flex; gap: .5rem; }
  .row > * { flex: 1; }
  #conversation { list-style: none; padding: .75rem; margin: 1rem 0 0; background: #fff; border-radius: .75rem; min-height: 8rem; max-height: 60vh; overflow-y: auto; }
  #conversation li { max-width: 80%; margin: .4rem 0; padding: .5rem .75rem; border-radius: 1rem; white-space: pre-wrap; overflow-wrap: anywhere; }
  #conversation li.phone { margin-left: auto; background: #0b57d0; color: #fff; }
  #conversation li.project { margin-right: auto; background: #e6e6ea; }
  #conversation .meta { display: block; font-size: .75rem; opacity: .8; margin-top: .2rem; }
  #status { min-height: 1.5rem; margin-top: .5rem; }
  .secondary { background: #5f6368; }
</style>
</head>
<body>
<main>
  <h1>Phone simulator</h1>
  <p id="project">Texts go to the project's number.</p>
  <form id="send-form">
    <label for="phone">Your phone number (E.164)</label>
    <input id="phone" name="phone" type="tel" inputmode="tel" autocomplete="off" value="+15551234567" pattern="\+[1-9][0-9]{1,14}" required>
    <label for="body">Message</label>
    <textarea id="body" name="body" required></textarea>
    <div class="row">
      <button type="submit">Send text</button>
      <button type="button" id="refresh" class="secondary">Refresh</button>
    </div>
  </form>
  <div id="status" role="status" aria-live="polite"></div>
  <h2 style="font-size:1rem;margin:1rem 0 0">Conversation</h2>
  <ol id="conversation" aria-label="Conversation with the project" aria-live="polite"></ol>
</main>
<script>
(function () {
  "use strict";
  var form = document.getElementById("send-form");
  var phone = document.getElementById("phone");
  var body = document.getElementById("body");
  var list = document.getElementById("conversation");
  var status = document.getElementById("status");
  var project = "";

  fetch("/_emulator/health").then(function (r) { return r.json(); }).then(function (h) {
    project = h.phone_number;
    document.getElementById("project").textContent = "Texts go to the project's number " + project + ".";
  });

  function render(messages) {
    list.textContent = "";
    messages.forEach(function (m) {
      var li = document.createElement("li");
      var mine = m.from === phone.value.trim();
      li.className = mine ? "phone" : "project";
      li.textContent = m.body;
      var meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = (mine ? "You" : "Project") + " · " + m.status + (m.error_code ? " (" + m.error_code + ")" : "") + " · " + m.date;
      li.appendChild(meta);
      list.appendChild(li);
    });
    list.scrollTop = list.scrollHeight;
  }

  function refresh() {
    var p = phone.value.trim();
    if (!p) { return Promise.resolve(); }
    return fetch("/_emulator/messages?phone=" + encodeURIComponent(p))
      .then(function (r) { return r.json(); })
      .then(render)
      .catch(function (e) { status.textContent = "Could not load messages: " + e; });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = body.value;
    status.textContent = "Sending…";
    fetch("/_emulator/inbound", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ from: phone.value.trim(), body: text })
    }).then(function (r) { return r.json(); }).then(function (res) {
      if (res.error) { status.textContent = "Error: " + res.error; return; }
      body.value = "";
      var n = (res.replies || []).length;
      status.textContent = res.error_code
        ? "Webhook problem " + res.error_code + ": " + res.error_message
        : "Delivered (webhook " + res.webhook_status + "), " + n + " repl" + (n === 1 ? "y" : "ies") + ".";
      return refresh();
    }).catch(function (e) { status.textContent = "Error: " + e; });
  });

  document.getElementById("refresh").addEventListener("click", refresh);
  phone.addEventListener("change", refresh);
  refresh();
  setInterval(refresh, 3000);
})();
</script>
</body>
</html>
"##;
