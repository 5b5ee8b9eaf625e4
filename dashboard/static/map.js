// The delivery map: drawn on a canvas by the page itself (no tile server), one store's
// zone at a time: the store, its online shoppers (idle green, busy orange), the trips on
// the way (planned route, drop-offs) and a 1 km grid for scale.
"use strict";

const MAP_KM = 6; // half the width shown around the store
const mapState = { store: null, chosen: false, frames: 0 };

function project(lat0, lon0, w, h) {
  const kx = 111.32 * Math.cos((lat0 * Math.PI) / 180), ky = 110.57;
  const scale = Math.min(w, h) / (2 * MAP_KM);
  return ([lat, lon]) => [w / 2 + (lon - lon0) * kx * scale, h / 2 - (lat - lat0) * ky * scale];
}

function pickStore(d) {
  const select = document.getElementById("map-store");
  const ids = d.stores.map((s) => s.store_id);
  if (select.dataset.ids !== ids.join(",")) {
    select.dataset.ids = ids.join(",");
    select.innerHTML = d.stores.map((s) => `<option value="${escapeHtml(s.store_id)}">${escapeHtml(s.name)}</option>`).join("");
    select.onchange = () => { mapState.store = select.value; mapState.chosen = true; };
  }
  if (!mapState.chosen || !ids.includes(mapState.store)) {
    // The busiest zone: most trips on the way, then most shoppers online.
    const score = (id) => 1000 * d.en_route.filter((t) => t.store_id === id).length + d.shoppers.filter((s) => s.store_id === id).length;
    mapState.store = ids.slice().sort((a, b) => score(b) - score(a))[0] || null;
  }
  if (mapState.store) select.value = mapState.store;
  return d.stores.find((s) => s.store_id === mapState.store);
}

function drawMap(d, store) {
  const canvas = document.getElementById("map");
  const w = canvas.clientWidth, h = canvas.clientHeight, dpr = window.devicePixelRatio || 1;
  if (canvas.width !== w * dpr) { canvas.width = w * dpr; canvas.height = h * dpr; }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = "#0f141a";
  ctx.fillRect(0, 0, w, h);
  if (!store) {
    ctx.fillStyle = "#8b949e";
    ctx.fillText("no store with a position yet", 16, 24);
    return { idle: 0, busy: 0, trips: 0 };
  }
  const p = project(store.lat, store.lon, w, h);
  const px = Math.min(w, h) / (2 * MAP_KM);
  ctx.strokeStyle = "#1c232c";
  ctx.lineWidth = 1;
  for (let k = -MAP_KM * 2; k <= MAP_KM * 2; k++) {
    ctx.beginPath(); ctx.moveTo(w / 2 + k * px, 0); ctx.lineTo(w / 2 + k * px, h); ctx.stroke();
    ctx.beginPath(); ctx.moveTo(0, h / 2 + k * px); ctx.lineTo(w, h / 2 + k * px); ctx.stroke();
  }
  const trips = d.en_route.filter((t) => t.store_id === store.store_id);
  const shoppers = d.shoppers.filter((s) => s.store_id === store.store_id);
  const where = new Map(shoppers.map((s) => [s.shopper_id, [s.lat, s.lon]]));
  for (const t of trips) {
    const pts = t.route.slice(t.status === "picked_up" ? 1 : 0);
    const here = where.get(t.shopper_id);
    const line = (here ? [here, ...pts] : pts).map(p);
    ctx.setLineDash(t.status === "picked_up" ? [] : [5, 4]);
    ctx.strokeStyle = t.status === "picked_up" ? "rgba(210,153,34,.85)" : "rgba(88,166,255,.7)";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    line.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = "#bc8cff";
    for (const [x, y] of t.route.slice(1).map(p)) { ctx.beginPath(); ctx.arc(x, y, 3, 0, 2 * Math.PI); ctx.fill(); }
  }
  let idle = 0, busy = 0;
  for (const s of shoppers) {
    const [x, y] = p([s.lat, s.lon]);
    ctx.fillStyle = s.busy ? "#d29922" : "#3fb950";
    s.busy ? busy++ : idle++;
    ctx.beginPath(); ctx.arc(x, y, 5, 0, 2 * Math.PI); ctx.fill();
  }
  const [sx, sy] = p([store.lat, store.lon]);
  ctx.fillStyle = "#58a6ff";
  ctx.fillRect(sx - 7, sy - 7, 14, 14);
  ctx.fillStyle = "#e6edf3";
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillText(store.name, sx + 10, sy - 8);
  ctx.fillStyle = "#8b949e";
  ctx.fillText("1 km grid", 10, h - 10);
  // What the browser test reads: the shoppers' positions change as they ride.
  canvas.dataset.positions = shoppers.map((s) => `${s.lat.toFixed(5)},${s.lon.toFixed(5)}`).join(";");
  canvas.dataset.frames = String(++mapState.frames);
  return { idle, busy, trips: trips.length };
}

function fmt(v, unit, digits = 0) {
  return v == null ? "–" : `${Number(v).toFixed(digits)}${unit}`;
}

function renderDelivery(d) {
  if (!d.stores) return;
  const store = pickStore(d);
  const seen = drawMap(d, store);
  setText("map-legend", `${seen.idle} idle · ${seen.busy} busy · ${seen.trips} trips on the way`);
  setText("assign-p50", fmt(d.assign_p50_ms, " ms"));
  setText("assign-p99", fmt(d.assign_p99_ms, " ms"));
  setText("orders-per-trip", fmt(d.orders_per_trip, "", 2));
  setText("metres-per-order", d.metres_per_order == null ? "–" : `${(d.metres_per_order / 1000).toFixed(2)} km`);
  setText("on-time", d.on_time_rate == null ? "–" : `${(d.on_time_rate * 100).toFixed(1)} %`);
  setText("waiting-orders", num.format(d.waiting));
  document.getElementById("delivery").classList.toggle("stale", !!d.stale);
}
