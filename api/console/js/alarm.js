// The sound-and-light alarm for critical events: a flashing banner and a looping two-tone
// through Web Audio, until someone acknowledges it. The sound can be muted per user (kept in
// this browser); the banner cannot. window.vigilAlarm shows the state (for tests and kiosks).
//   if (isCritical(event)) raise(event);
import { label } from "./format.js";

const ALWAYS = new Set(["fire", "smoke", "fall"]);
const NIGHT_FROM = 20; // a restricted zone is critical from 20:00 to 06:00 local time
const NIGHT_TO = 6;

/** Whether an event sounds the alarm: fire, smoke, falls, any critical, intrusions at night. */
export function isCritical(event) {
  if (ALWAYS.has(event.rule) || event.severity === "critical") return true;
  if (event.rule !== "restricted_zone") return false;
  const hour = new Date(event.start_time).getHours();
  return hour >= NIGHT_FROM || hour < NIGHT_TO;
}

const state = { active: false, event: null, pending: [], muted: false, audio: "none", user: "" };
window.vigilAlarm = state;
let context = null;
let nodes = null;
let ackHandler = async () => {};

function muteKey() {
  return `vigil.mute.${state.user}`;
}

/** Set who is signed in (mute is per user) and what acknowledging does. */
export function setup(user, onAcknowledge) {
  state.user = user;
  state.muted = localStorage.getItem(muteKey()) === "1";
  ackHandler = onAcknowledge;
  showMute();
  document.querySelector("#alarm .alarm-ack").onclick = () => acknowledge();
  document.getElementById("mute").onclick = () => toggleMute();
}

/** Browsers start audio only after a gesture: any click or key makes the context ready. */
export function unlock() {
  if (!context) context = new AudioContext();
  if (context.state === "suspended") context.resume();
}

function startTone() {
  unlock();
  if (nodes || state.muted) return;
  const gain = context.createGain();
  gain.gain.value = 0.0;
  gain.connect(context.destination);
  const osc = context.createOscillator();
  osc.type = "square";
  osc.frequency.value = 880;
  osc.connect(gain);
  // Two tones, 0.4 s each, on a loop: a repeating pattern scheduled by an LFO-free timer.
  const beat = () => {
    const t = context.currentTime;
    osc.frequency.setValueAtTime(880, t);
    osc.frequency.setValueAtTime(660, t + 0.4);
    gain.gain.setValueAtTime(0.12, t);
    gain.gain.setValueAtTime(0.0, t + 0.75);
  };
  beat();
  const timer = setInterval(beat, 1000);
  osc.start();
  nodes = { osc, gain, timer };
  state.audio = context.state;
  context.onstatechange = () => { state.audio = context.state; };
}

function stopTone() {
  if (!nodes) return;
  clearInterval(nodes.timer);
  nodes.osc.stop();
  nodes.osc.disconnect();
  nodes.gain.disconnect();
  nodes = null;
  state.audio = context ? "stopped" : "none";
}

function render() {
  const banner = document.getElementById("alarm");
  banner.hidden = !state.active;
  if (!state.active) return;
  const e = state.event;
  const more = state.pending.length ? ` (+${state.pending.length} more)` : "";
  banner.querySelector(".alarm-text").textContent =
    `${label(e.rule).toUpperCase()} on ${e.camera}${e.zone ? ` · ${e.zone}` : ""}${more}`;
  banner.querySelector(".alarm-open").href = `#/events/${encodeURIComponent(e.id)}`;
}

/** Sound the alarm for ``event`` (a second one queues behind the first). */
export function raise(event) {
  if (state.active && state.event.id !== event.id) {
    if (!state.pending.some((p) => p.id === event.id)) state.pending.push(event);
  } else {
    state.active = true;
    state.event = event;
  }
  render();
  startTone();
}

/** Acknowledge the shown event (in the hazard loop when the role may), then the next one. */
export async function acknowledge() {
  const event = state.event;
  if (!event) return;
  try {
    await ackHandler(event);
  } finally {
    clear(event.id);
  }
}

/** Take an event off the alarm (acknowledged here or elsewhere). */
export function clear(eventId) {
  state.pending = state.pending.filter((p) => p.id !== eventId);
  if (state.event && state.event.id === eventId) {
    state.event = state.pending.shift() || null;
    state.active = Boolean(state.event);
  }
  if (!state.active) stopTone();
  render();
}

function toggleMute() {
  state.muted = !state.muted;
  localStorage.setItem(muteKey(), state.muted ? "1" : "0");
  if (state.muted) stopTone();
  else if (state.active) startTone();
  showMute();
}

function showMute() {
  const b = document.getElementById("mute");
  b.textContent = state.muted ? "Sound off" : "Sound on";
  b.title = state.muted ? "Alarm sound muted (this browser): click to unmute" : "Mute the alarm sound";
  b.setAttribute("aria-pressed", String(state.muted));
}
