// ownstats dashboard: vanilla JS, no build step, nothing loaded from elsewhere.
//
// All state lives in the URL (site, period, from/to, comparison, filters, the graphed
// metric), so a view can be shared or bookmarked and back/forward work: every change
// pushes a new URL, then render() reads the URL and asks the API. Every number comes
// from the API (which reads the views); this file only formats and draws.
//
// Every request to the API goes through apiFetch(): a hosted deployment sets
// window.ownstatsAuth (headers() for a bearer token, expired() when the API says 401,
// ready before the first request), so nothing here may call fetch() directly.
"use strict";

(() => {
  const $ = (sel) => document.querySelector(sel);
  // Plausible's keys (its date picker's keybind hints); X toggles the comparison
  const PERIODS = [
    ["realtime", "Realtime", "R"], ["today", "Today", "D"], ["yesterday", "Yesterday", "E"],
    ["7d", "Last 7 days", "W"], ["30d", "Last 30 days", "T"], ["month", "Month to date", "M"],
    ["last_month", "Last month", "P"], ["year", "Year to date", "Y"],
    ["12mo", "Last 12 months", "L"], ["all", "All time", "A"], ["custom", "Custom range…", "C"],
  ];
  const PERIOD_NAMES = PERIODS.map(([p]) => p);
  const COMPARISONS = ["off", "previous_period", "year_over_year"];
  const DEFAULT_COMPARISON = "previous_period";
  // ranges that grow while the page is open (cards and graph refresh quietly)
  const LIVE_PERIODS = new Set(["realtime", "today", "7d", "30d", "month", "year", "12mo", "all"]);
  const PANELS = [
    { title: "Pages", tabs: [["pages", "Top pages"], ["entry-pages", "Entry pages"], ["exit-pages", "Exit pages"]] },
    { title: "Sources", tabs: [["sources", "Sources"], ["channels", "Channels"], ["campaigns", "Campaigns"]] },
    { title: "Locations", tabs: [["countries", "Countries"], ["map", "Map"], ["cities", "Edge cities"]] },
    { title: "Devices", tabs: [["devices", "Devices"], ["browsers", "Browsers"], ["operating-systems", "OS"]] },
    { title: "Goals", tabs: [["custom-events", "Custom events"], ["props", "Properties"]] },
    { title: "Campaign tags", tabs: [["mediums", "Medium"], ["terms", "Term"], ["contents", "Content"]] },
  ];
  const COLUMN_LABELS = {
    visitors: "Visitors", visits: "Visits", pageviews: "Views", entries: "Entries",
    exits: "Exits", events: "Events", bounce_rate: "Bounce", exit_rate: "Exit rate",
    avg_visit_duration_s: "Duration", avg_time_on_page_s: "Time on page",
    scroll_depth: "Scroll depth", conversion_rate: "CR", prop_key: "Property",
  };
  const CARDS = [
    ["visitors", "Unique visitors"], ["visits", "Total visits"], ["pageviews", "Total pageviews"],
    ["views_per_visit", "Views per visit"], ["bounce_rate", "Bounce rate"],
    ["visit_duration_s", "Visit duration"], ["total_conversions", "Total conversions"],
    ["conversion_rate", "Conversion rate"],
  ];
  const GRAPHABLE = new Set(CARDS.map(([m]) => m).filter((m) => m !== "conversion_rate" && m !== "total_conversions"));
  const LOWER_IS_BETTER = new Set(["bounce_rate"]);
  // secondary columns hidden on phones so a row stays readable at 375 px
  const NARROW = new Set(["bounce_rate", "avg_visit_duration_s", "avg_time_on_page_s", "scroll_depth", "exit_rate"]);
  // rows a details list loads at a time (page_size=N in the URL: a test hook)
  const DETAILS_PAGE = Math.min(1000, Number(new URLSearchParams(location.search).get("page_size")) || 100);

  let filterLabels = {};
  let noneValue = "(none)";
  let sites = [];
  // a filter's URL value, in Plausible's dashboard syntax (ownstats/dashboard/params.py):
  // "a|b" several values, a leading "!" negates, "~" is "contains"; "\\" escapes
  const PROP_PREFIX = "prop.";
  const OP_TEXT = { is: "is", is_not: "is not", contains: "contains", contains_not: "does not contain" };
  function parseFilter(raw) {
    let rest = raw;
    const negated = rest.startsWith("!");
    if (negated) rest = rest.slice(1);
    const contains = rest.startsWith("~");
    if (contains) rest = rest.slice(1);
    const values = [];
    let current = "";
    for (let i = 0; i < rest.length; i++) {
      const c = rest[i];
      if (c === "\\" && i + 1 < rest.length && "|!~\\".includes(rest[i + 1])) {
        current += rest[++i];
      } else if (c === "|") {
        values.push(current);
        current = "";
      } else current += c;
    }
    values.push(current);
    return { op: (contains ? "contains" : "is") + (negated ? "_not" : ""), values };
  }
  function formatFilter(op, values) {
    const escaped = values.map((v) => v.replace(/([\\|])/g, "\\$1"));
    if (/^[!~]/.test(escaped[0])) escaped[0] = "\\" + escaped[0];
    return (op.endsWith("_not") ? "!" : "") + (op.startsWith("contains") ? "~" : "") + escaped.join("|");
  }
  // {mode: "realtime"} or, on a stack that reads CloudFront's standard logs only
  // (-c realtime=false), {mode: "archive", note}: no realtime period, no live counter
  let input = { mode: "realtime" };
  // the funnels defined for this dashboard (/api/sites), and the one on screen
  let funnels = [];
  let funnelName = "";
  let generation = 0; // responses of an older render() are dropped
  let liveTimer = null;
  let totalsTimer = null;
  // when the backend last read the data (hosted: Athena, through /api/freshness)
  let freshness = { site: null, checkedAt: null, newest: null, off: false };
  let propsSeq = 0;
  let lastSummary = null;
  const activeTab = new Map(); // panel title -> tab slug (per page view, not shared)

  // ---------------------------------------------------------------- API access
  class Expired extends Error {}
  // the API refused the state itself (400: a range out of bounds, a bad filter): every
  // part of the page would say the same, so the error box says it once
  class BadState extends Error {}

  // The one way to the API: JSON, CSV, the live counter, everything.
  // A page asks for about 20 things at once. Hosted, each is a Lambda invocation, and a
  // new AWS account runs 10 at a time, shared with the stream processor: all at once,
  // the first visit would see panels throttled. So at most MAX_INFLIGHT requests run
  // at a time, and a throttled or failed answer (429, 5xx) is asked again, up to
  // RETRIES times, after a growing, jittered pause (or the server's Retry-After).
  const MAX_INFLIGHT = 4;
  const RETRIES = 3;
  const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
  let inflight = 0;
  const queued = [];

  async function acquire() {
    if (inflight >= MAX_INFLIGHT) await new Promise((resolve) => queued.push(resolve));
    inflight += 1;
  }

  function release() {
    inflight -= 1;
    const next = queued.shift();
    if (next) next();
  }

  function pause(attempt, response) {
    const after = Number(response.headers.get("Retry-After"));
    const ms = after > 0 ? Math.min(after, 10) * 1000 : 400 * 2 ** attempt * (0.5 + Math.random() / 2);
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  async function apiFetch(url, accept = "application/json") {
    const auth = window.ownstatsAuth;
    for (let attempt = 0; ; attempt += 1) {
      const headers = { Accept: accept, ...(auth ? await auth.headers() : {}) };
      await acquire();
      let response;
      try {
        response = await fetch(url, { headers });
      } finally {
        release();
      }
      if (response.status === 401 && auth) {
        auth.expired();
        throw new Expired("signed out");
      }
      if (!RETRY_STATUS.has(response.status) || attempt >= RETRIES) return response;
      await pause(attempt, response);
    }
  }

  async function getJson(url) {
    const response = await apiFetch(url);
    const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    if (response.status === 400) throw new BadState(body.error || "HTTP 400");
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    return body;
  }

  function filenameOf(response, fallback) {
    const header = response.headers.get("Content-Disposition") || "";
    const utf8 = header.match(/filename\*=UTF-8''([^;]+)/i);
    if (utf8) {
      try { return decodeURIComponent(utf8[1]); } catch { /* the plain name below */ }
    }
    const plain = header.match(/filename="([^"]+)"/i);
    return plain ? plain[1] : fallback;
  }

  // CSV through apiFetch (a plain link could not carry the hosted Authorization
  // header), saved as a Blob under the server's file name.
  async function downloadCsv(url, fallback, button) {
    button?.setAttribute("aria-busy", "true");
    try {
      const response = await apiFetch(url, "text/csv");
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new Error(body.error || `HTTP ${response.status}`);
      }
      const blob = await response.blob();
      const link = el("a", { href: URL.createObjectURL(blob), download: filenameOf(response, fallback), hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    } catch (err) {
      showError(`Could not export CSV: ${err.message}`, err);
    } finally {
      button?.setAttribute("aria-busy", "false");
    }
  }

  // ---------------------------------------------------------------- URL state
  function readState() {
    const q = new URLSearchParams(location.search);
    const filters = {};
    for (const name of Object.keys(filterLabels)) {
      if (q.get(name)) filters[name] = q.get(name);
    }
    for (const [name, value] of q) if (name.startsWith(PROP_PREFIX) && value) filters[name] = value;
    let period = q.get("period") || (q.get("from") ? "custom" : "30d");
    if (!PERIOD_NAMES.includes(period)) period = "30d";
    let comparison = q.get("comparison") || DEFAULT_COMPARISON;
    if (!COMPARISONS.includes(comparison)) comparison = DEFAULT_COMPARISON;
    let metric = q.get("metric") || "visitors";
    if (!GRAPHABLE.has(metric)) metric = "visitors";
    const interval = q.get("interval") || "";
    return { site: q.get("site") || "", period, from: q.get("from") || "", to: q.get("to") || "", comparison, filters, metric, interval };
  }

  // the API's parameters: the page's own (metric, refresh) stay out
  function stateQuery(state) {
    const q = new URLSearchParams();
    q.set("site", state.site);
    q.set("period", state.period);
    if (state.period === "custom") {
      q.set("from", state.from);
      q.set("to", state.to);
    }
    if (state.comparison !== DEFAULT_COMPARISON) q.set("comparison", state.comparison);
    if (state.interval) q.set("interval", state.interval);
    for (const [name, value] of Object.entries(state.filters)) q.set(name, value);
    return q;
  }

  function pageUrl(state) {
    const q = stateQuery(state);
    if (state.metric && state.metric !== "visitors") q.set("metric", state.metric);
    const keep = new URLSearchParams(location.search).get("refresh"); // test hook, kept
    if (keep) q.set("refresh", keep);
    return `${location.pathname}?${q}`;
  }

  function navigate(state, replace = false) {
    const url = pageUrl(state);
    if (replace) history.replaceState(null, "", url);
    else history.pushState(null, "", url);
    render();
  }

  function apiUrl(path, state, extra = {}) {
    const q = stateQuery(state);
    for (const [k, v] of Object.entries(extra)) if (v != null && v !== "") q.set(k, v);
    return `${path}?${q}`;
  }

  // ---------------------------------------------------------------- formatting
  const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });
  const whole = new Intl.NumberFormat("en");
  const regionNames = typeof Intl.DisplayNames === "function"
    ? new Intl.DisplayNames(["en"], { type: "region" }) : null;

  function duration(seconds) {
    if (seconds == null) return "–";
    const s = Math.round(seconds);
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m ${s % 60}s`;
    return `${Math.floor(m / 60)}h ${m % 60}m`;
  }

  function format(name, value) {
    if (value == null) return "–";
    if (name.endsWith("_rate")) {
      const pct = value * 100;
      return `${pct > 0 && pct < 10 ? pct.toFixed(1) : Math.round(pct)}%`;
    }
    if (name.endsWith("_s")) return duration(value);
    if (name === "scroll_depth") return `${Math.round(value)}%`; // already in percent
    if (name === "views_per_visit") return value.toFixed(2);
    return value >= 10000 ? compact.format(value) : whole.format(value);
  }

  function countryName(code) {
    if (!code || !regionNames) return code;
    try { return regionNames.of(code) || code; } catch { return code; }
  }

  function dimensionText(dimension, value) {
    if (value == null) {
      if (dimension === "country_code") return "Unknown";
      // hits that reached no CloudFront edge: `ownstats serve`'s own collector
      if (dimension === "edge_city") return "No edge (collected locally)";
      return noneValue;
    }
    return dimension === "country_code" ? countryName(value) : value;
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }

  function showError(message, err) {
    if (err instanceof Expired) return; // the sign-in page takes over
    const box = $("#error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  // ---------------------------------------------------------------- header
  function periodLabel(period) {
    return (PERIODS.find(([p]) => p === period) || [null, period])[1];
  }

  function renderHeader(state, meta) {
    const siteSelect = $("#site");
    siteSelect.replaceChildren(...sites.map((s) => el("option", { value: s, text: s })));
    siteSelect.value = state.site;
    siteSelect.disabled = sites.length === 0;
    $("#period").value = state.period;
    $("#comparison").value = state.comparison;
    $("#comparison").disabled = state.period === "all";
    $("#custom").hidden = state.period !== "custom";
    $("#title-site").textContent = state.site || "Dashboard";
    if (!meta && state.period === "custom") {
      // before the answer (or instead of it, when the range is refused) the fields
      // keep what was asked, so a refused range can be corrected, not typed again
      $("#from").value = state.from;
      $("#to").value = state.to;
    }
    if (meta) {
      $("#from").value = meta.from;
      $("#to").value = meta.to;
      let label = meta.from === meta.to ? meta.from : `${meta.from} – ${meta.to}`;
      if (state.period === "realtime") label = "last 30 minutes";
      $("#range-label").textContent = label;
      document.title = `${state.site} · ${label} · ownstats`;
    }
    const chips = Object.entries(state.filters).map(([name, value]) => {
      const label = name.startsWith(PROP_PREFIX) ? `Property ${name.slice(PROP_PREFIX.length)}` : (filterLabels[name] || name);
      const { op, values } = parseFilter(value);
      const remove = () => {
        const filters = { ...state.filters };
        delete filters[name];
        navigate({ ...state, filters });
        $("#main").focus();
      };
      const shownValues = [];
      values.forEach((v, i) => {
        if (i) shownValues.push(" or ");
        shownValues.push(el("strong", { text: v }));
      });
      // a page filter, as Plausible's: the visits that viewed the page (visitors, visits,
      // bounces, duration, sources...) and, of page views and pages, that page's own
      const visitsWith = name === "page" || name === "event" || name.startsWith(PROP_PREFIX);
      const text = name === "page" && op === "is"
        ? el("span", { title: "Visits that viewed this page; page views and Top pages count this page's own" },
          "Visits that viewed ", ...shownValues)
        : el("span", visitsWith ? { title: "Whole visits with such an event (is not: visits without one)" } : {},
          `${label} ${OP_TEXT[op]} `, ...shownValues);
      const spoken = `${label} ${OP_TEXT[op]} ${values.join(" or ")}`;
      return el("li", { class: "chip", "data-filter": name }, text,
        el("button", { type: "button", "aria-label": `Remove filter ${spoken}`, title: "Remove filter", onclick: remove, text: "×" }));
    });
    if (chips.length > 1) {
      chips.push(el("li", {}, el("button", {
        type: "button", class: "clear", text: "Clear all",
        onclick: () => navigate({ ...state, filters: {} }),
      })));
    }
    $("#chips").replaceChildren(...chips);
    $("#filters").hidden = chips.length === 0;
  }

  // ---------------------------------------------------------------- cards
  function changeOf(name, m, meta) {
    if (meta.comparison === "off") return { text: "", cls: "change" };
    if (m.change == null) return { text: "no previous data", cls: "change" };
    const up = m.change > 0;
    const arrow = m.change === 0 ? "" : up ? "↑ " : "↓ ";
    const unit = name.endsWith("_rate") ? " pp" : "%";
    let cls = "change";
    if (m.change !== 0) cls += (up !== LOWER_IS_BETTER.has(name)) ? " good" : " bad";
    return { text: `${arrow}${Math.abs(m.change)}${unit}`, cls };
  }

  function comparedWith(meta) {
    if (!meta.previous_from) return "";
    const zone = meta.time_zone || "UTC"; // the site's clock: the times below are on it
    if (meta.previous_since && meta.previous_until) {  // realtime: the 30 minutes before
      return `${meta.previous_since.slice(11, 16)}–${meta.previous_until.slice(11, 16)} ${zone}`;
    }
    const until = meta.previous_until ? ` until ${meta.previous_until.slice(11, 16)} ${zone}` : "";
    return meta.previous_from === meta.previous_to
      ? `${meta.previous_from}${until}` : `${meta.previous_from} to ${meta.previous_to}${until}`;
  }

  // The graph already holds every metric: a card click redraws, it does not refetch.
  function selectMetric(name) {
    history.pushState(null, "", pageUrl({ ...readState(), metric: name }));
    if (lastSummary) renderCards(lastSummary, readState());
    if (chartData) renderChart(chartData);
  }

  function renderCards(summary, state) {
    lastSummary = summary;
    const meta = summary.meta;
    const items = CARDS.filter(([name]) => summary.metrics[name]).map(([name, label]) => {
      const m = summary.metrics[name];
      const change = changeOf(name, m, meta);
      const title = m.value == null || name.endsWith("_s") || name.endsWith("_rate") ? null : whole.format(m.value);
      const graphable = GRAPHABLE.has(name);
      const selected = graphable && state.metric === name;
      const body = [
        el("h3", { text: label }),
        el("p", { class: "value", "data-value": m.value ?? "", title, text: format(name, m.value) }),
        el("p", { class: change.cls, "data-change": m.change ?? "" },
          el("span", { text: change.text }),
          meta.previous_from
            ? el("span", { class: "sr", text: ` compared with ${comparedWith(meta)} (${format(name, m.previous)})` })
            : null),
      ];
      const inner = graphable
        ? el("button", {
          type: "button", class: "card-button", "aria-pressed": String(selected),
          title: `Show ${label.toLowerCase()} on the graph`,
          onclick: () => selectMetric(name),
        }, ...body)
        : el("div", { class: "card-button" }, ...body);
      return el("li", { class: selected ? "card selected" : "card", "data-metric": name }, inner);
    });
    const list = $("#cards");
    list.replaceChildren(...items);
    list.setAttribute("aria-busy", "false");
    $("#compare-note").textContent = meta.previous_from ? `Compared with ${comparedWith(meta)}.` : "";
  }

  // ---------------------------------------------------------------- chart (SVG)
  const SVG = "http://www.w3.org/2000/svg";
  let chartData = null;

  function svg(tag, attrs = {}) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  }

  // The axis's top and step: the smallest "nice" step (1, 2 or 5 × 10^k; clock units
  // for durations) that reaches the peak in at most six intervals, and the top the
  // first multiple of it at or above the peak: 620 → 800 in steps of 200, not 1K.
  function niceScale(peak, metric) {
    const floor = metric.endsWith("_rate") ? 0.04 : metric === "views_per_visit" ? 0.4 : 4;
    const value = Math.max(peak, floor);
    const fits = (step) => Math.ceil(value / step - 1e-9) <= 6;
    let step;
    if (metric.endsWith("_s")) {
      const units = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
      step = units.find(fits) || Math.ceil(value / 6 / 3600) * 3600;
    } else {
      let magnitude = 10 ** Math.floor(Math.log10(value / 6));
      for (;;) {
        step = [1, 2, 5].map((m) => m * magnitude).find(fits);
        if (step) break;
        magnitude *= 10;
      }
      if (!metric.endsWith("_rate") && metric !== "views_per_visit") step = Math.max(1, step);
    }
    const top = Math.ceil(value / step - 1e-9) * step;
    return { top, step };
  }

  function bucketLabel(series, bucket, long = false) {
    if (series.interval === "hour") return `${String(bucket).padStart(2, "0")}:00`;
    if (series.interval === "minute") return `${bucket.slice(11, 16)}`;
    const d = new Date(`${bucket}T00:00:00Z`);
    if (series.interval === "month") return d.toLocaleDateString("en", { month: long ? "long" : "short", year: "numeric", timeZone: "UTC" });
    const day = d.toLocaleDateString("en", { month: "short", day: "numeric", timeZone: "UTC", ...(long ? { weekday: "short" } : {}) });
    return series.interval === "week" ? `${long ? "Week of " : ""}${day}` : day;
  }

  function metricLabel(metric) {
    return (CARDS.find(([m]) => m === metric) || [null, metric])[1];
  }

  function drawChart() {
    const box = $("#chart");
    if (!chartData) return;
    const series = chartData;
    const metric = readState().metric;
    const points = series.points;
    const previous = series.previous || [];
    const width = Math.max(box.clientWidth, 200);
    const height = box.clientHeight || 240;
    const pad = { top: 10, right: 10, bottom: 24, left: 48 };
    const w = width - pad.left - pad.right;
    const h = height - pad.top - pad.bottom;
    const values = [...points, ...previous].map((p) => p[metric]).filter((v) => v != null);
    const { top, step } = niceScale(Math.max(0, ...values), metric);
    const x = (i) => pad.left + (points.length === 1 ? w / 2 : (i * w) / (points.length - 1));
    const y = (v) => pad.top + h - (v / top) * h;
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, "aria-hidden": "true", focusable: "false", "data-top": top, "data-step": step });
    for (let v = 0; v <= top + step / 1e6; v += step) {
      root.append(svg("line", { class: "grid-line", x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }));
      const t = svg("text", { class: "axis axis-y", x: pad.left - 6, y: y(v) + 4, "text-anchor": "end" });
      t.textContent = metric.endsWith("_rate") || metric.endsWith("_s") || metric === "views_per_visit"
        ? format(metric, v) : compact.format(v);
      root.append(t);
    }
    const every = Math.max(1, Math.ceil(points.length / Math.max(2, Math.floor(w / 70))));
    points.forEach((p, i) => {
      if (i % every !== 0) return;
      const t = svg("text", { class: "axis", x: x(i), y: height - 6, "text-anchor": "middle" });
      t.textContent = bucketLabel(series, p.bucket);
      root.append(t);
    });
    const line = (pairs) => pairs.map(([i, v], n) => `${n ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join("");
    const known = (list) => list.map((p, i) => [i, p[metric]]).filter(([, v]) => v != null);
    const prev = known(previous);
    if (prev.length) root.append(svg("path", { class: "line-previous", d: line(prev), "data-points": prev.length }));
    const current = known(points);
    // the interval still running is drawn dotted: its number will still grow
    const open = current.length && points[current[current.length - 1][0]].incomplete ? 1 : 0;
    const closed = current.slice(0, current.length - open);
    if (closed.length) {
      const first = closed[0][0];
      const last = closed[closed.length - 1][0];
      if (!metric.endsWith("_rate") && metric !== "views_per_visit" && !metric.endsWith("_s")) {
        root.append(svg("path", { class: "area", d: `${line(closed)}L${x(last)},${y(0)}L${x(first)},${y(0)}Z` }));
      }
      root.append(svg("path", { class: "line-current", d: line(closed), "data-points": closed.length }));
    }
    if (open) {
      const tail = current.slice(Math.max(0, current.length - 2));
      root.append(svg("path", { class: "line-incomplete", d: line(tail), "data-bucket": points[tail[tail.length - 1][0]].bucket }));
    }
    const cursor = svg("line", { class: "cursor", y1: pad.top, y2: pad.top + h, visibility: "hidden" });
    const dot = svg("circle", { class: "dot-current", r: 4, visibility: "hidden" });
    const dotPrev = svg("circle", { class: "dot-previous", r: 3.5, visibility: "hidden" });
    root.append(cursor, dotPrev, dot);
    box.replaceChildren(root);

    const tip = $("#tip");
    const show = (i) => {
      const p = points[i];
      if (!p || p[metric] == null) { hide(); return; }
      const q = previous[i];
      for (const node of [cursor, dot]) node.setAttribute("visibility", "visible");
      dotPrev.setAttribute("visibility", q && q[metric] != null ? "visible" : "hidden");
      cursor.setAttribute("x1", x(i)); cursor.setAttribute("x2", x(i));
      dot.setAttribute("cx", x(i)); dot.setAttribute("cy", y(p[metric]));
      if (q && q[metric] != null) { dotPrev.setAttribute("cx", x(i)); dotPrev.setAttribute("cy", y(q[metric])); }
      const partial = p.incomplete ? " (so far)" : "";
      const before = q && q[metric] != null ? ` · ${bucketLabel(series, q.bucket, true)}: ${format(metric, q[metric])}` : "";
      tip.textContent = `${bucketLabel(series, p.bucket, true)}${partial} · ${format(metric, p[metric])} ${metricLabel(metric).toLowerCase()}${before}`;
      tip.hidden = false;
      const left = Math.min(Math.max(x(i), 130), width - 130);
      tip.style.setProperty("left", `${left}px`);
      tip.style.setProperty("top", `${y(p[metric]) + 28}px`);
      box.dataset.index = i;
    };
    const hide = () => {
      for (const node of [cursor, dot, dotPrev]) node.setAttribute("visibility", "hidden");
      tip.hidden = true;
    };
    box.onpointermove = (event) => {
      const rect = box.getBoundingClientRect();
      const rel = ((event.clientX - rect.left) * (width / rect.width) - pad.left) / (w || 1);
      show(Math.round(Math.min(Math.max(rel, 0), 1) * (points.length - 1)));
    };
    box.onpointerleave = hide;
    box.onblur = hide;
    box.onkeydown = (event) => {
      const at = Number(box.dataset.index ?? points.length - 1);
      if (event.key === "ArrowLeft") show(Math.max(0, at - 1));
      else if (event.key === "ArrowRight") show(Math.min(points.length - 1, at + 1));
      else return;
      event.preventDefault();
    };
  }

  function renderChart(series) {
    chartData = series;
    const box = $("#chart");
    const metric = readState().metric;
    const total = series.points.reduce((a, p) => a + (p.visitors || 0), 0);
    box.setAttribute("role", "img");
    box.setAttribute("tabindex", "0");
    box.setAttribute("aria-label",
      `${metricLabel(metric)} per ${series.interval}, ${series.points.length} points` +
      `${series.previous ? ", previous period dashed" : ""}. ` +
      "Use the left and right arrow keys to read each point.");
    box.dataset.total = total;
    box.dataset.metric = metric;
    box.dataset.interval = series.interval;
    delete box.dataset.index;
    $("#key-current").textContent = metricLabel(metric);
    const picker = $("#interval");
    const choices = series.meta.intervals || [series.interval];
    picker.replaceChildren(...choices.map((i) => el("option", { value: i, text: `by ${i}` })));
    picker.value = series.interval;
    picker.disabled = choices.length < 2;
    $("#key-previous").hidden = !series.previous;
    // the dotted key only where a dotted interval is drawn: a closed range has none
    $("#key-incomplete").hidden = !(series.points || []).some((p) => p.incomplete);
    drawChart();
  }

  function chartMessage(text) {
    chartData = null;
    const box = $("#chart");
    box.removeAttribute("role");
    box.removeAttribute("tabindex");
    box.removeAttribute("aria-label");
    box.replaceChildren(el("p", { class: "chart-note", text }));
  }

  // ---------------------------------------------------------------- breakdowns
  function buildPanels() {
    const container = $("#panels");
    if (container.childElementCount) return;
    PANELS.forEach((group, n) => {
      const id = `panel-${n}`;
      const many = group.tabs.length > 1;
      const tabs = el("div", { class: "tabs", role: many ? "tablist" : null, "aria-label": many ? group.title : null });
      const body = el("div", { id: `${id}-body`, role: many ? "tabpanel" : null, "aria-live": "off" });
      const foot = el("div", { class: "panel-foot" });
      if (!activeTab.has(group.title)) activeTab.set(group.title, group.tabs[0][0]);
      if (many) {
        group.tabs.forEach(([slug, label]) => {
          tabs.append(el("button", {
            type: "button", class: "tab", role: "tab", id: `tab-${slug}`, "data-slug": slug,
            "aria-controls": `${id}-body`, text: label,
            onclick: () => { activeTab.set(group.title, slug); loadPanel(group, readState()); },
            onkeydown: (event) => {
              const keys = { ArrowRight: 1, ArrowLeft: -1 };
              if (!(event.key in keys)) return;
              const buttons = [...tabs.querySelectorAll(".tab")];
              const next = buttons[(buttons.indexOf(event.target) + keys[event.key] + buttons.length) % buttons.length];
              next.focus();
              next.click();
            },
          }));
        });
      }
      container.append(el("section", { class: "panel", id, "aria-labelledby": `${id}-h`, "data-panel": group.title },
        el("div", { class: "panel-head" }, el("h2", { id: `${id}-h`, text: group.title }), tabs),
        body, foot));
    });
  }

  function cell(name, value) {
    return el("td", { "data-col": name, "data-value": value ?? "", class: NARROW.has(name) ? "hide-narrow" : null, text: format(name, value) });
  }

  function metricsOf(data) {
    return data.columns.filter((c) => c !== data.dimension && c !== "prop_key" && c !== "edge_country");
  }

  function filterBy(state, data, value, name = data.filter) {
    navigate({ ...state, filters: { ...state.filters, [name]: formatFilter("is", [value ?? noneValue]) } });
  }

  function labelCell(data, row, state, top, metric, withToggle) {
    const value = row[data.dimension];
    const text = dimensionText(data.dimension, value);
    const label = el("div", { class: "label" }, el("span", { class: "bar" }));
    label.firstChild.style.setProperty("--w", `${(100 * (row[metric] || 0)) / top}%`);
    if (withToggle) {
      const toggle = el("button", {
        type: "button", class: "toggle", "aria-expanded": "false",
        "aria-label": `Show properties of ${text}`, text: "▸",
      });
      toggle.addEventListener("click", () => toggleProps(toggle, value, state, metricsOf(data).length));
      label.append(toggle);
    }
    if (data.filter) {
      const pick = el("button", {
        type: "button", class: "pick", "data-filter": data.filter, "data-value": value ?? noneValue,
        title: `Filter by ${text}`, "aria-label": `${text} — filter by ${filterLabels[data.filter] || data.filter}`,
      }, text);
      if (data.dimension === "country_code" && value) pick.append(el("span", { class: "code", text: value }));
      pick.addEventListener("click", () => { closeDetails(); filterBy(state, data, value); });
      label.append(pick);
    } else if (data.panel === "props" && row.prop_key != null) {
      // a property's value filters by that property (prop.<name>=value)
      const pick = el("button", {
        type: "button", class: "pick", "data-filter": PROP_PREFIX + row.prop_key, "data-value": value ?? noneValue,
        title: `Filter by ${row.prop_key} = ${text}`, "aria-label": `${row.prop_key}: ${text} — filter by property ${row.prop_key}`,
      }, `${row.prop_key}: ${text}`);
      pick.addEventListener("click", () => { closeDetails(); filterBy(state, data, value, PROP_PREFIX + row.prop_key); });
      label.append(pick);
    } else {
      const prefix = row.prop_key != null ? `${row.prop_key}: ` : "";
      const plain = el("span", { class: "plain", text: `${prefix}${text}` });
      if (row.edge_country) plain.append(el("span", { class: "code", text: row.edge_country }));
      label.append(plain);
    }
    return el("th", { scope: "row" }, label);
  }

  function rowsTable(data, state, caption, firstLabel) {
    const metrics = metricsOf(data);
    const top = Math.max(1, ...data.rows.map((r) => r[metrics[0]] || 0));
    const body = el("tbody");
    for (const row of data.rows) {
      body.append(el("tr", {}, labelCell(data, row, state, top, metrics[0], data.panel === "custom-events"),
        ...metrics.map((m) => cell(m, row[m]))));
    }
    return el("table", {},
      el("caption", { class: "sr", text: caption }),
      el("thead", {}, el("tr", {},
        el("th", { scope: "col", text: firstLabel }),
        ...metrics.map((c) => el("th", { scope: "col", class: NARROW.has(c) ? "hide-narrow" : null, text: COLUMN_LABELS[c] || c })))),
      body);
  }

  // A goal's properties open as rows right under it, in the same columns.
  async function toggleProps(button, eventName, state, span) {
    const row = button.closest("tr");
    if (!button.dataset.key) button.dataset.key = `props-${++propsSeq}`;
    const key = button.dataset.key; // stable: rows above may open and close meanwhile
    const open = button.getAttribute("aria-expanded") === "true";
    for (const old of row.parentElement.querySelectorAll(`tr[data-of="${key}"]`)) old.remove();
    if (open) {
      button.setAttribute("aria-expanded", "false");
      return;
    }
    button.setAttribute("aria-expanded", "true");
    const note = (text) => el("tr", { class: "props", "data-of": key },
      el("td", { colspan: span + 1 }, el("p", { class: "none", text })));
    const loading = note("Loading properties…");
    row.after(loading);
    try {
      const data = await getJson(apiUrl("/api/breakdown/event-props", state, { prop_event: eventName, limit: 50 }));
      if (!data.rows.length) {
        loading.replaceWith(note("No properties sent with this event."));
        return;
      }
      const metrics = metricsOf(data);
      const top = Math.max(1, ...data.rows.map((r) => r[metrics[0]] || 0));
      const rows = data.rows.map((r) => {
        const pick = el("button", {
          type: "button", class: "pick", "data-filter": PROP_PREFIX + r.prop_key, "data-value": r.prop_value ?? noneValue,
          title: `Filter by ${r.prop_key} = ${r.prop_value ?? noneValue}`,
        }, el("span", { class: "sr", text: `${eventName} property ` }), `${r.prop_key}: ${r.prop_value ?? noneValue}`);
        pick.addEventListener("click", () => {
          closeDetails();
          filterBy(readState(), {}, r.prop_value, PROP_PREFIX + r.prop_key);
        });
        const label = el("div", { class: "label prop" }, el("span", { class: "bar" }), pick);
        label.firstChild.style.setProperty("--w", `${(100 * (r[metrics[0]] || 0)) / top}%`);
        // properties have no conversion rate column: keep the cells aligned
        return el("tr", { class: "props", "data-of": key },
          el("th", { scope: "row" }, label), ...metrics.map((m) => cell(m, r[m])),
          ...Array.from({ length: Math.max(0, span - metrics.length) }, () => el("td")));
      });
      loading.replaceWith(...rows);
    } catch (err) {
      loading.replaceWith(note(`Could not load properties: ${err.message}`));
    }
  }

  // ---------------------------------------------------------------- funnel
  // Steps in order within a visit (ownstats/dashboard/funnels.py): each step's visitors,
  // the drop-off from the step before and the conversion from the first.
  async function loadFunnel(state, gen) {
    const section = $("#funnel");
    section.hidden = funnels.length === 0;
    if (!funnels.length) return;
    if (!funnels.some((f) => f.name === funnelName)) funnelName = funnels[0].name;
    const select = $("#funnel-name");
    if (select.options.length !== funnels.length) {
      select.replaceChildren(...funnels.map((f) => el("option", { value: f.name, text: f.name })));
    }
    select.value = funnelName;
    const list = $("#funnel-steps");
    list.setAttribute("aria-busy", "true");
    try {
      const data = await getJson(apiUrl("/api/funnel", state, { funnel: funnelName }));
      if (gen !== generation) return;
      list.replaceChildren(...data.steps.map((s) => {
        const bar = el("span", { class: "bar" });
        bar.style.setProperty("--w", `${100 * (s.conversion_rate || 0)}%`);
        const drop = s.dropoff == null ? "" : `−${whole.format(s.dropoff)} (${s.dropoff_rate == null ? "–" : `${Math.round(s.dropoff_rate * 100)}%`})`;
        return el("li", { class: "funnel-step", "data-step": s.step, "data-visitors": s.visitors },
          el("div", { class: "label" }, bar, el("span", { class: "plain", text: s.label })),
          el("span", { class: "visitors", text: `${whole.format(s.visitors)} visitors` }),
          el("span", { class: "dropoff muted", text: drop }),
          el("span", { class: "conversion", text: s.conversion_rate == null ? "–" : `${(s.conversion_rate * 100).toFixed(1)}%` }));
      }));
    } catch (err) {
      if (gen === generation) list.replaceChildren(el("li", { class: "none", text: `No funnel: ${err.message}` }));
    } finally {
      if (gen === generation) list.setAttribute("aria-busy", "false");
    }
  }

  function setupFunnel() {
    $("#funnel-name").addEventListener("change", (e) => {
      funnelName = e.target.value;
      loadFunnel(readState(), generation);
    });
    $("#funnel-csv").addEventListener("click", (event) => downloadCsv(
      apiUrl("/api/funnel", readState(), { funnel: funnelName, format: "csv" }), "funnel.csv", event.currentTarget));
  }

  // ---------------------------------------------------------------- world map
  // Countries coloured by visitors on an equirectangular map shipped with the page
  // (world-map.js: Natural Earth 1:110m via world-atlas, ISC); a click filters.
  function mapView(data, state) {
    const world = window.ownstatsWorld;
    if (!world) return el("p", { class: "none", text: "The map is not available." });
    const byCode = new Map(data.rows.filter((r) => r.country_code).map((r) => [r.country_code, r.visitors]));
    const top = Math.max(1, ...byCode.values());
    const root = svg("svg", { viewBox: `0 0 ${world.width} ${world.height}`, class: "world", role: "img", "aria-label": `Visitors by country: ${byCode.size} countries` });
    for (const [code, d] of Object.entries(world.shapes)) {
      const visitors = byCode.get(code) || 0;
      const path = svg("path", { d, "data-code": code, "data-visitors": visitors, class: visitors ? "country has-data" : "country" });
      if (visitors) {
        // a square root scale: one big country does not wash out the rest
        path.style.setProperty("--alpha", (0.15 + 0.85 * Math.sqrt(visitors / top)).toFixed(3));
        path.addEventListener("click", () => filterBy(state, data, code));
      }
      const title = svg("title");
      title.textContent = `${countryName(code)}: ${whole.format(visitors)} visitors`;
      path.append(title);
      root.append(path);
    }
    return el("div", { class: "map" }, root);
  }

  function panelFoot(foot, slug, label, state) {
    const buttons = [];
    if (slug !== "map") {
      buttons.push(el("button", {
        type: "button", class: "link details-open", "data-slug": slug, text: "Details",
        "aria-label": `Details: every row of ${label}, with search and sorting`,
        onclick: () => openDetails(slug, label, readState()),
      }));
    }
    const csvSlug = slug === "map" ? "countries" : slug;
    buttons.push(el("button", {
      type: "button", class: "link csv", "data-href": apiUrl(`/api/breakdown/${csvSlug}`, state, { format: "csv" }),
      "aria-label": `Export ${label} as CSV`, text: "Export CSV",
      onclick: (event) => downloadCsv(event.currentTarget.dataset.href, `${csvSlug}.csv`, event.currentTarget),
    }));
    foot.replaceChildren(...buttons);
  }

  // what a panel's active tab asks /api/page (and /api/breakdown) for: the map is the
  // countries list with room for every country
  function panelRequest(slug) {
    return slug === "map" ? ["countries", 300] : [slug, null];
  }

  async function loadPanel(group, state, gen = generation, preloaded = null) {
    const n = PANELS.indexOf(group);
    const body = $(`#panel-${n}-body`);
    const foot = $(`#panel-${n} .panel-foot`);
    const slug = activeTab.get(group.title);
    const label = group.tabs.find(([s]) => s === slug)[1];
    for (const tab of document.querySelectorAll(`#panel-${n} .tab`)) {
      const selected = tab.dataset.slug === slug;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
    }
    if (group.tabs.length > 1) body.setAttribute("aria-labelledby", `tab-${slug}`);
    body.setAttribute("aria-busy", "true");
    foot.replaceChildren(); // links only for what loaded
    try {
      const [name, limit] = panelRequest(slug);
      let data = preloaded ? await preloaded : null;
      if (data && data.error) throw new Error(data.error);
      if (!data) data = await getJson(apiUrl(`/api/breakdown/${name}`, state, limit ? { limit } : {}));
      if (gen !== generation || activeTab.get(group.title) !== slug) return;
      if (slug === "map") body.replaceChildren(mapView(data, state));
      else {
        body.replaceChildren(data.rows.length
          ? rowsTable(data, state, `${label}, ${data.meta.from} to ${data.meta.to}`, label)
          : el("p", { class: "none", text: "No data for this period." }));
      }
      body.dataset.slug = slug;
      if (data.rows.length) panelFoot(foot, slug, label, state);
    } catch (err) {
      if (gen !== generation || err instanceof Expired) return;
      const text = err instanceof BadState ? "No data for this state." : `Could not load: ${err.message}`;
      body.replaceChildren(el("p", { class: "none failed", text }));
    } finally {
      body.setAttribute("aria-busy", "false");
    }
  }

  // ---------------------------------------------------------------- details dialog
  // Every row of a breakdown: searched and sorted by the API (over the views, like the
  // panel), a hundred at a time, and exported as shown.
  const details = { slug: null, label: "", state: null, rows: [], columns: [], data: null, order_by: "", order: "desc", seq: 0 };

  function detailsQuery(extra = {}) {
    const search = $("#details-search").value.trim();
    return apiUrl(`/api/breakdown/${details.slug}`, details.state, {
      search, order_by: details.order_by, order: details.order_by ? details.order : "", ...extra,
    });
  }

  function openDetails(slug, label, state) {
    Object.assign(details, { slug, label, state, rows: [], order_by: "", order: "desc" });
    $("#details-title").textContent = label;
    $("#details-search").value = "";
    const dialog = $("#details");
    if (!dialog.open) dialog.showModal();
    loadDetails(false);
    $("#details-search").focus();
  }

  function closeDetails() {
    const dialog = $("#details");
    if (dialog.open) dialog.close();
  }

  async function loadDetails(more) {
    const seq = ++details.seq;
    const box = $("#details-body");
    box.setAttribute("aria-busy", "true");
    $("#details-more").hidden = true;
    try {
      const offset = more ? details.rows.length : 0;
      const data = await getJson(detailsQuery({ limit: DETAILS_PAGE, offset: offset || "" }));
      if (seq !== details.seq) return;
      details.rows = more ? [...details.rows, ...data.rows] : data.rows;
      details.data = data;
      drawDetails(data);
      $("#details-more").hidden = !data.more;
      $("#details-count").textContent = `${details.rows.length} row${details.rows.length === 1 ? "" : "s"}${data.more ? " (more to load)" : ""}`;
    } catch (err) {
      if (seq !== details.seq || err instanceof Expired) return;
      box.replaceChildren(el("p", { class: "none failed", text: `Could not load: ${err.message}` }));
    } finally {
      if (seq === details.seq) box.setAttribute("aria-busy", "false");
    }
  }

  function drawDetails(data) {
    const box = $("#details-body");
    if (!details.rows.length) {
      box.replaceChildren(el("p", { class: "none", text: "No rows match." }));
      return;
    }
    const metrics = metricsOf(data);
    const top = Math.max(1, ...details.rows.map((r) => r[metrics[0]] || 0));
    const sortHeader = (column, text) => {
      const active = details.order_by === column;
      const sort = active ? (details.order === "asc" ? "ascending" : "descending") : null;
      return el("th", { scope: "col", "aria-sort": sort },
        el("button", {
          type: "button", class: "sort", "data-col": column, text: `${text}${active ? (details.order === "asc" ? " ▲" : " ▼") : ""}`,
          onclick: () => {
            const next = active && details.order === "desc" ? "asc" : "desc";
            Object.assign(details, { order_by: column, order: active ? next : (column === data.dimension ? "asc" : "desc") });
            loadDetails(false);
          },
        }));
    };
    const rows = details.rows.map((row) => el("tr", {},
      labelCell(data, row, details.state, top, metrics[0], false), ...metrics.map((m) => cell(m, row[m]))));
    box.replaceChildren(el("table", {},
      el("caption", { class: "sr", text: `${details.label}, ${data.meta.from} to ${data.meta.to}` }),
      el("thead", {}, el("tr", {}, sortHeader(data.dimension, details.label),
        ...metrics.map((c) => sortHeader(c, COLUMN_LABELS[c] || c)))),
      el("tbody", {}, ...rows)));
  }

  function setupDetails() {
    let timer = null;
    $("#details-search").addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => loadDetails(false), 250);
    });
    $("#details-more").addEventListener("click", () => loadDetails(true));
    $("#details-close").addEventListener("click", closeDetails);
    $("#details-csv").addEventListener("click", (event) =>
      downloadCsv(detailsQuery({ format: "csv" }), `${details.slug}.csv`, event.currentTarget));
  }

  // ---------------------------------------------------------------- live visitors
  async function refreshLive() {
    const state = readState();
    if (!state.site) return;
    try {
      showLive(await getJson(`/api/current-visitors?site=${encodeURIComponent(state.site)}`));
    } catch {
      /* the next tick tries again; the main error box reports real failures */
    }
  }

  function showLive(data) {
    if (!data || data.error || data.site !== readState().site) return;
    if (data.visitors === null || data.visitors === undefined) {  // the archive's mode
      $("#current").hidden = true;
      $(".pulse").hidden = true;
      const label = $(".live-label");
      label.textContent = "standard logs, read every 15 minutes";
      label.title = input.note || data.unavailable || "";
      return;
    }
    const node = $("#current");
    node.textContent = whole.format(data.visitors);
    node.dataset.value = data.visitors;
    $(".live-label").textContent = data.visitors === 1 ? "current visitor" : "current visitors";
  }

  // "updated N s ago": how old the figures on screen may be (/api/freshness, local and
  // hosted: Athena sees events a minute or more late, and answers are cached); an API
  // without it (404: an older server) hides the label for good.
  async function refreshFreshness() {
    const site = readState().site;
    if (!site || freshness.off) return;
    try {
      const response = await apiFetch(`/api/freshness?site=${encodeURIComponent(site)}`);
      if (response.status === 404) {
        freshness.off = true;
        $("#freshness").hidden = true;
        return;
      }
      if (!response.ok) return;
      showFreshness(await response.json());
    } catch {
      /* the next tick tries again */
    }
  }

  function showFreshness(data) {
    const site = readState().site;
    if (!data || data.error || data.site !== site) return;
    freshness = { site, checkedAt: Date.parse(data.checked_at), newest: data.newest_event_at, off: false };
    tickFreshness();
  }

  function tickFreshness() {
    const node = $("#freshness");
    if (freshness.off || !freshness.checkedAt || freshness.site !== readState().site) {
      node.hidden = true;
      return;
    }
    const seconds = Math.max(0, Math.round((Date.now() - freshness.checkedAt) / 1000));
    node.textContent = `· updated ${whole.format(seconds)} s ago`;
    node.title = freshness.newest ? `newest event seen: ${freshness.newest.replace("T", " ").slice(0, 19)} UTC` : "no event seen since yesterday";
    // a site too big for the hosted function to read today's events: the figures stand
    // at the last whole hour the compactor rolled up (the live counter stays live)
    const meta = lastSummary?.meta;
    if (meta?.as_of && meta.now) {
      const zone = meta.time_zone && meta.time_zone !== "UTC" ? "" : " UTC";
      node.textContent = `· as of ${meta.now.slice(11, 16)}${zone}`;
      node.title = "figures up to the last whole hour rolled up (at this traffic, hourly), compared with the same hour of the earlier period";
    }
    node.hidden = false;
  }

  function refreshSeconds() {
    return Math.max(1, Number(new URLSearchParams(location.search).get("refresh")) || 10);
  }

  // now: ask at once; a page load passes false, its /api/page answer brings both
  function startLive(now = true) {
    clearInterval(liveTimer);
    $(".live").hidden = false;
    liveTimer = setInterval(() => { refreshLive(); refreshFreshness(); }, refreshSeconds() * 1000);
    if (now) {
      refreshLive();
      refreshFreshness();
    }
  }

  // Ranges that end today grow while the page is open: cards and graph refresh quietly
  // every 6 live ticks (a minute by default; realtime every tick). Tables stay put so
  // focus and opened goals are never yanked away; they refresh on the next navigation.
  function startTotals(state) {
    clearInterval(totalsTimer);
    if (!LIVE_PERIODS.has(state.period)) return;
    const every = state.period === "realtime" ? 1 : 6;
    totalsTimer = setInterval(async () => {
      const gen = generation;
      try {
        const [s, t] = await Promise.all([
          getJson(apiUrl("/api/summary", state)), getJson(apiUrl("/api/timeseries", state)),
        ]);
        if (gen !== generation) return;
        renderCards(s, readState());
        renderChart(t);
      } catch {
        /* the next tick tries again */
      }
    }, refreshSeconds() * 1000 * every);
  }

  // ---------------------------------------------------------------- empty and error
  function showEmpty(state) {
    renderHeader(state, null);
    clearInterval(liveTimer);
    clearInterval(totalsTimer);
    $(".live").hidden = true;
    $("#summary").hidden = true;
    $("#panels").hidden = true;
    const snippet = `<script defer src="${location.origin}/hello.js"></script>`;
    $("#snippet").textContent = snippet;
    $("#empty").hidden = false;
    document.body.dataset.ready = "empty";
    waitForFirstHit();
  }

  // Plausible's "waiting for the first page view": the empty page asks for the site
  // list every few seconds and opens the dashboard as soon as a site has data.
  let waiting = null;
  function waitForFirstHit() {
    if (waiting) return;
    waiting = setInterval(async () => {
      try {
        const data = await getJson("/api/sites");
        if (!data.sites.length) return;
        clearInterval(waiting);
        waiting = null;
        sites = data.sites;
        render();
      } catch { /* the next tick asks again */ }
    }, 2000);
  }

  function showFailure(err) {
    // explicit, not busy forever: the error box says why (once), the cards and the
    // graph that there is nothing to show
    const list = $("#cards");
    list.replaceChildren(el("li", { class: "card failed" }, el("p", { class: "none", text: "No figures for this state." })));
    list.setAttribute("aria-busy", "false");
    chartMessage(err instanceof BadState ? "No graph for this state." : `No graph: ${err.message}`);
    $("#compare-note").textContent = "";
    document.body.dataset.ready = "error";
  }

  // ---------------------------------------------------------------- render
  async function render() {
    const gen = ++generation;
    delete document.body.dataset.ready; // set again once cards and graph show this state
    const state = readState();
    if (state.period === "realtime" && input.mode === "archive") {
      // a shared link from elsewhere: say why, and show today instead
      const notice = $("#notice");
      notice.textContent = "Realtime is not available: " + (input.note || "") + ". Showing today.";
      notice.hidden = false;
      navigate({ ...state, period: "today" }, true);
      return;
    }
    if (!state.site || !sites.includes(state.site)) {
      if (!sites.length) {
        showEmpty(state);
        return;
      }
      // say so: a mistyped or foreign site in a shared link must not pass for another
      const notice = $("#notice");
      if (state.site) {
        notice.textContent = `No data for the site "${state.site}": showing ${sites[0]}.`;
        notice.hidden = false;
      }
      navigate({ ...state, site: sites[0] }, true);
      return;
    }
    $("#empty").hidden = true;
    $("#summary").hidden = false;
    $("#panels").hidden = false;
    renderHeader(state, null);
    buildPanels();
    $("#cards").setAttribute("aria-busy", "true");
    showError("");
    startLive(false);
    startTotals(state);
    // one request for the whole page (cards, graph, every panel's active tab, the live
    // counter and freshness): hosted, that is one Lambda invocation instead of ~20, and
    // with the site list two per load. Each part may fail alone.
    const keys = PANELS.map((group) => {
      const [name, limit] = panelRequest(activeTab.get(group.title));
      return limit ? `${name}:${limit}` : name;
    });
    const page = getJson(apiUrl("/api/page", state, { panels: keys.join(","), live: "1" }));
    loadFunnel(state, gen);
    PANELS.forEach((group, i) => loadPanel(group, state, gen, page.then((p) => p.panels[keys[i]])));
    try {
      const p = await page;
      if (gen === generation) {
        showLive(p.current_visitors);
        if (!freshness.off) showFreshness(p.freshness);
      }
      for (const part of [p.summary, p.timeseries]) if (part.error) throw new Error(part.error);
      const [s, t] = [p.summary, p.timeseries];
      if (gen !== generation) return;
      renderHeader(state, s.meta);
      renderCards(s, state);
      renderChart(t);
      document.body.dataset.ready = "true";
    } catch (err) {
      if (gen !== generation || err instanceof Expired) return;
      showError(err.message, err);
      showFailure(err);
    }
  }

  function onPeriod() {
    const state = readState();
    const period = $("#period").value;
    if (period === "custom") {
      $("#custom").hidden = false;
      $("#from").focus();
      return;
    }
    navigate({ ...state, period, from: "", to: "", interval: "" });
  }

  // ← / → step to the period before / after as a custom range (Plausible's keys): a
  // month or year by the calendar, other ranges by their length; never past today.
  function shiftPeriod(direction) {
    const state = readState();
    const meta = lastSummary?.meta;
    if (!meta || state.period === "realtime" || state.period === "all") return false;
    const day = (text) => new Date(`${text}T00:00:00Z`);
    const iso = (d) => d.toISOString().slice(0, 10);
    const today = meta.now ? iso(new Date(Date.parse(`${meta.now}Z`) - 1)) : meta.to;
    const from = day(meta.from);
    const to = day(meta.to);
    let first;
    let last;
    if (["month", "last_month"].includes(state.period) || state.period === "year") {
      const months = state.period === "year" ? 12 : 1;
      first = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + direction * months, 1));
      last = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + months, 0));
    } else {
      const days = Math.round((to - from) / 864e5) + 1;
      first = new Date(from.getTime() + direction * days * 864e5);
      last = new Date(to.getTime() + direction * days * 864e5);
    }
    if (iso(first) > today) return false;
    const end = iso(last) > today ? today : iso(last);
    navigate({ ...state, period: "custom", from: iso(first), to: end, interval: "" });
    return true;
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (event.target.closest("input, select, textarea, [contenteditable], dialog")) return;
    if ($("#details").open || !sites.length) return;
    if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
      if (event.target.closest("#chart, [role=tablist]")) return; // their own arrows
      if (shiftPeriod(event.key === "ArrowLeft" ? -1 : 1)) event.preventDefault();
      return;
    }
    const key = event.key.toUpperCase();
    const state = readState();
    if (key === "X") {
      if (state.period === "all") return;
      navigate({ ...state, comparison: state.comparison === "off" ? "previous_period" : "off" });
    } else {
      const hit = PERIODS.find(([, , k]) => k === key);
      if (!hit || (hit[0] === "realtime" && input.mode === "archive")) return;
      if (hit[0] === "custom") {
        $("#period").value = "custom";
        onPeriod();
      } else {
        navigate({ ...state, period: hit[0], from: "", to: "", interval: "" });
      }
    }
    event.preventDefault();
  }

  // "Filter": any dimension (or a custom property), an operator and one or more values
  function setupFilterForm() {
    const name = $("#filter-name");
    name.addEventListener("change", () => { $("#filter-prop-field").hidden = name.value !== "prop"; });
    $("#filter-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const values = $("#filter-values").value.split("|").map((v) => v.trim()).filter(Boolean);
      let param = name.value;
      if (param === "prop") {
        const key = $("#filter-prop").value.trim();
        if (!key) { $("#filter-prop").focus(); return; }
        param = PROP_PREFIX + key;
      }
      if (!values.length) return;
      $("#add-filter").open = false;
      $("#filter-values").value = "";
      const state = readState();
      navigate({ ...state, filters: { ...state.filters, [param]: formatFilter($("#filter-op").value, values) } });
    });
  }

  function fillFilterForm() {
    const options = Object.entries(filterLabels).map(([value, text]) => el("option", { value, text }));
    options.push(el("option", { value: "prop", text: "Custom property…" }));
    $("#filter-name").replaceChildren(...options);
  }

  async function start() {
    $("#period").replaceChildren(...PERIODS.map(([value, label, key]) =>
      el("option", { value, text: `${label} (${key})` })));
    $("#site").addEventListener("change", (e) => {
      $("#notice").hidden = true;
      navigate({ ...readState(), site: e.target.value, filters: {} });
    });
    $("#period").addEventListener("change", onPeriod);
    $("#comparison").addEventListener("change", (e) => navigate({ ...readState(), comparison: e.target.value }));
    $("#interval").addEventListener("change", (e) => navigate({ ...readState(), interval: e.target.value }));
    $("#custom").addEventListener("submit", (event) => {
      event.preventDefault();
      const from = $("#from").value;
      const to = $("#to").value;
      if (!from || !to) return;
      navigate({ ...readState(), period: "custom", from: from <= to ? from : to, to: from <= to ? to : from, interval: "" });
    });
    document.addEventListener("keydown", onKey);
    setupFilterForm();
    setupFunnel();
    setInterval(tickFreshness, 1000);
    setupDetails();
    window.addEventListener("popstate", render);
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(drawChart, 120);
    });
    try {
      await window.ownstatsAuth?.ready;
      const data = await getJson("/api/sites");
      sites = data.sites;
      filterLabels = data.filters;
      noneValue = data.none_value;
      fillFilterForm();
      input = data.input || input;
      funnels = data.funnels || [];
      if (input.mode === "archive") {
        const option = $('#period option[value="realtime"]');
        option.disabled = true;
        option.textContent = "Realtime (not available: standard logs only)";
        option.title = input.note || "";
      }
    } catch (err) {
      showError(`Could not load the site list: ${err.message}`, err);
      return;
    }
    render();
  }

  start();
})();
