#!/usr/bin/env python3
"""The measuring half of bench/desktop.sh (bench/README.md, "Desktop app").

  desktop.py paint TITLE OUT_DIR T0_FIFO [--timeout S] [--every S] [--quiet S]
      Connects to the X display ($DISPLAY), prints "ready", then reads T0
      from the named pipe T0_FIFO (epoch seconds, taken just before the app
      was started; write it once the app runs) and
      watches for a top-level window named TITLE, capturing it every
      --every seconds (XGetImage, in this one process); at the end it prints one
      JSON line: when the window became viewable, the first frame with more
      than 64 distinct colours (the page drawn, not a blank window), and the
      last frame in which more than 0.5 % of the (sampled) pixels changed
      from the frame before (visually complete: no such change for --quiet
      seconds afterwards; a ticking "Up 5 s" changes less). Writes frames.tsv
      (ms, colours, % changed, crc32 per capture) and the painted and final
      frames as PPM.
  desktop.py snap PID
      One JSON line: PID and every descendant (WebKit's web and network
      processes) with RSS, PSS and private memory (smaps_rollup), CPU ticks
      (utime + stime of the process, dead threads included), and per thread
      its name, CPU time (schedstat, ns), time slices and context switches.
  desktop.py report RUN_DIR OUT_BASE
      Reads what desktop.sh left in RUN_DIR and writes OUT_BASE.json and
      OUT_BASE.md.

Standard library only (ctypes to libX11 for the captures).
"""

import ctypes
import json
import os
import statistics
import sys
import time
import zlib


# ---------------------------------------------------------------- paint

class XWindowAttributes(ctypes.Structure):
    _fields_ = [
        ("x", ctypes.c_int), ("y", ctypes.c_int),
        ("width", ctypes.c_int), ("height", ctypes.c_int),
        ("border_width", ctypes.c_int), ("depth", ctypes.c_int),
        ("visual", ctypes.c_void_p), ("root", ctypes.c_ulong),
        ("class_", ctypes.c_int), ("bit_gravity", ctypes.c_int),
        ("win_gravity", ctypes.c_int), ("backing_store", ctypes.c_int),
        ("backing_planes", ctypes.c_ulong), ("backing_pixel", ctypes.c_ulong),
        ("save_under", ctypes.c_int), ("colormap", ctypes.c_ulong),
        ("map_installed", ctypes.c_int), ("map_state", ctypes.c_int),
        ("all_event_masks", ctypes.c_long), ("your_event_mask", ctypes.c_long),
        ("do_not_propagate_mask", ctypes.c_long), ("override_redirect", ctypes.c_int),
        ("screen", ctypes.c_void_p),
    ]


class XImage(ctypes.Structure):
    _fields_ = [
        ("width", ctypes.c_int), ("height", ctypes.c_int),
        ("xoffset", ctypes.c_int), ("format", ctypes.c_int),
        ("data", ctypes.c_void_p),
        ("byte_order", ctypes.c_int), ("bitmap_unit", ctypes.c_int),
        ("bitmap_bit_order", ctypes.c_int), ("bitmap_pad", ctypes.c_int),
        ("depth", ctypes.c_int), ("bytes_per_line", ctypes.c_int),
        ("bits_per_pixel", ctypes.c_int),
    ]


IS_VIEWABLE = 2
Z_PIXMAP = 2
PAINTED_COLOURS = 64
COMPLETE_CHANGE = 0.5   # % of the sampled pixels


def xlib():
    x = ctypes.CDLL("libX11.so.6")
    x.XOpenDisplay.argtypes, x.XOpenDisplay.restype = [ctypes.c_char_p], ctypes.c_void_p
    x.XDefaultRootWindow.argtypes, x.XDefaultRootWindow.restype = [ctypes.c_void_p], ctypes.c_ulong
    x.XQueryTree.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong),
                             ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.POINTER(ctypes.c_ulong)),
                             ctypes.POINTER(ctypes.c_uint)]
    x.XFetchName.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_char_p)]
    x.XFree.argtypes = [ctypes.c_void_p]
    x.XGetWindowAttributes.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(XWindowAttributes)]
    x.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int,
                            ctypes.c_uint, ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
    x.XGetImage.restype = ctypes.POINTER(XImage)
    x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return x


