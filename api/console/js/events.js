// The event list: filters (kept in the address), thumbnails, keyset paging ("more" and on
// scroll), live arrivals, and the keyboard: j/k select, Enter open, a acknowledge, d dismiss.
import { api } from "./api.js";
import { el, label } from "./format.js";
import { runAction } from "./actions.js";
import { eventRow } from "./rows.js";

const RULES = ["fall", "fire", "smoke", "restricted_zone", "no_helmet", "no_harness"];
const STATUSES = ["new", "acknowledged", "assigned", "rectified", "verified", "closed", "dismissed"];
const SEVERITIES = ["critical", "high", "medium", "low"];
const PAGE = 50;

function select(name, options, value, all = "any") {
  return el("select", { name, id: `f-${name}` },
    el("option", { value: "" }, all),
    options.map((o) => el("option", { value: o, selected: o === value }, label(o))));
}

function filtersFromHash() {
  return Object.fromEntries(new URLSearchParams(location.hash.split("?")[1] || ""));
}

/** The API's assignee: me, none, user:NAME or group:NAME (a bare name is a user). */
function assignee(v) {
  const s = (v || "").trim();
  return !s || ["me", "none"].includes(s) || /^(user|group):/.test(s) ? s : `user:${s}`;
}

function toApi(f) {
  const local = (v) => (v ? new Date(v).toISOString() : undefined);
  return {
    camera: f.camera, rule: f.rule, zone: f.zone, status: f.status, severity: f.severity,
    state: f.state, since: local(f.since), until: local(f.until), assignee: assignee(f.assignee),
  };
}

