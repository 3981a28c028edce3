// One clock for several players (see players.js): play, pause, seek and speed act on all, and
// every tick each player is kept on the clock's wall time: a small drift is caught up by
// playing a little faster or slower, a large one by a seek; while any player that has the
// moment is still loading, the clock waits for it; a moment no one recorded is skipped.
//   const clock = new SyncClock(players);  clock.seek(wall);  clock.play();
const DRIFT_SEEK_S = 0.6;
const DRIFT_NUDGE_S = 0.08;

export class SyncClock {
  constructor(players, { onTick = () => {} } = {}) {
    this.players = players;
    this.onTick = onTick;
    this.wall0 = null;
    this.perf0 = 0;
    this.playing = false;
    this.holding = false; // a player is loading: the clock waits
    this.rate = 1;
    this.timer = setInterval(() => this.tick(), 200);
  }

  now() {
    if (this.wall0 === null) return null;
    if (!this.playing || this.holding) return this.wall0;
    return this.wall0 + ((performance.now() - this.perf0) / 1000) * this.rate;
  }

  set(wall) {
    this.wall0 = wall;
    this.perf0 = performance.now();
  }

  seek(wall) {
    this.set(wall);
    for (const p of this.players) {
      if (p.covers(wall)) p.seek(wall);
      else p.pause();
    }
    this.tick();
  }

  play() {
    this.set(this.now());
    this.playing = true;
    this.tick();
  }

  pause() {
    this.set(this.now());
    this.playing = false;
    for (const p of this.players) p.pause();
    this.tick();
  }

  setRate(rate) {
    this.set(this.now());
    this.rate = rate;
  }

  tick() {
    const t = this.now();
    if (t === null) return;
    const active = this.players.filter((p) => p.covers(t));
    if (this.playing && !active.length) {
      const next = this.players.map((p) => p.next(t)).filter((w) => w !== null && w > t);
      if (next.length) this.seek(Math.min(...next)); // nobody recorded this: on to the next
      else this.pause(); // the end of everything
      return;
    }
    const waiting = active.some((p) => !p.ready());
    if (this.playing && waiting !== this.holding) {
      this.set(t);
      this.holding = waiting;
    }
    const running = this.playing && !this.holding;
    for (const p of this.players) {
      if (!active.includes(p)) {
        p.pause();
        continue;
      }
      const w = p.wall();
      const drift = w === null ? Infinity : w - t;
      if (Math.abs(drift) > DRIFT_SEEK_S && !p.video.seeking) p.seek(t);
      if (running) {
        const nudge = drift > DRIFT_NUDGE_S ? 0.9 : drift < -DRIFT_NUDGE_S ? 1.1 : 1;
        p.setRate(this.rate * (Math.abs(drift) > DRIFT_SEEK_S ? 1 : nudge));
        p.play();
      } else {
        p.pause();
      }
    }
    this.onTick(t, this.playing);
  }

  destroy() {
    clearInterval(this.timer);
  }
}
