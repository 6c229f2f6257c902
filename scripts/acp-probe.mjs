#!/usr/bin/env node
// A bare Agent Client Protocol client for finding out how an agent behaves: it starts the agent,
// runs initialize / session/new / session/prompt, answers permission requests (allow or deny),
// and prints every JSON-RPC message both ways ("->" sent, "<-" received) with the agent's
// stderr ("!!"). For writing docs/agents/<name>.md, not used by the runner (which speaks ACP
// through the Rust SDK, server/src/runner/acp.rs).
//
//   node scripts/acp-probe.mjs [--cwd DIR] [--deny] [--timeout SECONDS] [--prompt TEXT] -- agent args…
//
// The prompt is --prompt, else standard input. --deny refuses every permission request (the
// default allows once). --cancel-after SECONDS sends session/cancel. Exit code 0 when the
// prompt got an answer, 1 otherwise.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import readline from 'node:readline';

const args = process.argv.slice(2);
const opts = { cwd: process.cwd(), deny: false, timeout: 300, prompt: null, cancelAfter: null };
while (args.length && args[0] !== '--') {
  const flag = args.shift();
  if (flag === '--cwd') opts.cwd = args.shift();
  else if (flag === '--deny') opts.deny = true;
  else if (flag === '--timeout') opts.timeout = Number(args.shift());
  else if (flag === '--prompt') opts.prompt = args.shift();
  else if (flag === '--cancel-after') opts.cancelAfter = Number(args.shift());
  else { console.error(`unknown flag ${flag}`); process.exit(2); }
}
args.shift();
if (args.length === 0) { console.error('usage: acp-probe.mjs [flags] -- agent args…'); process.exit(2); }
const prompt = opts.prompt ?? readFileSync(0, 'utf8');

const agent = spawn(args[0], args.slice(1), { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
agent.on('error', (e) => { console.log(`!! cannot start: ${e.message}`); process.exit(1); });
readline.createInterface({ input: agent.stderr }).on('line', (l) => console.log(`!! ${l}`));

let nextId = 1;
const waiting = new Map();
function send(message) {
  console.log(`-> ${JSON.stringify(message)}`);
  agent.stdin.write(JSON.stringify(message) + '\n');
}
function request(method, params) {
  const id = nextId++;
  send({ jsonrpc: '2.0', id, method, params });
  return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
}

readline.createInterface({ input: agent.stdout }).on('line', (line) => {
  console.log(`<- ${line}`);
  let message;
  try { message = JSON.parse(line); } catch { return; }
  if (message.id !== undefined && !message.method) {
    const pending = waiting.get(message.id);
    waiting.delete(message.id);
    if (pending) message.error ? pending.reject(message.error) : pending.resolve(message.result);
    return;
  }
  if (message.id === undefined) return; // a notification (session/update): printed above
  // A request from the agent.
  if (message.method === 'session/request_permission') {
    const wanted = opts.deny ? ['reject_once', 'reject_always'] : ['allow_once', 'allow_always'];
    const option = wanted.map((k) => message.params.options.find((o) => o.kind === k)).find(Boolean);
    const outcome = option ? { outcome: 'selected', optionId: option.optionId } : { outcome: 'cancelled' };
    send({ jsonrpc: '2.0', id: message.id, result: { outcome } });
  } else {
    send({ jsonrpc: '2.0', id: message.id, error: { code: -32601, message: `not offered: ${message.method}` } });
  }
});

const timer = setTimeout(() => { console.log('!! timed out'); agent.kill('SIGKILL'); process.exit(1); }, opts.timeout * 1000);
try {
  const init = await request('initialize', {
    protocolVersion: 1,
    clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false },
    clientInfo: { name: 'acp-probe', version: '0' },
  });
  if (init.authMethods?.length) console.log(`## auth methods: ${JSON.stringify(init.authMethods)}`);
  const session = await request('session/new', { cwd: opts.cwd, mcpServers: [] });
  if (opts.cancelAfter !== null) {
    setTimeout(() => send({ jsonrpc: '2.0', method: 'session/cancel', params: { sessionId: session.sessionId } }), opts.cancelAfter * 1000);
  }
  const answer = await request('session/prompt', {
    sessionId: session.sessionId,
    prompt: [{ type: 'text', text: prompt }],
  });
  console.log(`## stop reason: ${answer.stopReason}`);
  clearTimeout(timer);
  agent.stdin.end();
  agent.kill('SIGTERM');
  process.exit(0);
} catch (error) {
  console.log(`## error: ${JSON.stringify(error)}`);
  clearTimeout(timer);
  agent.kill('SIGKILL');
  process.exit(1);
}
