/**
 * Helper processes for bench/oci.ts:
 *   node bench/oci-task.ts verify REGISTRY/REPO:TAG PUBKEY [SIGNED_REPO]   resolve, find and verify the signatures
 *     (SIGNED_REPO: the repository the signature names when REGISTRY is the counting proxy's address)
 *   node bench/oci-task.ts proxy UPSTREAM LOGFILE            a counting HTTP proxy (prints its port), one line per request
 * `verify` uses the image layer with @sigstore/verify as the bundle verifier (key-pair trust), as the verify CLI will.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { findSignatures, resolveImage, verifyImageSignatures } from '../src/artifact/oci/image.ts';
import { RegistryClient } from '../src/artifact/oci/registry.ts';
import { parsePublicKey } from '../src/sign/keys.ts';
import type { VerificationResult } from '../src/verify/types.ts';

const [mode, a, b, alsoRepository] = process.argv.slice(2);

if (mode === 'verify') {
  const publicKey = parsePublicKey(readFileSync(b!));
  const root = TrustedRoot.fromJSON({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  });
  const verifier = new Verifier(
    toTrustMaterial(root, () => ({ publicKey, validFor: () => true })),
    {
      tlogThreshold: 0,
      ctlogThreshold: 0,
      timestampThreshold: 0,
    },
  );
  const registry = a!.split('/')[0]!;
  const client = new RegistryClient(registry, { credentials: null });
  const image = await resolveImage({ kind: 'oci', reference: a! }, { client });
  const found = await findSignatures(image);
  const ok = await verifyImageSignatures(
    image,
    found,
    (text) => {
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
    },
    alsoRepository ? { allowRepositories: [alsoRepository] } : {},
  );
  process.stdout.write(
    `${JSON.stringify({ digest: ok.check.digest, requests: client.stats.requests, blobBytes: client.stats.blobBytes })}\n`,
  );
} else if (mode === 'proxy') {
  const upstream = a!;
  const log = b!;
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
  process.stderr.write('usage: oci-task.ts verify REF PUBKEY | proxy UPSTREAM LOG\n');
  process.exitCode = 2;
}
