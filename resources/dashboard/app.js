// The dashboard's entry point: one connection, one router, one visible view at a time.

import { RpcClient } from "./js/rpc.js";
import { watch } from "./js/router.js";
import { h, replace } from "./js/dom.js";
import { notify } from "./js/ui.js";
import { OverviewView } from "./js/views/overview.js";
import { ProcessesView } from "./js/views/processes.js";
import { QueueView } from "./js/views/queue.js";
import { IssuesView } from "./js/views/issues.js";
import { KnowledgeView } from "./js/views/knowledge.js";

const VIEW_CLASSES = {
  overview: OverviewView,
  processes: ProcessesView,
  queue: QueueView,
  issues: IssuesView,
  knowledge: KnowledgeView,
};

const rpc = new RpcClient(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
const main = document.getElementById("view");
const app = { rpc, info: null, current: null, currentName: null };

function showConnection(state, client) {
  document.body.dataset.connection = state;
  const text = document.getElementById("connection-text");
  const banner = document.getElementById("banner");
  const bannerText = document.getElementById("banner-text");
  clearInterval(showConnection.timer);
  if (state === "open") {
    text.textContent = "Connected";
    banner.hidden = true;
    return;
  }
  if (state === "connecting") {
    text.textContent = "Connecting…";
    return;
  }
  const render = () => {
    const seconds = Math.max(0, Math.ceil(((client.nextRetryAt || Date.now()) - Date.now()) / 1000));
    text.textContent = "Reconnecting…";
    bannerText.textContent = client.refused
      ? "The instance answers but refuses this page's session. Sign in again: run `murmuration url NAME --login`."
      : `The connection to the instance is down. Reconnecting… (attempt ${client.attempt}` +
        (seconds > 0 ? `, next try in ${seconds} s)` : ")");
  };
  render();
  banner.hidden = false;
  showConnection.timer = setInterval(render, 500);
}

function markNav(view) {
  for (const link of document.querySelectorAll(".tabs a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function showRoute(route) {
  if (route.view === "missing") {
    app.current?.destroy();
    app.current = null;
    app.currentName = "missing";
    markNav(null);
    replace(main, h("section", { class: "page" }, h("h1", {}, "Not found"),
      h("p", {}, "There is no such view. "), h("a", { href: "#/" }, "Go to the overview")));
    return;
  }
  if (app.currentName !== route.view) {
    app.current?.destroy();
    const View = VIEW_CLASSES[route.view];
    app.current = new View(app);
    app.currentName = route.view;
    markNav(route.view);
    replace(main);
    app.current.mount(main, route);
    document.title = `${viewTitle(route.view)} · ${app.info ? app.info.name : "Murmuration"}`;
    if (showRoute.started) main.focus({ preventScroll: true });
  }
  app.current.route(route);
  showRoute.started = true;
}

function viewTitle(view) {
  return view.charAt(0).toUpperCase() + view.slice(1);
}

async function loadInfo() {
  try {
    app.info = await rpc.call("get_instance_info");
    document.getElementById("instance-name").textContent = app.info.name;
    showDamage(app.info.damaged);
    document.title = `${viewTitle(app.currentName || "overview")} · ${app.info.name}`;
    app.current?.onInfo?.(app.info);
  } catch (error) {
    notify(`Could not read the instance's details: ${error.message}`, "error");
  }
}

// A damaged store is served read-only: say so above every view, with the command that repairs it.
function showDamage(sentence) {
  const banner = document.getElementById("damage-banner");
  banner.textContent = sentence || "";
  banner.hidden = !sentence;
}

rpc.onState(showConnection);
rpc.onState((state) => app.current?.onConnection?.(state));
rpc.onReconnect(() => {
  loadInfo();
  app.current?.refresh();
});
// Lost events (a slow tab): the visible view loads everything again.
rpc.on("overflow", () => app.current?.refresh());
rpc.on("instance", (event) => {
  if (event.action === "damaged") loadInfo();
});
document.getElementById("banner-retry").addEventListener("click", () => rpc.retryNow());

rpc.start();
loadInfo();
watch(showRoute);
