// The hazard loop as the console sees it: which moves a role may make from a state, and the
// one place that calls the loop's routes (POST /events/{id}/moves, /events/{id}/photos,
// GET /events/{id}/workflow, /assignments, POST /hazards), so the pages never build them.
//   actionsFor({status: "new"}, "operator")  // [{name: "acknowledge", ...}, {name: "dismiss", ...}]
//   await move(event, "acknowledge");
import { api, ApiError } from "./api.js";

// Each move: the status it leads to, from which statuses, for which roles, what it needs.
export const MOVES = {
  acknowledge: { to: "acknowledged", from: ["new"], roles: ["admin", "operator"], label: "Acknowledge", key: "a" },
  assign: { to: "assigned", from: ["acknowledged"], roles: ["admin", "operator"], label: "Assign", needs: "assignee" },
  rectify: { to: "rectified", from: ["assigned"], roles: ["admin", "rectifier"], label: "Rectify", needs: "photo", assigneeOnly: true },
  verify: { to: "verified", from: ["rectified"], roles: ["admin", "verifier"], label: "Verify", needs: "compare" },
  reopen: { to: "assigned", from: ["rectified"], roles: ["admin", "verifier"], label: "Reopen: not fixed", needs: "reason" },
  close: { to: "closed", from: ["verified"], roles: ["admin", "verifier"], label: "Close" },
  dismiss: { to: "dismissed", from: ["new", "acknowledged", "assigned", "rectified", "verified"], roles: ["admin", "operator"], label: "Dismiss", needs: "reason", key: "d", danger: true },
};

function isMine(user, assignee) {
  return assignee === `user:${user.name}` || (user.group && assignee === `group:${user.group}`);
}

/** The moves ``user`` may make on ``event`` now. ``loop`` (the event's workflow view, when
 * the server has one) narrows them to what the server allows and to the rectifier's own. */
export function actionsFor(event, user, loop = null) {
  const role = typeof user === "string" ? user : user.role;
  return Object.entries(MOVES)
    .filter(([, m]) => m.from.includes(event.status) && m.roles.includes(role))
    .filter(([, m]) => !loop || loop.allowed.includes(m.to))
    .filter(([, m]) => !(m.assigneeOnly && role !== "admin" && loop && !isMine(user, loop.assignee)))
    .map(([name, m]) => ({ name, ...m }));
}

/** The event's workflow view (assignee, due, before/after photos), or null when the server
 * has no hazard-loop routes. */
export async function loopState(event) {
  try {
    return await api.get(`/events/${encodeURIComponent(event.id)}/workflow`);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 405)) return null;
    throw err;
  }
}

/** "group:NAME", "user:NAME" or a bare user name, as the API's assignee. */
export function assigneeOf(text) {
  const [kind, name] = text.includes(":") ? text.split(":", 2) : ["user", text];
  return { [kind === "group" ? "group" : "user"]: name.trim() };
}

/** Make the move; ``input`` carries {note, assignee, due, photo: File}. */
export async function move(event, name, input = {}) {
  const m = MOVES[name];
  const id = encodeURIComponent(event.id);
  const body = { to: m.to };
  if (input.note) body.note = input.note;
  if (input.assignee) body.assignee = assigneeOf(input.assignee);
  if (input.due) body.due = new Date(input.due).toISOString();
  if (input.photo) {
    const form = new FormData();
    form.append("photo", input.photo);
    const photo = await api.upload(`/events/${id}/photos`, form);
    body.photo_ids = [photo.id];
  }
  return api.post(`/events/${id}/moves`, body);
}

/** A hazard reported by hand (the phone form): photo, camera or area, description. */
export async function reportHazard({ photo, area, camera, description, severity }) {
  const form = new FormData();
  form.append("photo", photo);
  if (camera) form.append("camera", camera);
  if (area) form.append("area", area);
  form.append("description", description);
  if (severity) form.append("severity", severity);
  return api.upload("/hazards", form);
}

/** Items past their due time, as event-like rows (empty when the server has no loop). */
export async function overdue() {
  try {
    const items = await api.get("/assignments", { overdue: true, limit: 20 });
    return items.map((a) => ({
      id: a.event_id, camera: a.camera, rule: a.rule, severity: a.severity, status: a.status,
      assignee: a.assignee, due: a.due, overdue: a.overdue,
    }));
  } catch {
    return [];
  }
}
