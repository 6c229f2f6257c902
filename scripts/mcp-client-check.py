"""The board's MCP server (/mcp) as a client nobody here wrote sees it: the official Python SDK
(PyPI `mcp`, pinned in scripts/setup.sh). Run by scripts/mcp-check.sh against the real binary:

    mcp-client-check.py URL MEMBER_TOKEN READ_ONLY_TOKEN

Both ways of opening, `server/discover` (2026-07-28) and `initialize` (the SDK's 2025-11-25):
list the tools, call each one, and check the refusals: a move the rules refuse, an unknown
issue, wrong argument types, an unknown tool, a token without the `mcp` scope. Exits non-zero
on the first thing that is not as it should be.
"""

import asyncio
import sys

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

URL, TOKEN, NO_MCP_TOKEN = sys.argv[1], sys.argv[2], sys.argv[3]
TOOLS = {
    "list_issues",
    "get_issue",
    "create_issue",
    "add_comment",
    "move_issue",
    "set_fields",
    "waiting_for_people",
}


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""))
    if not ok:
        sys.exit(1)


async def session_check(modern):
    era = "2026-07-28 (server/discover)" if modern else "initialize"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx2.AsyncClient(headers=headers) as http:
        async with streamable_http_client(URL, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                if modern:
                    await session.discover()
                else:
                    await session.initialize()
                print(f"-- {era}: protocol {session.protocol_version}")
                check(f"{era}: revision", session.protocol_version == ("2026-07-28" if modern else "2025-11-25"),
                      session.protocol_version)
                tools = await session.list_tools()
                names = {t.name for t in tools.tools}
                check(f"{era}: the seven tools are listed", names == TOOLS, sorted(names))
                check(f"{era}: every tool describes itself and its input",
                      all(t.description and t.input_schema.get("type") == "object" for t in tools.tools))

                created = await session.call_tool("create_issue", {
                    "title": f"Filed over MCP ({era})", "body": "Found while testing.", "kind": "bug"})
                check(f"{era}: create_issue", not created.is_error, created.content)
                issue = created.structured_content
                number = issue["id"]
                commented = await session.call_tool("add_comment", {"id": number, "body": "Seen twice."})
                check(f"{era}: add_comment", not commented.is_error, commented.content)
                fields = await session.call_tool("set_fields", {"id": number, "priority": "high"})
                check(f"{era}: set_fields", not fields.is_error and fields.structured_content["priority"] == "high",
                      fields.content)
                moved = await session.call_tool("move_issue", {"id": number, "to": "ready"})
                check(f"{era}: move_issue", not moved.is_error and moved.structured_content["status"] == "ready",
                      moved.content)
                got = await session.call_tool("get_issue", {"id": number})
                check(f"{era}: get_issue", not got.is_error and got.structured_content["comments"][0]["body"] == "Seen twice.",
                      got.content)
                listed = await session.call_tool("list_issues", {"q": "Filed over MCP", "limit": 5})
                check(f"{era}: list_issues", not listed.is_error and any(
                    i["id"] == number for i in listed.structured_content["issues"]), listed.content)
                waiting = await session.call_tool("waiting_for_people", {})
                check(f"{era}: waiting_for_people", not waiting.is_error, waiting.content)

                refused = await session.call_tool("move_issue", {"id": number, "to": "done"})
                check(f"{era}: a move the rules refuse is a tool error with the reason",
                      refused.is_error and "not a move anyone can make" in refused.content[0].text, refused.content)
                unknown = await session.call_tool("get_issue", {"id": 987654})
                check(f"{era}: an unknown issue is a tool error", unknown.is_error and "not found" in unknown.content[0].text,
                      unknown.content)
                wrong = await session.call_tool("get_issue", {"id": "twelve"})
                check(f"{era}: a wrong argument type is a tool error", wrong.is_error, wrong.content)
                try:
                    missing = await session.call_tool("drop_everything", {})
                    check(f"{era}: an unknown tool is refused", missing.is_error, missing.content)
                except Exception as err:  # the SDK raises the JSON-RPC error
                    check(f"{era}: an unknown tool is refused", "not found" in str(err).lower(), str(err))
                after = await session.call_tool("get_issue", {"id": number})
                check(f"{era}: nothing changed by the refusals", after.structured_content["status"] == "ready")


async def refused_token():
    headers = {"Authorization": f"Bearer {NO_MCP_TOKEN}"}
    async with httpx2.AsyncClient(headers=headers) as http:
        response = await http.post(URL, json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "check", "version": "0"}}},
            headers={"Accept": "application/json, text/event-stream"})
        check("a token without the mcp scope gets 403", response.status_code == 403, response.status_code)
        check("... and a challenge naming the scope", "insufficient_scope" in response.headers.get("www-authenticate", ""))


async def main():
    await session_check(modern=True)
    await session_check(modern=False)
    await refused_token()
    print("OK: the MCP server works with the official Python SDK")


asyncio.run(main())
