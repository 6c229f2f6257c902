// A stand-in for a customer's website on other origins: serves host.html (which embeds the
// board's feedback widget) on the ports given. The board allows the first port's origin only.
import http from 'node:http';
import { readFileSync } from 'node:fs';

const board = process.env.BOARD_URL ?? 'http://127.0.0.1:3123';
const page = readFileSync(new URL('./host.html', import.meta.url), 'utf8').replaceAll('BOARD_URL', board);

// Global CSS that would wreck a widget living in the page's own DOM.
const hostileCss = `
* { font-family: "Comic Sans MS", cursive !important; font-size: 40px !important; line-height: 4 !important;
    letter-spacing: 6px !important; color: red !important; box-sizing: content-box !important; }
button, dialog, textarea, label, p, h2, form { all: unset !important; display: none !important; }
autopilot-feedback { display: none !important; opacity: 0 !important; position: static !important; }
div, [role] { visibility: hidden !important; transform: scale(0) !important; }
`;

for (const port of process.argv.slice(2).map(Number)) {
  http
    .createServer((req, res) => {
      if (req.url === '/healthz') return res.end('ok');
      if (req.url === '/hostile.css') {
        res.writeHead(200, { 'content-type': 'text/css' });
        return res.end(hostileCss);
      }
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        // A strict policy, as careful sites have: no inline styles or scripts anywhere.
        'content-security-policy': `default-src 'self'; script-src ${board}; style-src 'self'; connect-src ${board}`,
      });
      res.end(page);
    })
    .listen(port, '127.0.0.1');
}
