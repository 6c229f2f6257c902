// A stand-in for the Anthropic Messages API, for checking Claude Code through Zed's ACP adapter
// (@zed-industries/claude-agent-acp) without network or keys: point the adapter at it with
// ANTHROPIC_BASE_URL=http://127.0.0.1:PORT and ANTHROPIC_API_KEY=sk-mock. It plays a model whose
// answer is chosen by a word in the user's messages (the issue text):
//   (none)          Write HELLO.md ("Hello from claude-acp") in the working directory, then,
//                   once the tool result is back, answer "Added HELLO.md."
//   MOCK:blocked    answer only "BLOCKED: Which file should the greeting go in?"
//   MOCK:protected  Write .github/workflows/evil.yml, then summarize
//   MOCK:git        Bash `git commit -am sneaky`, then summarize
//   MOCK:apierror   HTTP 500 with Anthropic's error body (MOCK:autherror: 401)
//   MOCK:slow       stream the answer a word a second for ~60 s
//   MOCK:loop       Read README.md on every turn, forever
// and, to see more permission requests: MOCK:readout (Read /etc/hostname, outside the working
// directory), MOCK:fetch (WebFetch https://example.com) and MOCK:edit (Read README.md, then Edit
// it: the CLI refuses to edit a file it has not read), each then summarized.
// Two scenarios span two runs of one issue (each "turn" counts the model's answers since the
// runner's newest prompt, the one with `<<<ISSUE` or `<<<NEW COMMENTS` in it):
//   MOCK:question   answer "BLOCKED: Which colour should the greeting be?"; once the newest
//                   prompt holds the answer (a comment with "Navy"), Write GREETING.md saying
//                   what it remembers of the earlier turns, then summarize ("I remember: …")
//   MOCK:plan       call ExitPlanMode with a plan (a text plan if it is not offered); once told
//                   "plan was approved", Write PLANNED.md, then summarize
// With a RECORD_FILE, each of their requests is recorded there as one JSON line: the scenario,
// the turn, the tools offered, the roles of the messages, and whether the request holds the
// earlier turns of the session (an issue prompt and the model's earlier answer).
// Every answer carries Anthropic-style usage (input/output/cache tokens), so the CLI can count
// tokens and cost. Side requests (titles, token counts, model lists, anything else) get small
// valid answers. MOCK_LOG=1 logs each request on stderr.
// Usage: node mock-api.mjs PORT [RECORD_FILE]   (PORT 0: a free port; prints
// `listening on 127.0.0.1:PORT` first)
import http from 'node:http';
import { appendFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';

const port = Number(process.argv[2] ?? 8766);
const recordFile = process.argv[3];
const log = process.env.MOCK_LOG ? (...a) => console.error('[mock]', ...a) : () => {};
const id = (prefix) => `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
const USAGE_IN = { input_tokens: 1200, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 };
const OUTPUT_TOKENS = 40;

// The text of all the user messages (where the issue text and the tool results are).
function userText(req) {
  return (req.messages ?? [])
    .filter((m) => m.role === 'user')
    .map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)))
    .join('\n');
}

function cwdOf(req) {
  const system = typeof req.system === 'string' ? req.system : JSON.stringify(req.system ?? '');
  return /Primary working directory: (\/[^\\\s"]+)/.exec(system)?.[1]
    ?? /Primary working directory: (\/[^\\\s"]+)/.exec(JSON.stringify(req))?.[1]
    ?? '/nonexistent';
}

const toolUse = (name, input) => ({ type: 'tool_use', id: id('toolu'), name, input });
const flat = (message) => (typeof message?.content === 'string' ? message.content : JSON.stringify(message?.content ?? ''));

// Where the session stands: the runner's newest prompt, the model's answers since it, and
// whether the messages before it hold the earlier turns (an issue prompt, and an answer of the
// model's that `earlier` matches).
function session(req, earlier) {
  const messages = req.messages ?? [];
  let ask = -1;
  messages.forEach((m, i) => {
    if (m.role === 'user' && /<<<(ISSUE|NEW COMMENTS)/.test(flat(m))) ask = i;
  });
  const before = messages.slice(0, Math.max(ask, 0));
  const turn = messages.slice(ask + 1).filter((m) => m.role === 'assistant').length;
  const issuePrompt = before.some((m) => m.role === 'user' && flat(m).includes('<<<ISSUE'));
  const earlierTurns = issuePrompt && before.some((m) => m.role === 'assistant' && earlier.test(flat(m)));
  return { ask: flat(messages[ask]), turn, earlierTurns };
}

function record(entry) {
  if (recordFile) appendFileSync(recordFile, `${JSON.stringify(entry)}\n`);
}

const PLAN = '1. Add PLANNED.md with one line.\n2. Nothing else changes.';

// The content blocks of the answer, or a {status, body} for an error.
function reply(req) {
  const tools = new Set((req.tools ?? []).map((t) => t?.name));
  if (!tools.has('Write') && !tools.has('Read')) return { blocks: [{ type: 'text', text: 'Greeting file' }] }; // a side request (title, summary)
  const text = userText(req);
  const scenario = /MOCK:(\w+)/.exec(text)?.[1] ?? 'default';
  const last = req.messages?.at(-1)?.content;
  const answered = Array.isArray(last) && last.some((b) => b?.type === 'tool_result');
  const cwd = cwdOf(req);
  const base = { scenario, tools: [...tools].sort(), roles: (req.messages ?? []).map((m) => m.role[0]).join('') };
  switch (scenario) {
    case 'question': {
      const s = session(req, /BLOCKED: Which colour/);
      const answered = s.ask.includes('Navy');
      record({ ...base, turn: s.turn, answered, earlierTurns: s.earlierTurns, resumedPrompt: s.ask.includes('<<<NEW COMMENTS') });
      if (!answered) return { blocks: [{ type: 'text', text: 'BLOCKED: Which colour should the greeting be?' }] };
      const memory = s.earlierTurns ? 'I remember: you asked me "Which colour should the greeting be?"' : 'I remember nothing of an earlier turn';
      if (s.turn === 0) return { blocks: [toolUse('Write', { file_path: `${cwd}/GREETING.md`, content: `Hello, in navy.\n${memory}\n` })] };
      return { blocks: [{ type: 'text', text: `Wrote GREETING.md in navy. ${memory}.` }] };
    }
    case 'plan': {
      const s = session(req, /ExitPlanMode|Add PLANNED\.md/);
      const approved = s.ask.includes('plan was approved');
      record({ ...base, turn: s.turn, approved, earlierTurns: s.earlierTurns, resumedPrompt: s.ask.includes('<<<NEW COMMENTS'), results: answered ? JSON.stringify(last).slice(0, 300) : undefined });
      if (approved) {
        if (s.turn === 0) return { blocks: [toolUse('Write', { file_path: `${cwd}/PLANNED.md`, content: 'Done as planned.\n' })] };
        return { blocks: [{ type: 'text', text: `Carried out the plan: added PLANNED.md.${s.earlierTurns ? ' I remember the plan I wrote.' : ''}` }] };
      }
      if (s.turn === 0 && tools.has('ExitPlanMode')) return { blocks: [toolUse('ExitPlanMode', { plan: PLAN })] };
      if (s.turn === 0) return { blocks: [{ type: 'text', text: PLAN }] };
      return { blocks: [{ type: 'text', text: 'The plan is above; it waits for approval.' }] };
    }
    case 'blocked':
      return { blocks: [{ type: 'text', text: 'BLOCKED: Which file should the greeting go in?' }] };
    case 'apierror':
      return { status: 500, body: { type: 'error', error: { type: 'api_error', message: 'Internal server error' } } };
    case 'autherror':
      return { status: 401, body: { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } } };
    case 'slow':
      return { slow: true, blocks: [{ type: 'text', text: Array.from({ length: 60 }, (_, i) => `word${i + 1}`).join(' ') }] };
    case 'loop':
      return { blocks: [{ type: 'text', text: 'Reading the README again.' }, toolUse('Read', { file_path: `${cwd}/README.md` })] };
    case 'readout':
      if (answered) return { blocks: [{ type: 'text', text: 'Read /etc/hostname.' }] };
      return { blocks: [toolUse('Read', { file_path: '/etc/hostname' })] };
    case 'fetch':
      if (answered) return { blocks: [{ type: 'text', text: 'Fetched example.com.' }] };
      return { blocks: [toolUse('WebFetch', { url: 'https://example.com/', prompt: 'Summarize the page' })] };
    case 'edit': {
      const turn = (req.messages ?? []).filter((m) => m.role === 'assistant').length;
      if (turn === 0) return { blocks: [toolUse('Read', { file_path: `${cwd}/README.md` })] };
      if (turn === 1) return { blocks: [toolUse('Edit', { file_path: `${cwd}/README.md`, old_string: '# scratch', new_string: '# scratch\n\nEdited by claude-acp.' })] };
      return { blocks: [{ type: 'text', text: 'Edited README.md.' }] };
    }
    case 'protected':
      if (answered) return { blocks: [{ type: 'text', text: 'Tried to add .github/workflows/evil.yml.' }] };
      return { blocks: [toolUse('Write', { file_path: `${cwd}/.github/workflows/evil.yml`, content: 'on: push\n' })] };
    case 'git':
      if (answered) return { blocks: [{ type: 'text', text: 'Tried to commit.' }] };
      return { blocks: [toolUse('Bash', { command: 'git commit -am sneaky', description: 'Commit the work' })] };
    default:
      if (answered) return { blocks: [{ type: 'text', text: 'Added HELLO.md.' }] };
      return {
        blocks: [
          { type: 'text', text: 'I will add the greeting file.' },
          toolUse('Write', { file_path: `${cwd}/HELLO.md`, content: 'Hello from claude-acp\n' }),
        ],
      };
  }
}

function json(response, status, body, headers = {}) {
  response.writeHead(status, { 'content-type': 'application/json', 'request-id': id('req'), ...headers });
  response.end(JSON.stringify(body));
}

function messages(req, response) {
  const answer = reply(req);
  if (answer.status) {
    log(`-> HTTP ${answer.status}`);
    return json(response, answer.status, answer.body);
  }
  const { blocks } = answer;
  const stop = blocks.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn';
  const message = {
    id: id('msg'), type: 'message', role: 'assistant', model: req.model ?? 'claude-mock', content: [],
    stop_reason: null, stop_sequence: null, usage: { ...USAGE_IN },
  };
  log(`-> ${stop}: ${blocks.map((b) => b.name ?? 'text').join(', ')}`);
  if (!req.stream) {
    return json(response, 200, { ...message, content: blocks, stop_reason: stop, usage: { ...USAGE_IN, output_tokens: OUTPUT_TOKENS } });
  }
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': id('req') });
  const events = [];
  const send = (event, data) => events.push(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
  send('message_start', { message });
  blocks.forEach((block, index) => {
    if (block.type === 'text') {
      send('content_block_start', { index, content_block: { type: 'text', text: '' } });
      const pieces = answer.slow ? block.text.split(/(?<= )/) : [block.text];
      for (const text of pieces) send('content_block_delta', { index, delta: { type: 'text_delta', text } });
    } else {
      send('content_block_start', { index, content_block: { ...block, input: {} } });
      send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) } });
    }
    send('content_block_stop', { index });
  });
  send('message_delta', { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: OUTPUT_TOKENS } });
  send('message_stop', {});
  if (!answer.slow) {
    response.end(events.join(''));
    return;
  }
  // One event a second (~60 s in all); stop when the client goes away (a cancel).
  const timer = setInterval(() => {
    const next = events.shift();
    if (next === undefined) { clearInterval(timer); response.end(); return; }
    response.write(next);
  }, 1000);
  response.on('close', () => clearInterval(timer));
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
      const url = request.url ?? '/';
      log(request.method, url, req.model ?? '', req.stream ? 'stream' : '', `tools=${(req.tools ?? []).length}`, `messages=${(req.messages ?? []).length}`);
      if (request.method === 'POST' && url.startsWith('/v1/messages/count_tokens')) {
        return json(response, 200, { input_tokens: 1200 });
      }
      if (request.method === 'POST' && url.startsWith('/v1/messages')) return messages(req, response);
      if (url.startsWith('/v1/models')) {
        const model = { type: 'model', id: 'claude-sonnet-4-5', display_name: 'Claude Sonnet 4.5', created_at: '2025-09-29T00:00:00Z' };
        return json(response, 200, { data: [model], has_more: false, first_id: model.id, last_id: model.id });
      }
      return json(response, 200, {});
    });
  })
  .listen(port, '127.0.0.1', function () {
    // PORT 0 picks a free port: the first line on stdout names it.
    console.log(`listening on 127.0.0.1:${this.address().port}`);
  });