def paint(args):
    title, out, fifo = args[0].encode(), args[1], args[2]
    opts = dict(zip(args[3::2], args[4::2]))
    timeout = float(opts.get("--timeout", 60))
    every = float(opts.get("--every", 0.05))
    quiet = float(opts.get("--quiet", 3))
    x = xlib()
    d = x.XOpenDisplay(None)
    if not d:
        sys.exit("desktop.py paint: no X display")
    # A window that goes away between two calls makes Xlib's default error
    # handler exit the process: ignore errors (the capture then fails).
    handler_t = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
    handler = handler_t(lambda _d, _e: 0)
    x.XSetErrorHandler(handler)
    root = x.XDefaultRootWindow(d)

    def find():
        r, p, n = ctypes.c_ulong(), ctypes.c_ulong(), ctypes.c_uint()
        kids = ctypes.POINTER(ctypes.c_ulong)()
        if not x.XQueryTree(d, root, ctypes.byref(r), ctypes.byref(p), ctypes.byref(kids), ctypes.byref(n)):
            return None
        try:
            for i in range(n.value):
                name = ctypes.c_char_p()
                if x.XFetchName(d, kids[i], ctypes.byref(name)) and name.value is not None:
                    hit = name.value == title
                    x.XFree(name)
                    if hit:
                        a = XWindowAttributes()
                        if x.XGetWindowAttributes(d, kids[i], ctypes.byref(a)) and a.map_state == IS_VIEWABLE:
                            return kids[i], a.width, a.height
        finally:
            if kids:
                x.XFree(kids)
        return None

    def grab(w, width, height):
        img = x.XGetImage(d, w, 0, 0, width, height, 0xFFFFFFFF, Z_PIXMAP)
        if not img:
            return None
        i = img.contents
        try:
            if i.bits_per_pixel != 32:
                sys.exit(f"desktop.py paint: {i.bits_per_pixel} bits per pixel; run Xvfb with a 24-bit screen")
            return ctypes.string_at(i.data, i.bytes_per_line * i.height), i.width, i.height, i.bytes_per_line
        finally:
            x.XFree(i.data)
            x.XFree(img)

    print("ready", flush=True)
    with open(fifo) as f:
        t0 = float(f.readline())
    mapped = painted = None
    frames = []               # (ms, colours, % changed, crc)
    prev_px = None
    first_painted = last = None
    last_change = None
    poll_cost = []
    deadline = t0 + timeout
    while True:
        start = time.time()
        if start > deadline:
            break
        found = find()
        if found:
            if mapped is None:
                mapped = start
            shot = grab(*found)
            if shot:
                data, width, height, bpl = shot
                px = memoryview(data).cast("I")
                # every 7th pixel (7 is prime to any row length here): text's
                # anti-aliasing gives a page hundreds of colours even sampled
                sample = px[::7]
                colours = len(set(sample))
                crc = zlib.crc32(data)
                changed = 100.0
                if frames and crc == frames[-1][3]:
                    changed = 0.0
                elif prev_px is not None and len(prev_px) == len(sample):
                    changed = sum(a != b for a, b in zip(prev_px, sample)) * 100 / len(sample)
                prev_px = sample.tolist()
                t = time.time()
                if changed > COMPLETE_CHANGE:
                    last_change = t
                frames.append((round((t - t0) * 1000, 1), colours, round(changed, 2), crc))
                last = (data, width, height, bpl)
                if painted is None and colours > PAINTED_COLOURS:
                    painted = t
                    first_painted = last
                if painted is not None and t - max(last_change, painted) >= quiet:
                    poll_cost.append(time.time() - start)
                    break
        poll_cost.append(time.time() - start)
        time.sleep(max(0.0, every - (time.time() - start)))

    with open(os.path.join(out, "frames.tsv"), "w") as f:
        f.write("ms\tcolours\tchanged_percent\tcrc32\n")
        for ms, c, ch, crc in frames:
            f.write(f"{ms}\t{c}\t{ch}\t{crc:08x}\n")
    for name, frame in (("painted", first_painted), ("final", last)):
        if frame:
            write_ppm(os.path.join(out, f"{name}.ppm"), *frame)
    ms = lambda t: None if t is None else round((t - t0) * 1000, 1)
    print(json.dumps({
        "mapped_ms": ms(mapped),
        "painted_ms": ms(painted),
        "complete_ms": ms(last_change) if painted is not None else None,
        "captures": len(frames),
        "capture_mean_ms": round(statistics.mean(poll_cost) * 1000, 1) if poll_cost else None,
        "final_colours": frames[-1][1] if frames else 0,
        "timed_out": painted is None or time.time() > deadline,
    }), flush=True)


