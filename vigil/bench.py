"""`vigil bench`: how much one `vigil run` worker analyses on this machine, and at what cost.

N looped real videos are served as RTSP cameras by a local GStreamer server
(:mod:`vigil.streams.rtsp_loop`), and the real site worker (:class:`vigil.run.SiteRunner`, the
code of `vigil run`) watches them for ``warmup + seconds``; only the last ``seconds`` count.
Each pipeline runs in a child process of its own, so its CPU time and peak RSS are its own:

- ``gated``: the site's settings (motion gating and per-rule rates, :mod:`vigil.gating`);
- ``naive`` (``--baseline naive``): every default model on PyTorch at 640 px on every analysed
  frame, no gating, over the same cameras, right after.

The report: analysed frames/s (total, per camera), skipped frames and models and why, per-stage
latency p50/p95 (decode, BGR conversion, motion, each model, tracking, rules, evidence, store,
and the gap between a camera's analyses — also while clips are written), confirming frame →
alert received p50/p95 (a loopback webhook channel), CPU seconds and peak RSS (and its slope).
With the baseline: the ratio of analysed frames per CPU-second, and both pipelines' event
recall on the ground-truth videos (`vigil eval videos` with and without gating).

With ``--substream WxH`` each camera also serves a copy of its video scaled to fit WxH
(:func:`~vigil.streams.rtsp_loop.downscaled`, H.264 without B-frames) at ``camNAME-sub``, and
the site's cameras name it as their ``detect_source``: detection decodes the substream, the
main stream is only demuxed for clips. Run with and without to compare decode cost.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import resource
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from vigil import VigilError
from vigil.streams.rtsp_loop import RtspServer, downscaled, rtsp_server_available
from vigil.streams.timing import quantile

log = logging.getLogger(__name__)

NAIVE_IMGSZ = 640


class BenchError(VigilError):
    """A bench that cannot run as asked: one line for the user."""


@dataclass(frozen=True, slots=True)
class BenchPlan:
    cameras: int
    fps: float
    seconds: float
    warmup: float
    videos: list[Path]
    threads: int = 1
    config: Path | None = None  # a site file whose rules, models and gating apply
    substream: tuple[int, int] | None = None  # serve a downscaled substream for detection


def pick_videos(folder: Path, cameras: int) -> list[Path]:
    """The MP4 files of ``folder``, in name order, cycled over ``cameras``."""
    if not folder.is_dir():
        raise BenchError(f"--videos {folder}: not a folder")
    found = sorted(folder.glob("*.mp4"))
    if not found:
        raise BenchError(f"--videos {folder}: no .mp4 video in it")
    if cameras < 1:
        raise BenchError("--cameras must be at least 1")
    return [found[i % len(found)] for i in range(cameras)]


def run_bench(plan: BenchPlan, baseline: str | None = None, gt_dir: Path | None = None) -> dict:
    """Serve the cameras, run each pipeline in its own process, and gather the report."""
    if plan.fps <= 0 or plan.seconds <= 0 or plan.warmup < 0:
        raise BenchError("--fps and --seconds must be positive, --warmup not negative")
    why = rtsp_server_available()
    if why:
        raise BenchError(f"the RTSP server cannot run here: {why}")
    mounts = {f"cam{i}": video for i, video in enumerate(plan.videos)}
    cameras = list(mounts)
    if plan.substream is not None:
        folder = Path(tempfile.gettempdir()) / "vigil-bench-substreams"
        for name in cameras:
            mounts[f"{name}-sub"] = downscaled(mounts[name], plan.substream, folder)
    report: dict = {
        "cameras": plan.cameras,
        "fps": plan.fps,
        "seconds": plan.seconds,
        "warmup": plan.warmup,
        "threads": plan.threads,
        "videos": {name: mounts[name].name for name in cameras},
        "substream": "x".join(map(str, plan.substream)) if plan.substream else None,
        "cores": os.cpu_count(),
        "cpu": cpu_kind(),
        "pipelines": {},
    }
    with RtspServer(mounts) as server:
        urls = {name: server.url(name) for name in cameras}
        subs = {name: server.url(f"{name}-sub") for name in cameras if plan.substream}
        variants = ["gated"] + (["naive"] if baseline == "naive" else [])
        for variant in variants:
            log.warning("bench: %s pipeline, %d cameras", variant, plan.cameras)
            report["pipelines"][variant] = _in_child(plan, urls, variant, subs)
    pipelines = report["pipelines"]
    if "naive" in pipelines:
        gated, naive = pipelines["gated"], pipelines["naive"]
        if naive["analysed_per_cpu_second"]:
            report["throughput_ratio"] = round(
                gated["analysed_per_cpu_second"] / naive["analysed_per_cpu_second"], 2
            )
        if gt_dir is not None:
            report["recall"] = event_recall(gt_dir, plan)
    return report


def _in_child(plan: BenchPlan, urls: dict[str, str], variant: str, subs: dict[str, str]) -> dict:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_child_main, args=(plan, urls, variant, child, subs))
    process.start()
    child.close()
    limit = plan.warmup + plan.seconds + 600  # model loading and shutdown included
    if not parent.poll(limit):
        process.kill()
        raise BenchError(f"the {variant} pipeline did not report within {limit:.0f} s")
    result = parent.recv()
    process.join(60)
    if "error" in result:
        raise BenchError(f"{variant} pipeline: {result['error']}")
    return result


def _child_main(plan: BenchPlan, urls: dict[str, str], variant: str, conn, subs) -> None:  # noqa: ANN001
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        conn.send(measure_pipeline(plan, urls, variant, subs))
    except VigilError as exc:
        conn.send({"error": str(exc)})
    except Exception as exc:  # reported, not lost with the child
        log.exception("bench pipeline failed")
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        conn.close()


def site_for(
    plan: BenchPlan,
    urls: dict[str, str],
    data_dir: Path,
    hook: str,
    variant: str,
    subs: dict[str, str] | None = None,
):
    """The site the worker runs: the cameras at ``plan.fps`` (a file is looped as a camera;
    ``subs`` are their detect_source), a webhook alert channel, and the gating of
    ``plan.config`` (or the defaults); the naive variant has gating off."""
    from vigil.config import SiteConfig, load_site_config

    raw: dict = {}
    if plan.config is not None:
        base = load_site_config(plan.config)
        raw = base.model_dump(mode="json", exclude_none=True, exclude={"cameras", "storage"})
        raw.pop("api", None)
        template = base.cameras[0].model_dump(mode="json", exclude_none=True)
    else:
        template = {}
    template = {
        k: v for k, v in template.items() if k not in ("id", "source", "detect_source", "name")
    }
    cameras = [
        {**template, "id": name, "source": url, "fps": plan.fps, "loop": "://" not in url}
        for name, url in urls.items()
    ]
    for camera in cameras:
        if subs and camera["id"] in subs:
            camera["detect_source"] = subs[camera["id"]]
    if variant == "naive":
        raw["gating"] = {"motion": False, "rule_fps": {}}
        for camera in cameras:
            camera.pop("gating", None)
    raw |= {
        "cameras": cameras,
        "storage": {"data_dir": str(data_dir)},
        "inference": {**raw.get("inference", {}), "threads": plan.threads},
        "alerts": {"channels": [{"name": "bench", "kind": "webhook", "url": hook, "secret": "b"}]},
    }
    return SiteConfig.model_validate(raw)


def naive_cards(site) -> dict:  # noqa: ANN001
    """The site's model cards on PyTorch at 640 px (the naive stack)."""
    return {
        name: card.model_copy(update={"imgsz": NAIVE_IMGSZ, "runtime": "ultralytics"})
        for name, card in site.models.cards().items()
    }