export async function events(view, ctx) {
  const f = filtersFromHash();
  const [cameras, groups] = await Promise.all([
    api.get("/cameras").then((cs) => cs.map((c) => c.id)).catch(() => []),
    api.get("/groups").catch(() => []), // only those who assign may list them
  ]);
  if (f.camera && !cameras.includes(f.camera)) cameras.push(f.camera);
  const form = el("form", { class: "filters", id: "filters" },
    el("label", {}, "Camera", el("select", { name: "camera", id: "f-camera" },
      el("option", { value: "" }, "any"), cameras.map((c) => el("option", { value: c, selected: c === f.camera }, c)))),
    el("label", {}, "Rule", select("rule", RULES, f.rule)),
    el("label", {}, "Zone", el("input", { name: "zone", id: "f-zone", value: f.zone || "", placeholder: "any" })),
    el("label", {}, "Status", select("status", STATUSES, f.status)),
    el("label", {}, "Severity", select("severity", SEVERITIES, f.severity)),
    el("label", {}, "Assignee", el("input", { name: "assignee", id: "f-assignee", value: f.assignee || "",
      placeholder: "any", list: "assignees", autocomplete: "off" }),
    el("datalist", { id: "assignees" }, el("option", { value: "me" }, "assigned to me or my group"),
      el("option", { value: "none" }, "assigned to no one"),
      groups.map((g) => el("option", { value: `group:${g.name}` }, g.members.join(", "))))),
    el("label", {}, "From", el("input", { name: "since", type: "datetime-local", value: f.since || "" })),
    el("label", {}, "To", el("input", { name: "until", type: "datetime-local", value: f.until || "" })),
    f.state ? el("input", { type: "hidden", name: "state", value: f.state }) : null);
  const list = el("div", { class: "feed", id: "list" });
  const count = el("p", { class: "count", id: "count" });
  const more = el("button", { type: "button", class: "more", id: "more", hidden: true }, "Older events");
  view.append(el("section", { class: "panel" },
    el("h1", {}, "Events"), form, count, list, more,
    el("p", { class: "keys" }, el("kbd", {}, "j"), "/", el("kbd", {}, "k"), " next/previous · ",
      el("kbd", {}, "Enter"), " open · ", el("kbd", {}, "a"), " acknowledge · ",
      el("kbd", {}, "d"), " dismiss")));

  let cursor = null;
  let filters = f;
  let selected = -1;
  let loading = null;
  const rows = () => [...list.querySelectorAll(".row")];
  ctx.list = [];

  let ticket = 0; // a newer filter's answer wins over an older one still on its way
  async function load(reset) {
    const mine = ++ticket;
    const params = { ...toApi(filters), limit: PAGE, cursor: reset ? undefined : cursor };
    const page = await api.get("/events", params);
    if (mine !== ticket) return;
    if (reset) { list.replaceChildren(); ctx.list = []; selected = -1; }
    cursor = page.next_cursor;
    ctx.list.push(...page.events);
    list.append(...page.events.map((e) => eventRow(e)));
    if (!ctx.list.length) list.append(el("p", { class: "empty" }, "No events match."));
    count.textContent = `${ctx.list.length}${cursor ? "+" : ""} event${ctx.list.length === 1 ? "" : "s"}`;
    more.hidden = !cursor;
  }
  const loadMore = () => {
    if (!loading && cursor) loading = load(false).finally(() => { loading = null; });
    return loading;
  };
  more.onclick = loadMore;
  form.addEventListener("change", () => {
    filters = Object.fromEntries([...new FormData(form)].filter(([, v]) => v));
    const q = new URLSearchParams(filters).toString();
    history.replaceState(null, "", `#/events${q ? `?${q}` : ""}`);
    cursor = null; // no "older" page of the old filter meanwhile
    load(true).catch((err) => {
      list.replaceChildren(el("p", { class: "empty error" }, err.message));
      count.textContent = "";
    });
  });
  form.addEventListener("submit", (e) => e.preventDefault());
  await load(true);
  performance.mark("vigil:events-rendered"); // the first page is on screen (benchmarks read it)

  const seen = new IntersectionObserver((entries) => {
    if (entries.some((x) => x.isIntersecting)) loadMore();
  });
  seen.observe(more);

  function pick(i) {
    const all = rows();
    if (!all.length) return;
    selected = Math.max(0, Math.min(all.length - 1, i));
    all.forEach((r, n) => r.classList.toggle("sel", n === selected));
    all[selected].scrollIntoView({ block: "nearest" });
    if (selected >= all.length - 3) loadMore();
  }
  const current = () => ctx.list[selected];
  const refreshRow = async (event) => {
    const fresh = await api.get(`/events/${encodeURIComponent(event.id)}`);
    const i = ctx.list.findIndex((e) => e.id === event.id);
    ctx.list[i] = fresh;
    rows()[i].replaceWith(eventRow(fresh));
    pick(i);
  };
  const onKey = (e) => {
    if (e.target.closest("input, select, textarea, dialog") || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j") pick(selected + 1);
    else if (e.key === "k") pick(selected - 1);
    else if (e.key === "Enter" && current()) location.hash = `#/events/${encodeURIComponent(current().id)}`;
    else if (e.key === "a" && current()) runAction(current(), "acknowledge", ctx, () => refreshRow(current()));
    else if (e.key === "d" && current()) runAction(current(), "dismiss", ctx, () => refreshRow(current()));
    else return;
    e.preventDefault();
  };
  document.addEventListener("keydown", onKey);

  const unsubscribe = ctx.onChange(({ type, event }) => {
    const old = list.querySelector(`[data-id="${CSS.escape(event.id)}"]`);
    if (old) {
      old.replaceWith(eventRow(event));
      const i = ctx.list.findIndex((x) => x.id === event.id);
      if (i >= 0) ctx.list[i] = event;
    } else if (type === "new" && !Object.keys(filters).length) {
      list.querySelector(".empty")?.remove();
      list.prepend(eventRow(event, { fresh: true }));
      ctx.list.unshift(event);
      if (selected >= 0) selected += 1;
    }
  });
  document.title = "Events · Vigil";
  return () => { document.removeEventListener("keydown", onKey); seen.disconnect(); unsubscribe(); };
}
