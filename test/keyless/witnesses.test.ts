/**
 * The log and TSA clients against hostile answers, on a real loopback socket: each answer a correct service never
 * gives, with the code the client must raise. (Correct services: the stack, in sign.test.ts.)
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { SignatureBundle } from '@sigstore/sign';
import { RekorV1Witness, Rfc3161Witness } from '../../src/sign/witnesses.ts';
import { rejectsWith } from './helpers.ts';

let reply: { status: number; type: string; body: string | Buffer } = {
  status: 200,
  type: 'application/json',
  body: '',
};
let base = '';
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(reply.status, { 'content-type': reply.type }).end(reply.body));
});
before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise((r) => server.close(r)));

const content: SignatureBundle = {
  $case: 'messageSignature',
  messageSignature: { messageDigest: { algorithm: 1, digest: Buffer.alloc(32, 1) }, signature: Buffer.from('sig') },
};
const body = (kind: string) => Buffer.from(JSON.stringify({ kind, apiVersion: '0.0.1', spec: {} })).toString('base64');
const good = {
  body: body('hashedrekord'),
  integratedTime: 1700000000,
  logID: 'a'.repeat(64),
  logIndex: 5,
  verification: {
    signedEntryTimestamp: Buffer.from('set').toString('base64'),
    inclusionProof: {
      logIndex: 5,
      treeSize: 6,
      rootHash: 'b'.repeat(64),
      hashes: ['c'.repeat(64)],
      checkpoint: 'note',
    },
  },
};

describe('Rekor v1 witness', () => {
  it('a well-formed answer becomes a bundle log entry', async () => {
    reply = { status: 201, type: 'application/json', body: JSON.stringify({ uuid: good }) };
    const m = await new RekorV1Witness(base).testify(content, '-----BEGIN PUBLIC KEY-----');
    const e = m.tlogEntries![0]!;
    assert.equal(e.logIndex, '5');
    assert.equal(e.kindVersion?.kind, 'hashedrekord');
    assert.equal(e.inclusionProof?.treeSize, '6');
    assert.equal(e.inclusionProof?.checkpoint?.envelope, 'note');
  });
  const rows: [string, number, unknown, string][] = [
    ['HTTP 500', 500, { message: 'x' }, 'SERVICE_ERROR'],
    ['not JSON', 201, '<html>', 'SERVICE_ERROR'],
    ['two entries', 201, { a: good, b: good }, 'SERVICE_ERROR'],
    ['body of another kind', 201, { u: { ...good, body: body('intoto') } }, 'SERVICE_ERROR'],
    ['body not base64', 201, { u: { ...good, body: '!!' } }, 'SERVICE_ERROR'],
    ['logID not hex', 201, { u: { ...good, logID: 'zz' } }, 'SERVICE_ERROR'],
    ['negative index', 201, { u: { ...good, logIndex: -1 } }, 'SERVICE_ERROR'],
    ['index as string', 201, { u: { ...good, logIndex: '5' } }, 'SERVICE_ERROR'],
    [
      'proof hash not hex',
      201,
      { u: { ...good, verification: { inclusionProof: { ...good.verification.inclusionProof, hashes: ['x'] } } } },
      'SERVICE_ERROR',
    ],
  ];
  for (const [name, status, answer, code] of rows) {
    it(`refuses: ${name}`, async () => {
      reply = { status, type: 'application/json', body: typeof answer === 'string' ? answer : JSON.stringify(answer) };
      await rejectsWith(new RekorV1Witness(base).testify(content, 'k'), code as 'SERVICE_ERROR');
    });
  }
});

describe('RFC 3161 witness', () => {
  it('returns the DER answer as is', async () => {
    const der = Buffer.concat([Buffer.from([0x30, 0x20]), Buffer.alloc(32, 2)]);
    reply = { status: 201, type: 'application/timestamp-reply', body: der };
    const m = await new Rfc3161Witness(base).testify(content);
    assert.deepEqual(m.rfc3161Timestamps![0]!.signedTimestamp, der);
  });
  const rows: [string, number, Buffer | string, string][] = [
    ['HTTP 400', 400, '{"code":400}', 'SERVICE_ERROR'],
    ['HTML instead of DER', 200, '<html>error page</html>', 'SERVICE_ERROR'],
    ['empty', 200, '', 'SERVICE_ERROR'],
    ['oversize', 200, Buffer.concat([Buffer.from([0x30]), Buffer.alloc(70_000)]), 'SERVICE_ERROR'],
  ];
  for (const [name, status, answer, code] of rows) {
    it(`refuses: ${name}`, async () => {
      reply = { status, type: 'application/timestamp-reply', body: answer };
      await rejectsWith(new Rfc3161Witness(base).testify(content), code as 'SERVICE_ERROR');
    });
  }
});
