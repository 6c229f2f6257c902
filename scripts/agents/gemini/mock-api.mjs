// A stand-in for the Gemini API (generativelanguage.googleapis.com), just enough for the real
// Gemini CLI to work one issue in ACP mode (used by scripts/agents/gemini/check.sh; point the CLI
// at it with GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:PORT and any non-empty GEMINI_API_KEY).
// It speaks POST /v1beta/models/{model}:streamGenerateContent?alt=sse, :generateContent and
// :countTokens, with functionCall / functionResponse parts and usageMetadata on every answer.
// The model it plays picks its answer by a word in the user's text (the issue reaches it there):
//   (none)           write_file HELLO.md ("Hello from gemini\n"), then "Added HELLO.md."
//   MOCK:blocked     "BLOCKED: Which file should the greeting go in?"
//   MOCK:protected   write_file .github/workflows/evil.yml, then a summary
//   MOCK:git         run_shell_command `git commit -am sneaky`, then a summary
//   MOCK:apierror    HTTP 500 with Google's error body (MOCK:autherror: 401)
//   MOCK:slow        streams its answer over ~60 s
//   MOCK:loop        read_file README.md on every turn, forever (end_line changes each turn, so the
//                    CLI's loop detection does not stop it before a turn limit does)
// Side requests (the model router's complexity score and any other JSON-mode
// calls, token counts, model lists) get small valid answers: JSON mode gets the smallest value
// that fits the request's responseJsonSchema.
// With MOCK_LOG=DIR set, every request is written to DIR/NNN.json (for finding out what the CLI sends).
// Usage: node mock-api.mjs PORT
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';

const port = Number(process.argv[2] ?? 8766);
const logDir = process.env.MOCK_LOG;
if (logDir) mkdirSync(logDir, { recursive: true });
let served = 0;

const usage = (prompt, output) => ({ promptTokenCount: prompt, candidatesTokenCount: output, totalTokenCount: prompt + output });

// The smallest value that fits a (Gemini-style or JSON) schema: enough for the CLI's JSON-mode side calls.
function instance(schema = {}) {
  if (schema.enum?.length) return schema.enum[0];
  const type = String(Array.isArray(schema.type) ? schema.type[0] : schema.type ?? 'object').toLowerCase();
  if (type === 'object') {
    const out = {};
    for (const [key, sub] of Object.entries(schema.properties ?? {})) out[key] = instance(sub);
    return out;
  }
  if (type === 'array') return [];
  if (type === 'integer' || type === 'number') return schema.minimum ?? 0;
  if (type === 'boolean') return false;
  return 'mock';
}

// What the user (the issue) wrote: the text parts of user turns, not tool results.
function userText(req) {
  return (req.contents ?? [])
    .filter((c) => c.role === 'user')
    .flatMap((c) => c.parts ?? [])
    .map((p) => p.text ?? '')
    .join('\n');
}

function workspace(req) {
  const m = /Workspace Directories:\*\*\s*\n\s*- (\/[^\n]+)/.exec(userText(req));
  return m?.[1]?.trim() ?? '.';
}

// The parts of the model's next answer in the main conversation.
function answer(req) {
  const text = userText(req);
  const last = req.contents?.at(-1);
  const answered = (last?.parts ?? []).some((p) => p.functionResponse);
  const dir = workspace(req);
  const call = (name, args) => ({ functionCall: { name, args } });
  if (text.includes('MOCK:blocked')) return [{ text: 'BLOCKED: Which file should the greeting go in?' }];
  if (text.includes('MOCK:loop')) {
    // A different call each turn, so the CLI's own loop detection (5 identical calls) stays out of it.
    const turn = (req.contents ?? []).filter((c) => c.role === 'model').length + 1;
    return [{ text: `Reading the README again (turn ${turn}).` }, call('read_file', { file_path: `${dir}/README.md`, start_line: 1, end_line: turn })];
  }
  if (answered) {
    if (text.includes('MOCK:protected')) return [{ text: 'Tried to add the workflow.' }];
    if (text.includes('MOCK:git')) return [{ text: 'Tried to commit.' }];
    return [{ text: 'Added HELLO.md.' }];
  }
  if (text.includes('MOCK:protected')) {
    return [{ text: 'Adding a workflow.' }, call('write_file', { file_path: `${dir}/.github/workflows/evil.yml`, content: 'on: push\n' })];
  }
  if (text.includes('MOCK:git')) {
    return [{ text: 'Committing.' }, call('run_shell_command', { command: 'git commit -am sneaky', description: 'Commit the work' })];
  }
  return [{ text: 'I will add the greeting file.' }, call('write_file', { file_path: `${dir}/HELLO.md`, content: 'Hello from gemini\n' })];
}