def measure_pipeline(
    plan: BenchPlan, urls: dict[str, str], variant: str, subs: dict[str, str] | None = None
) -> dict:
    """In the child process: run the worker, measure the last ``plan.seconds``."""
    from vigil.detector.detector import set_inference_threads
    from vigil.run import SiteRunner
    from vigil.streams.timing import StageTimer

    set_inference_threads(plan.threads)  # torch is imported only where a card runs on it
    hook = AlertReceiver()
    timer = StageTimer()
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
        site = site_for(plan, urls, Path(tmp), hook.url, variant, subs)
        cards = naive_cards(site) if variant == "naive" else None
        runner = SiteRunner(site, cards=cards, timer=timer)
        stop = threading.Event()
        result: dict = {}
        worker = threading.Thread(target=lambda: result.update(summary=runner.run(stop)))
        rss = RssSampler()
        worker.start()
        time.sleep(plan.warmup)
        timer.reset()
        counts0 = runner.analysed_counts()
        skipped0 = _skips(runner)
        cpu0, t0, wall0 = time.process_time(), time.monotonic(), time.time()
        rss.start()
        time.sleep(plan.seconds)
        counts1 = runner.analysed_counts()
        skipped1 = _skips(runner)
        cpu1, t1 = time.process_time(), time.monotonic()
        rss.stop()
        stages = timer.summary()
        stop.set()
        worker.join()
        hook.close()
    window = t1 - t0
    analysed = {c: counts1[c] - counts0.get(c, 0) for c in counts1}
    total = sum(analysed.values())
    cpu = cpu1 - cpu0
    passes = {k.split(":", 1)[1]: v["n"] for k, v in stages.items() if k.startswith("model:")}
    summary = result.get("summary")
    return {
        "variant": variant,
        "window_s": round(window, 1),
        "analysed": total,
        "analysed_fps": round(total / window, 2),
        "analysed_fps_per_camera": {c: round(n / window, 2) for c, n in analysed.items()},
        "kept_up": all(n / window >= 0.95 * plan.fps for n in analysed.values()),
        "model_passes": passes,
        "skipped": {
            c: {k: v - skipped0.get(c, {}).get(k, 0) for k, v in counts.items()}
            for c, counts in skipped1.items()
        },
        "stages": stages,
        "alert_latency": hook.latency(since=wall0),
        "cpu_seconds": round(cpu, 1),
        "cpu_per_second": round(cpu / window, 2),
        "analysed_per_cpu_second": round(total / cpu, 3) if cpu else 0.0,
        # CPU time of the reader threads decoding, per camera and second of the window.
        "decode_cpu_ms_per_camera_s": round(
            1000 * stages.get("decode_cpu", {}).get("total_s", 0.0) / window / plan.cameras, 2
        ),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_mb": rss.report(),
        "events_raised": summary.events_raised if summary else None,
    }


