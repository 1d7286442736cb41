// Every view of the dashboard, in the order the navigation shows them: its name (the route #/<name>), its title
// and the class that draws it. The router, the shell (app.js) and the navigation are all built from this list,
// and the server reads the names from this very text (VIEWS in app/murmuration/operations/context.py, which
// web_url links point into), so a new view is its own file in js/views/ plus one line here. Keep each line in
// the form { name: "…", title: "…", View: … }: tests/dashboard/test_views.py checks both sides read the same.

import { OverviewView } from "./overview.js";
import { ProcessesView } from "./processes.js";
import { QueueView } from "./queue.js";
import { IssuesView } from "./issues.js";
import { KnowledgeView } from "./knowledge.js";
import { AgentsView } from "./agents.js";

export const VIEWS = [
  { name: "overview", title: "Overview", View: OverviewView },
  { name: "processes", title: "Processes", View: ProcessesView },
  { name: "queue", title: "Queue", View: QueueView },
  { name: "issues", title: "Issues", View: IssuesView },
  { name: "knowledge", title: "Knowledge", View: KnowledgeView },
  { name: "agents", title: "Agents", View: AgentsView },
];

/** The view called `name`, or undefined. */
export function viewNamed(name) {
  return VIEWS.find((view) => view.name === name);
}
