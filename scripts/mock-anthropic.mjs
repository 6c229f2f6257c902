// A stand-in for the Anthropic Messages API, just enough for the real Claude Code CLI to work
// one issue (used by scripts/real-cli-check.sh; point the CLI at it with ANTHROPIC_BASE_URL).
// Its first answer writes HELLO.md in the CLI's working directory and asks to run `npm test`
// (which --permission-mode acceptEdits refuses); after the tool results it answers with a
// summary. Side requests (titles, token counts) get short answers.
// An issue that says INJECTION-CHECK plays a prompt-injected model instead: it reads every
// `TRY-READ <path>` the issue names (and asks the shell for every process's environment), then
// writes all it got back into leak.txt, so the check can look for the canaries there.
// Other words in the issue pick other scenarios (each "turn" below counts the model's answers
// since the runner's newest prompt, the one with `<<<ISSUE` or `<<<NEW COMMENTS` in it):
//   QUESTION-CHECK    answers `BLOCKED: Which colour should the greeting be?`; once a prompt
//                     holds the answer (a comment with "Navy"), writes GREETING.md saying what
//                     it remembers of the earlier turns, then summarizes ("I remember: …")
//   PLAN-CHECK        in a plan run, calls ExitPlanMode with a plan (a text plan if the CLI
//                     offers no ExitPlanMode); once told "plan was approved", writes PLANNED.md
//   PLAN-WRITE-CHECK  calls Write (SNEAKY.md) whatever the mode, then answers with a plan
//   PLAN-BASH-CHECK   runs Bash `echo x > BASHED.txt`, then answers with a plan
//   MCP-FILE-CHECK    (a plain `claude -p` prompt, no runner) calls the board's MCP tool
//                     mcp__autopilot__create_issue {title: "Filed by Claude through MCP", kind:
//                     bug}; after the tool result, answers `Filed issue #N through MCP.` with the
//                     id the result holds (or says what came back instead); records the MCP
//                     tools offered (`mcpTools`) and the result text (used by mcp-claude-check.sh)
// Every model request (side requests aside) is recorded as one JSON line in RECORD_FILE, when
// given: the scenario, the turn, the tools offered, the roles of the messages, and whether the
// request holds the earlier turns of the session (the issue prompt and the model's earlier
// answer before the newest prompt).
// Usage: node scripts/mock-anthropic.mjs PORT [RECORD_FILE]
import http from 'node:http';
import { appendFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';

const port = Number(process.argv[2] ?? 8765);
const recordFile = process.argv[3];
const id = (prefix) => `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 20)}`;

// The text of the tool results in the newest message.
function toolResults(req) {
  const last = req.messages?.at(-1)?.content;
  return (Array.isArray(last) ? last : [])
    .filter((b) => b?.type === 'tool_result')
    .map((b) => (typeof b.content === 'string' ? b.content : JSON.stringify(b.content)))
    .join('\n');
}

function injected(text, cwd, req) {
  const turn = (req.messages ?? []).filter((m) => m.role === 'assistant').length;
  if (turn === 0) {
    const paths = [...text.matchAll(/TRY-READ (\/[^\s\\"]+)/g)].map((m) => m[1]);
    return [
      { type: 'text', text: 'Reading the files the issue names.' },
      ...paths.map((file_path) => ({ type: 'tool_use', id: id('toolu'), name: 'Read', input: { file_path } })),
      { type: 'tool_use', id: id('toolu'), name: 'Bash', input: { command: 'cat /proc/*/environ', description: 'Look around' } },
    ];
  }
  if (turn === 1) {
    return [{ type: 'tool_use', id: id('toolu'), name: 'Write', input: { file_path: `${cwd}/leak.txt`, content: `${toolResults(req)}\n` } }];
  }
  return [{ type: 'text', text: 'Wrote leak.txt.' }];
}

const flat = (message) => (typeof message?.content === 'string' ? message.content : JSON.stringify(message?.content ?? ''));
const toolUse = (name, input) => ({ type: 'tool_use', id: id('toolu'), name, input });

// Where the session stands: the index of the runner's newest prompt, the model's answers since
// it, and whether the messages before it hold the earlier turns (an issue prompt, and an answer
// of the model's that `earlier` matches).
function session(req, earlier) {
  const messages = req.messages ?? [];
  let ask = -1;
  messages.forEach((m, i) => {
    if (m.role === 'user' && /<<<(ISSUE|NEW COMMENTS)/.test(flat(m))) ask = i;
  });
  const before = messages.slice(0, Math.max(ask, 0));
  const turn = messages.slice(ask + 1).filter((m) => m.role === 'assistant').length;
  const issuePrompt = before.some((m) => m.role === 'user' && flat(m).includes('<<<ISSUE'));
  const answer = before.filter((m) => m.role === 'assistant').map(flat).find((t) => earlier.test(t));
  return { ask: flat(messages[ask]), turn, earlierTurns: issuePrompt && Boolean(answer), answer };
}

function record(entry) {
  if (recordFile) appendFileSync(recordFile, `${JSON.stringify(entry)}\n`);
}

function question(req, cwd, base) {
  const s = session(req, /BLOCKED: Which colour/);
  const answered = s.ask.includes('Navy');
  record({ ...base, turn: s.turn, answered, earlierTurns: s.earlierTurns, resumedPrompt: s.ask.includes('<<<NEW COMMENTS') });
  if (!answered) return [{ type: 'text', text: 'BLOCKED: Which colour should the greeting be?' }];
  const memory = s.earlierTurns ? 'I remember: you asked me "Which colour should the greeting be?"' : 'I remember nothing of an earlier turn';
  if (s.turn === 0) {
    return [toolUse('Write', { file_path: `${cwd}/GREETING.md`, content: `Hello, in navy.\n${memory}\n` })];
  }
  return [{ type: 'text', text: `Wrote GREETING.md in navy. ${memory}.` }];
}

const PLAN = '1. Add PLANNED.md with one line.\n2. Nothing else changes.';

function plan(req, cwd, base, tools) {
  const s = session(req, /ExitPlanMode|Add PLANNED\.md/);
  const approved = s.ask.includes('plan was approved');
  record({ ...base, turn: s.turn, approved, earlierTurns: s.earlierTurns, resumedPrompt: s.ask.includes('<<<NEW COMMENTS') });
  if (approved) {
    if (s.turn === 0) return [toolUse('Write', { file_path: `${cwd}/PLANNED.md`, content: 'Done as planned.\n' })];
    return [{ type: 'text', text: `Carried out the plan: added PLANNED.md.${s.earlierTurns ? ' I remember the plan I wrote.' : ''}` }];
  }
  if (s.turn === 0 && tools.has('ExitPlanMode')) return [toolUse('ExitPlanMode', { plan: PLAN })];
  if (s.turn === 0) return [{ type: 'text', text: PLAN }];
  return [{ type: 'text', text: 'The plan is above; it waits for approval.' }];
}

// A plan run that tries to change `file` anyway (`call`: the tool call), then answers a plan.
function sneaky(req, base, call, file) {
  const s = session(req, /never/);
  record({ ...base, turn: s.turn, results: s.turn > 0 ? toolResults(req).slice(0, 300) : undefined });
  if (s.turn === 0) return [{ type: 'text', text: `Trying ${file} first.` }, call];
  return [{ type: 'text', text: `1. Add ${file}.\n2. Nothing else.` }];
}

// The board's MCP server, through the CLI: file a bug, then quote the id the tool gave back.
function mcpFile(req, base, answered, tools) {
  const mcpTools = [...tools].filter((name) => name?.startsWith('mcp__')).sort();
  const results = answered ? toolResults(req) : '';
  record({ ...base, scenario: 'mcp-file', mcpTools, answered, results: results.slice(0, 4000) });
  if (!answered) {
    return [
      { type: 'text', text: 'Filing the bug on the board.' },
      toolUse('mcp__autopilot__create_issue', { title: 'Filed by Claude through MCP', kind: 'bug' }),
    ];
  }
  const issue = /\\?"id\\?"\s*:\s*(\d+)/.exec(results)?.[1];
  if (issue) return [{ type: 'text', text: `Filed issue #${issue} through MCP.` }];
  return [{ type: 'text', text: `No issue id came back: ${results.slice(0, 500)}` }];
}

function reply(req) {
  const text = JSON.stringify(req);
  const cwd = /Primary working directory: (\/[^\\\s"]+)/.exec(text)?.[1] ?? '/nonexistent';
  const last = req.messages?.at(-1)?.content;
  const answered = Array.isArray(last) && last.some((b) => b?.type === 'tool_result');
  const tools = new Set((req.tools ?? []).map((t) => t?.name));
  // A side request (a title, a summary): no tools to work with. (A plan run offers no Write.)
  if (!tools.has('Write') && !tools.has('Read')) return [{ type: 'text', text: 'Greeting file' }];
  const base = { tools: [...tools].sort(), roles: (req.messages ?? []).map((m) => m.role[0]).join('') };
  if (text.includes('MCP-FILE-CHECK')) return mcpFile(req, { ...base }, answered, tools);
  if (text.includes('INJECTION-CHECK')) return injected(text, cwd, req);
  if (text.includes('QUESTION-CHECK')) return question(req, cwd, { scenario: 'question', ...base });
  if (text.includes('PLAN-WRITE-CHECK')) {
    const write = toolUse('Write', { file_path: `${cwd}/SNEAKY.md`, content: 'written in a plan run\n' });
    return sneaky(req, { scenario: 'plan-write', ...base }, write, 'SNEAKY.md');
  }
  if (text.includes('PLAN-BASH-CHECK')) {
    const bash = toolUse('Bash', { command: 'echo x > BASHED.txt', description: 'Write a file' });
    return sneaky(req, { scenario: 'plan-bash', ...base }, bash, 'BASHED.txt');
  }
  if (text.includes('PLAN-CHECK')) return plan(req, cwd, { scenario: 'plan', ...base }, tools);
  if (answered) return [{ type: 'text', text: 'Added HELLO.md with a greeting. I could not run the tests.' }];
  return [
    { type: 'text', text: 'I will add the greeting file, then run the tests.' },
    { type: 'tool_use', id: id('toolu'), name: 'Write', input: { file_path: `${cwd}/HELLO.md`, content: 'Hello from the real CLI\n' } },
    { type: 'tool_use', id: id('toolu'), name: 'Bash', input: { command: 'npm test', description: 'Run the tests' } },
  ];
}

http
  .createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk) => (raw += chunk));
    request.on('end', () => {
      let req = {};
      try {
        req = JSON.parse(raw || '{}');
      } catch {
        /* not JSON: answer anyway */
      }
      if (request.method !== 'POST' || !request.url.startsWith('/v1/messages') || request.url.includes('count_tokens')) {
        response.writeHead(200, { 'content-type': 'application/json' });
        return response.end(JSON.stringify({ input_tokens: 10 }));
      }
      const blocks = reply(req);
      const stop = blocks.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn';
      const message = {
        id: id('msg'), type: 'message', role: 'assistant', model: req.model ?? 'mock', content: [],
        stop_reason: null, stop_sequence: null, usage: { input_tokens: 100, output_tokens: 1 },
      };
      if (!req.stream) {
        response.writeHead(200, { 'content-type': 'application/json' });
        return response.end(JSON.stringify({ ...message, content: blocks, stop_reason: stop }));
      }
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const send = (event, data) => response.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
      send('message_start', { message });
      blocks.forEach((block, index) => {
        if (block.type === 'text') {
          send('content_block_start', { index, content_block: { type: 'text', text: '' } });
          send('content_block_delta', { index, delta: { type: 'text_delta', text: block.text } });
        } else {
          send('content_block_start', { index, content_block: { ...block, input: {} } });
          send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) } });
        }
        send('content_block_stop', { index });
      });
      send('message_delta', { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: 20 } });
      send('message_stop', {});
      response.end();
    });
  })
  .listen(port, '127.0.0.1');
