// The dashboard's entry point: one connection, one router, one visible view at a time — or, without a session,
// a notice that says how to sign in (the page itself holds no data; everything comes over the signed-in socket).

import { RpcClient } from "./js/rpc.js";
import { forgetSession, onSignInElsewhere, redeemSignInCode, sessionValid, storedSession } from "./js/session.js";
import { href, watch } from "./js/router.js";
import { h, replace } from "./js/dom.js";
import { confirmAction, errorText, notify } from "./js/ui.js";
import { VIEWS, viewNamed } from "./js/views/registry.js";

// At /login?code=…: the code leaves the address bar at once and becomes this origin's session.
const signIn = await redeemSignInCode();
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
  if (state === "signed-out") {
    banner.hidden = true;
    signedOut();
    return;
  }
  const render = () => {
    const seconds = Math.max(0, Math.ceil(((client.nextRetryAt || Date.now()) - Date.now()) / 1000));
    text.textContent = "Reconnecting…";
    bannerText.textContent =
      `The connection to the instance is down. Reconnecting… (attempt ${client.attempt}` +
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
    const { View } = viewNamed(route.view);
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
  return viewNamed(view)?.title ?? "Not found";
}

async function loadInfo() {
  try {
    app.info = await rpc.call("get_instance_info");
    document.getElementById("instance-name").textContent = app.info.name;
    document.title = `${viewTitle(app.currentName || "overview")} · ${app.info.name}`;
    app.current?.onInfo?.(app.info);
  } catch (error) {
    notify(`Could not read the instance's details: ${error.message}`, "error");
  }
}

/** The navigation: one link per view, in the registry's order. */
function buildNav() {
  const nav = document.querySelector("nav.tabs");
  replace(nav, ...VIEWS.map(({ name, title }) => h("a", { href: href(name), dataset: { view: name } }, title)));
}

/** The sign-in notice in place of the dashboard; `reason` says what went wrong, if anything did. */
function showSignIn(reason) {
  app.current?.destroy();
  app.current = null;
  app.currentName = "signin";
  document.body.classList.add("signin");
  document.body.dataset.connection = "signed-out";
  document.title = "Sign in · Murmuration";
  replace(main, h("section", { class: "card signin-card" },
    h("h1", {}, h("img", { src: "/assets/icon.svg", alt: "", width: "28", height: "28" }), "Murmuration"),
    h("p", { class: "signin-reason" }, reason || "This dashboard needs a sign-in link."),
    h("p", {}, "Open this instance from the Murmuration tray, or run this and open the link it prints:"),
    h("pre", {}, h("code", {}, "murmuration url NAME --login"))));
}

async function signedOut() {
  // Another tab may have signed in meanwhile: then its session is the one to use.
  if (await sessionValid()) {
    location.reload();
    return;
  }
  forgetSession();
  showSignIn("This browser was signed out (everywhere, or after twelve idle hours); sign in again to carry on.");
}

async function signOutEverywhere() {
  let count = null;
  try {
    count = (await rpc.call("list_sessions")).count;
  } catch {
    // The question below reads well without the number.
  }
  const sessions =
    count === null ? "every browser session" : count === 1 ? "the one browser session" : `all ${count} browser sessions`;
  const question = `Sign out ${sessions} of this dashboard, this one included? Each browser needs a new sign-in link.`;
  if (!(await confirmAction(question, "Sign out everywhere", { danger: true }))) return;
  try {
    await rpc.call("revoke_sessions");
  } catch (error) {
    // The server closes this page's socket as it signs out; only another failure is news.
    if (rpc.state !== "signed-out" && error.code !== -1) notify(`Could not sign out: ${errorText(error)}`, "error");
  }
}

const SIGN_IN_FAILURES = {
  refused: "This sign-in link is wrong, used or expired; run the command below for a new one.",
  unreachable: "The instance did not answer the sign-in; check that it is running, then open a new link.",
  "no-storage":
    "This browser blocks site data for this address, so the page cannot keep its sign-in; " +
    "allow it, then open a new link.",
};

// When another tab of this dashboard signs in, a tab showing the notice carries on with that session.
onSignInElsewhere(() => {
  if (document.body.classList.contains("signin")) location.reload();
});

if (!storedSession()) {
  showSignIn(SIGN_IN_FAILURES[signIn]);
} else {
  if (SIGN_IN_FAILURES[signIn]) notify(SIGN_IN_FAILURES[signIn].split(";")[0] + "; this browser is still signed in.");
  rpc.onState(showConnection);
  rpc.onState((state) => app.current?.onConnection?.(state));
  rpc.onReconnect(() => {
    loadInfo();
    app.current?.refresh();
  });
  // Lost events (a slow tab): the visible view loads everything again.
  rpc.on("overflow", () => app.current?.refresh());
  document.getElementById("banner-retry").addEventListener("click", () => rpc.retryNow());
  document.getElementById("sign-out").addEventListener("click", signOutEverywhere);
  buildNav();
  rpc.start();
  loadInfo();
  watch(
    VIEWS.map((view) => view.name),
    (route) => {
      if (app.currentName !== "signin") showRoute(route);
    },
  );
}
