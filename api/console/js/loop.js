// The hazard loop as the console sees it: which moves a role may make from a state, and the
// one place that calls the API for them (so the routes can change without touching pages).
//   actionsFor({status: "new"}, "operator")  // [{key: "acknowledge", ...}, {key: "dismiss", ...}]
//   await move(event, "acknowledge");
import { api } from "./api.js";

// Each move: the status it leads to, from which statuses, for which roles, what it needs.
export const MOVES = {
  acknowledge: { to: "acknowledged", from: ["new"], roles: ["admin", "operator"], label: "Acknowledge", key: "a" },
  assign: { to: "assigned", from: ["new", "acknowledged"], roles: ["admin", "operator"], label: "Assign", needs: "assignee" },
  rectify: { to: "rectified", from: ["assigned"], roles: ["admin", "rectifier"], label: "Rectify", needs: "photo" },
  verify: { to: "verified", from: ["rectified"], roles: ["admin", "verifier"], label: "Verify", needs: "compare" },
  reject: { to: "assigned", from: ["rectified"], roles: ["admin", "verifier"], label: "Not fixed", needs: "reason" },
  close: { to: "closed", from: ["verified"], roles: ["admin", "verifier"], label: "Close" },
  dismiss: { to: "dismissed", from: ["new", "acknowledged", "assigned", "rectified", "verified"], roles: ["admin", "operator"], label: "Dismiss", needs: "reason", key: "d", danger: true },
  reopen: { to: "new", from: ["dismissed", "closed"], roles: ["admin", "operator"], label: "Reopen", needs: "reason" },
};

/** The moves ``role`` may make on ``event`` now; the API's own list wins when it gives one. */
export function actionsFor(event, role) {
  const allowed = event.allowed_moves; // from the hazard-loop API, when it sends one
  return Object.entries(MOVES)
    .filter(([name, m]) => (allowed ? allowed.includes(name) || allowed.includes(m.to)
      : m.from.includes(event.status) && m.roles.includes(role)))
    .map(([name, m]) => ({ name, ...m }));
}

/** Make the move; ``input`` carries {note, assignee, due, photo: File}. Returns the API's answer. */
export async function move(event, name, input = {}) {
  const m = MOVES[name];
  const path = `/events/${encodeURIComponent(event.id)}/moves`;
  if (input.photo) {
    const form = new FormData();
    form.append("to", m.to);
    if (input.note) form.append("note", input.note);
    form.append("photo", input.photo);
    return api.upload(path, form);
  }
  const body = { to: m.to };
  if (input.note) body.note = input.note;
  if (input.assignee) body.assignee = input.assignee;
  if (input.due) body.due_at = new Date(input.due).toISOString();
  return api.post(path, body);
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

/** Items past their due time (empty until the API reports due times). */
export async function overdue() {
  try {
    const page = await api.get("/events", { overdue: true, limit: 20 });
    return page.events.filter((e) => e.overdue || (e.due_at && new Date(e.due_at) < new Date()));
  } catch {
    return [];
  }
}
