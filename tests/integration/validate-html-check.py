#!/usr/bin/env python3
"""validate-html-check.py: checks a headless-Chromium rendering of the
`vmctl validate --html` page (standard library only).

  validate-html-check.py png FILE WIDTH HEIGHT MIN_PLOTS
      FILE is a valid PNG of WIDTH x HEIGHT, not blank, and shows plot
      curves: pixels in the series colours of report_html.c, grouped into at
      least MIN_PLOTS bands of rows, each curve wide enough to be a line.
  validate-html-check.py dom FILE MIN_PLOTS MIN_POINTS
      the rendered DOM (--dump-dom) holds at least MIN_PLOTS <svg
      class="plot"> elements, each with a polyline of at least MIN_POINTS
      coordinates, and no network resource (http:// or https:// in src= or
      href=).

  validate-html-check.py probe IN OUT
      writes to OUT the page IN with a layout probe: a script, run by the
      browser at load, that measures the page and puts what it saw as JSON
      in <pre id="layout-probe"> for --dump-dom (the report itself never
      carries a script).
  validate-html-check.py layout FILE WIDTH REPORT
      the probed DOM of the page rendered WIDTH px wide: nothing wider than
      the window; the head (host, date, versions), the verdict, its reason
      and the counts per status as REPORT (the JSON) has them; host facts
      and known changes as tables; a row per check; every plot with ticks
      on both axes, axis labels, its curves, marked points, a legend below
      the plot area and a caption. Prints the page height as "height N".

Prints one line per finding; exits 0 when everything holds, 1 otherwise.
"""
import json
import re
import struct
import sys
import zlib

# report_html.c colours[] (series strokes), as RGB
SERIES = [(0x1F, 0x77, 0xB4), (0xD6, 0x27, 0x28), (0x2C, 0xA0, 0x2C),
          (0xFF, 0x7F, 0x0E), (0x94, 0x67, 0xBD), (0x8C, 0x56, 0x4B)]
TOLERANCE = 24          # per channel, for anti-aliased line centres
MIN_CURVE_WIDTH = 150   # px a curve must span horizontally
BAND_GAP = 40           # px of rows without curve pixels that separate plots
MIN_NONWHITE = 0.01     # share of non-white pixels of a page that is not blank


def fail(msg):
    print("FAIL: " + msg)
    return False


