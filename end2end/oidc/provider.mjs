// A real OpenID provider for the tests: panva's certified `oidc-provider` (pinned in
// end2end/package.json), with its development login and consent pages. Not for production.
//
//   OIDC_PORT=4010 OIDC_REDIRECT_URI=http://127.0.0.1:3000/auth/oidc/callback node end2end/oidc/provider.mjs
//
// The issuer is http://127.0.0.1:$OIDC_PORT. One client, `autopilot` (secret
// `autopilot-test-secret`). Type any of the logins below on the login page (any password):
// each has an email and groups. Test controls, on the same port:
//   POST /__test/rotate      sign with a new key from now on (both keys stay published)
//   GET  /__test/jwks-fetches  how many times the keys were fetched (JSON number)
//   POST /__test/expire      ID tokens issued from now on are already expired (iat, exp an
//                            hour in the past); POST /__test/unexpire undoes it
//   POST /__test/foreign-audience, /__test/foreign-issuer, /__test/tampered
//                            the token endpoint's ID token is re-signed with the provider's
//                            own key for another client, or as another issuer; or its claims
//                            are changed after signing. POST /__test/honest undoes it
// It prints "ready <issuer>" on stdout once it listens.

import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';
import { SignJWT, importJWK, decodeJwt, decodeProtectedHeader } from 'jose';

const port = Number(process.env.OIDC_PORT);
const redirectUris = (process.env.OIDC_REDIRECT_URI ?? '').split(',').filter(Boolean);
if (!port || redirectUris.length === 0) {
  console.error('set OIDC_PORT and OIDC_REDIRECT_URI');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

export const PEOPLE = {
  ada: { email: 'ada@example.com', name: 'Ada Admin', groups: ['staff', 'autopilot-admins'] },
  bob: { email: 'bob@example.com', name: 'Bob Member', groups: ['staff'] },
  cy: { email: 'cy@example.com', name: 'Cy Domain', groups: [] },
  eve: { email: 'eve@elsewhere.test', name: 'Eve Outsider', groups: ['visitors'] },
  ivy: { email: 'ivy@elsewhere.test', name: 'Ivy Invited', groups: [] },
};

function signingKey(kid) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}
const first = signingKey('first-key');
const second = signingKey('second-key');

function configuration(keys) {
  return {
    clients: [{
      client_id: 'autopilot',
      client_secret: 'autopilot-test-secret',
      redirect_uris: redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
    }],
    jwks: { keys },
    // The same for both providers below, so a sign-in started before a rotation finishes after.
    cookies: { keys: ['autopilot-test-cookie-key'] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      // Many providers put groups in the ID token by configuration (Keycloak's group mapper,
      // Entra's optional claims); here they come with `profile`.
      profile: ['name', 'groups'],
    },
    // Claims in the ID token itself (not only from userinfo), as Google and Keycloak do.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    async findAccount(ctx, id) {
      const person = PEOPLE[id];
      if (!person) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: `sub-${id}`, email: person.email, email_verified: true, ...person };
        },
      };
    },
  };
}

// Two instances over the same in-memory store (the adapter's storage is shared): before the
// rotation the first signs with the first key; after it, the second signs with the second key
// and publishes both.
const before = new Provider(issuer, configuration([first]));
const after = new Provider(issuer, configuration([second, first]));
for (const provider of [before, after]) provider.proxy = false;
let current = before;
let expired = false;
let forged = null;
let jwksFetches = 0;
const realNow = Date.now;

const server = http.createServer((req, res) => {
  if (req.url === '/__test/jwks-fetches') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(String(jwksFetches));
    return;
  }
  if (req.url.startsWith('/jwks')) jwksFetches += 1;
  if (req.method === 'POST' && req.url.startsWith('/__test/')) {
    const what = req.url.slice('/__test/'.length);
    if (what === 'rotate') current = after;
    else if (what === 'expire') expired = true;
    else if (what === 'unexpire') expired = false;
    else if (['foreign-audience', 'foreign-issuer', 'tampered'].includes(what)) forged = what;
    else if (what === 'honest') forged = null;
    else { res.writeHead(404).end(); return; }
    console.log(`test control: ${what}`);
    res.writeHead(204).end();
    return;
  }
  if (expired && req.url.startsWith('/token')) {
    // The token endpoint's clock runs two hours late: the ID token it signs expired an hour ago.
    Date.now = () => realNow() - 2 * 3600 * 1000;
    res.on('close', () => { Date.now = realNow; });
  }
  if (forged && req.url.startsWith('/token')) forgeIdToken(res, forged);
  current.callback()(req, res);
});

// Holds back the token endpoint's answer and changes its ID token as `how` says.
function forgeIdToken(res, how) {
  const chunks = [];
  const end = res.end.bind(res);
  res.write = (chunk) => { chunks.push(Buffer.from(chunk)); return true; };
  res.end = (chunk) => {
    if (chunk && typeof chunk !== 'function') chunks.push(Buffer.from(chunk));
    const answer = JSON.parse(Buffer.concat(chunks).toString() || '{}');
    forge(answer.id_token, how).then((token) => {
      if (token) answer.id_token = token;
      const body = JSON.stringify(answer);
      if (!res.headersSent) res.setHeader('content-length', Buffer.byteLength(body));
      end(body);
    });
    return res;
  };
}

async function forge(idToken, how) {
  if (!idToken) return null;
  const claims = decodeJwt(idToken);
  if (how === 'tampered') {
    const [header, , signature] = idToken.split('.');
    const changed = { ...claims, email: 'ada@example.com', groups: ['autopilot-admins'] };
    return [header, Buffer.from(JSON.stringify(changed)).toString('base64url'), signature].join('.');
  }
  const { kid } = decodeProtectedHeader(idToken);
  const jwk = [first, second].find((k) => k.kid === kid);
  const key = await importJWK(jwk, 'RS256');
  const changed = how === 'foreign-audience'
    ? { ...claims, aud: 'another-app' }
    : { ...claims, iss: 'http://issuer.elsewhere.test' };
  return new SignJWT(changed).setProtectedHeader({ alg: 'RS256', kid }).sign(key);
}
server.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
