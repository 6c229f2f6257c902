// A stand-in for an OpenAI-compatible Chat Completions API, just enough for the real OpenCode CLI
// (custom provider with npm "@ai-sdk/openai-compatible") to work one issue over ACP. Used by
// scripts/agents/opencode/check.sh; no npm dependencies.
//
// It plays a model whose answer is chosen by a word in the user's messages (the issue text):
//   (default)        call `write` to create HELLO.md ("Hello from opencode\n"), then, once the
//                    tool result is back, answer "Added HELLO.md."
//   MOCK:blocked     answer only "BLOCKED: Which file should the greeting go in?"
//   MOCK:protected   call `write` on .github/workflows/evil.yml, then summarize
//   MOCK:git         call `bash` with `git commit -am sneaky`, then summarize
//   MOCK:apierror    HTTP 500 with OpenAI's error body; MOCK:autherror: HTTP 401
//   MOCK:slow        stream the answer slowly over ~60 s (for session/cancel)
//   MOCK:loop        call `read` on README.md on every turn, forever (it ignores OpenCode's
//                    "MAXIMUM STEPS REACHED" message, as a runaway model would)
// Every streamed answer ends with a `usage` chunk (as OpenAI does with
// stream_options.include_usage), and non-streamed answers carry `usage` too. Side requests
// (the session title, which comes without tools) get a short title; GET /v1/models a model list.
// Each request is logged on stderr as one line:
//   mock: <time> <scenario> request <n> last=<role> auth=<bearer|none> tools=<names>
// MOCK_DUMP=FILE appends every request body to FILE, one JSON per line.
// Usage: node scripts/agents/opencode/mock-api.mjs PORT
import http from 'node:http';
import { randomUUID } from 'node:crypto';