def write_ppm(path, data, width, height, bpl):
    if bpl != width * 4:   # rows padded: drop the padding first
        data = b"".join(data[r * bpl:r * bpl + width * 4] for r in range(height))
    rgb = bytearray(width * height * 3)
    rgb[0::3], rgb[1::3], rgb[2::3] = data[2::4], data[1::4], data[0::4]   # BGRX → RGB
    with open(path, "wb") as f:
        f.write(b"P6 %d %d 255\n" % (width, height))
        f.write(rgb)


# ---------------------------------------------------------------- snap

def read(path):
    with open(path) as f:
        return f.read()


def stat_fields(text):
    # comm can hold spaces and parentheses: split after the last ')'
    rest = text[text.rindex(")") + 2:].split()
    return rest   # rest[0] is field 3 (state)


def tree(root):
    kids = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                ppid = int(stat_fields(read(f"/proc/{p}/stat"))[1])
            except (OSError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(p))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return sorted(out)


def kv(text, keys):
    r = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        if k in keys:
            r[k] = int(v.split()[0])
    return r


def snap(args):
    root = int(args[0])
    procs = []
    for pid in tree(root):
        try:
            s = stat_fields(read(f"/proc/{pid}/stat"))
            st = kv(read(f"/proc/{pid}/status"), {"VmRSS", "RssAnon", "RssFile", "RssShmem", "Threads"})
            try:
                sm = kv(read(f"/proc/{pid}/smaps_rollup"),
                        {"Rss", "Pss", "Private_Clean", "Private_Dirty", "Swap"})
            except OSError:
                sm = {}
            exe = os.path.basename(read(f"/proc/{pid}/cmdline").split("\0")[0]) or read(f"/proc/{pid}/comm").strip()
        except (OSError, ValueError):
            continue
        threads = []
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            tids = []
        for tid in tids:
            try:
                comm = read(f"/proc/{pid}/task/{tid}/comm").strip()
                ns, _wait, slices = (int(v) for v in read(f"/proc/{pid}/task/{tid}/schedstat").split())
                cs = kv(read(f"/proc/{pid}/task/{tid}/status"),
                        {"voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"})
            except (OSError, ValueError):
                continue
            threads.append({"tid": int(tid), "comm": comm, "cpu_ns": ns, "slices": slices,
                            "vcs": cs.get("voluntary_ctxt_switches", 0),
                            "ivcs": cs.get("nonvoluntary_ctxt_switches", 0)})
        procs.append({
            "pid": pid, "exe": exe, "ticks": int(s[11]) + int(s[12]),
            "rss_kb": st.get("VmRSS", 0), "rss_anon_kb": st.get("RssAnon", 0),
            "rss_file_kb": st.get("RssFile", 0), "rss_shmem_kb": st.get("RssShmem", 0),
            "pss_kb": sm.get("Pss"), "private_kb": (sm["Private_Clean"] + sm["Private_Dirty"]) if sm else None,
            "threads": threads,
        })
    print(json.dumps({"time": time.time(), "clk_tck": os.sysconf("SC_CLK_TCK"), "procs": procs}))


# ---------------------------------------------------------------- report

def load_json(path):
    try:
        with open(path) as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return None


def meta(path):
    m = {}
    try:
        for line in read(path).splitlines():
            k, _, v = line.partition("=")
            m[k] = v
    except OSError:
        pass
    return m


def memory(s):
    if not s:
        return None
    by = {}
    for p in s["procs"]:
        e = by.setdefault(p["exe"], {"n": 0, "rss_kb": 0, "pss_kb": 0, "private_kb": 0})
        e["n"] += 1
        e["rss_kb"] += p["rss_kb"]
        e["pss_kb"] += p["pss_kb"] or 0
        e["private_kb"] += p["private_kb"] or 0
    return {
        "processes": len(s["procs"]),
        "rss_kb": sum(p["rss_kb"] for p in s["procs"]),
        "pss_kb": sum(p["pss_kb"] or 0 for p in s["procs"]),
        "private_kb": sum(p["private_kb"] or 0 for p in s["procs"]),
        "by_process": by,
    }


