// Placeholder UI: the same transport the real UI uses (admin_request), just
// enough to see and drive the gateway until frontend/ is built.
const invoke = (cmd, args) => window.__TAURI__.core.invoke(cmd, args);
const $ = (id) => document.getElementById(id);
const say = (m) => { $("message").textContent = m || ""; };
const errText = (e) => (e && (e.message || (e.body && e.body.error && e.body.error.message))) || String(e);

async function api(method, path, body) {
  const r = await invoke("admin_request", { method, path, body });
  if (r.status >= 400) throw new Error((r.body && r.body.error && r.body.error.message) || `HTTP ${r.status}`);
  return r.body;
}

async function refresh() {
  const s = await invoke("desktop_status");
  $("state").textContent = s.state;
  $("state").className = "pill " + s.state;
  $("status-line").textContent = s.state === "error" ? `Not running: ${s.error.message}`
    : `${s.state === "paused" ? "Paused" : "Running"} on ${s.listen} — config version ${s.config_version}`;
  $("endpoint").textContent = s.endpoint || "—";
  $("pause").textContent = s.state === "paused" ? "Resume" : "Pause";
  $("pause").disabled = !(s.state === "running" || s.state === "paused");
  const sel = $("profile");
  sel.replaceChildren(...[["", "default (top-level routes)"], ...s.profiles.map((p) => [p, p])].map(([v, t]) => {
    const o = document.createElement("option"); o.value = v; o.textContent = t; return o;
  }));
  sel.value = s.active_profile || "";
  return s;
}

function showPage() {
  const page = (location.hash.replace(/^#\//, "") || "overview");
  $("page").textContent = page.charAt(0).toUpperCase() + page.slice(1);
}

window.addEventListener("hashchange", showPage);
window.addEventListener("DOMContentLoaded", async () => {
  showPage();
  $("pause").onclick = async () => {
    try {
      const s = await invoke("desktop_status");
      await api("POST", "/admin/api/pause", { paused: s.state !== "paused" });
      await refresh(); say("");
    } catch (e) { say(errText(e)); }
  };
  $("profile").onchange = async (ev) => {
    try { await invoke("switch_profile", { profile: ev.target.value || null }); await refresh(); say(""); }
    catch (e) { say(errText(e)); }
  };
  $("copy").onclick = () => navigator.clipboard.writeText($("endpoint").textContent).then(() => say("Copied."), (e) => say(errText(e)));
  try { await refresh(); } catch (e) { say(errText(e)); }
  if (window.__TAURI__.event) window.__TAURI__.event.listen("gateway-status", () => refresh().catch(() => {}));
});
