// The hazard-loop buttons of an event and the small dialogs they need (reason, assignee and
// due date, "after" photo from the phone's camera, before/after side by side).
//   view.append(actionBar(event, ctx, reload));
import { el, toast } from "./format.js";
import { actionsFor, move } from "./loop.js";

const DUE_HOURS = { critical: 4, high: 24, medium: 72, low: 168 };

function dialog(title, body, submitLabel) {
  return new Promise((resolve) => {
    const form = el("form", { method: "dialog", class: "form" },
      el("h1", {}, title), body,
      el("div", { class: "actions" },
        el("button", { type: "submit", class: "primary", value: "ok" }, submitLabel),
        el("button", { type: "submit", value: "cancel", formnovalidate: true }, "Cancel")));
    const d = el("dialog", { class: "loop-dialog" }, form);
    document.body.append(d);
    d.addEventListener("close", () => {
      const ok = d.returnValue === "ok";
      const data = ok ? new FormData(form) : null;
      d.remove();
      resolve(data);
    });
    d.showModal();
  });
}

function dueDefault(event) {
  const d = new Date(Date.now() + (DUE_HOURS[event.severity] || 72) * 3600e3);
  d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
  return d.toISOString().slice(0, 16);
}

/** Ask what the move needs; null when the user cancels. */
async function inputFor(event, action, loop) {
  switch (action.needs) {
    case "reason": {
      const data = await dialog(`${action.label}: why?`,
        el("label", {}, "Reason", el("textarea", { name: "note", required: true, rows: 3, autofocus: true })),
        action.label);
      return data && { note: data.get("note").trim() };
    }
    case "assignee": {
      const data = await dialog("Assign",
        [el("label", {}, "User, or group:NAME", el("input", { name: "assignee", required: true, autofocus: true, placeholder: "e.g. kim or group:maintenance" })),
          el("label", {}, "Due", el("input", { name: "due", type: "datetime-local", value: dueDefault(event) })),
          el("label", {}, "Note", el("input", { name: "note" }))],
        "Assign");
      return data && { assignee: data.get("assignee").trim(), due: data.get("due"), note: data.get("note") };
    }
    case "photo": {
      const data = await dialog("Rectified: the \"after\" photo",
        [el("label", {}, "Photo", el("input", { name: "photo", type: "file", accept: "image/*", capture: "environment", required: true })),
          el("label", {}, "What was done", el("input", { name: "note" }))],
        "Send");
      return data && { photo: data.get("photo"), note: data.get("note") };
    }
    case "compare": {
      const after = loop && loop.after.length ? loop.after[loop.after.length - 1].url : null;
      const before = (loop && loop.before_url) || event.snapshot_url;
      const data = await dialog("Verify: before and after",
        [el("div", { class: "pair" },
          el("figure", {}, before ? el("img", { src: before, alt: "before" }) : "no snapshot", el("figcaption", {}, "Before")),
          el("figure", {}, after ? el("img", { src: after, alt: "after" }) : el("p", { class: "muted" }, "no photo"), el("figcaption", {}, "After"))),
        el("label", {}, "Finding", el("input", { name: "note" }))],
        "Verified");
      return data && { note: data.get("note") };
    }
    default:
      return {};
  }
}

/** Run one move on ``event``; ``done`` is called with the API's answer. ``loop``: the
 * event's workflow view, when the page has it. */
export async function runAction(event, name, ctx, done, loop = null) {
  const action = actionsFor(event, ctx.user, loop).find((a) => a.name === name);
  if (!action) return false;
  const input = await inputFor(event, action, loop);
  if (!input) return false;
  try {
    const answer = await move(event, name, input);
    toast(`${action.label}: done`);
    if (done) await done(answer);
    return true;
  } catch (err) {
    toast(`${action.label}: ${err.message}`);
    return false;
  }
}

/** The buttons of the moves the role may make on the event now (none: nothing rendered). */
export function actionBar(event, ctx, done, loop = null) {
  const actions = actionsFor(event, ctx.user, loop);
  if (!actions.length) return null;
  return el("div", { class: "actions", id: "actions" }, actions.map((a) =>
    el("button", {
      type: "button", class: a.danger ? "danger" : a.name === "acknowledge" ? "primary" : "",
      dataset: { move: a.name }, title: a.key ? `${a.label} (${a.key})` : a.label,
      onclick: () => runAction(event, a.name, ctx, done, loop),
    }, a.label)));
}
