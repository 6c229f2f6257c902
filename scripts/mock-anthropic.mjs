// A stand-in for the Anthropic Messages API, just enough for the real Claude Code CLI to work
// one issue (used by scripts/real-cli-check.sh; point the CLI at it with ANTHROPIC_BASE_URL).
// Its first answer writes HELLO.md in the CLI's working directory and asks to run `npm test`
// (which --permission-mode acceptEdits refuses); after the tool results it answers with a
// summary. Side requests (titles, token counts) get short answers.
// An issue that says INJECTION-CHECK plays a prompt-injected model instead: it reads every
// `TRY-READ <path>` the issue names (and asks the shell for every process's environment), then
// writes all it got back into leak.txt, so the check can look for the canaries there.
// Usage: node scripts/mock-anthropic.mjs PORT
import http from 'node:http';
import { randomUUID } from 'node:crypto';

const port = Number(process.argv[2] ?? 8765);
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

function reply(req) {
  const text = JSON.stringify(req);
  const cwd = /Primary working directory: (\/[^\\\s"]+)/.exec(text)?.[1] ?? '/nonexistent';
  const last = req.messages?.at(-1)?.content;
  const answered = Array.isArray(last) && last.some((b) => b?.type === 'tool_result');
  const tools = new Set((req.tools ?? []).map((t) => t?.name));
  if (!tools.has('Write')) return [{ type: 'text', text: 'Greeting file' }];
  if (text.includes('INJECTION-CHECK')) return injected(text, cwd, req);
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
