// Agents: who is connected now, what each holds (claims, reservations) and runs; claims left by agents that
// went away; every reservation, which a person may end. Live: any change to sessions, issues, reservations or
// processes reloads it (debounced), and an agent's calls update its row in place.

import { h, replace, debounce, userText, isolate } from "../dom.js";
import { fillList, fillPanel } from "../lists.js";
import { href } from "../router.js";
import { errorText, notify, stateBadge } from "../ui.js";
import { ago, timeElement } from "../format.js";
import { View } from "./view.js";

const KIND_LABELS = { agent: "agent", person: "person (dashboard)", client: "client (unnamed)" };

export class AgentsView extends View {
  mount(container) {
    this.els = {
      agents: h("ul", { class: "agent-list", "aria-label": "Connected" }),
      left: h("div", { class: "left-claims" }),
      reservations: h("div", { class: "reservation-table" }),
    };
    replace(
      container,
      h("section", { class: "page agents-page", "aria-labelledby": "agents-title" },
        h("div", { class: "toolbar" }, h("h1", { id: "agents-title" }, "Agents")),
        h("section", { class: "card", "aria-labelledby": "connected-title" },
          h("h2", { id: "connected-title" }, "Connected now"), this.els.agents),
        h("section", { class: "card", "aria-labelledby": "reservations-title" },
          h("h2", { id: "reservations-title" }, "Reservations"), this.els.reservations),
        h("section", { class: "card", "aria-labelledby": "left-title" },
          h("h2", { id: "left-title" }, "Held by agents that left"), this.els.left)),
    );
    const reload = debounce(() => this.load(), 150);
    this.listen("agent", (event) => (event.action === "call" ? this.onCall(event.agent) : reload()));
    for (const topic of ["reservation", "issue", "process"]) this.listen(topic, reload);
    this.every(30000, () => this.refreshTimes());
    this.load();
  }

  refresh() {
    this.load();
  }

  async load() {
    const token = (this.loadToken = (this.loadToken || 0) + 1);
    try {
      const [listing, held] = await Promise.all([
        this.rpc.call("list_agents"),
        this.rpc.call("list_reservations"),
      ]);
      if (this.destroyed || token !== this.loadToken) return;
      this.render(listing, held.reservations);
      document.body.dataset.agents = "ready";
    } catch (error) {
      notify(`Could not load the agents: ${errorText(error)}`, "error");
    }
  }

  render(listing, reservations) {
    fillList(this.els.agents, listing.agents, (agent) => this.agentItem(agent), "Nobody is connected.");
    fillPanel(this.els.reservations, reservations, (all) => this.reservationTable(all), "Nothing is reserved.");
    fillPanel(this.els.left, listing.left, (left) => h("ul", { class: "left-list" }, left.map((gone) =>
      h("li", { dataset: { name: gone.name } },
        h("strong", {}, userText(gone.name)), " left, still assigned: ", issueLinks(gone.claims),
        h("small", { class: "muted" }, " — the next claim_issue takes them; or reassign them on the board.")))),
    "No claim is held by an agent that left.");
  }

  agentItem(agent) {
    const lastCall = h("span", { class: "last-call" }, lastCallText(agent));
    const item = h("li", { class: `agent agent-${agent.kind}`, dataset: { session: agent.session, name: agent.name } },
      h("div", { class: "agent-head" },
        h("strong", { class: "agent-name" }, userText(agent.name)),
        h("span", { class: "badge" }, KIND_LABELS[agent.kind] || agent.kind),
        agent.you ? h("span", { class: "muted" }, "(this page)") : null,
        agent.client ? userText(agent.client, { class: "muted agent-client" }) : null),
      h("dl", { class: "facts compact" },
        [h("dt", {}, "Connected"), h("dd", {}, timeElement(agent.connected_at))],
        [h("dt", {}, "Last call"), h("dd", {}, lastCall)],
        agent.claims.length ? [h("dt", {}, "Claims"), h("dd", { class: "agent-claims" }, issueLinks(agent.claims))] : null,
        agent.reservations.length
          ? [h("dt", {}, "Reserves"), h("dd", { class: "agent-reservations" },
              agent.reservations.map((r, i) => [i ? "; " : "", h("code", {}, userText(r.resources.join(", "))),
                r.exclusive ? "" : " (shared)"]))]
          : null,
        agent.processes.length
          ? [h("dt", {}, "Runs"), h("dd", { class: "agent-processes" }, agent.processes.map((p, i) => [i ? ", " : "",
              h("a", { href: href("processes", p.id) }, userText(p.title)), " ", stateBadge(p.state)]))]
          : null));
    item.lastCall = lastCall;
    return item;
  }

  reservationTable(reservations) {
    return h("table", { class: "reservations" },
      h("thead", {}, h("tr", {},
        ["Holder", "Resources", "Kind", "Why", "Since", "Ends"].map((title) => h("th", { scope: "col" }, title)),
        h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
      h("tbody", {}, reservations.map((r) =>
        h("tr", { dataset: { id: r.id } },
          h("td", {}, userText(r.holder)),
          h("td", {}, h("code", {}, userText(r.resources.join(", ")))),
          h("td", {}, r.exclusive ? "exclusive" : "shared"),
          h("td", {}, r.reason ? userText(r.reason) : h("span", { class: "muted" }, "—")),
          h("td", {}, timeElement(r.granted_at)),
          h("td", {}, [
            r.for_process ? ["with ", h("a", { href: href("processes", r.for_process) }, "its process")] : null,
            r.for_process && r.expires_at ? ", " : null,
            r.expires_at ? ["at ", timeElement(r.expires_at)] : null,
            !r.for_process && !r.expires_at ? "on release or when its session ends" : null,
          ]),
          h("td", {}, h("button", {
            type: "button", class: "small", "aria-label": `Release ${r.id} of ${r.holder}`,
            onclick: (event) => this.release(r, event.currentTarget),
          }, "Release"))))));
  }

  async release(reservation, button) {
    button.disabled = true;
    try {
      await this.rpc.call("release", { reservation_id: reservation.id });
      notify(`Released the reservation of ${isolate(reservation.resources.join(", "))} held by ${isolate(reservation.holder)}.`);
    } catch (error) {
      notify(`Could not release it: ${errorText(error)}`, "error");
      button.disabled = false;
    }
  }

  /** An agent called something: its row changes in place, without asking the instance again. */
  onCall(agent) {
    const item = this.els.agents.querySelector(`li[data-session="${CSS.escape(agent.session)}"]`);
    if (item?.lastCall) item.lastCall.textContent = lastCallText(agent);
  }

  refreshTimes() {
    for (const time of this.els.agents.querySelectorAll("time")) time.textContent = ago(time.dateTime);
  }
}

function lastCallText(agent) {
  return agent.last_call ? `${agent.last_call}, ${ago(agent.last_call_at)}` : "none yet";
}

function issueLinks(claims) {
  return claims.map((issue, i) => [i ? ", " : "",
    h("a", { href: href("issues", issue.id), title: isolate(issue.title) }, issue.id), " ",
    userText(issue.title, { class: "muted" })]);
}