const port = Number(process.argv[2] ?? 8766);
const MODEL = 'mock-model';
const id = (prefix) => `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
const log = (line) => process.stderr.write(`mock: ${new Date().toISOString().slice(11, 23)} ${line}\n`);

// The text of a message's content (a string or a list of parts).
const textOf = (content) =>
  typeof content === 'string'
    ? content
    : Array.isArray(content)
      ? content.map((p) => (typeof p === 'string' ? p : (p?.text ?? ''))).join('\n')
      : '';

// The scenario word of the newest user message that has one (a resumed session keeps the old
// prompts in its history; tool results come back as role "tool", so a turn keeps its word).
function scenario(req) {
  const users = (req.messages ?? []).filter((m) => m.role === 'user').map((m) => textOf(m.content)).reverse();
  for (const text of users) {
    const word = /MOCK:(blocked|protected|git|apierror|autherror|slow|loop)/.exec(text);
    if (word) return word[1];
  }
  return 'default';
}

// The working directory OpenCode states in its system prompt ("Working directory: /path").
function workdir(req) {
  const system = (req.messages ?? []).filter((m) => m.role === 'system').map((m) => textOf(m.content)).join('\n');
  return /Working directory: (\/[^\s<"]+)/.exec(system)?.[1] ?? null;
}

const inDir = (cwd, rel) => (cwd ? `${cwd}/${rel}` : rel);
const toolCall = (name, args) => ({ type: 'tool', id: id('call'), name, args });

// What the model answers: a list of text and tool-call items.
function reply(req, kind) {
  const tools = new Set((req.tools ?? []).map((t) => t?.function?.name ?? t?.name));
  if (!tools.has('write') && !tools.has('bash') && !tools.has('read')) return [{ type: 'text', text: 'Greeting file' }];
  const cwd = workdir(req);
  const last = req.messages?.at(-1);
  const answered = last?.role === 'tool';
  switch (kind) {
    case 'blocked':
      return [{ type: 'text', text: 'BLOCKED: Which file should the greeting go in?' }];
    case 'protected':
      if (answered) return [{ type: 'text', text: 'Tried to add the workflow.' }];
      return [toolCall('write', { filePath: inDir(cwd, '.github/workflows/evil.yml'), content: 'on: push\n' })];
    case 'git':
      if (answered) return [{ type: 'text', text: 'Tried to commit.' }];
      return [toolCall('bash', { command: 'git commit -am sneaky' })];
    case 'loop':
      return [toolCall('read', { filePath: inDir(cwd, 'README.md') })];
    case 'slow':
      return [{ type: 'text', text: 'Thinking slowly. '.repeat(15) }]; // 30 words, one every 2 s
    default:
      if (answered) return [{ type: 'text', text: 'Added HELLO.md.' }];
      return [
        { type: 'text', text: 'I will add the greeting file.' },
        toolCall('write', { filePath: inDir(cwd, 'HELLO.md'), content: 'Hello from opencode\n' }),
      ];
  }
}

const usage = { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 };

function models(response) {
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ object: 'list', data: [{ id: MODEL, object: 'model', created: 1700000000, owned_by: 'mock' }] }));
}

function error(response, status) {
  const body =
    status === 401
      ? { error: { message: 'Incorrect API key provided: mock. (mock 401)', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }
      : { error: { message: 'The server had an error while processing your request. (mock 500)', type: 'server_error', param: null, code: null } };
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

let turns = 0;
http
  .createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk) => (raw += chunk));
    request.on('end', () => {
      if (request.method === 'GET' && request.url.replace(/\?.*/, '').endsWith('/models')) return models(response);
      if (request.method !== 'POST' || !request.url.includes('/chat/completions')) {
        log(`${request.method} ${request.url} (not handled: 404)`);
        response.writeHead(404, { 'content-type': 'application/json' });
        return response.end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error', param: null, code: null } }));
      }
      let req = {};
      try {
        req = JSON.parse(raw || '{}');
      } catch {
        /* not JSON: answer anyway */
      }
      if (process.env.MOCK_DUMP) {
        import('node:fs').then((fs) => fs.appendFileSync(process.env.MOCK_DUMP, JSON.stringify(req) + '\n'));
      }
      const kind = scenario(req);
      const toolNames = (req.tools ?? []).map((t) => t?.function?.name ?? t?.name);
      turns += 1;
      const auth = request.headers.authorization ? 'bearer' : 'none';
      log(`${kind} request ${turns} last=${req.messages?.at(-1)?.role} auth=${auth} tools=${toolNames.join(',') || '-'}`);
      if (toolNames.length && kind === 'apierror') return error(response, 500);
      if (toolNames.length && kind === 'autherror') return error(response, 401);
      const items = reply(req, kind);
      const calls = items.filter((i) => i.type === 'tool');
      const text = items.filter((i) => i.type === 'text').map((i) => i.text).join('');
      const finish = calls.length ? 'tool_calls' : 'stop';
      const base = { id: id('chatcmpl'), created: Math.floor(Date.now() / 1000), model: req.model ?? MODEL, system_fingerprint: 'fp_mock' };
      const toolCalls = calls.map((c, index) => ({ index, id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.args) } }));
      if (!req.stream) {
        response.writeHead(200, { 'content-type': 'application/json' });
        return response.end(JSON.stringify({
          ...base, object: 'chat.completion',
          choices: [{ index: 0, finish_reason: finish, message: { role: 'assistant', content: text || null, ...(calls.length ? { tool_calls: toolCalls } : {}) } }],
          usage,
        }));
      }
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      const chunk = (choices, extra = {}) => ({ ...base, object: 'chat.completion.chunk', choices, ...extra });
      const send = (data) => !response.destroyed && response.write(`data: ${JSON.stringify(data)}\n\n`);
      const finishUp = () => {
        send(chunk([{ index: 0, delta: {}, finish_reason: finish }]));
        send(chunk([], { usage }));
        if (!response.destroyed) response.end('data: [DONE]\n\n');
      };
      send(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]));
      if (kind === 'slow') {
        // One word every 2 s: about 60 s for the whole answer, unless the client goes away.
        const words = text.split(/(?<= )/);
        let i = 0;
        const timer = setInterval(() => {
          if (response.destroyed || i >= words.length) {
            clearInterval(timer);
            if (!response.destroyed) finishUp();
            return;
          }
          send(chunk([{ index: 0, delta: { content: words[i++] }, finish_reason: null }]));
        }, 2000);
        response.on('close', () => {
          if (i < words.length) log(`slow: client went away after ${i} of ${words.length} words`);
          clearInterval(timer);
        });
        return;
      }
      if (text) send(chunk([{ index: 0, delta: { content: text }, finish_reason: null }]));
      toolCalls.forEach((call) => {
        // The name first, the arguments in two pieces, as the real API streams them.
        const args = call.function.arguments;
        const half = Math.floor(args.length / 2);
        send(chunk([{ index: 0, delta: { tool_calls: [{ index: call.index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] }, finish_reason: null }]));
        send(chunk([{ index: 0, delta: { tool_calls: [{ index: call.index, function: { arguments: args.slice(0, half) } }] }, finish_reason: null }]));
        send(chunk([{ index: 0, delta: { tool_calls: [{ index: call.index, function: { arguments: args.slice(half) } }] }, finish_reason: null }]));
      });
      finishUp();
    });
  })
  .listen(port, '127.0.0.1', () => log(`listening on 127.0.0.1:${port}`));
