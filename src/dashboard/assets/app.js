// walnats dashboard: live refresh, actions, the live feed. Plain module,
// no dependencies. Untrusted text (payloads, headers, names) is only ever
// put in the page with textContent; HTML swapped in comes from the
// dashboard's own server, which escapes everything.
const body = document.body;
const prefix = body.dataset.prefix || "";
const refresh = Number(body.dataset.refresh) || 5000;
const readOnly = body.dataset.readOnly === "true";
const tokenKey = `walnats-dashboard-token:${location.host}${prefix}`;
const notice = document.getElementById("notice");
let busy = 0;

function say(text, bad = false) {
  if (!notice) return;
  notice.classList.toggle("bad", bad);
  notice.textContent = text;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => (notice.textContent = ""), 8000);
}

function token() {
  return sessionStorage.getItem(tokenKey) || "";
}

async function post(path, payload) {
  const response = await fetch(`${prefix}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${token()}`,
    },
    body: JSON.stringify(payload),
    credentials: "omit",
  });
  let data = {};
  try {
    data = await response.json();
  } catch {
    // An empty or non-JSON answer: the status says enough.
  }
  if (!response.ok) {
    const error = new Error(data.error || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

// The token form: kept for this tab only (sessionStorage), sent as a header.
const form = document.getElementById("token-form");
if (form) {
  const input = document.getElementById("token");
  const state = document.getElementById("token-state");
  const show = () => (state.textContent = token() ? "token set" : "no token");
  show();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    sessionStorage.setItem(tokenKey, input.value);
    input.value = "";
    try {
      await post("/api/token", {});
      state.textContent = "token accepted";
    } catch (error) {
      sessionStorage.removeItem(tokenKey);
      state.textContent = error.status === 401
        ? "wrong token"
        : `cannot check: ${error.message}`;
    }
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(tokenKey);
    show();
  });
}

// The overview's live part: swapped in place, keeping keyboard focus.
const live = document.getElementById("live");
// How to find the focused element again after a swap: its id, or for the
// action buttons (which have none) their data attributes.
function focusKey(element) {
  if (!element || element === document.body) return undefined;
  if (element.id) return `#${CSS.escape(element.id)}`;
  const parts = ["action", "actor", "event", "sequence"]
    .filter((k) => element.dataset && element.dataset[k] !== undefined)
    .map((k) => `[data-${k}="${CSS.escape(element.dataset[k])}"]`);
  return parts.length > 0
    ? `${element.tagName.toLowerCase()}${parts.join("")}`
    : undefined;
}
async function reload() {
  if (!live) return location.reload();
  const focused = focusKey(document.activeElement);
  const response = await fetch(live.dataset.partial, { credentials: "omit" });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  live.innerHTML = await response.text();
  if (focused) {
    (live.querySelector(focused) ?? document.querySelector(focused))?.focus();
  }
}
if (live) {
  setInterval(() => {
    if (document.hidden || busy > 0) return;
    reload().catch((error) => say(`Refresh failed: ${error.message}`, true));
  }, refresh);
}

