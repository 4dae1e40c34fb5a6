// The vaxeld wallboard: one Server-Sent Events stream, the full picture on every
// update. Waits are counted up here between updates, from the server's clock.
"use strict";

const TEXT = {
  sv: {
    waiting: "Väntar", longest: "Längsta väntan", sl: "Servicenivå idag",
    answered: "besvarade", direct: "direkt", abandoned: "avbrutna", timedOut: "tidsgräns",
    target: "mål", available: "Lediga", busy: "Upptagna", paused: "Paus",
    unavailable: "Nåbara ej", since: "sedan", live: "Live",
    connecting: "Ansluter…", disconnected: "Frånkopplad – ingen kontakt med vaxeld",
    ami: "Ingen kontakt med Asterisk", updated: "Senast ändrat", todayFrom: "Dagens siffror från",
    crisis: "KRISLÄGE – krismeddelandet spelas för alla som ringer",
    "closed-hours": "Stängt – utanför öppettiden", "closed-holiday": "Stängt – helgdag",
    "closed-exception": "Stängt – avvikande öppettid", closed: "stängt",
    formula: "Servicenivå", noAgents: "Ingen inloggad",
    formulas: {
      offered: "besvarade inom målet / besvarade, avbrutna och tidsgräns",
      answered_and_long_abandoned: "besvarade inom målet / besvarade och avbrutna efter korttidsgränsen",
    },
  },
  en: {
    waiting: "Waiting", longest: "Longest wait", sl: "Service level today",
    answered: "answered", direct: "directly", abandoned: "abandoned", timedOut: "timed out",
    target: "target", available: "Available", busy: "Busy", paused: "Paused",
    unavailable: "Unreachable", since: "since", live: "Live",
    connecting: "Connecting…", disconnected: "Disconnected – vaxeld cannot be reached",
    ami: "Asterisk cannot be reached", updated: "Last change", todayFrom: "Today's figures from",
    crisis: "CRISIS – the crisis message plays to every caller",
    "closed-hours": "Closed – outside opening hours", "closed-holiday": "Closed – public holiday",
    "closed-exception": "Closed – special opening hours", closed: "closed",
    formula: "Service level", noAgents: "Nobody logged in", formulas: {},
  },
};
const STATES = ["available", "busy", "paused", "unavailable"];
const STALE_AFTER_MS = 12500; // pings come every 5 s while the stream is alive

let board = null;
let offset = 0; // server clock minus ours
let lastHeard = 0;
let source = null;
let t = TEXT.sv;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function serverNow() { return Date.now() + offset; }

