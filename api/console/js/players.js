// Players that speak wall time (epoch seconds), for the replay pages:
//   const p = new RecordingPlayer(video);  await p.load(recordings);  p.seek(wall);  p.wall()
//   const c = new ClipPlayer(video, clips);  // event clips where a camera has no recording
// Both offer covers(wall), next(wall), ready(), play(), pause(), setRate(r) and destroy(), so one
// SyncClock can drive several side by side.
import { api } from "./api.js";

let loading = null;

/** The vendored hls.js (a UMD script, not a module), loaded once with a script tag. */
export function loadHls() {
  if (window.Hls) return Promise.resolve(window.Hls);
  loading ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = new URL("../vendor/hls.light.min.js", import.meta.url).href;
    script.onload = () => resolve(window.Hls);
    script.onerror = () => { loading = null; reject(new Error("cannot load the HLS player")); };
    document.head.append(script);
  });
  return loading;
}

/** Segments (the recordings API's, oldest first) laid end to end as the playlist plays them:
 * each with its media time ``at`` (the sum of the EXTINF before it). */
export function mediaMap(segments) {
  let at = 0;
  return segments.map((s) => {
    const start = Date.parse(s.start) / 1000;
    const end = Date.parse(s.end) / 1000;
    const item = { start, end, at };
    at += end - start;
    return item;
  });
}

/** The media time that shows ``wall``, or, in a gap, the next recorded moment's:
 * ``{media, wall}``; null after the last segment. */
export function mediaAt(map, wall) {
  for (const s of map) {
    if (wall < s.start) return { media: s.at, wall: s.start };
    if (wall < s.end) return { media: s.at + (wall - s.start), wall };
  }
  return null;
}

/** The wall time that media time ``t`` shows (null outside the segments). */
export function wallAt(map, t) {
  for (const s of map) {
    if (t < s.at + (s.end - s.start) + 1e-3) return t >= s.at - 1e-3 ? s.start + (t - s.at) : null;
  }
  return null;
}

class BasePlayer {
  constructor(video) {
    this.video = video;
    this.pending = null; // a media time to seek to once the video can
    this.rate = 1;
    video.muted = true;
    video.playsInline = true;
    video.addEventListener("loadedmetadata", () => {
      if (this.pending !== null) this.video.currentTime = this.pending;
      this.pending = null;
    });
  }

  setMedia(t) {
    if (this.video.readyState >= 1) this.video.currentTime = t;
    else this.pending = t;
  }

  ready() {
    return this.video.readyState >= 3 && !this.video.seeking;
  }

  play() {
    if (this.video.paused) this.video.play().catch(() => {});
  }

  pause() {
    if (!this.video.paused) this.video.pause();
  }

  setRate(r) {
    if (Math.abs(this.video.playbackRate - r) > 1e-3) this.video.playbackRate = r;
  }
}

/** A camera's continuous recording, played as HLS over its segments. */
export class RecordingPlayer extends BasePlayer {
  constructor(video, { onError = () => {} } = {}) {
    super(video);
    this.map = [];
    this.hls = null;
    this.onError = onError;
  }

  /** Play ``recordings`` (GET /cameras/{id}/recordings's answer), from ``wall`` if given. */
  async load(recordings, wall = null) {
    this.destroyHls();
    this.map = mediaMap(recordings.segments);
    if (!this.map.length) return false;
    const first = wall === null ? null : mediaAt(this.map, wall);
    const Hls = await loadHls();
    if (Hls && Hls.isSupported()) {
      const hls = new Hls({
        startPosition: first ? first.media : 0,
        maxBufferLength: 20,
        backBufferLength: 60,
        enableWorker: true,
      });
      hls.on(Hls.Events.ERROR, (_, data) => {
        if (!data.fatal) return;
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
        else if (data.type === Hls.ErrorTypes.NETWORK_ERROR) hls.startLoad();
        else this.onError(new Error(`cannot play the recording: ${data.details}`));
      });
      hls.loadSource(recordings.playlist);
      hls.attachMedia(this.video);
      this.hls = hls;
    } else if (this.video.canPlayType("application/vnd.apple.mpegurl")) {
      this.video.src = recordings.playlist; // Safari plays HLS itself
      if (first) this.pending = first.media;
    } else {
      throw new Error("this browser cannot play HLS (no Media Source Extensions)");
    }
    return true;
  }

  /** Show ``wall`` (or the next recorded moment); returns the wall time landed on, or null. */
  seek(wall) {
    const hit = mediaAt(this.map, wall);
    if (!hit) return null;
    this.setMedia(hit.media);
    return hit.wall;
  }

  wall() {
    if (!this.map.length) return null;
    return wallAt(this.map, this.pending ?? this.video.currentTime);
  }

  covers(wall) {
    return this.map.some((s) => wall >= s.start && wall < s.end);
  }

  /** The first recorded moment at or after ``wall`` (null: none). */
  next(wall) {
    const hit = mediaAt(this.map, wall);
    return hit ? hit.wall : null;
  }

  destroyHls() {
    if (this.hls) this.hls.destroy();
    this.hls = null;
  }

  destroy() {
    this.destroyHls();
    this.video.removeAttribute("src");
    this.video.load();
  }
}

/** A camera without recordings: its events' clips, each where it happened in wall time. */
export class ClipPlayer extends BasePlayer {
  constructor(video, clips) {
    super(video);
    this.clips = clips; // [{start, end, url}] in wall time
    this.current = null;
  }

  /** The clips of ``events`` (list entries) with their wall times (each event's detail). */
  static async clipsOf(events) {
    const withClips = events.filter((e) => e.clip_url).slice(0, 30);
    const details = await Promise.all(withClips.map((e) => api.get(`/events/${encodeURIComponent(e.id)}`)));
    return details.filter((d) => d.clip_start_pts != null).map((d) => {
      const at = Date.parse(d.start_time) / 1000 - d.start_pts; // wall time of source pts 0
      return { start: at + d.clip_start_pts, end: at + d.clip_end_pts, url: d.clip_url, id: d.id };
    }).sort((a, b) => a.start - b.start);
  }

  clipAt(wall) {
    return this.clips.find((c) => wall >= c.start && wall < c.end) || null;
  }

  covers(wall) {
    return Boolean(this.clipAt(wall));
  }

  next(wall) {
    const clip = this.clipAt(wall) || this.clips.find((c) => c.start > wall);
    return clip ? Math.max(wall, clip.start) : null;
  }

  seek(wall) {
    const clip = this.clipAt(wall) || this.clips.find((c) => c.start > wall);
    if (!clip) return null;
    const landed = Math.max(wall, clip.start);
    if (clip !== this.current) {
      this.current = clip;
      this.pending = landed - clip.start;
      this.video.src = clip.url;
    } else {
      this.setMedia(landed - clip.start);
    }
    return landed;
  }

  wall() {
    if (!this.current) return null;
    return this.current.start + (this.pending ?? this.video.currentTime);
  }

  destroy() {
    this.video.removeAttribute("src");
    this.video.load();
  }
}