def _skips(runner) -> dict[str, dict[str, int]]:  # noqa: ANN001
    from vigil.run import skip_counts

    return {c.id: skip_counts(c) for c in runner._cameras}


class RssSampler:
    """The process's RSS once a second: first, last, peak and slope (MB per minute)."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while True:
            with open("/proc/self/statm") as f:
                pages = int(f.read().split()[1])
            self.samples.append((time.monotonic(), pages * page / 2**20))
            if self._stop.wait(self.every):
                return

    def report(self) -> dict[str, float]:
        if not self.samples:
            return {}
        ts = [t for t, _ in self.samples]
        mb = [m for _, m in self.samples]
        return {
            "first": round(mb[0], 1),
            "last": round(mb[-1], 1),
            "peak": round(max(mb), 1),
            "slope_mb_per_min": round(60 * _slope(ts, mb), 2),
        }


def _slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope (0 for fewer than two points).

    >>> _slope([0, 1, 2], [1, 3, 5])
    2.0
    """
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    return 0.0 if not var else sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var


class AlertReceiver:
    """A loopback webhook receiver: for every ``new`` alert, receipt time − the confirming
    frame's wall time (the event's ``end_wall`` when it opened, see events/lifecycle.py)."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, float]] = []  # (received, confirming frame wall)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                at = time.time()
                try:
                    change = json.loads(body)
                    if change.get("type") == "new":
                        receiver.arrivals.append((at, float(change["after"]["end_wall"])))
                except (ValueError, KeyError, TypeError):
                    pass
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/alerts"

    def latency(self, since: float) -> dict[str, float | int]:
        """``n``, ``p50_ms``, ``p95_ms`` of the alerts whose confirming frame came after
        ``since`` (wall time)."""
        values = sorted(at - frame for at, frame in self.arrivals if frame >= since)
        return {
            "n": len(values),
            "p50_ms": round(1000 * quantile(values, 0.5)) if values else None,
            "p95_ms": round(1000 * quantile(values, 0.95)) if values else None,
        }

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def event_recall(gt_dir: Path, plan: BenchPlan) -> dict:
    """Both pipelines' event recall per rule on the ground-truth videos (`vigil eval videos`
    with the site's gating, and without gating at 640 px); their frames are analysed at
    ``plan.fps``. Per-frame boxes are cached under the system's temp folder."""
    from vigil.config import load_detect_site
    from vigil.evaluate.groundtruth import load_ground_truth_dir
    from vigil.evaluate.videos import evaluate_videos

    site = load_detect_site(plan.config)
    site.camera.fps = plan.fps
    truths = load_ground_truth_dir(gt_dir)
    videos = plan.videos[0].parent
    cache = Path(tempfile.gettempdir()) / "vigil-bench-eval-cache"
    gated = evaluate_videos(
        truths, videos, site, cache, gating=site.gating_of(site.camera).settings()
    )
    naive = evaluate_videos(truths, videos, site, cache, cards=naive_cards(site))
    return {
        "gated": {r: s.recall for r, s in sorted(gated.scores.items())},
        "naive": {r: s.recall for r, s in sorted(naive.scores.items())},
    }