function clockText(ms) {
  return new Date(ms).toLocaleTimeString(board && board.language === "en" ? "en-GB" : "sv-SE",
    { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function hm(ms) {
  return new Date(ms).toLocaleTimeString("sv-SE", { hour: "2-digit", minute: "2-digit" });
}

function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, "0"), rr = String(r).padStart(2, "0");
  return h ? `${h}:${mm}:${rr}` : `${mm}:${rr}`;
}

function percent(ratio) { return ratio === null ? "–" : `${Math.round(ratio * 100)} %`; }

function setStatus(status) {
  document.body.dataset.status = status;
  let text = t[status] || status;
  if (status === "ami" && board) {
    const lost = board.pbxs.filter((p) => !p.synced).map((p) => p.name);
    text = `${t.ami} (${lost.join(", ")})`;
  }
  document.getElementById("status-text").textContent = text;
}

function queueCard(q) {
  const longest = el("div", { class: "figure longest", "data-since": q.longest_since ?? "" },
    el("div", { class: "label" }, t.longest), el("div", { class: "value" }, "0:00"));
  const sl = el("div", { class: "figure sl" }, el("div", { class: "label" }, t.sl),
    el("div", { class: "value" }, percent(q.service_level)));
  if (q.service_level !== null && q.service_level < board.service_level_goal) sl.classList.add("below");
  const title = el("h2", {}, el("span", { class: "lname" }, q.language_name));
  if (q.opening !== "open") title.append(el("span", { class: "closed-tag" }, t.closed));
  title.append(el("span", { class: "qname" }, q.name));
  const today = el("div", { class: "today" },
    el("span", {}, el("b", { class: "answered" }, String(q.answered)), ` ${t.answered}`),
    el("span", {}, el("b", { class: "direct" }, String(q.answered_directly)), ` ${t.direct}`),
    el("span", {}, el("b", { class: "abandoned" }, String(q.abandoned)), ` ${t.abandoned}`),
    el("span", {}, el("b", { class: "timed-out" }, String(q.timed_out)), ` ${t.timedOut}`),
    el("span", {}, `${t.target} ${q.target_seconds} s`));
  const card = el("article", { class: "queue", "data-queue": q.name, "data-target": q.target_seconds },
    title,
    el("div", { class: "figures" },
      el("div", { class: "figure waiting" }, el("div", { class: "label" }, t.waiting),
        el("div", { class: "value" }, String(q.waiting))),
      longest, sl),
    today);
  return card;
}

function siteCard(site) {
  const counts = el("div", { class: "counts" });
  for (const s of ["available", "busy", "paused"]) {
    counts.append(el("span", { class: `count-${s} state-${s}` }, el("b", {}, String(site.counts[s])), ` ${t[s]}`));
  }
  const list = el("ul", { class: "agents" });
  for (const a of site.agents) {
    const since = a.since === null ? "" : `${t.since} ${hm(a.since)}`;
    list.append(el("li", { class: `agent ${a.state}`, "data-agent": a.name, "data-state": a.state },
      el("span", { class: "name" }, a.name),
      el("span", { class: "since" }, `${t[a.state]}${since ? " · " + since : ""}`)));
  }
  if (!site.agents.length) list.append(el("li", { class: "agent" }, t.noAgents));
  return el("article", { class: "site", "data-site": site.name }, el("h2", {}, site.name), counts, list);
}

function render() {
  t = TEXT[board.language] || TEXT.sv;
  document.documentElement.lang = board.language;
  document.title = board.title;
  document.getElementById("title").textContent = board.title;
  const banners = document.getElementById("banners");
  banners.replaceChildren();
  if (board.crisis) banners.append(el("div", { class: "banner crisis", id: "crisis" }, t.crisis));
  if (board.opening !== "open") {
    banners.append(el("div", { class: "banner closed", id: "opening", "data-opening": board.opening },
      t[board.opening] || board.opening));
  }
  document.getElementById("queues").replaceChildren(...board.queues.map(queueCard));
  document.getElementById("sites").replaceChildren(...board.sites.map(siteCard));
  document.getElementById("formula").textContent = `${t.formula}: ${t.formulas[board.formula] || board.formula_text} (${board.formula}).`;
  document.getElementById("since").textContent =
    board.today_since === null ? "" : `${t.todayFrom} ${clockText(board.today_since)}.`;
  tick();
}

function tick() {
  const now = serverNow();
  document.getElementById("clock").textContent = clockText(now);
  if (source && lastHeard && Date.now() - lastHeard > STALE_AFTER_MS) setStatus("disconnected");
  for (const card of document.querySelectorAll(".queue")) {
    const longest = card.querySelector(".longest");
    const since = longest.dataset.since;
    const target = Number(card.dataset.target);
    const wait = since === "" ? 0 : (now - Number(since)) / 1000;
    longest.querySelector(".value").textContent = duration(wait);
    const level = since === "" ? "" : wait > target ? "red" : wait >= target / 2 ? "amber" : "";
    for (const node of [longest, card]) {
      node.classList.toggle("amber", level === "amber");
      node.classList.toggle("red", level === "red");
    }
  }
}

function heard(now) {
  offset = now - Date.now();
  lastHeard = Date.now();
}

function connect() {
  const token = new URLSearchParams(location.search).get("token");
  const url = "/wallboard/stream" + (token ? `?token=${encodeURIComponent(token)}` : "");
  source = new EventSource(url);
  source.addEventListener("board", (e) => {
    const msg = JSON.parse(e.data);
    heard(msg.now);
    board = msg.board;
    render();
    setStatus(board.live ? "live" : "ami");
    document.getElementById("updated").textContent = `${t.updated} ${clockText(msg.now)}.`;
  });
  source.addEventListener("ping", (e) => {
    heard(JSON.parse(e.data).now);
    if (board && document.body.dataset.status === "disconnected") setStatus(board.live ? "live" : "ami");
  });
  source.onerror = () => {
    // At once: the figures on screen are no longer known to be true.
    setStatus("disconnected");
    if (source.readyState === EventSource.CLOSED) {
      // Refused (503) or not allowed: the browser gives up; we try again.
      source = null;
      setTimeout(connect, 5000);
    }
  };
}

document.addEventListener("DOMContentLoaded", () => {
  setStatus("connecting");
  connect();
  setInterval(tick, 250);
});
