import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FulcioClient } from '../../src/sign/fulcio.ts';
import { readIdentity } from '../../src/sign/keyless.ts';
import { KeyPairSigner } from '../../src/sign/signer.ts';
import { rejectsWith } from './helpers.ts';

const CASES = '/work/shared/realbundles/cases';

/** The signing certificate of a real bundle made by the public Sigstore instances (independent test vectors). */
function realLeaf(name: string): string {
  const bundle = JSON.parse(readFileSync(join(CASES, name, 'bundle.sigstore.json'), 'utf8'));
  const vm = bundle.verificationMaterial;
  const b64: string = vm.certificate?.rawBytes ?? vm.x509CertificateChain.certificates[0].rawBytes;
  return new X509Certificate(Buffer.from(b64, 'base64')).toString();
}

function issued(pem: string) {
  return { chain: [pem], leaf: new X509Certificate(pem), embeddedSct: true };
}

describe('reading the identity from real Fulcio certificates', () => {
  const rows: [string, string, string][] = [
    [
      'prod-v0.3-hashedrekord',
      'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main',
      'https://token.actions.githubusercontent.com',
    ],
    ['staging-v0.3-email-identity', 'william@yossarian.net', 'https://github.com/login/oauth'],
    ['prod-v0.1-intoto-promise-only', 'brian@dehamer.com', 'https://github.com/login/oauth'],
    // Fulcio's username identity: an otherName SAN, as the verifier reads it.
    ['custom-othername-san', 'foo!oidc.local', 'http://oidc.local:8080'],
  ];
  for (const [name, identity, issuer] of rows) {
    it(name, () => {
      const r = readIdentity(issued(realLeaf(name)));
      assert.equal(r.identity, identity);
      assert.equal(r.issuer, issuer);
      assert.ok(r.notBefore < r.notAfter);
    });
  }
});

/**
 * A hostile or broken CA on a real loopback socket: the answers a correct CA never gives, each with the code the
 * client must raise. (The well-behaved CA is the server helper's, exercised in sign.test.ts.)
 */
describe('Fulcio client against hostile answers', () => {
  const key = KeyPairSigner.ephemeral();
  const otherLeaf = realLeaf('prod-v0.3-hashedrekord');
  const rows: [string, number, string, string][] = [
    ['token refused (401)', 401, '{"code":16,"message":"invalid token"}', 'TOKEN_INVALID'],
    ['server error (500)', 500, 'oops', 'SERVICE_ERROR'],
    ['not JSON', 200, '<html>', 'SERVICE_ERROR'],
    ['no chain', 200, '{"signedCertificateEmbeddedSct":{}}', 'SERVICE_ERROR'],
    ['empty chain', 200, '{"signedCertificateEmbeddedSct":{"chain":{"certificates":[]}}}', 'SERVICE_ERROR'],
    ['garbage certificate', 200, '{"signedCertificateEmbeddedSct":{"chain":{"certificates":["x"]}}}', 'SERVICE_ERROR'],
    [
      'certificate for another key',
      200,
      JSON.stringify({ signedCertificateEmbeddedSct: { chain: { certificates: [otherLeaf] } } }),
      'SERVICE_ERROR',
    ],
    ['oversize answer', 200, `{"x":"${'a'.repeat(300_000)}"}`, 'SERVICE_ERROR'],
  ];
  for (const [name, status, body, code] of rows) {
    it(name, async () => {
      let request: Record<string, unknown> = {};
      const server = createServer((req, res) => {
        let text = '';
        req.on('data', (c) => {
          text += c;
        });
        req.on('end', () => {
          request = JSON.parse(text);
          res.writeHead(status, { 'content-type': 'application/json' }).end(body);
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const ca = new FulcioClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
        await rejectsWith(
          ca.createSigningCertificate({
            identityToken: 'h.p.s',
            publicKeyPem: key.publicKeyPem,
            proofOfPossession: Buffer.from('proof'),
          }),
          code as 'SERVICE_ERROR',
        );
        // The request has the Fulcio v2 shape.
        assert.deepEqual(request, {
          credentials: { oidcIdentityToken: 'h.p.s' },
          publicKeyRequest: {
            publicKey: { algorithm: 'ECDSA', content: key.publicKeyPem },
            proofOfPossession: Buffer.from('proof').toString('base64'),
          },
        });
      } finally {
        await new Promise((r) => server.close(r));
      }
    });
  }
});