def _cpu_line(cpu: dict) -> str:
    precisions = cpu.get("openvino_precisions") or []
    computes = ", ".join(precisions) or "-"
    line = f"CPU: {cpu.get('model', 'unknown')}; OpenVINO computes in {computes}"
    if precisions and "BF16" not in precisions:
        line += " (no BF16: cards with precision bf16 run in float32)"
    return line


def cpu_kind() -> dict:
    """The CPU's model name and what OpenVINO computes in on it: the figures depend on it
    (bfloat16 where the CPU has BF16, float32 elsewhere at two to three times the CPU)."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in _cpuinfo().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    try:
        from vigil.detector.exported import cpu_precisions

        precisions = sorted(cpu_precisions())
    except ImportError:  # no OpenVINO: every card runs with PyTorch
        precisions = []
    return {"model": model, "openvino_precisions": precisions}


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def format_report(report: dict) -> str:
    """The report as lines of text (the JSON has everything)."""
    lines = [
        f"vigil bench: {report['cameras']} cameras at {report['fps']:g} fps, "
        f"{report['seconds']:g} s measured after {report['warmup']:g} s, "
        f"{report['threads']} inference thread(s), {report['cores']} cores"
        + (f"; detection on {report['substream']} substreams" if report.get("substream") else ""),
        _cpu_line(report.get("cpu") or {}),
    ]
    for name, p in report["pipelines"].items():
        per_camera = " ".join(f"{v:.2f}" for v in p["analysed_fps_per_camera"].values())
        lines += [
            "",
            f"[{name}] analysed {p['analysed_fps']:.2f} frames/s "
            f"(per camera: {per_camera}; every camera kept up: {p['kept_up']})",
            f"  CPU {p['cpu_seconds']:g} s ({p['cpu_per_second']:.2f} cores), "
            f"{p['analysed_per_cpu_second']:.3f} analysed frames per CPU-second; "
            f"peak RSS {p['peak_rss_mb']:.0f} MB, slope {p['rss_mb'].get('slope_mb_per_min', 0)}"
            " MB/min",
            f"  decoding: {p.get('decode_cpu_ms_per_camera_s', 0)} ms of CPU per camera-second",
            "  model passes: " + ", ".join(f"{k} {v}" for k, v in p["model_passes"].items()),
        ]
        skipped: dict[str, int] = {}
        for counts in p["skipped"].values():
            for why, n in counts.items():
                skipped[why] = skipped.get(why, 0) + n
        lines.append("  skipped: " + (", ".join(f"{k} {v}" for k, v in skipped.items()) or "—"))
        gaps = p["stages"].get("gap_while_clips") or {}
        worst = p["stages"].get("gap") or {}
        lines.append(
            f"  worst gap between a camera's analyses: {worst.get('max_ms', '—')} ms; while "
            f"clips were written: {gaps.get('max_ms', '—')} ms (n={gaps.get('n', 0)})"
        )
        alert = p["alert_latency"]
        lines.append(
            f"  confirming frame → alert: n={alert['n']} p50 {alert['p50_ms']} ms "
            f"p95 {alert['p95_ms']} ms; events raised {p['events_raised']}"
        )
        lines.append(f"  {'stage':24} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for stage, s in p["stages"].items():
            lines.append(
                f"  {stage:24} {s['n']:>6} {s['p50_ms']:>8.1f} {s['p95_ms']:>8.1f} "
                f"{s['max_ms']:>8.1f}"
            )
    if "throughput_ratio" in report:
        lines += ["", f"throughput ratio (analysed frames per CPU-second): "
                  f"{report['throughput_ratio']:.2f}× the naive stack"]  # fmt: skip
    if "recall" in report:
        for name, recalls in report["recall"].items():
            shown = ", ".join(f"{r} {'—' if v is None else f'{v:.2f}'}" for r, v in recalls.items())
            lines.append(f"event recall ({name}): {shown}")
    return "\n".join(lines)