async function act(button) {
  const action = button.dataset.action;
  const event = button.dataset.event;
  const actor = button.dataset.actor;
  const sequence = Number(button.dataset.sequence);
  const total = Number(button.dataset.total);
  if (readOnly) return say("The dashboard is read-only.", true);
  if (!token()) {
    say("Enter the admin token first.", true);
    document.getElementById("token")?.focus();
    return;
  }
  const filter = actor ? { event, actor } : { event };
  switch (action) {
    case "pause":
      await post("/api/pause", { actor });
      say(`Paused ${actor}.`);
      break;
    case "resume":
      await post("/api/resume", { actor });
      say(`Resumed ${actor}.`);
      break;
    case "replay": {
      const r = await post("/api/replay", { event, sequences: [sequence] });
      say(`Replayed ${r.replayed} dead letter(s); ${r.remaining} left.`);
      break;
    }
    case "delete": {
      if (!confirm(`Delete dead letter #${sequence} for good?`)) return;
      const r = await post("/api/delete", { event, sequences: [sequence] });
      say(`Deleted ${r.deleted} dead letter(s); ${r.remaining} left.`);
      break;
    }
    case "replay-all": {
      if (!confirm(`Replay ${total} dead letter(s)?`)) return;
      const progress = document.getElementById("progress");
      let done = 0;
      for (;;) {
        const r = await post("/api/replay", {
          ...filter,
          all: true,
          limit: 100,
        });
        done += r.replayed;
        if (progress) {
          progress.textContent = `replayed ${done} of ${done + r.remaining}`;
        }
        if (r.remaining === 0 || r.replayed === 0) break;
      }
      say(`Replayed ${done} dead letter(s).`);
      break;
    }
    case "delete-all": {
      if (!confirm(`Delete all ${total} dead letter(s) for good?`)) return;
      const r = await post("/api/delete", { ...filter, all: true });
      say(`Deleted ${r.deleted} dead letter(s).`);
      break;
    }
    default:
      return;
  }
  if (button.dataset.then) location.assign(button.dataset.then);
  else if (live) await reload();
  else location.reload();
}

document.addEventListener("click", (e) => {
  const button = e.target instanceof Element &&
    e.target.closest("button[data-action]");
  if (!button) return;
  busy++;
  button.disabled = true;
  act(button).catch((error) => {
    say(
      error.status === 401
        ? "Wrong token: enter the admin token again."
        : `Failed: ${error.message}`,
      true,
    );
  }).finally(() => {
    busy--;
    button.disabled = false;
  });
});

// The live feed (server-sent events).
const feed = document.getElementById("feed");
if (feed) {
  const state = document.getElementById("feed-state");
  const filter = document.getElementById("feed-filter");
  const paused = document.getElementById("feed-pause");
  const MAX = 200;
  document.getElementById("feed-clear").addEventListener("click", () => {
    feed.replaceChildren();
  });
  const add = (item) => {
    if (paused.checked) return;
    if (filter.value && filter.value !== item.event) return;
    const li = document.createElement("li");
    li.dataset.event = item.event;
    const meta = document.createElement("div");
    meta.className = "meta";
    const name = document.createElement("span");
    name.className = "event";
    name.textContent = item.event;
    const time = document.createElement("time");
    time.dateTime = item.time;
    time.textContent = new Date(item.time).toLocaleTimeString();
    const extra = document.createElement("span");
    const id = item.headers["Nats-Msg-Id"];
    extra.textContent = ` · ${item.size} bytes${id ? ` · id ${id}` : ""}${
      item.kind === "base64" ? " · base64" : ""
    }${item.truncated ? " · cut" : ""}`;
    meta.append(name, time, extra);
    const pre = document.createElement("pre");
    pre.textContent = item.data;
    li.append(meta, pre);
    feed.prepend(li);
    while (feed.children.length > MAX) feed.lastElementChild.remove();
  };
  const source = new EventSource(feed.dataset.source);
  source.addEventListener("message", (e) => add(JSON.parse(e.data)));
  source.addEventListener("ready", (e) => {
    const { subjects } = JSON.parse(e.data);
    state.textContent = subjects.length === 0
      ? "Connected; there are no events to watch yet."
      : `Watching ${subjects.length} event(s).`;
  });
  source.addEventListener("failure", (e) => {
    state.textContent = `The feed failed: ${JSON.parse(e.data).error}`;
  });
  source.addEventListener("dropped", (e) => {
    say(
      `${JSON.parse(e.data).count} message(s) not shown: the page fell behind.`,
    );
  });
  source.addEventListener("skipped", (e) => {
    say(`${JSON.parse(e.data).count} message(s) not shown (rate limit).`);
  });
  source.addEventListener("error", () => {
    state.textContent = "Disconnected; reconnecting…";
  });
}
