// The live page: one EventSource on /api/stream; every snapshot re-renders the page.
"use strict";

const TOPIC_COLORS = {
  "riverbed.orders": "#58a6ff", "riverbed.order-decisions": "#bc8cff",
  "riverbed.inventory": "#3fb950", "riverbed.stock-alerts": "#d29922",
  "riverbed.viewing": "#39c5cf", "riverbed.dlq": "#f85149",
};
const num = new Intl.NumberFormat("en-US");
const num1 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
const money = new Intl.NumberFormat("en-US", { style: "currency", currency: "EUR", maximumFractionDigits: 0 });
const $ = (id) => document.getElementById(id);
const short = (topic) => topic.replace(/^riverbed\./, "");
const clock = (iso) => iso ? new Date(iso).toLocaleTimeString("en-GB") : "–";
const charts = {};

function escapeHtml(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function setText(id, text) { const el = $(id); if (el.textContent !== text) el.textContent = text; }

function axis(stroke) {
  return { stroke: "#8b949e", grid: { stroke: "#2a313c", width: 1 }, ticks: { stroke: "#2a313c" }, ...stroke };
}

function makeChart(id, opts, data) {
  const el = $(id);
  const chart = new uPlot({ width: el.clientWidth, height: el.clientHeight - 30, legend: { live: false }, ...opts }, data, el);
  new ResizeObserver(() => chart.setSize({ width: el.clientWidth, height: el.clientHeight - 30 })).observe(el);
  return chart;
}

function renderRates(kafka) {
  const rates = kafka.rates;
  if (!rates) return;
  const topics = Object.keys(rates.topics);
  const data = [rates.t, ...topics.map((t) => rates.topics[t])];
  if (!charts.rates) {
    charts.rates = makeChart("rates-chart", {
      series: [{}, ...topics.map((t) => ({ label: short(t), stroke: TOPIC_COLORS[t] || "#ccc", width: 2,
        points: { show: false }, value: (u, v) => v == null ? "–" : num1.format(v) + "/s" }))],
      axes: [axis({}), axis({ size: 60, values: (u, vals) => vals.map((v) => num.format(v)) })],
      scales: { y: { range: (u, min, max) => [0, Math.max(10, max * 1.1)] } },
      cursor: { drag: { x: false, y: false } },
    }, data);
  } else {
    charts.rates.setData(data);
  }
}

function renderOrdersChart(orders) {
  const pm = orders.per_minute;
  if (!pm) return;
  const data = [pm.minute, pm.confirmed, pm.rejected, pm.revenue];
  if (!charts.orders) {
    // Side by side in each minute: confirmed left of the tick, rejected right of it.
    const left = uPlot.paths.bars({ size: [0.4, 24], align: -1 });
    const right = uPlot.paths.bars({ size: [0.4, 24], align: 1 });
    charts.orders = makeChart("orders-chart", {
      series: [
        {},
        { label: "confirmed", stroke: "#3fb950", fill: "rgba(63,185,80,.55)", paths: left, points: { show: false } },
        { label: "rejected", stroke: "#f85149", fill: "rgba(248,81,73,.6)", paths: right, points: { show: false } },
        { label: "revenue", stroke: "#d29922", width: 2, scale: "eur", value: (u, v) => v == null ? "–" : money.format(v) },
      ],
      axes: [
        axis({}),
        axis({ size: 50, label: "orders / min", labelSize: 18 }),
        axis({ side: 1, scale: "eur", size: 70, grid: { show: false }, values: (u, vals) => vals.map((v) => money.format(v)) }),
      ],
      // Half a minute of room on each side, so the current minute's bars are not cut off.
      scales: { x: { time: true, range: (u, min, max) => [min - 30, max + 30] },
        y: { range: (u, min, max) => [0, Math.max(5, max * 1.15)] }, eur: { range: (u, min, max) => [0, Math.max(100, max * 1.15)] } },
      cursor: { drag: { x: false, y: false } },
    }, data);
  } else {
    charts.orders.setData(data);
  }
}

// The chart's last minute is the current one (the server anchors it on the wall clock):
// its counts, in words and in data attributes (the browser test reads them).
function renderThisMinute(pm) {
  const last = pm.minute.length - 1;
  if (last < 0) return;
  const el = $("orders-minute");
  el.dataset.minute = String(pm.minute[last]);
  el.dataset.confirmed = String(pm.confirmed[last]);
  el.dataset.rejected = String(pm.rejected[last]);
  setText("orders-minute", `${num.format(pm.confirmed[last])} confirmed · ${num.format(pm.rejected[last])} rejected`);
}

function renderHealth(health) {
  for (const pill of document.querySelectorAll(".pill")) {
    const h = health[pill.dataset.service];
    if (!h) continue;
    pill.classList.toggle("up", h.status === "up");
    pill.classList.toggle("down", h.status === "down");
    pill.title = h.error || `answered in ${h.ms} ms`;
    pill.querySelector("b").textContent = h.status === "up" ? `${Math.round(h.ms)} ms` : h.status;
  }
}

// Retries come from the worker's own /metrics (dashboard/sources/workers.py): "–" when
// metrics are off, "?" when the worker does not answer.
function retriesOf(workers, kind) {
  const w = workers && workers[kind];
  if (!w) return "–";
  return w.unreachable ? "?" : num.format(w.retries);
}

function renderGroups(groups, workers) {
  $("groups").innerHTML = (groups || []).map((g) => `
    <tr><td>${escapeHtml(g.kind)}<small>${escapeHtml(g.group)}</small></td>
      <td class="num">${num.format(g.lag)}</td>
      <td class="num">${g.lag_s == null ? "–" : num1.format(g.lag_s) + " s"}</td>
      <td class="num">${g.members}</td>
      <td class="num">${retriesOf(workers, g.kind)}</td>
      <td><span class="badge ${escapeHtml(g.health)}" title="${escapeHtml(g.state || "unknown")}">${escapeHtml(g.health)}</span></td></tr>`).join("");
}

function renderTrending(trending) {
  const titles = (trending && trending.titles) || [];
  const top = Math.max(1, ...titles.map((t) => t.starts));
  $("trending").innerHTML = titles.length ? titles.map((t) => `
    <li><div class="fill" data-width="${(100 * t.starts / top).toFixed(1)}"></div>
      <span class="name">${escapeHtml(t.title_id)}</span><span class="n">${num.format(t.starts)}</span></li>`).join("")
    : `<li class="empty">no view starts yet</li>`;
  // Sized through the CSSOM: the Content-Security-Policy refuses inline style attributes.
  for (const bar of $("trending").querySelectorAll(".fill")) bar.style.width = `${bar.dataset.width}%`;
  setText("trending-hint", `view starts, last ${trending ? trending.window_minutes : 5} min`);
}

function renderFeed(id, items, line, empty) {
  $(id).innerHTML = items && items.length
    ? items.map((i) => `<li><time>${clock(i.at)}</time><span class="what">${line(i)}</span></li>`).join("")
    : `<li class="empty">${empty}</li>`;
}

function render(s) {
  renderHealth(s.health || {});
  const kafka = s.kafka || {}, pg = s.postgres || {}, viewing = s.viewing || {}, feeds = s.feeds || {};
  if (kafka.events_per_s != null) setText("events-per-s", num1.format(kafka.events_per_s));
  if (kafka.dlq_count != null) setText("dlq-count", num.format(kafka.dlq_count));
  renderRates(kafka);
  renderGroups(kafka.groups, (s.workers || {}).workers);
  const orders = pg.orders;
  if (orders) {
    setText("orders-total", num.format(orders.total));
    $("orders-total").dataset.value = String(orders.total);
    setText("orders-confirmed", num.format(orders.confirmed));
    setText("orders-rejected", num.format(orders.rejected));
    setText("revenue", money.format(orders.revenue_window));
    renderOrdersChart(orders);
    if (orders.per_minute) renderThisMinute(orders.per_minute);
  }
  if (pg.low_stock_skus != null) setText("low-stock", num.format(pg.low_stock_skus));
  renderTrending(pg.trending);
  if (viewing.active_viewers != null) {
    setText("active-viewers", num.format(viewing.active_viewers));
    setText("active-note", `playing or paused, last ${viewing.window_minutes} min`);
  }
  renderFeed("alerts", feeds.alerts, (a) =>
    `<b>${escapeHtml(a.store_id)}</b> · ${escapeHtml(a.sku)} <span class="warn" title="alert threshold ${a.threshold}">${a.available} left</span>`,
    "no low-stock alert");
  renderFeed("dead-letters", feeds.dead_letters, (d) =>
    `<span class="bad">${escapeHtml(d.exception || "error")}</span> ${escapeHtml(d.type || "undecodable")} from ${escapeHtml(d.origin)}: ${escapeHtml(d.reason)}`,
    "no dead letter");
  for (const [id, part] of [["rates-chart", kafka], ["groups", kafka], ["orders-chart", pg], ["trending", pg], ["active-viewers", viewing], ["alerts", feeds]]) {
    $(id).classList.toggle("stale", !!part.stale);
  }
  if (s.delivery) renderDelivery(s.delivery);
  setText("updated-at", clock(s.at));
}

function connect() {
  const source = new EventSource("/api/stream");
  source.addEventListener("snapshot", (e) => {
    $("conn").className = "conn live";
    $("conn").textContent = "live";
    render(JSON.parse(e.data));
  });
  source.onerror = () => {
    $("conn").className = "conn connecting";
    $("conn").textContent = "reconnecting";
  };
}

// Recommendations: the read API's blend for one user at a time of day (the hour picked,
// today, in UTC: the buckets are UTC hours), each item with its source.
function atHour(hour) {
  if (!hour) return null;
  const d = new Date();
  d.setUTCHours(Number(hour), 0, 0, 0);
  return d.toISOString();
}

async function showRecommendations(event) {
  if (event) event.preventDefault();
  const user = $("recs-user").value.trim();
  if (!user) return;
  const at = atHour($("recs-time").value);
  const query = new URLSearchParams({ limit: "10" });
  if (at) query.set("at", at);
  const list = $("recs");
  const r = await fetch(`/api/users/${encodeURIComponent(user)}/recommendations?${query}`);
  const body = await r.json();
  if (!r.ok) {
    list.innerHTML = `<li class="empty">${escapeHtml((body.error && body.error.message) || r.statusText)}</li>`;
    setText("recs-meta", "–");
    return;
  }
  const meta = $("recs-meta");
  meta.dataset.version = body.model_version == null ? "" : String(body.model_version);
  setText("recs-meta", `${body.time_of_day} · model ${body.model_version == null ? "not trained yet" : "v" + body.model_version}`);
  list.innerHTML = body.items.length ? body.items.map((i) => `
    <li data-title="${escapeHtml(i.title_id)}" data-source="${escapeHtml(i.source)}">
      <span class="name">${escapeHtml(i.title_id)}</span><span class="src ${escapeHtml(i.source)}">${escapeHtml(i.source.replace("_", "-"))}</span>
      ${i.sources.length > 1 ? `<span class="also">also ${i.sources.filter((s) => s !== i.source).map((s) => escapeHtml(s.replace("_", "-"))).join(", ")}</span>` : ""}
      ${i.because.length ? `<span class="because">because you watched ${i.because.map(escapeHtml).join(", ")}</span>` : ""}</li>`).join("")
    : `<li class="empty">nothing to recommend yet</li>`;
}

$("recs-form").addEventListener("submit", showRecommendations);

connect();

// Follow an order: its timeline from /api/orders/{id}/trace (Jaeger's trace, by step).
const stamp = (iso) => {
  const d = new Date(iso);
  return d.toLocaleTimeString("en-GB") + "." + String(d.getMilliseconds()).padStart(3, "0");
};

async function follow(orderId) {
  const note = $("follow-note"), body = $("follow-steps"), link = $("follow-link");
  note.textContent = "looking up " + orderId + "…";
  body.innerHTML = "";
  link.hidden = true;
  let answer, data;
  try {
    answer = await fetch("/api/orders/" + encodeURIComponent(orderId) + "/trace");
    data = await answer.json();
  } catch (err) {
    note.textContent = "could not ask the dashboard: " + err;
    return;
  }
  if (!answer.ok) {
    note.textContent = (data.error && data.error.message) || ("error " + answer.status);
    return;
  }
  note.textContent = data.note;
  if (data.trace_url) { link.href = data.trace_url; link.hidden = false; }
  body.innerHTML = data.steps.map((s) =>
    `<tr data-step="${escapeHtml(s.step)}"><td>${escapeHtml(s.step)}</td><td>${escapeHtml(stamp(s.at))}</td>` +
    `<td class="num">${s.duration_ms.toFixed(1)} ms</td><td>${escapeHtml(s.service)}</td>` +
    `<td>${escapeHtml(s.detail)}</td></tr>`).join("");
}

$("follow-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const id = $("follow-id").value.trim();
  if (id) follow(id);
});
{
  const wanted = new URLSearchParams(location.search).get("order");
  if (wanted) { $("follow-id").value = wanted; follow(wanted); }
}
