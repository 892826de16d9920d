/**
 * Helper processes for bench/oci.ts:
 *   node bench/oci-task.ts verify REGISTRY/REPO:TAG PUBKEY [SIGNED_REPO]   resolve, find and verify the signatures
 *     (SIGNED_REPO: the repository the signature names when REGISTRY is the counting proxy's address)
 *   node bench/oci-task.ts proxy UPSTREAM LOGFILE            a counting HTTP proxy (prints its port), one line per request
 *   node bench/oci-task.ts inproc SIGN_REF VERIFY_REF KEY PUBKEY N   in-process medians of N signs and verifies
 * Verification uses the image layer with @sigstore/verify as the bundle verifier (key-pair trust), as the verify
 * command will with src/verify.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { RegistryClient } from '../src/artifact/oci/registry.ts';
import { resolveImage } from '../src/artifact/oci/resolve.ts';
import { trustedRootJson } from '../src/core/trustroot.ts';
import { parsePublicKey } from '../src/sign/keys.ts';
import type { VerificationResult } from '../src/verify/types.ts';
import { type BundleVerifier, verifyImage } from '../src/workflow/verify-image.ts';

function keyVerifier(pubPath: string): BundleVerifier {
  const publicKey = parsePublicKey(readFileSync(pubPath));
  const root = TrustedRoot.fromJSON(trustedRootJson({}));
  const trust = toTrustMaterial(root, () => ({ publicKey, validFor: () => true }));
  const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
  return (text) => {
    const bundle = bundleFromJSON(JSON.parse(text));
    verifier.verify(toSignedEntity(bundle));
    const env = bundle.content.$case === 'dsseEnvelope' ? bundle.content.dsseEnvelope : undefined;
    const result: VerificationResult = {
      verified: true,
      mediaType: bundle.mediaType,
      signer: { type: 'key', fingerprint: '' },
      tlogEntries: [],
      timestamps: [],
    };
    if (env) result.statement = { payloadType: env.payloadType, payload: JSON.parse(env.payload.toString('utf8')) };
    return result;
  };
}

async function verifyOnce(ref: string, verifier: BundleVerifier, alsoRepository?: string) {
  const client = new RegistryClient(ref.split('/')[0]!, { credentials: null });
  const image = await resolveImage({ kind: 'oci', reference: ref }, { client });
  const ok = await verifyImage(image, verifier, alsoRepository ? { allowRepositories: [alsoRepository] } : {});
  return { digest: ok.check.digest, requests: client.stats.requests, blobBytes: client.stats.blobBytes };
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

const [mode, ...args] = process.argv.slice(2);

if (mode === 'verify') {
  const [ref, pub, alsoRepository] = args as [string, string, string | undefined];
  process.stdout.write(`${JSON.stringify(await verifyOnce(ref, keyVerifier(pub), alsoRepository))}\n`);
} else if (mode === 'inproc') {
  const [signRef, verifyRef, keyPath, pub, n] = args as [string, string, string, string, string];
  // Loaded here only, so the `verify` process does not pay for the sign layer's modules.
  const { parsePrivateKey } = await import('../src/sign/keys.ts');
  const { KeyPairSigner } = await import('../src/sign/signer.ts');
  const { signImage } = await import('../src/workflow/sign-image.ts');
  const signer = new KeyPairSigner(parsePrivateKey(readFileSync(keyPath, 'utf8'), process.env.VOUCH_PASSWORD));
  const verifier = keyVerifier(pub);
  const sign: number[] = [];
  const verify: number[] = [];
  for (let i = 0; i < Number(n); i++) {
    let t = performance.now();
    await signImage(
      { kind: 'oci', reference: signRef },
      { signer, witnesses: [] },
      { registry: { credentials: null } },
    );
    sign.push(performance.now() - t);
    t = performance.now();
    await verifyOnce(verifyRef, verifier);
    verify.push(performance.now() - t);
  }
  process.stdout.write(`${JSON.stringify({ signMs: median(sign), verifyMs: median(verify) })}\n`);
} else if (mode === 'proxy') {
  const [upstream, log] = args as [string, string];
  const [host, port] = upstream.split(':') as [string, string];
  const server = http.createServer((req, res) => {
    appendFileSync(log, `${req.method} ${req.url}\n`);
    const up = http.request(
      { host, port: Number(port), method: req.method, path: req.url, headers: { ...req.headers, host: upstream } },
      (r) => {
        // Registry Location headers name the upstream; rewrite them so follow-ups come back through the proxy.
        const headers = { ...r.headers };
        if (typeof headers.location === 'string') {
          headers.location = headers.location.replace(`//${upstream}`, `//${req.headers.host}`);
        }
        res.writeHead(r.statusCode ?? 502, headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
} else {
  process.stderr.write('usage: oci-task.ts verify REF PUBKEY [SIGNED_REPO] | proxy UPSTREAM LOG | inproc ...\n');
  process.exitCode = 2;
}