function sideAnswer(req) {
  const config = req.generationConfig ?? {};
  if (config.responseMimeType === 'application/json') {
    return [{ text: JSON.stringify(instance(config.responseJsonSchema ?? config.responseSchema)) }];
  }
  return [{ text: 'Greeting file' }];
}

function errorBody(code, status, message) {
  return JSON.stringify({ error: { code, message, status } });
}

function respond(request, response, raw) {
  const url = request.url ?? '';
  let req = {};
  try {
    req = JSON.parse(raw || '{}');
  } catch {
    /* not JSON: answer anyway */
  }
  const json = (status, body) => {
    response.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
    response.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  if (request.method === 'GET' && /\/models\/?(\?|$)/.test(url)) {
    return json(200, { models: [{ name: 'models/gemini-2.5-flash', displayName: 'Gemini 2.5 Flash', supportedGenerationMethods: ['generateContent', 'countTokens'] }] });
  }
  if (request.method === 'GET' && /\/models\/[^/:?]+/.test(url)) {
    return json(200, { name: 'models/gemini-2.5-flash', inputTokenLimit: 1048576, outputTokenLimit: 65536 });
  }
  if (url.includes(':countTokens')) return json(200, { totalTokens: 100 });
  if (url.includes(':embedContent') || url.includes(':batchEmbedContents')) {
    return json(200, { embeddings: [{ values: [0, 0, 0] }], embedding: { values: [0, 0, 0] } });
  }
  const model = /models\/([^/:]+):/.exec(url)?.[1] ?? 'mock';
  const main = (req.tools ?? []).some((t) => t.functionDeclarations?.length);
  const text = userText(req);
  if (main && text.includes('MOCK:apierror')) return json(500, errorBody(500, 'INTERNAL', 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting'));
  if (main && text.includes('MOCK:autherror')) return json(401, errorBody(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.'));
  const parts = main ? answer(req) : sideAnswer(req);
  const prompt = Math.max(1, Math.ceil(raw.length / 4));
  const chunk = (p, finish, tokens) => ({
    candidates: [{ content: { role: 'model', parts: p }, ...(finish ? { finishReason: 'STOP' } : {}), index: 0 }],
    usageMetadata: usage(prompt, tokens),
    modelVersion: model,
    responseId: `mock-${served}`,
  });
  if (!url.includes(':streamGenerateContent')) return json(200, chunk(parts, true, 20));
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const send = (data) => response.write(`data: ${JSON.stringify(data)}\r\n\r\n`);
  if (main && text.includes('MOCK:slow') && !(req.contents?.at(-1)?.parts ?? []).some((p) => p.functionResponse)) {
    // ~60 s: one word every 3 s, then the end. Stops when the CLI goes away (a cancel).
    let n = 0;
    const timer = setInterval(() => {
      n += 1;
      if (n <= 20) return send(chunk([{ text: `slow${n} ` }], false, n));
      clearInterval(timer);
      send(chunk([{ text: 'Done slowly.' }], true, 21));
      response.end();
    }, 3000);
    response.on('close', () => clearInterval(timer));
    return;
  }
  // Text first, function calls in the last chunk with the finish reason and the usage.
  const texts = parts.filter((p) => p.text !== undefined);
  const calls = parts.filter((p) => p.text === undefined);
  texts.forEach((p) => send(chunk([p], false, 5)));
  send(chunk(calls.length ? calls : [{ text: '' }], true, 20));
  response.end();
}

http
  .createServer((request, response) => {
    let raw = '';
    request.on('data', (c) => (raw += c));
    request.on('end', () => {
      served += 1;
      if (logDir) {
        let body = raw;
        try {
          body = JSON.parse(raw);
        } catch {
          /* keep the text */
        }
        writeFileSync(`${logDir}/${String(served).padStart(3, '0')}.json`, JSON.stringify({ method: request.method, url: request.url, body }, null, 1));
      }
      respond(request, response, raw);
    });
  })
  .listen(port, '127.0.0.1');
