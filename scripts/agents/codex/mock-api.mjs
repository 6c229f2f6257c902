// A stand-in for the OpenAI Responses API (POST /v1/responses, streamed as server-sent events),
// just enough for the real Codex (through Zed's codex-acp adapter) to work one issue. Point Codex
// at it with a model provider in $CODEX_HOME/config.toml:
//   [model_providers.mock] base_url = "http://127.0.0.1:PORT/v1", wire_api = "responses", env_key = …
// The model it plays picks its answer by a word in the prompt (the issue text reaches it inside
// the user message):
//   (default)        apply_patch adds HELLO.md ("Hello from codex"), then "Added HELLO.md."
//   MOCK:blocked     only "BLOCKED: Which file should the greeting go in?"
//   MOCK:protected   apply_patch adds .github/workflows/evil.yml, then a summary
//   MOCK:git         exec_command `git commit -am sneaky`, then a summary
//   MOCK:apierror    HTTP 500 with OpenAI's error body;  MOCK:autherror  HTTP 401
//   MOCK:slow        streams its answer over ~60 s (so a cancel can land mid-run)
//   MOCK:loop        exec_command `cat README.md` on every turn, forever
// Every answer reports usage in response.completed the way the real API does. Any other request
// (model lists, compaction, …) gets a small valid JSON answer. MOCK_API_LOG=FILE appends one line
// per request (method, url, scenario, tool names, the last input item) for debugging.
// Usage: node mock-api.mjs PORT
import http from 'node:http';
import { appendFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';

const port = Number(process.argv[2] ?? 8766);
const id = (prefix) => `${prefix}_${randomUUID().replaceAll('-', '')}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const patch = (path, text) => `*** Begin Patch\n*** Add File: ${path}\n+${text}\n*** End Patch\n`;
const applyPatch = (path, text) => ({ type: 'custom_tool_call', name: 'apply_patch', input: patch(path, text) });
const shell = (cmd) => ({ type: 'function_call', name: 'exec_command', arguments: JSON.stringify({ cmd, yield_time_ms: 2000 }) });
const say = (text) => ({ type: 'message', text });

// The text the user wrote (not the harness's developer and environment messages). On a resumed
// session it holds every prompt so far; the newest MOCK: word wins.
function userText(req) {
  const items = Array.isArray(req.input) ? req.input : [];
  return items
    .filter((i) => i?.type === 'message' && i.role === 'user')
    .flatMap((i) => (Array.isArray(i.content) ? i.content : [{ text: String(i.content) }]))
    .map((c) => c?.text ?? '')
    .join('\n');
}

function answer(req, scenario) {
  const items = Array.isArray(req.input) ? req.input : [];
  const last = items.at(-1);
  const answered = last?.type === 'function_call_output' || last?.type === 'custom_tool_call_output';
  switch (scenario) {
    case 'blocked':
      return [say('BLOCKED: Which file should the greeting go in?')];
    case 'protected':
      return answered ? [say('Tried to add .github/workflows/evil.yml.')] : [applyPatch('.github/workflows/evil.yml', 'on: push')];
    case 'git':
      return answered ? [say('Tried to commit.')] : [shell('git commit -am sneaky')];
    case 'loop':
      return [shell('cat README.md')];
    case 'slow':
      return [say('Thinking slowly about the greeting, word by word, for about a minute. '.repeat(3).trim())];
    default:
      return answered ? [say('Added HELLO.md.')] : [applyPatch('HELLO.md', 'Hello from codex')];
  }
}

const usage = (output) => ({
  input_tokens: 1200, input_tokens_details: { cached_tokens: 200 },
  output_tokens: output, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 1200 + output,
});

async function stream(response, req, blocks, slow) {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': id('req') });
  const send = (type, data) => response.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  const respId = id('resp');
  const base = { id: respId, object: 'response', created_at: Math.floor(Date.now() / 1000), model: req.model ?? 'mock', status: 'in_progress', output: [] };
  let seq = 0;
  send('response.created', { sequence_number: seq++, response: base });
  const output = [];
  for (const [index, block] of blocks.entries()) {
    if (response.destroyed) return;
    if (block.type === 'message') {
      const itemId = id('msg');
      const item = { id: itemId, type: 'message', role: 'assistant', status: 'in_progress', content: [] };
      send('response.output_item.added', { sequence_number: seq++, output_index: index, item });
      send('response.content_part.added', { sequence_number: seq++, item_id: itemId, output_index: index, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
      const words = slow ? block.text.split(/(?<= )/) : [block.text];
      for (const delta of words) {
        if (response.destroyed) return;
        send('response.output_text.delta', { sequence_number: seq++, item_id: itemId, output_index: index, content_index: 0, delta });
        if (slow) await sleep(60000 / words.length);
      }
      send('response.output_text.done', { sequence_number: seq++, item_id: itemId, output_index: index, content_index: 0, text: block.text });
      const done = { ...item, status: 'completed', content: [{ type: 'output_text', text: block.text, annotations: [] }] };
      send('response.output_item.done', { sequence_number: seq++, output_index: index, item: done });
      output.push(done);
    } else if (block.type === 'function_call') {
      const itemId = id('fc');
      const item = { id: itemId, type: 'function_call', status: 'in_progress', name: block.name, call_id: id('call'), arguments: '' };
      send('response.output_item.added', { sequence_number: seq++, output_index: index, item });
      send('response.function_call_arguments.delta', { sequence_number: seq++, item_id: itemId, output_index: index, delta: block.arguments });
      send('response.function_call_arguments.done', { sequence_number: seq++, item_id: itemId, output_index: index, arguments: block.arguments });
      const done = { ...item, status: 'completed', arguments: block.arguments };
      send('response.output_item.done', { sequence_number: seq++, output_index: index, item: done });
      output.push(done);
    } else {
      const itemId = id('ctc');
      const item = { id: itemId, type: 'custom_tool_call', status: 'in_progress', name: block.name, call_id: id('call'), input: '' };
      send('response.output_item.added', { sequence_number: seq++, output_index: index, item });
      send('response.custom_tool_call_input.delta', { sequence_number: seq++, item_id: itemId, output_index: index, delta: block.input });
      send('response.custom_tool_call_input.done', { sequence_number: seq++, item_id: itemId, output_index: index, input: block.input });
      const done = { ...item, status: 'completed', input: block.input };
      send('response.output_item.done', { sequence_number: seq++, output_index: index, item: done });
      output.push(done);
    }
  }
  send('response.completed', { sequence_number: seq++, response: { ...base, status: 'completed', output, usage: usage(40) } });
  response.end();
}

function errorBody(status) {
  if (status === 401) {
    return { error: { message: 'Incorrect API key provided: sk-mock. You can find your API key at https://platform.openai.com/account/api-keys.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } };
  }
  return { error: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: null } };
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
      const isTurn = request.method === 'POST' && /\/responses\/?$/.test(request.url.split('?')[0]);
      const scenario = [...userText(req).matchAll(/MOCK:(\w+)/g)].at(-1)?.[1] ?? 'default';
      if (process.env.MOCK_API_LOG) {
        const tools = (req.tools ?? []).map((t) => t?.name ?? t?.type).join(',');
        const last = JSON.stringify(req.input?.at?.(-1) ?? null).slice(0, 600);
        appendFileSync(process.env.MOCK_API_LOG, `${request.method} ${request.url} scenario=${isTurn ? scenario : '-'} input=${req.input?.length ?? 0} tools=${tools}\n  last input: ${last}\n`);
      }
      if (!isTurn) {
        // Side requests: model lists (both OpenAI's and Codex's shapes), compaction, anything else.
        response.writeHead(200, { 'content-type': 'application/json' });
        return response.end(JSON.stringify({ object: 'list', data: [], models: [], output: [] }));
      }
      if (scenario === 'apierror' || scenario === 'autherror') {
        const status = scenario === 'autherror' ? 401 : 500;
        response.writeHead(status, { 'content-type': 'application/json', 'x-request-id': id('req') });
        return response.end(JSON.stringify(errorBody(status)));
      }
      stream(response, req, answer(req, scenario), scenario === 'slow').catch(() => response.destroy());
    });
  })
  .listen(port, '127.0.0.1');
