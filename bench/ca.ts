/**
 * Certificate authority of `vouch serve` (the built CLI, `--config`, as a team runs it): certificates per second with
 * 50 concurrent signers, beside the same server's transparency-log append rate in the same run (the baseline: every
 * keyless signature costs one certificate and one append); and the latency of one certificate per issuer type,
 * requests one at a time. Tokens come from a local OIDC provider (RS256 or ES384 as each real provider signs);
 * keys, proofs and tokens are made before the clock starts, so the load generator measures the server.
 * Run: npm run bench -- ca     (or: npm run build && node bench/ca.ts)
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync, sign, webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import 'reflect-metadata';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import * as asnX509 from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import * as asn1js from 'asn1js';
import { stringify } from 'yaml';
import { mapIdentity } from '../src/core/identity-map.ts';
import { CERTIFICATE_EXTENSIONS } from '../src/core/x509.ts';
import { identityExtensionDer } from '../src/server/ca/ca.ts';
import { TYPE_CASES, typeCase } from '../test/helpers/identity-claims.ts';
import { TestIdp } from '../test/helpers/test-idp.ts';
import { hashedRekordEntries, postJson, REPO } from './lib.ts';

const SIGNERS = 50;
const CERTS = Number(process.env.BENCH_CA_CERTS ?? 2000);
const APPENDS = Number(process.env.BENCH_CA_APPENDS ?? 2000);
const LATENCY_SAMPLES = Number(process.env.BENCH_CA_SAMPLES ?? 100);

const idp = await TestIdp.start();
const dir = mkdtempSync(join(tmpdir(), 'vouch-bench-ca-'));
const oidcIssuers: Record<string, unknown> = {};
for (const c of TYPE_CASES) {
  oidcIssuers[idp.issuer(c.path)] = {
    type: c.type,
    ...(c.audience ? { audience: c.audience } : {}),
    ...(c.rules.subjectDomain ? { 'subject-domain': c.rules.subjectDomain } : {}),
    ...(c.rules.spiffeTrustDomain ? { 'spiffe-trust-domain': c.rules.spiffeTrustDomain } : {}),
  };
}
writeFileSync(
  join(dir, 'serve.yaml'),
  stringify({ 'allow-insecure-loopback-issuers': true, 'oidc-issuers': oidcIssuers }),
);
const child = spawn(
  process.execPath,
  [
    join(REPO, 'bin', 'vouch.mjs'),
    'serve',
    '--config',
    join(dir, 'serve.yaml'),
    '--data',
    join(dir, 'data'),
    '--port',
    '0',
    '--services',
    'ca,tlog',
    '--json',
  ],
  { stdio: ['ignore', 'pipe', 'ignore'] },
);

const agent = new Agent({ keepAlive: true, maxSockets: SIGNERS });
const post = (url: string, body: string) => postJson(agent, url, body);

/** Requests per second for `bodies` sent by `clients` concurrent loops; every answer must be 201. */
async function rate(url: string, bodies: string[], clients: number): Promise<number> {
  let next = 0;
  let ok = 0;
  const loop = async () => {
    while (next < bodies.length) if ((await post(url, bodies[next++]!)) === 201) ok++;
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, loop));
  const secs = (performance.now() - t0) / 1000;
  if (ok !== bodies.length) throw new Error(`only ${ok}/${bodies.length} requests succeeded at ${url}`);
  return bodies.length / secs;
}

/** Certificate requests for one identity, each with its own fresh key and proof (or CSR). */
async function certBodies(type: (typeof TYPE_CASES)[number]['type'], n: number, csr = false): Promise<string[]> {
  const c = typeCase(type);
  const iss = idp.issuer(c.path);
  const challenge = mapIdentity(iss, c.claims, { type: c.type, ...c.rules }).challenge;
  // Tokens are reused across requests (the CA verifies each every time); 20 distinct ones, as 20 jobs would send.
  const tokens = await Promise.all(
    Array.from({ length: 20 }, () =>
      idp.mint(iss, c.claims, { alg: c.alg, audience: c.audience ?? 'sigstore', expiresIn: 3600 }),
    ),
  );
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const credentials = { oidcIdentityToken: tokens[i % tokens.length] };
    if (csr) {
      const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
      const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as never;
      const req = await x509.Pkcs10CertificateRequestGenerator.create({
        name: 'CN=bench',
        keys,
        signingAlgorithm: alg,
      });
      out.push(
        JSON.stringify({ credentials, certificateSigningRequest: Buffer.from(req.toString('pem')).toString('base64') }),
      );
    } else {
      const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      out.push(
        JSON.stringify({
          credentials,
          publicKeyRequest: {
            publicKey: { algorithm: 'ECDSA', content: key.publicKey.export({ format: 'pem', type: 'spki' }) },
            proofOfPossession: sign('sha256', Buffer.from(challenge), key.privateKey).toString('base64'),
          },
        }),
      );
    }
  }
  return out;
}

