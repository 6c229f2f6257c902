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

// A page with a widget written for the original Go plugin: its script tag names the board's
// API in `data-api`, and it posts with credentials included, as that widget does. (Written
// here from what the original does, not copied from it.)
const originalPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Old shop</title></head>
<body><h1>An older shop</h1><p id="answer"></p>
<script src="/original-widget.js" data-api="${board}/api/autopilot" data-user="old@shop.example"></script>
</body></html>`;
const originalWidget = `(function () {
  var tag = document.currentScript;
  var api = tag.getAttribute('data-api') || '/api/autopilot';
  var user = tag.getAttribute('data-user') || '';
  window.sendAsTheOriginalDoes = function (message) {
    return fetch(api + '/feedback', {
      method: 'POST',
      credentials: 'include',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ message: message, page: location.pathname, user: user })
    }).then(function (r) { return r.json(); }).then(function (answer) {
      document.getElementById('answer').textContent = JSON.stringify(answer);
      return answer;
    });
  };
})();`;

for (const port of process.argv.slice(2).map(Number)) {
  http
    .createServer((req, res) => {
      if (req.url === '/healthz') return res.end('ok');
      if (req.url === '/original.html') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(originalPage);
      }
      if (req.url === '/original-widget.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' });
        return res.end(originalWidget);
      }
      if (req.url === '/frame.html') {
        // A page that frames the board (clickjacking): the board must refuse to be shown.
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(`<!doctype html><html lang="en"><head><title>Framing</title></head><body>
<iframe id="board" src="${board}/" width="800" height="400"></iframe>
<iframe id="plain" src="${board}/healthz" width="200" height="50"></iframe></body></html>`);
      }
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