def idle(a, b):
    if not a or not b:
        return None
    wall = b["time"] - a["time"]
    pa = {p["pid"]: p for p in a["procs"]}
    pb = {p["pid"]: p for p in b["procs"]}
    tck = a["clk_tck"]
    per_proc, threads = [], []
    total_ticks = 0
    for pid, p in pb.items():
        before = pa.get(pid)
        ticks = p["ticks"] - (before["ticks"] if before else 0)
        total_ticks += ticks
        ta = {t["tid"]: t for t in (before["threads"] if before else [])}
        ns = sw = 0
        for t in p["threads"]:
            o = ta.get(t["tid"], {"cpu_ns": 0, "vcs": 0, "ivcs": 0, "slices": 0})
            d = {"pid": pid, "exe": p["exe"], "tid": t["tid"], "comm": t["comm"],
                 "cpu_ms": round((t["cpu_ns"] - o["cpu_ns"]) / 1e6, 2),
                 "switches": (t["vcs"] - o["vcs"]) + (t["ivcs"] - o["ivcs"]),
                 "new": t["tid"] not in ta}
            ns += t["cpu_ns"] - o["cpu_ns"]
            sw += d["switches"]
            threads.append(d)
        per_proc.append({"pid": pid, "exe": p["exe"], "cpu_ms_ticks": ticks * 1000 / tck,
                         "cpu_ms_threads": round(ns / 1e6, 2), "switches": sw,
                         "switches_per_s": round(sw / wall, 2)})
    cpu_ms_threads = sum(p["cpu_ms_threads"] for p in per_proc)
    switches = sum(p["switches"] for p in per_proc)
    threads.sort(key=lambda t: (-t["cpu_ms"], -t["switches"]))
    return {
        "wall_s": round(wall, 1),
        "cpu_ms_ticks": total_ticks * 1000 / tck,
        "cpu_ms_threads": round(cpu_ms_threads, 1),
        "cpu_percent_of_core": round(total_ticks / tck / wall * 100, 4),
        "cpu_percent_of_core_threads": round(cpu_ms_threads / 1000 / wall * 100, 4),
        "switches": switches,
        "switches_per_s": round(switches / wall, 2),
        "processes_same": sorted(pa) == sorted(pb),
        "per_process": per_proc,
        "top_threads": [t for t in threads if t["cpu_ms"] > 0 or t["switches"] > 0][:15],
    }


def summary(values):
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": round(statistics.median(v), 1), "min": min(v), "max": max(v), "n": len(v)}


def mib(kb):
    return f"{kb / 1024:.0f}" if kb is not None else "–"


def milestone_rows(w, stats, rows):
    """Writes a milestone table's rows: (key, name, how observed) each, its
    median / min / max from `stats` (dashes when not observed)."""
    for k, name, how in rows:
        v = stats.get(k)
        w(f"| {name} | {v['median']} | {v['min']} | {v['max']} | {how} |" if v else f"| {name} | – | – | – | {how} |")