/**
 * The identity extensions of one GitHub certificate, encoded as the CA does (core/der.ts) and as @peculiar/asn1-schema
 * would (its baseline, and what the CA did before): µs per certificate, after a warm-up; the outputs are equal (and
 * test/server/identity-map.test.ts checks that for every type).
 */
function extensionEncoding(): { hand: number; library: number } {
  const c = typeCase('github-workflow');
  const exts = mapIdentity('https://token.actions.githubusercontent.com', c.claims, { type: c.type }).extensions;
  const library = () =>
    AsnConvert.serialize(
      new asnX509.Extensions(
        exts.map((e) => {
          const d = CERTIFICATE_EXTENSIONS.find((x) => x.name === e.name)!;
          const v = d.encoding === 'raw' ? Buffer.from(e.value) : new asn1js.Utf8String({ value: e.value }).toBER();
          return new asnX509.Extension({ extnID: d.oid, critical: false, extnValue: new OctetString(v) });
        }),
      ),
    );
  const hand = () => Buffer.concat(exts.map(identityExtensionDer));
  const time = (f: () => unknown) => {
    for (let i = 0; i < 300; i++) f();
    const t = performance.now();
    for (let i = 0; i < 2000; i++) f();
    return ((performance.now() - t) / 2000) * 1000;
  };
  return { library: time(library), hand: time(hand) };
}

function quantile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

try {
  const first = await createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next();
  const base = (JSON.parse(first.value as string) as { url: string }).url;
  const caUrl = `${base}/ca/api/v2/signingCert`;
  const logUrl = `${base}/tlog/api/v1/log/entries`;

  // Warm up: discovery of every issuer, connections, and the JIT on the paths measured (a first measurement
  // otherwise pays for compiling them).
  for (const c of TYPE_CASES) await rate(caUrl, await certBodies(c.type, 5), 1);
  await rate(caUrl, await certBodies('github-workflow', 300), SIGNERS);
  await rate(caUrl, await certBodies('email', 300), SIGNERS);
  await rate(logUrl, hashedRekordEntries(300), SIGNERS);

  const github = await rate(caUrl, await certBodies('github-workflow', CERTS), SIGNERS);
  const email = await rate(caUrl, await certBodies('email', CERTS), SIGNERS);
  const csr = await rate(caUrl, await certBodies('github-workflow', CERTS, true), SIGNERS);
  const appends = await rate(logUrl, hashedRekordEntries(APPENDS), SIGNERS);

  const encoding = extensionEncoding();
  const latency: string[] = [];
  for (const c of TYPE_CASES) {
    const bodies = await certBodies(c.type, LATENCY_SAMPLES);
    const ms: number[] = [];
    for (const b of bodies) {
      const t = performance.now();
      if ((await post(caUrl, b)) !== 201) throw new Error(`${c.type}: certificate refused`);
      ms.push(performance.now() - t);
    }
    ms.sort((a, b) => a - b);
    latency.push(`| ${c.type} (${c.alg}) | ${quantile(ms, 0.5).toFixed(2)} | ${quantile(ms, 0.99).toFixed(2)} |`);
  }

  process.stdout.write(
    [
      '### Certificate authority (`vouch serve --config`)',
      '',
      `${SIGNERS} concurrent signers over HTTP keep-alive against the built \`vouch serve\` (CA and log in one process;`,
      'each certificate request with its own fresh P-256 key; tokens verified every time):',
      '',
      '| measure | per second | ratio vs log appends |',
      '|---|---|---|',
      `| certificates, GitHub Actions tokens (RS256, 21 extensions), proof of possession | ${github.toFixed(0)} | ${(github / appends).toFixed(2)} |`,
      `| certificates, email tokens (RS256, 3 extensions), proof of possession | ${email.toFixed(0)} | ${(email / appends).toFixed(2)} |`,
      `| certificates, GitHub Actions tokens, CSR | ${csr.toFixed(0)} | ${(csr / appends).toFixed(2)} |`,
      `| baseline: durable log appends (hashedrekord, group commit, same server, same run) | ${appends.toFixed(0)} | 1.00 |`,
      '',
      `Encoding the ${21} identity extensions of one GitHub certificate (µs, warm, 2000 times):`,
      '',
      '| encoder | µs | ratio |',
      '|---|---|---|',
      `| core/der.ts (the CA's) | ${encoding.hand.toFixed(0)} | ${(encoding.hand / encoding.library).toFixed(2)} |`,
      `| baseline: @peculiar/asn1-schema | ${encoding.library.toFixed(0)} | 1.00 |`,
      '',
      `Latency of one certificate, requests one at a time (${LATENCY_SAMPLES} each, ms):`,
      '',
      '| issuer type (token algorithm) | p50 | p99 |',
      '|---|---|---|',
      ...latency,
      '',
    ].join('\n'),
  );
} finally {
  agent.destroy();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await idp.close();
  rmSync(dir, { recursive: true, force: true });
}