def read_png(path):
    """Width, height and rows of RGB triples of an 8-bit RGB/RGBA PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("'%s' has no PNG signature" % path)
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise ValueError("'%s' chunk %s has a bad CRC" % (path, kind.decode()))
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if ihdr is None:
        raise ValueError("'%s' has no IHDR" % path)
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError("'%s' is not 8-bit RGB/RGBA non-interlaced (depth %d, type %d)" % (path, depth, ctype))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    if len(raw) != h * (stride + 1):
        raise ValueError("'%s' image data has %d bytes, not %d" % (path, len(raw), h * (stride + 1)))
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ft = raw[y * (stride + 1)]
        cur = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ft == 1:
            for i in range(bpp, stride):
                cur[i] = (cur[i] + cur[i - bpp]) & 0xFF
        elif ft == 2:
            cur = bytearray((a + b) & 0xFF for a, b in zip(cur, prev))
        elif ft == 3:
            for i in range(stride):
                left = cur[i - bpp] if i >= bpp else 0
                cur[i] = (cur[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ft == 4:
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        elif ft != 0:
            raise ValueError("'%s' row %d has filter type %d" % (path, y, ft))
        rows.append(bytes(cur))
        prev = cur
    return w, h, bpp, rows


def _table(pred):
    return bytes(1 if pred(v) else 0 for v in range(256))


DARK = _table(lambda v: v < 240)  # a channel below 240: the pixel is not white
NEAR = [[_table(lambda v, c=c: abs(v - c) <= TOLERANCE) for c in rgb] for rgb in SERIES]


def _bits(row, bpp, channel, table):
    """One byte per pixel (0/1) of `table` applied to one channel, as an int."""
    return int.from_bytes(row[channel::bpp].translate(table), "big")


def check_png(path, want_w, want_h, min_plots):
    try:
        w, h, bpp, rows = read_png(path)
    except (OSError, ValueError, zlib.error) as e:
        return fail(str(e))
    ok = True
    if (w, h) != (want_w, want_h):
        ok = fail("'%s' is %dx%d, not %dx%d" % (path, w, h, want_w, want_h))
    nonwhite = 0
    curve_rows = {}  # row -> (min x, max x, count)
    for y, row in enumerate(rows):
        # per pixel one byte 0/1 in a big int: OR and AND over the channels
        # work byte by byte since no byte exceeds 1
        nonwhite += (_bits(row, bpp, 0, DARK) | _bits(row, bpp, 1, DARK) | _bits(row, bpp, 2, DARK)).bit_count()
        hit = 0
        for near in NEAR:
            hit |= _bits(row, bpp, 0, near[0]) & _bits(row, bpp, 1, near[1]) & _bits(row, bpp, 2, near[2])
        if hit:
            mask = hit.to_bytes(w, "big")
            curve_rows[y] = (mask.find(1), mask.rfind(1), hit.bit_count())
    share = nonwhite / float(w * h)
    print("non-white pixels: %d (%.2f%%)" % (nonwhite, share * 100))
    if share < MIN_NONWHITE:
        ok = fail("the page is blank: %.3f%% non-white pixels, need %.1f%%" % (share * 100, MIN_NONWHITE * 100))
    # bands of rows with curve pixels: one per plot
    bands, last = [], None
    for y in sorted(curve_rows):
        lo, hi, n = curve_rows[y]
        if last is None or y - last > BAND_GAP:
            bands.append([y, y, lo, hi, n])
        else:
            band = bands[-1]
            band[1], band[2], band[3], band[4] = y, min(band[2], lo), max(band[3], hi), band[4] + n
        last = y
    plots = [b for b in bands if b[3] - b[2] >= MIN_CURVE_WIDTH]
    for b in bands:
        print("curve band rows %d-%d, x %d-%d, %d series pixels" % (b[0], b[1], b[2], b[3], b[4]))
    if len(plots) < min_plots:
        ok = fail("%d plot curves of at least %d px wide in the screenshot, need %d"
                  % (len(plots), MIN_CURVE_WIDTH, min_plots))
    return ok


def check_dom(path, min_plots, min_points):
    try:
        dom = open(path, encoding="utf-8", errors="replace").read()
    except OSError as e:
        return fail(str(e))
    ok = True
    svgs = re.findall(r"<svg\b[^>]*class=\"plot\"[^>]*>(.*?)</svg>", dom, re.S)
    full = 0
    for i, svg in enumerate(svgs):
        counts = [len(re.findall(r"-?[0-9.]+,-?[0-9.]+", p))
                  for p in re.findall(r"<polyline\b[^>]*\bpoints=\"([^\"]*)\"", svg)]
        names = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
        print("plot %d: polylines with %s points; labels %s" % (i + 1, counts or [0], names))
        if counts and max(counts) >= min_points:
            full += 1
    if full < min_plots:
        ok = fail("%d plots with a curve of at least %d points in the DOM, need %d" % (full, min_points, min_plots))
    remote = re.findall(r"\b(?:src|href)\s*=\s*[\"']?\s*(https?://[^\"' >]*)", dom, re.I)
    if remote:
        ok = fail("the page requests %d network resources, first '%s'" % (len(remote), remote[0]))
    if "<body" not in dom:
        ok = fail("'%s' holds no rendered <body>" % path)
    return ok


PROBE = r"""<script>
(function () {
  function all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function text(id) { var e = document.getElementById(id); return e ? e.textContent : null; }
  var W = window.innerWidth, r = {};
  r.width = W;
  r.scroll_width = document.documentElement.scrollWidth;
  r.height = document.documentElement.scrollHeight;
  r.wide = all("body *").filter(function (e) {
    var b = e.getBoundingClientRect(); return b.width > 0 && b.right > W + 1;
  }).slice(0, 3).map(function (e) { return e.tagName.toLowerCase() + (e.id ? "#" + e.id : ""); });
  r.head = all("#head tr").map(function (tr) {
    var th = tr.querySelector("th"), td = tr.querySelector("td");
    return [th ? th.textContent : "", td ? td.textContent : ""];
  });
  r.verdict = text("verdict");
  r.reason = text("reason");
  r.counts = {};
  all("#counts td").forEach(function (td) { r.counts[td.id] = td.textContent; });
  r.facts = all("#facts tr").length;
  r.changes = Math.max(0, all("#known-changes tr").length - 1);
  r.checks = all("#checks tr[id^=check-]").length;
  r.plots = all("svg.plot").map(function (svg) {
    function shown(sel) {
      return all(sel, svg).filter(function (t) { var b = t.getBBox(); return b.width > 0 && b.height > 0; });
    }
    var area = svg.querySelector("rect.area"), ab = area ? area.getBBox() : null, b = svg.getBoundingClientRect();
    var fig = svg.parentNode, cap = fig ? fig.querySelector("p.caption") : null;
    return {
      width: b.width, right: b.right,
      ticks_x: shown("text.tick-x").length, ticks_y: shown("text.tick-y").length,
      axis_x: shown("text.axis-x").length, axis_y: shown("text.axis-y").length,
      curves: all("polyline.series", svg).length, points: all("circle.pt", svg).length,
      legend: shown("text.legend").length,
      legend_over_data: ab ? shown("text.legend").filter(function (t) {
        return t.getBBox().y < ab.y + ab.height; }).length : -1,
      caption: cap ? cap.textContent : ""
    };
  });
  var pre = document.createElement("pre");
  pre.id = "layout-probe";
  pre.textContent = JSON.stringify(r);
  document.body.appendChild(pre);
})();
</script>"""


def probe(src, dst):
    page = open(src, encoding="utf-8").read()
    if "</body>" not in page:
        return fail("'%s' has no </body>" % src)
    open(dst, "w", encoding="utf-8").write(page.replace("</body>", PROBE + "</body>", 1))
    return True


def check_layout(path, width, report_path):
    try:
        dom = open(path, encoding="utf-8", errors="replace").read()
        report = json.load(open(report_path, encoding="utf-8"))
    except (OSError, ValueError) as e:
        return fail(str(e))
    m = re.search(r'<pre id="layout-probe">(.*?)</pre>', dom, re.S)
    if not m:
        return fail("'%s' holds no layout probe result (did the page load?)" % path)
    r = json.loads(m.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&"))
    print("height %d" % r["height"])
    ok = True
    if r["width"] != width:
        ok = fail("the window is %d px wide, not %d" % (r["width"], width))
    if r["scroll_width"] > width or r["wide"]:
        ok = fail("the page overflows %d px: %d px wide, first wider elements %s"
                  % (width, r["scroll_width"], r["wide"]))
    heads = dict((k.strip(), v.strip()) for k, v in r["head"])
    for want in ("host", "date", "vmctl", "kernel", "QEMU", "libvirt"):
        if heads.get(want, "unknown") in ("", "unknown"):
            ok = fail("the head says no %s (rows: %s)" % (want, heads))
    checks = report.get("checks", [])
    if not r["verdict"] or report.get("verdict", "?") not in r["verdict"]:
        ok = fail("the verdict line %r does not say '%s'" % (r["verdict"], report.get("verdict")))
    if not r["reason"] or not r["reason"].strip():
        ok = fail("the verdict has no reason line")
    for cid, status in (("count-pass", "PASS"), ("count-fail", "FAIL"), ("count-na", "NOT APPLICABLE"),
                        ("count-error", "ERROR")):
        want = sum(1 for c in checks if c.get("status") == status)
        got = r["counts"].get(cid)
        if got is None or got.strip() != str(want):
            ok = fail("the %s count is %r, the report has %d" % (status, got, want))
    host = report.get("host", {})
    want_changes = len(host.get("kernel", {}).get("known_changes", [])) + len(host.get("qemu", {}).get("known_issues", []))
    if r["facts"] < 8:
        ok = fail("the host facts table has %d rows, need at least 8" % r["facts"])
    if r["changes"] != want_changes:
        ok = fail("the known changes table has %d rows, the report has %d changes" % (r["changes"], want_changes))
    if r["checks"] != len(checks):
        ok = fail("the checks table has %d rows, the report has %d checks" % (r["checks"], len(checks)))
    want_plots = sum(1 for c in checks if (c.get("evidence") or {}).get("series"))
    if len(r["plots"]) != want_plots:
        ok = fail("%d plots drawn, the report has %d checks with series" % (len(r["plots"]), want_plots))
    for i, p in enumerate(r["plots"]):
        print("plot %d: %d x ticks, %d y ticks, %d curves, %d points, %d legend entries, %.0f px wide"
              % (i + 1, p["ticks_x"], p["ticks_y"], p["curves"], p["points"], p["legend"], p["width"]))
        if p["ticks_x"] < 3 or p["ticks_y"] < 3:
            ok = fail("plot %d has %d x and %d y ticks, need 3 on each axis" % (i + 1, p["ticks_x"], p["ticks_y"]))
        if p["axis_x"] != 1 or p["axis_y"] != 1:
            ok = fail("plot %d lacks an axis label (x %d, y %d)" % (i + 1, p["axis_x"], p["axis_y"]))
        if p["curves"] < 1 or p["points"] < 1:
            ok = fail("plot %d has %d curves and %d marked points" % (i + 1, p["curves"], p["points"]))
        if p["legend"] < p["curves"]:
            ok = fail("plot %d names %d of its %d curves in its legend" % (i + 1, p["legend"], p["curves"]))
        if p["legend_over_data"] != 0:
            ok = fail("plot %d has %d legend entries over its plot area" % (i + 1, p["legend_over_data"]))
        if not p["caption"].strip():
            ok = fail("plot %d has no caption" % (i + 1))
        if p["width"] <= 0 or p["right"] > width + 1:
            ok = fail("plot %d is %.0f px wide and ends at %.0f px of %d" % (i + 1, p["width"], p["right"], width))
    return ok


def main(argv):
    if len(argv) == 4 and argv[1] == "probe":
        return 0 if probe(argv[2], argv[3]) else 1
    if len(argv) == 5 and argv[1] == "layout":
        return 0 if check_layout(argv[2], int(argv[3]), argv[4]) else 1
    if len(argv) == 6 and argv[1] == "png":
        return 0 if check_png(argv[2], int(argv[3]), int(argv[4]), int(argv[5])) else 1
    if len(argv) == 5 and argv[1] == "dom":
        return 0 if check_dom(argv[2], int(argv[3]), int(argv[4])) else 1
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
