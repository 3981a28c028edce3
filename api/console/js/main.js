// The console's shell: sign-in, the role's pages in the top bar, the hash router, and the
// one live stream that feeds the pages and the alarm.
import { api, ApiError, fromRecord, whenSignedOut } from "./api.js";
import * as alarm from "./alarm.js";
import { el, toast } from "./format.js";
import { move, actionsFor } from "./loop.js";
import { live } from "./live.js";
import { events } from "./events.js";
import { eventPage } from "./event.js";
import { stats } from "./stats.js";
import { report } from "./report.js";
import { zones } from "./zones.js";
import { replay } from "./replay.js";
import { incident } from "./incident.js";
import { setupPush } from "./push.js";

// Page: [path, title, roles that see it, render(view, ctx, ...params)]
const PAGES = [
  ["live", "Live", ["admin", "operator", "verifier", "viewer"], live],
  ["events", "Events", ["admin", "operator", "rectifier", "verifier", "viewer"], events],
  ["replay", "Replay", ["admin", "operator", "verifier", "viewer"], replay],
  ["stats", "Stats", ["admin", "operator", "verifier", "viewer"], stats],
  ["zones", "Zones", ["admin", "verifier"], zones],
  ["report", "Report hazard", ["admin", "operator", "rectifier", "verifier"], report],
];
const ALARM_ROLES = new Set(["admin", "operator"]);

const ctx = { user: null, stream: null, listeners: new Set(), cleanup: null };
window.vigil = ctx;

/** Pages subscribe to live changes: ``ctx.onChange(fn)`` returns the unsubscribe. */
ctx.onChange = (fn) => {
  ctx.listeners.add(fn);
  return () => ctx.listeners.delete(fn);
};

function connect() {
  if (ctx.stream) ctx.stream.close();
  const source = new EventSource("/api/v1/stream");
  const brand = document.querySelector(".brand");
  source.onopen = () => brand.classList.remove("offline");
  source.onerror = () => brand.classList.add("offline");
  const handle = (message) => {
    const data = JSON.parse(message.data);
    if (!data.after || !data.after.id) return;
    const event = fromRecord(data.after);
    const change = { type: data.type, event, before: data.before };
    for (const fn of ctx.listeners) fn(change);
    if (ALARM_ROLES.has(ctx.user.role)) {
      if (data.type === "new" && event.status === "new" && alarm.isCritical(event)) alarm.raise(event);
      else if (event.status !== "new") alarm.clear(event.id);
    }
  };
  for (const type of ["new", "update", "end", "status"]) source.addEventListener(type, handle);
  ctx.stream = source;
}

async function acknowledgeFromAlarm(event) {
  if (!actionsFor(event, ctx.user).some((a) => a.name === "acknowledge")) return;
  try {
    await move(event, "acknowledge");
    toast(`Acknowledged ${event.rule} on ${event.camera}`);
  } catch (err) {
    toast(`Silenced here; not acknowledged in the loop: ${err.message}`);
  }
}

function showLogin(message = "") {
  document.querySelector(".top").hidden = true;
  document.getElementById("alarm").hidden = true;
  if (ctx.stream) ctx.stream.close();
  const error = el("p", { class: "error", id: "login-error" }, message);
  const name = el("input", { name: "name", autocomplete: "username", required: true, autofocus: true });
  const password = el("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = el("form", { class: "panel form login", id: "login" },
    el("div", { class: "brand" }, el("span", { class: "dot" }), "Vigil"),
    el("label", {}, "Name", name),
    el("label", {}, "Password", password),
    error,
    el("button", { class: "primary", type: "submit" }, "Sign in"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    alarm.unlock(); // the sign-in click lets the alarm sound later
    try {
      await api.post("/auth/login", { name: name.value, password: password.value });
      await start();
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.message : "cannot reach the server";
    }
  });
  document.getElementById("view").replaceChildren(form);
}

function pagesFor(role) {
  return PAGES.filter(([, , roles]) => roles.includes(role));
}

function renderTop() {
  const top = document.querySelector(".top");
  top.hidden = false;
  const nav = document.getElementById("nav");
  nav.replaceChildren(...pagesFor(ctx.user.role).map(([path, title]) =>
    el("a", { href: `#/${path}`, dataset: { page: path } }, title)));
  document.getElementById("who").replaceChildren(
    el("span", { class: "name" }, ctx.user.name, " "),
    el("span", { class: "role", id: "role" }, ctx.user.role));
  document.getElementById("logout").onclick = async () => {
    await api.post("/auth/logout").catch(() => {});
    ctx.user = null;
    location.hash = "";
    showLogin();
  };
}

async function route() {
  if (!ctx.user) return;
  if (ctx.cleanup) ctx.cleanup();
  ctx.cleanup = null;
  const pages = pagesFor(ctx.user.role);
  const [where] = location.hash.replace(/^#\/?/, "").split("?");
  const [path, ...params] = where.split("/").map(decodeURIComponent);
  let page = pages.find(([p]) => p === path);
  let render = page && page[3];
  if (path === "events" && params[0]) render = eventPage;
  if (path === "incident" && (page = pages.find(([p]) => p === "replay"))) render = incident;
  if (!render) {
    page = pages[0];
    render = page[3];
    history.replaceState(null, "", `#/${page[0]}`);
  }
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("on", a.dataset.page === (page ? page[0] : path));
  }
  const view = document.getElementById("view");
  view.replaceChildren();
  try {
    ctx.cleanup = (await render(view, ctx, ...params)) || null;
  } catch (err) {
    view.replaceChildren(el("p", { class: "empty" }, err.message));
  }
}

async function start() {
  try {
    ctx.user = (await api.get("/auth/me")).user;
  } catch {
    showLogin();
    return;
  }
  renderTop();
  setupPush().catch(() => {}); // push is a nicety: the console works without it
  alarm.setup(ctx.user.name, acknowledgeFromAlarm);
  connect();
  await route();
}

whenSignedOut(() => {
  ctx.user = null;
  showLogin("Your session ended; sign in again.");
});
window.addEventListener("hashchange", route);
document.addEventListener("pointerdown", () => ctx.user && alarm.unlock(), { once: true });
start();