def report(args):
    run_dir, base = args[0], args[1]
    m = meta(os.path.join(run_dir, "meta.env"))
    runs = []
    i = 1
    while os.path.isdir(os.path.join(run_dir, f"run{i}")):
        r = os.path.join(run_dir, f"run{i}")
        p = load_json(os.path.join(r, "paint.json")) or {}
        ev = meta(os.path.join(r, "events.env"))
        num = lambda k: float(ev[k]) if ev.get(k) else None
        runs.append({
            "run": i, **p,
            "gateway_started_ms": num("gateway-started"),
            "frontend_ready_ms": num("frontend-ready"),
            "frontend_ready": ev.get("frontend-ready-detail", ""),
            "hidden_ms": num("window-hidden"),
            "dropped_ms": num("webview-dropped"),
            "reopen": {
                **(load_json(os.path.join(r, "reopen", "paint.json")) or {}),
                "webview_created_ms": num("reopen-webview-created"),
                "frontend_ready_ms": num("reopen-frontend-ready"),
            },
            "open": memory(load_json(os.path.join(r, "open.json"))),
            "closed": memory(load_json(os.path.join(r, "closed.json"))),
            "reopened": memory(load_json(os.path.join(r, "reopened.json"))),
        })
        i += 1
    last = os.path.join(run_dir, f"run{len(runs)}")
    idle_res = idle(load_json(os.path.join(last, "idle-start.json")), load_json(os.path.join(last, "idle-end.json")))
    after_idle = memory(load_json(os.path.join(last, "idle-end.json")))
    hidden = memory(load_json(os.path.join(run_dir, "hidden", "hidden.json")))
    res = {
        "meta": m,
        "launch": {k: summary([r.get(k) for r in runs]) for k in
                   ("gateway_started_ms", "mapped_ms", "frontend_ready_ms", "painted_ms", "complete_ms")},
        "reopen": {k: summary([r["reopen"].get(k) for r in runs]) for k in
                   ("webview_created_ms", "mapped_ms", "frontend_ready_ms", "painted_ms", "complete_ms")},
        "close": {k: summary([r.get(k) for r in runs]) for k in ("hidden_ms", "dropped_ms")},
        "memory": {
            "open": {k: summary([r["open"][k] if r["open"] else None for r in runs]) for k in ("rss_kb", "pss_kb", "private_kb", "processes")},
            "closed": {k: summary([r["closed"][k] if r["closed"] else None for r in runs]) for k in ("rss_kb", "pss_kb", "private_kb", "processes")},
            "reopened": {k: summary([r["reopened"][k] if r["reopened"] else None for r in runs]) for k in ("rss_kb", "pss_kb", "private_kb", "processes")},
            "closed_after_idle": after_idle,
            "started_hidden": hidden,
        },
        "idle": idle_res,
        "runs": runs,
    }
    with open(base + ".json", "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    with open(base + ".md", "w") as f:
        f.write(markdown(res))


def markdown(res):
    m, L = res["meta"], res["launch"]
    idl, mem = res["idle"], res["memory"]
    out = []
    w = out.append
    w("# Desktop app: launch to painted, RSS, idle CPU (issue 22, item 7)\n")
    w(f"{m.get('date', '')} · {m.get('nproc', '?')} × {m.get('cpu', '?')} · {m.get('mem', '')} · "
      f"kernel {m.get('kernel', '?')} · load average {m.get('load_before', '?')} before, "
      f"{m.get('load_idle_start', '?')} at the start of the idle period, {m.get('load_idle_end', '?')} at its end, "
      f"{m.get('load_after', '?')} after · machine CPU busy during the idle period (all processes, "
      f"/proc/stat): {m.get('machine_busy_idle', '?')} % of its {m.get('nproc', '?')} cores.\n")
    w(f"Binary: `{m.get('bin', '?')}` ({m.get('version', '?')}, profile **{m.get('profile', '?')}**, "
      f"{m.get('bin_mib', '?')} MiB, sha256 {m.get('sha256', '?')[:16]}…); "
      f"UI: the page said \"{(res['runs'][0].get('frontend_ready') if res['runs'] else '') or '?'}\" (URL, first h1). WebKitGTK {m.get('webkit', '?')}. "
      f"Under Xvfb {m.get('screen', '')} (no window manager, no compositor, software rendering), "
      f"a private D-Bus session and Secret Service (`scripts/keyring-session.sh`), a throwaway home "
      f"(first run: the embedded default config, no providers), `AIGW_LISTEN` on a free 127.0.0.1 port, "
      f"LANG={m.get('lang', '?')}, WebKit variables: {m.get('webkit_env', '').strip() or 'none'}.\n")
    w(f"Command: `{m.get('command', '')}`\n")
    w("## Launch to painted\n")
    w(f"{len(res['runs'])} launches, each in a fresh home, one after the other (the app quit with SIGTERM in between, "
      f"page cache warm after the first). Times from just before the exec (bash `$EPOCHREALTIME`):\n")
    w("| milestone | median ms | min | max | how it is observed |")
    w("|---|---|---|---|---|")
    rows = [
        ("gateway_started_ms", "gateway listening", "`EVENT gateway-started` on the app's stdout (line-buffered, time-stamped by the reader)"),
        ("mapped_ms", "window mapped", "the window named \"AI Model Gateway\" viewable (XQueryTree, polled)"),
        ("frontend_ready_ms", "UI rendered into the DOM", "`EVENT frontend-ready`: React's `#root` has children and the IPC round trip returned"),
        ("painted_ms", "**painted** (headline)", f"first capture of the window with > {PAINTED_COLOURS} distinct colours (a blank window has 1–2)"),
        ("complete_ms", "visually complete", f"the last capture in which > {COMPLETE_CHANGE} % of the pixels changed from the one before (none in the next 3 s)"),
    ]
    milestone_rows(w, L, rows)
    cap = [r.get("capture_mean_ms") for r in res["runs"] if r.get("capture_mean_ms")]
    w(f"\nThe window is captured every 50 ms by one process (`bench/desktop.py paint`, XGetImage of the "
      f"1200×800 window, ~{statistics.mean(cap):.0f} ms per capture including the colour count), so a milestone seen on the "
      f"screen is late by up to one period plus one capture, and the capturing takes some CPU from the launch on 2 cores. "
      f"The painted and final frames of each run, the frame log and the snapshots are in `results/logs/{m.get('logs', 'desktop')}/` (gitignored).\n" if cap else "")
    w("| run | gateway | mapped | DOM ready | painted | complete | colours at the end | frontend_ready said |")
    w("|---|---|---|---|---|---|---|---|")
    for r in res["runs"]:
        w(f"| {r['run']} | {r.get('gateway_started_ms')} | {r.get('mapped_ms')} | {r.get('frontend_ready_ms')} | "
          f"{r.get('painted_ms')} | {r.get('complete_ms')} | {r.get('final_colours')} | {r.get('frontend_ready', '')[:60]} |")
    R = res.get("reopen") or {}
    w("\n## Reopen from the tray to painted\n")
    w("With the window closed to the tray (the webview dropped), the tray's \"Open window\" is clicked over D-Bus "
      "(`com.canonical.dbusmenu` Event, as a panel sends it; `busctl` started just after the time is taken), "
      f"{m.get('settle_s', '?')} s after the close; the app builds a new window and webview, which loads the UI again. "
      "Times from just before the click, observed as for the launch:\n")
    w("| milestone | median ms | min | max | how it is observed |")
    w("|---|---|---|---|---|")
    reopen_rows = [
        ("webview_created_ms", "webview built", "`EVENT webview-created` (the builder returned)"),
        ("mapped_ms", "window mapped", "the window viewable (XQueryTree, polled)"),
        ("frontend_ready_ms", "UI rendered into the DOM", "`EVENT frontend-ready`"),
        ("painted_ms", "**painted** (headline)", f"first capture with > {PAINTED_COLOURS} distinct colours"),
        ("complete_ms", "visually complete", f"the last capture with > {COMPLETE_CHANGE} % of the pixels changed"),
    ]
    milestone_rows(w, R, reopen_rows)
    w("\n| run | webview built | mapped | DOM ready | painted | complete | colours at the end |")
    w("|---|---|---|---|---|---|---|")
    for r in res["runs"]:
        o = r.get("reopen") or {}
        w(f"| {r['run']} | {o.get('webview_created_ms')} | {o.get('mapped_ms')} | {o.get('frontend_ready_ms')} | "
          f"{o.get('painted_ms')} | {o.get('complete_ms')} | {o.get('final_colours')} |")
    C = res.get("close") or {}
    if C.get("dropped_ms"):
        w(f"\nClosing: `EVENT window-hidden` {C['hidden_ms']['median']} ms (median) after the close button's message, "
          f"`EVENT webview-dropped` (the window destroyed) {C['dropped_ms']['median']} ms.")
    w("\n## Memory (whole process tree)\n")
    w("The app and its descendants (WebKitWebProcess, WebKitNetworkProcess), summed. **RSS** counts "
      "shared libraries once per process, so the sum overstates; **PSS** (`/proc/PID/smaps_rollup`) shares each "
      "page among the processes mapping it; **private** is what would be freed if the tree exited.\n")
    w("| state | RSS MiB (median, max) | PSS MiB | private MiB | processes |")
    w("|---|---|---|---|---|")

    def row(name, d):
        if not d or not d.get("rss_kb"):
            w(f"| {name} | – | – | – | – |")
            return
        n = d.get("processes") or {}
        procs = f"{n['median']:g}" if n.get("min") == n.get("max") else f"{n.get('min')}–{n.get('max')}"
        w(f"| {name} | {mib(d['rss_kb']['median'])} ({mib(d['rss_kb']['max'])}) | {mib(d['pss_kb']['median'])} | "
          f"{mib(d['private_kb']['median'])} | {procs if n else ''} |")

    def one(name, d):
        if not d:
            w(f"| {name} | – | – | – | – |")
            return
        w(f"| {name} | {mib(d['rss_kb'])} | {mib(d['pss_kb'])} | {mib(d['private_kb'])} | {d['processes']} |")

    row(f"window open, {m.get('settle_s', '?')} s after painted", mem["open"])
    row(f"window closed to the tray (close button), {m.get('settle_s', '?')} s later", mem["closed"])
    row(f"reopened from the tray, {m.get('settle_s', '?')} s after painted", mem.get("reopened"))
    one(f"closed, after the {m.get('idle_s', '?')} s idle period", mem["closed_after_idle"])
    one(f"started hidden (`--hidden`, as at login), {m.get('settle_s', '?')} s after the tray appeared", mem["started_hidden"])
    if mem["closed_after_idle"]:
        w("\nBy process (closed, after the idle period):\n")
        w("| process | RSS MiB | PSS MiB | private MiB |")
        w("|---|---|---|---|")
        for exe, e in mem["closed_after_idle"]["by_process"].items():
            w(f"| {exe}{' ×%d' % e['n'] if e['n'] > 1 else ''} | {mib(e['rss_kb'])} | {mib(e['pss_kb'])} | {mib(e['private_kb'])} |")
    w("\n## Idle CPU, window closed\n")
    if idl:
        w(f"Over **{idl['wall_s']} s** with the window closed to the tray (after {m.get('settle_s', '?')} s of settling), "
          f"nothing talking to the app: CPU of the whole tree **{idl['cpu_ms_ticks']:.0f} ms** from `/proc/PID/stat` "
          f"(utime + stime, {1000 // 100} ms ticks) = **{idl['cpu_percent_of_core']:.3f} % of one core** "
          f"(target ≤ 0.1 %: {'met' if idl['cpu_percent_of_core'] <= 0.1 else '**missed**'}); "
          f"{idl['cpu_ms_threads']} ms from the threads' schedstat (ns) = {idl['cpu_percent_of_core_threads']:.3f} %. "
          f"Wake-ups: **{idl['switches']} context switches = {idl['switches_per_s']} per second** "
          f"(voluntary + involuntary, all threads; each is one sleep → run).\n")
        w("| process | CPU ms (ticks) | CPU ms (schedstat) | context switches | per second |")
        w("|---|---|---|---|---|")
        for p in idl["per_process"]:
            w(f"| {p['exe']} ({p['pid']}) | {p['cpu_ms_ticks']:.0f} | {p['cpu_ms_threads']} | {p['switches']} | {p['switches_per_s']} |")
        w("\nThreads that ran (by CPU, then wake-ups):\n")
        w("| process | thread | CPU ms | context switches | per second |")
        w("|---|---|---|---|---|")
        for t in idl["top_threads"]:
            w(f"| {t['exe']} | {t['comm']}{' (new)' if t['new'] else ''} | {t['cpu_ms']} | {t['switches']} | "
              f"{t['switches'] / idl['wall_s']:.2f} |")
        if not idl["processes_same"]:
            w("\nThe set of processes changed during the idle period (see the JSON).")
    else:
        w("No idle measurement (see the run's log).")
    w("\n## Method\n")
    w("`bench/desktop.sh` (bash) runs the app under `scripts/keyring-session.sh` (private D-Bus session and "
      "Secret Service) and `xvfb-run`; `bench/desktop.py` captures the window (`paint`), reads the process tree "
      "from `/proc` (`snap`) and writes this report (`report`). The window is closed the way a window manager "
      "closes it when the user clicks the close button (a `WM_DELETE_WINDOW` client message; the app closes it to "
      "the tray and logs `EVENT window-hidden`, and `EVENT webview-dropped` once the window and its webview are destroyed). "
      "On each launch the window is then reopened from the tray and closed again; the idle period starts "
      f"{m.get('settle_s', '?')} s after that second close. During the idle period the script only sleeps: no D-Bus, X or HTTP "
      "request reaches the app.")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    cmd, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    {"paint": paint, "snap": snap, "report": report}.get(cmd, lambda _a: sys.exit(__doc__))(rest)
