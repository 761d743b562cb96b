// ownstats dashboard: vanilla JS, no build step, nothing loaded from elsewhere.
//
// All state lives in the URL (site, period, from/to, filters), so a view can be shared
// or bookmarked and back/forward work: every change pushes a new URL, then render()
// reads the URL and asks the API. Every number comes from the API (which reads the
// views); this file only formats and draws.
"use strict";

(() => {
  const $ = (sel) => document.querySelector(sel);
  const PERIODS = ["today", "yesterday", "7d", "30d", "custom"];
  const PANELS = [
    { title: "Pages", tabs: [["pages", "Top pages"], ["entry-pages", "Entry pages"], ["exit-pages", "Exit pages"]] },
    { title: "Sources", tabs: [["sources", "Sources"], ["channels", "Channels"], ["campaigns", "Campaigns"]] },
    { title: "Locations", tabs: [["countries", "Countries"]] },
    { title: "Devices", tabs: [["devices", "Devices"], ["browsers", "Browsers"], ["operating-systems", "OS"]] },
    { title: "Goals", tabs: [["custom-events", "Custom events"]] },
  ];
  const COLUMN_LABELS = {
    visitors: "Visitors", visits: "Visits", pageviews: "Views", entries: "Entries",
    exits: "Exits", events: "Events", bounce_rate: "Bounce", exit_rate: "Exit rate",
    avg_visit_duration_s: "Duration", avg_time_on_page_s: "Time on page",
  };
  const CARDS = [
    ["visitors", "Unique visitors"], ["visits", "Total visits"], ["pageviews", "Total pageviews"],
    ["views_per_visit", "Views per visit"], ["bounce_rate", "Bounce rate"],
    ["visit_duration_s", "Visit duration"],
  ];
  const LOWER_IS_BETTER = new Set(["bounce_rate"]);
  // secondary columns hidden on phones so a row stays readable at 375 px
  const NARROW = new Set(["bounce_rate", "avg_visit_duration_s", "avg_time_on_page_s", "exit_rate"]);

  let filterLabels = {};
  let noneValue = "(none)";
  let sites = [];
  let generation = 0; // responses of an older render() are dropped
  let liveTimer = null;
  let totalsTimer = null;
  let propsSeq = 0;
  const activeTab = new Map(); // panel title -> tab slug (per page view, not shared)

  // ---------------------------------------------------------------- URL state
  function readState() {
    const q = new URLSearchParams(location.search);
    const filters = {};
    for (const name of Object.keys(filterLabels)) {
      if (q.get(name)) filters[name] = q.get(name);
    }
    let period = q.get("period") || (q.get("from") ? "custom" : "30d");
    if (!PERIODS.includes(period)) period = "30d";
    return { site: q.get("site") || "", period, from: q.get("from") || "", to: q.get("to") || "", filters };
  }

  function stateQuery(state) {
    const q = new URLSearchParams();
    q.set("site", state.site);
    q.set("period", state.period);
    if (state.period === "custom") {
      q.set("from", state.from);
      q.set("to", state.to);
    }
    for (const [name, value] of Object.entries(state.filters)) q.set(name, value);
    return q;
  }

  function navigate(state, replace = false) {
    const q = stateQuery(state);
    const keep = new URLSearchParams(location.search).get("refresh"); // test hook, kept
    if (keep) q.set("refresh", keep);
    const url = `${location.pathname}?${q}`;
    if (replace) history.replaceState(null, "", url);
    else history.pushState(null, "", url);
    render();
  }

  function apiUrl(path, state, extra = {}) {
    const q = stateQuery(state);
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    return `${path}?${q}`;
  }

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    return body;
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
    if (name.endsWith("_rate")) return `${Math.round(value * 100)}%`;
    if (name.endsWith("_s")) return duration(value);
    if (name === "views_per_visit") return value.toFixed(2);
    return value >= 10000 ? compact.format(value) : whole.format(value);
  }

  function dimensionText(dimension, value) {
    if (value == null) return dimension === "country_code" ? "Unknown" : noneValue;
    if (dimension === "country_code" && regionNames) {
      try { return regionNames.of(value) || value; } catch { return value; }
    }
    return value;
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

  function showError(message) {
    const box = $("#error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  // ---------------------------------------------------------------- header
  function renderHeader(state, meta) {
    const siteSelect = $("#site");
    siteSelect.replaceChildren(...sites.map((s) => el("option", { value: s, text: s })));
    siteSelect.value = state.site;
    siteSelect.disabled = sites.length === 0;
    $("#period").value = state.period;
    $("#custom").hidden = state.period !== "custom";
    $("#title-site").textContent = state.site || "Dashboard";
    if (meta) {
      $("#from").value = meta.from;
      $("#to").value = meta.to;
      const label = meta.from === meta.to ? meta.from : `${meta.from} – ${meta.to}`;
      $("#range-label").textContent = label;
      document.title = `${state.site} · ${label} · ownstats`;
    }
    const chips = Object.entries(state.filters).map(([name, value]) => {
      const label = filterLabels[name] || name;
      const remove = () => {
        const filters = { ...state.filters };
        delete filters[name];
        navigate({ ...state, filters });
        $("#main").focus();
      };
      return el("li", { class: "chip" },
        el("span", {}, `${label} is `, el("strong", { text: value })),
        el("button", { type: "button", "aria-label": `Remove filter ${label}: ${value}`, title: "Remove filter", onclick: remove, text: "×" }));
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
  function renderCards(summary) {
    const items = CARDS.map(([name, label]) => {
      const m = summary.metrics[name];
      let changeText = "no previous data";
      let cls = "change";
      if (m.change != null) {
        const up = m.change > 0;
        const arrow = m.change === 0 ? "" : up ? "↑ " : "↓ ";
        changeText = `${arrow}${Math.abs(m.change)}%`;
        if (m.change !== 0) cls += (up !== LOWER_IS_BETTER.has(name)) ? " good" : " bad";
      }
      const title = m.value == null ? "" : name.endsWith("_s") || name.endsWith("_rate") ? "" : whole.format(m.value);
      return el("li", { class: "card", "data-metric": name },
        el("h3", { text: label }),
        el("p", { class: "value", "data-value": m.value ?? "", title: title || null, text: format(name, m.value) }),
        el("p", { class: cls, "data-change": m.change ?? "" },
          el("span", { text: changeText }),
          el("span", { class: "sr", text: ` compared with ${summary.meta.previous_from} to ${summary.meta.previous_to} (${format(name, m.previous)})` })));
    });
    const list = $("#cards");
    list.replaceChildren(...items);
    list.setAttribute("aria-busy", "false");
  }

  // ---------------------------------------------------------------- chart (SVG)
  const SVG = "http://www.w3.org/2000/svg";
  let chartData = null;

  function svg(tag, attrs = {}) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  }

  function niceMax(value) {
    if (value <= 4) return 4;
    const magnitude = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 2.5, 5, 10]) {
      if (step * magnitude >= value) return step * magnitude;
    }
    return 10 * magnitude;
  }

  function bucketLabel(series, bucket, long = false) {
    if (series.interval === "hour") return `${String(bucket).padStart(2, "0")}:00`;
    const d = new Date(`${bucket}T00:00:00Z`);
    return d.toLocaleDateString("en", { month: "short", day: "numeric", timeZone: "UTC", ...(long ? { weekday: "short" } : {}) });
  }

  function drawChart() {
    const box = $("#chart");
    if (!chartData) return;
    const series = chartData;
    const points = series.points;
    const width = Math.max(box.clientWidth, 200);
    const height = box.clientHeight || 240;
    const pad = { top: 10, right: 10, bottom: 24, left: 40 };
    const w = width - pad.left - pad.right;
    const h = height - pad.top - pad.bottom;
    const max = niceMax(Math.max(1, ...points.map((p) => Math.max(p.visitors || 0, p.pageviews || 0))));
    const x = (i) => pad.left + (points.length === 1 ? w / 2 : (i * w) / (points.length - 1));
    const y = (v) => pad.top + h - (v / max) * h;
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, "aria-hidden": "true", focusable: "false" });
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      root.append(svg("line", { class: "grid-line", x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }));
      const t = svg("text", { class: "axis", x: pad.left - 6, y: y(v) + 4, "text-anchor": "end" });
      t.textContent = compact.format(v);
      root.append(t);
    }
    const every = Math.max(1, Math.ceil(points.length / Math.max(2, Math.floor(w / 70))));
    points.forEach((p, i) => {
      if (i % every !== 0) return;
      const t = svg("text", { class: "axis", x: x(i), y: height - 6, "text-anchor": "middle" });
      t.textContent = bucketLabel(series, p.bucket);
      root.append(t);
    });
    const known = points.map((p, i) => [i, p]).filter(([, p]) => p.visitors != null);
    const path = (key) => known.map(([i, p], n) => `${n ? "L" : "M"}${x(i).toFixed(1)},${y(p[key]).toFixed(1)}`).join("");
    if (known.length) {
      const first = known[0][0];
      const last = known[known.length - 1][0];
      root.append(svg("path", { class: "area", d: `${path("visitors")}L${x(last)},${y(0)}L${x(first)},${y(0)}Z` }));
      root.append(svg("path", { class: "line-pageviews", d: path("pageviews") }));
      root.append(svg("path", { class: "line-visitors", d: path("visitors") }));
    }
    const cursor = svg("line", { class: "cursor", y1: pad.top, y2: pad.top + h, visibility: "hidden" });
    const dotV = svg("circle", { class: "dot-visitors", r: 4, visibility: "hidden" });
    const dotP = svg("circle", { class: "dot-pageviews", r: 3.5, visibility: "hidden" });
    root.append(cursor, dotP, dotV);
    box.replaceChildren(root);

    const tip = $("#tip");
    const show = (i) => {
      const p = points[i];
      if (!p || p.visitors == null) { hide(); return; }
      for (const node of [cursor, dotV, dotP]) node.setAttribute("visibility", "visible");
      cursor.setAttribute("x1", x(i)); cursor.setAttribute("x2", x(i));
      dotV.setAttribute("cx", x(i)); dotV.setAttribute("cy", y(p.visitors));
      dotP.setAttribute("cx", x(i)); dotP.setAttribute("cy", y(p.pageviews));
      tip.textContent = `${bucketLabel(series, p.bucket, true)} · ${whole.format(p.visitors)} visitors · ${whole.format(p.pageviews)} pageviews`;
      tip.hidden = false;
      const left = Math.min(Math.max(x(i), 110), width - 110);
      tip.style.setProperty("left", `${left}px`);
      tip.style.setProperty("top", `${y(Math.max(p.visitors, p.pageviews)) + 28}px`);
      box.dataset.index = i;
    };
    const hide = () => {
      for (const node of [cursor, dotV, dotP]) node.setAttribute("visibility", "hidden");
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
      const current = Number(box.dataset.index ?? points.length - 1);
      if (event.key === "ArrowLeft") show(Math.max(0, current - 1));
      else if (event.key === "ArrowRight") show(Math.min(points.length - 1, current + 1));
      else return;
      event.preventDefault();
    };
  }

  function renderChart(series) {
    chartData = series;
    const box = $("#chart");
    const total = series.points.reduce((a, p) => a + (p.visitors || 0), 0);
    box.setAttribute("role", "img");
    box.setAttribute("tabindex", "0");
    box.setAttribute("aria-label",
      `Visitors and pageviews per ${series.interval === "hour" ? "hour" : "day"}, ${series.points.length} points. ` +
      "Use the left and right arrow keys to read each point.");
    box.dataset.total = total;
    delete box.dataset.index;
    drawChart();
  }

  // ---------------------------------------------------------------- breakdowns
  function buildPanels(state) {
    const container = $("#panels");
    if (container.childElementCount) return;
    PANELS.forEach((group, n) => {
      const id = `panel-${n}`;
      const many = group.tabs.length > 1;
      const tabs = el("div", { class: "tabs", role: many ? "tablist" : null, "aria-label": many ? group.title : null });
      const body = el("div", { id: `${id}-body`, role: group.tabs.length > 1 ? "tabpanel" : null, "aria-live": "off" });
      const foot = el("div", { class: "panel-foot" });
      if (!activeTab.has(group.title)) activeTab.set(group.title, group.tabs[0][0]);
      if (group.tabs.length > 1) {
        group.tabs.forEach(([slug, label]) => {
          const tab = el("button", {
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
          });
          tabs.append(tab);
        });
      }
      const panel = el("section", { class: "panel", id, "aria-labelledby": `${id}-h`, "data-panel": group.title },
        el("div", { class: "panel-head" }, el("h2", { id: `${id}-h`, text: group.title }), tabs),
        body, foot);
      container.append(panel);
    });
  }

  function cell(name, value) {
    return el("td", { "data-col": name, "data-value": value ?? "", class: NARROW.has(name) ? "hide-narrow" : null, text: format(name, value) });
  }

  function metricsOf(data) {
    return data.columns.filter((c) => c !== data.dimension && c !== "prop_key");
  }

  function rowsTable(data, state, caption, firstLabel) {
    const metrics = metricsOf(data);
    const top = Math.max(1, ...data.rows.map((r) => r[metrics[0]] || 0));
    const body = el("tbody");
    for (const row of data.rows) {
      const value = row[data.dimension];
      const text = dimensionText(data.dimension, value);
      const label = el("div", { class: "label" }, el("span", { class: "bar" }));
      label.firstChild.style.setProperty("--w", `${(100 * (row[metrics[0]] || 0)) / top}%`);
      if (data.panel === "custom-events") {
        const toggle = el("button", {
          type: "button", class: "toggle", "aria-expanded": "false",
          "aria-label": `Show properties of ${text}`, text: "▸",
        });
        toggle.addEventListener("click", () => toggleProps(toggle, value, state, metrics.length));
        label.append(toggle);
      }
      if (data.filter) {
        const pick = el("button", {
          type: "button", class: "pick", "data-filter": data.filter, "data-value": value ?? noneValue,
          title: `Filter by ${text}`, "aria-label": `${text} — filter by ${filterLabels[data.filter] || data.filter}`,
        }, text);
        if (data.dimension === "country_code" && value) pick.append(el("span", { class: "code", text: value }));
        pick.addEventListener("click", () => {
          navigate({ ...state, filters: { ...state.filters, [data.filter]: value ?? noneValue } });
        });
        label.append(pick);
      } else {
        label.append(el("span", { class: "plain", text }));
      }
      body.append(el("tr", {}, el("th", { scope: "row" }, label), ...metrics.map((m) => cell(m, row[m]))));
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
        const label = el("div", { class: "label prop" }, el("span", { class: "bar" }),
          el("span", { class: "plain" }, el("span", { class: "sr", text: `${eventName} property ` }),
            `${r.prop_key}: ${r.prop_value ?? noneValue}`));
        label.firstChild.style.setProperty("--w", `${(100 * (r[metrics[0]] || 0)) / top}%`);
        return el("tr", { class: "props", "data-of": key },
          el("th", { scope: "row" }, label), ...metrics.map((m) => cell(m, r[m])));
      });
      loading.replaceWith(...rows);
    } catch (err) {
      loading.replaceWith(note(`Could not load properties: ${err.message}`));
    }
  }

  async function loadPanel(group, state, gen = generation) {
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
    foot.replaceChildren(el("a", {
      class: "csv", href: apiUrl(`/api/breakdown/${slug}`, state, { format: "csv" }), download: "",
      "aria-label": `Export ${label} as CSV`, text: "Export CSV",
    }));
    try {
      const data = await getJson(apiUrl(`/api/breakdown/${slug}`, state));
      if (gen !== generation || activeTab.get(group.title) !== slug) return;
      body.replaceChildren(data.rows.length
        ? rowsTable(data, state, `${label}, ${data.meta.from} to ${data.meta.to}`, label)
        : el("p", { class: "none", text: "No data for this period." }));
      body.dataset.slug = slug;
    } catch (err) {
      if (gen !== generation) return;
      body.replaceChildren(el("p", { class: "none", text: `Could not load: ${err.message}` }));
    } finally {
      body.setAttribute("aria-busy", "false");
    }
  }

  // ---------------------------------------------------------------- live visitors
  async function refreshLive() {
    const state = readState();
    if (!state.site) return;
    try {
      const data = await getJson(`/api/current-visitors?site=${encodeURIComponent(state.site)}`);
      if (data.site !== readState().site) return;
      const node = $("#current");
      node.textContent = whole.format(data.visitors);
      node.dataset.value = data.visitors;
      $(".live-label").textContent = data.visitors === 1 ? "current visitor" : "current visitors";
    } catch {
      /* the next tick tries again; the main error box reports real failures */
    }
  }

  function refreshSeconds() {
    return Math.max(1, Number(new URLSearchParams(location.search).get("refresh")) || 10);
  }

  function startLive() {
    clearInterval(liveTimer);
    liveTimer = setInterval(refreshLive, refreshSeconds() * 1000);
    refreshLive();
  }

  // Ranges that end today grow while the page is open: cards and graph refresh quietly
  // every 6 live ticks (a minute by default). Tables stay put so focus and opened
  // goals are never yanked away; they refresh on the next navigation.
  function startTotals(state) {
    clearInterval(totalsTimer);
    if (!["today", "7d", "30d"].includes(state.period)) return;
    totalsTimer = setInterval(async () => {
      const gen = generation;
      try {
        const [s, t] = await Promise.all([
          getJson(apiUrl("/api/summary", state)), getJson(apiUrl("/api/timeseries", state)),
        ]);
        if (gen !== generation) return;
        renderCards(s);
        renderChart(t);
      } catch {
        /* the next tick tries again */
      }
    }, refreshSeconds() * 6000);
  }

  // ---------------------------------------------------------------- render
  async function render() {
    const gen = ++generation;
    delete document.body.dataset.ready; // set again once cards and graph show this state
    const state = readState();
    if (!state.site || !sites.includes(state.site)) {
      if (!sites.length) {
        renderHeader(state, null);
        $("#empty").hidden = false;
        return;
      }
      navigate({ ...state, site: sites[0] }, true);
      return;
    }
    $("#empty").hidden = true;
    renderHeader(state, null);
    buildPanels(state);
    $("#cards").setAttribute("aria-busy", "true");
    showError("");
    startLive();
    startTotals(state);
    const summary = getJson(apiUrl("/api/summary", state));
    const series = getJson(apiUrl("/api/timeseries", state));
    PANELS.forEach((group) => loadPanel(group, state, gen));
    try {
      const [s, t] = await Promise.all([summary, series]);
      if (gen !== generation) return;
      renderHeader(state, s.meta);
      renderCards(s);
      renderChart(t);
      document.body.dataset.ready = "true";
    } catch (err) {
      if (gen === generation) showError(err.message);
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
    navigate({ ...state, period, from: "", to: "" });
  }

  async function start() {
    $("#site").addEventListener("change", (e) => navigate({ ...readState(), site: e.target.value, filters: {} }));
    $("#period").addEventListener("change", onPeriod);
    $("#custom").addEventListener("submit", (event) => {
      event.preventDefault();
      const from = $("#from").value;
      const to = $("#to").value;
      if (!from || !to) return;
      navigate({ ...readState(), period: "custom", from: from <= to ? from : to, to: from <= to ? to : from });
    });
    window.addEventListener("popstate", render);
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(drawChart, 120);
    });
    try {
      const data = await getJson("/api/sites");
      sites = data.sites;
      filterLabels = data.filters;
      noneValue = data.none_value;
    } catch (err) {
      showError(`Could not load the site list: ${err.message}`);
      return;
    }
    render();
  }

  start();
})();
