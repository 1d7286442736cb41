"""An agent's day through the bridge: the issue board, the dashboard link, and a process from start to stop."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

from tests.mcp_bridge.conftest import bridge, data_folder, ok, running_pid
from tests.waiting import until_async


async def test_issue_and_process_workflow(project: Path) -> None:
    async with bridge(project) as client:
        issue = await ok(client, "record_issue", title="Checkout button is dead", tags=["ui"], priority="high")
        issue_id = issue["id"]
        assert issue_id.startswith("ISSUE_")
        port = urlsplit(issue["web_url"]).port
        assert issue["web_url"] == f"http://127.0.0.1:{port}/#/issues/{issue_id}"

        listed = await ok(client, "list_issues", status="open")
        assert [i["id"] for i in listed["issues"]] == [issue_id]

        moved = await ok(client, "update_issue", issue_id=issue_id, status="in-progress")
        assert (moved["status"], moved["title"]) == ("in-progress", "Checkout button is dead")
        assert (await ok(client, "list_issues", status="open"))["issues"] == []
        assert [i["id"] for i in (await ok(client, "list_issues", status="in-progress"))["issues"]] == [issue_id]

        link = await ok(client, "get_web_ui_url", view="issues", item=issue_id)
        assert link["web_url"] == issue["web_url"]
        assert link["url"] == f"http://127.0.0.1:{port}/"

        script = "import time; print('serving on 4173', flush=True); time.sleep(120)"
        started = await ok(client, "start_process", command=[sys.executable, "-c", script], title="dev server")
        process_id = started["id"]
        assert started["web_url"] == f"http://127.0.0.1:{port}/#/processes/{process_id}"

        async def printed() -> bool:
            logs = await ok(client, "get_process_logs", process_id=process_id, log_type="stdout")
            return "serving on 4173" in [line["text"] for line in logs["lines"]]

        await until_async(printed, "the process's output")
        stopped = await ok(client, "stop_process", process_id=process_id, timeout=2000)
        assert stopped["state"] == "stopped"
        assert (await ok(client, "get_process_status", process_id=process_id))["state"] == "stopped"
    # The bridge's server lives on for other agents (until idle); the project's data is in the base folder, and
    # nothing was written into the project.
    assert running_pid(data_folder(project)) is not None
    assert (data_folder(project).path / "state.db").is_file()
    assert (data_folder(project).path / "logs" / "mcp-bridge.log").is_file()
    assert not (project / ".murmuration").exists()
